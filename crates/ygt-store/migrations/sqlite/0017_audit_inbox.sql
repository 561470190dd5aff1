-- Read events wait here until the sealing task chains them (issue 14): appending one touches
-- no shared row. `seq` is the order of arrival (AUTOINCREMENT: never reused after a delete);
-- `hash` covers the event's content (ygt_domain::audit::pending_hash).
CREATE TABLE audit_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    hash TEXT NOT NULL
);
