-- Access that holds (issue 12): a clinical item's source identity includes the institution that
-- sent it; care links record proven grounds only; patient-index stewards.
-- Run outside a transaction: SQLite changes a table's unique constraint by rebuilding the table,
-- with foreign keys off while it does (https://www.sqlite.org/lang_altertable.html#otheralter).

PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE clinical_items_new (
    id BLOB PRIMARY KEY,
    person_id BLOB REFERENCES persons (id),
    kind TEXT NOT NULL,
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    source_system TEXT NOT NULL,
    source_id TEXT NOT NULL,
    encounter_ref TEXT,
    occurred_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    code TEXT,
    code_system TEXT,
    title TEXT NOT NULL,
    summary TEXT,
    department TEXT,
    doctor TEXT,
    abnormal INTEGER NOT NULL DEFAULT FALSE,
    body TEXT NOT NULL,
    patient_ref TEXT NOT NULL,
    record_id TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- The same source id from another institution is another item.
    UNIQUE (institution_id, source_system, source_id, kind)
);
INSERT INTO clinical_items_new SELECT id, person_id, kind, institution_id, source_system, source_id,
    encounter_ref, occurred_at, ended_at, status, code, code_system, title, summary, department,
    doctor, abnormal, body, patient_ref, record_id, version, received_at, updated_at
    FROM clinical_items;
DROP TABLE clinical_items;
ALTER TABLE clinical_items_new RENAME TO clinical_items;
CREATE INDEX clinical_items_timeline_idx ON clinical_items (person_id, occurred_at, id);
CREATE INDEX clinical_items_kind_idx ON clinical_items (person_id, kind, occurred_at);
CREATE INDEX clinical_items_unmatched_idx ON clinical_items (received_at) WHERE person_id IS NULL;

-- Recording clinical data never opened a record by right: the links it made are dropped, but
-- those of institutions a referred patient arrived at (the same kind of link) stay.
DELETE FROM care_links
WHERE kind = 'care' AND NOT EXISTS (
    SELECT 1 FROM referrals f
    WHERE f.person_id = care_links.resident_id AND f.to_institution_id = care_links.institution_id
      AND f.arrived_at IS NOT NULL);

-- Registration links belong to the person the registration belongs to (a move copied them).
DELETE FROM care_links
WHERE kind = 'registered' AND NOT EXISTS (
    SELECT 1 FROM registrations r
    WHERE r.id = unhex(replace(care_links.source_id, '-', ''))
      AND r.person_id = care_links.resident_id);

-- A registration opens the record when it created the person or carries the ID number of the
-- person's first registration (ygt_domain::access::registration_grounds); the others are kept
-- as unverified.
UPDATE care_links SET kind = 'registered_unverified'
WHERE kind = 'registered' AND EXISTS (
    SELECT 1 FROM registrations r
    JOIN registrations o ON o.id = (
        SELECT o2.id FROM registrations o2 WHERE o2.person_id = r.person_id
        ORDER BY o2.registered_at, o2.id LIMIT 1)
    WHERE r.id = unhex(replace(care_links.source_id, '-', ''))
      AND r.id <> o.id
      AND (r.id_number IS NULL OR o.id_number IS NULL OR r.id_number <> o.id_number));

CREATE INDEX care_links_institution_idx ON care_links (institution_id, resident_id);
CREATE INDEX care_links_source_idx ON care_links (source_id);

-- The steward role (merge, split, decide possible matches), where roles were already seeded.
INSERT INTO role_permissions (role, permission)
SELECT 'mpi_steward', p FROM (SELECT 'registry.read' AS p UNION ALL SELECT 'patient.read'
    UNION ALL SELECT 'mpi.steward' UNION ALL SELECT 'patient.community_wide')
WHERE EXISTS (SELECT 1 FROM role_permissions);

COMMIT;
PRAGMA foreign_keys = ON;
