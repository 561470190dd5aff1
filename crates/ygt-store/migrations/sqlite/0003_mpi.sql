-- Master patient index: persons (golden records) derived from registrations (source records).

CREATE TABLE persons (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT,
    id_number TEXT,
    phone TEXT,
    address TEXT,
    registrations INTEGER NOT NULL DEFAULT 0,
    merged_into BLOB REFERENCES persons (id),
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX persons_id_number_idx ON persons (id_number);
CREATE INDEX persons_name_idx ON persons (name);
CREATE INDEX persons_phone_idx ON persons (phone);

CREATE TABLE registrations (
    id BLOB PRIMARY KEY,
    person_id BLOB NOT NULL REFERENCES persons (id),
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    record_id TEXT,                        -- the institution's own patient number
    name TEXT NOT NULL,
    name_pinyin TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT,
    id_number_raw TEXT,                    -- as typed
    id_number TEXT,                        -- canonical 18 digits when valid, else NULL (flagged)
    phone TEXT,
    address TEXT,
    insurance_number TEXT,
    health_card_number TEXT,
    registered_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX registrations_person_idx ON registrations (person_id);
CREATE INDEX registrations_institution_idx ON registrations (institution_id, record_id);
CREATE INDEX registrations_id_number_idx ON registrations (id_number);
CREATE INDEX registrations_phone_idx ON registrations (phone);
CREATE INDEX registrations_insurance_idx ON registrations (insurance_number);
CREATE INDEX registrations_pinyin_idx ON registrations (name_pinyin);

-- Blocking keys of each registration, so that matching finds candidates with an index lookup.
CREATE TABLE registration_keys (
    key TEXT NOT NULL,
    registration_id BLOB NOT NULL REFERENCES registrations (id),
    PRIMARY KEY (key, registration_id)
);
CREATE INDEX registration_keys_registration_idx ON registration_keys (registration_id);

-- Possible matches waiting for a person to decide.
CREATE TABLE match_tasks (
    id BLOB PRIMARY KEY,
    registration_id BLOB NOT NULL REFERENCES registrations (id),
    candidate_person_id BLOB NOT NULL REFERENCES persons (id),
    weight REAL NOT NULL,
    explanation TEXT NOT NULL,
    status TEXT NOT NULL,                  -- open | linked | not_same | superseded
    created_at TEXT NOT NULL,
    resolved_by BLOB,
    resolved_at TEXT
);
CREATE INDEX match_tasks_status_idx ON match_tasks (status, created_at);

-- "Not the same person": remembered per pair of registrations, never proposed or linked again.
CREATE TABLE not_same (
    registration_a BLOB NOT NULL REFERENCES registrations (id),
    registration_b BLOB NOT NULL REFERENCES registrations (id),
    decided_by BLOB,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (registration_a, registration_b)
);

-- Everything that changed which person a registration belongs to.
CREATE TABLE person_history (
    id BLOB PRIMARY KEY,
    person_id BLOB NOT NULL REFERENCES persons (id),
    registration_id BLOB REFERENCES registrations (id),
    action TEXT NOT NULL,                  -- created | linked | merged_into | merged_from | unmerged | split_off
    other_person_id BLOB,
    detail TEXT,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX person_history_person_idx ON person_history (person_id, at);
