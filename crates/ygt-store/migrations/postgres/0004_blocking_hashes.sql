-- Blocking keys stored as 64-bit hashes (the FNV-1a hash the batch engine blocks on): a fraction
-- of the size of the key strings, an integer primary key to look up, no per-row foreign-key check.
-- The table is derived data, an index over registrations: the application rebuilds it when it
-- finds registrations without blocks (as after this migration).
DROP TABLE registration_keys;
CREATE TABLE registration_blocks (
    key_hash BIGINT NOT NULL,
    registration_id UUID NOT NULL,
    PRIMARY KEY (key_hash, registration_id)
);
