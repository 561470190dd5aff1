-- Identity, access control and the tamper-evident audit log.

CREATE TABLE users (
    id BLOB PRIMARY KEY,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL,                       -- staff | resident
    staff_id BLOB REFERENCES staff (id),
    resident_id BLOB,                         -- residents arrive with the master patient index
    institution_id BLOB REFERENCES institutions (id),
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT TRUE,
    failed_count INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_sign_in_at TEXT,
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_institution_idx ON users (institution_id);

CREATE TABLE user_roles (
    user_id BLOB NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Role → permission, editable by administrators; seeded from the domain defaults.
CREATE TABLE role_permissions (
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    id BLOB NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    client_addr TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Failed sign-ins per account and per client address, for lock-out and growing delays.
CREATE TABLE auth_failures (
    id BLOB PRIMARY KEY,
    key TEXT NOT NULL,                         -- "user:<name>" or "addr:<ip>"
    at TEXT NOT NULL
);
CREATE INDEX auth_failures_key_idx ON auth_failures (key, at);

CREATE TABLE api_tokens (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    permissions TEXT NOT NULL,                 -- space-separated permission codes
    created_by BLOB REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);

-- Links that put a resident into a user's or institution's data scope: registration or care at
-- an institution, an open referral or consultation, a family-doctor contract, the resident's
-- own authorisation.
CREATE TABLE care_links (
    id BLOB PRIMARY KEY,
    resident_id BLOB NOT NULL,
    institution_id BLOB REFERENCES institutions (id),
    user_id BLOB REFERENCES users (id),
    kind TEXT NOT NULL,                        -- registered | care | referral | consultation | contract | authorisation
    source_id TEXT,
    valid_from TEXT NOT NULL,
    valid_until TEXT
);
CREATE INDEX care_links_resident_idx ON care_links (resident_id);

CREATE TABLE break_glass (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users (id),
    institution_id BLOB REFERENCES institutions (id),
    resident_id BLOB NOT NULL,
    reason TEXT NOT NULL,
    started_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    reviewed_by BLOB REFERENCES users (id),
    reviewed_at TEXT,
    review_note TEXT,
    review_outcome TEXT
);
CREATE INDEX break_glass_user_idx ON break_glass (user_id, resident_id);

-- The audit log: append-only, hash-chained. audit_head holds the last seq and hash; every append
-- updates it first, which serialises appends in commit order.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL,
    at TEXT NOT NULL,
    actor_user_id BLOB,
    actor_name TEXT NOT NULL,
    actor_institution_id BLOB,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    resident_id BLOB,
    purpose TEXT,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    request_id TEXT NOT NULL,
    detail TEXT,
    alg TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id, at);
CREATE INDEX audit_events_resident_idx ON audit_events (resident_id, at);
CREATE INDEX audit_events_institution_idx ON audit_events (actor_institution_id, at);
