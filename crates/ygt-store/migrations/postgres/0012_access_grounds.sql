-- Access that holds (issue 12): a clinical item's source identity includes the institution that
-- sent it; care links record proven grounds only; patient-index stewards.

-- The same source id from another institution is another item.
ALTER TABLE clinical_items DROP CONSTRAINT clinical_items_source_system_source_id_kind_key;
ALTER TABLE clinical_items ADD CONSTRAINT clinical_items_source_key
    UNIQUE (institution_id, source_system, source_id, kind);

-- Recording clinical data never opened a record by right: the links it made are dropped, but
-- those of institutions a referred patient arrived at (the same kind of link) stay.
DELETE FROM care_links c
WHERE c.kind = 'care' AND NOT EXISTS (
    SELECT 1 FROM referrals f
    WHERE f.person_id = c.resident_id AND f.to_institution_id = c.institution_id
      AND f.arrived_at IS NOT NULL);

-- Registration links belong to the person the registration belongs to (a move copied them).
DELETE FROM care_links c
WHERE c.kind = 'registered' AND NOT EXISTS (
    SELECT 1 FROM registrations r
    WHERE r.id = CAST(c.source_id AS UUID) AND r.person_id = c.resident_id);

-- A registration opens the record when it created the person or carries the ID number of the
-- person's first registration (ygt_domain::access::registration_grounds); the others are kept
-- as unverified.
WITH origin AS (
    SELECT DISTINCT ON (person_id) person_id, id, id_number
    FROM registrations ORDER BY person_id, registered_at, id
)
UPDATE care_links c SET kind = 'registered_unverified'
FROM registrations r JOIN origin o ON o.person_id = r.person_id
WHERE c.kind = 'registered' AND r.id = CAST(c.source_id AS UUID)
  AND r.id <> o.id
  AND (r.id_number IS NULL OR o.id_number IS NULL OR r.id_number <> o.id_number);

CREATE INDEX care_links_institution_idx ON care_links (institution_id, resident_id);
CREATE INDEX care_links_source_idx ON care_links (source_id);

-- The steward role (merge, split, decide possible matches), where roles were already seeded.
INSERT INTO role_permissions (role, permission)
SELECT 'mpi_steward', p FROM (VALUES ('registry.read'), ('patient.read'), ('mpi.steward'),
    ('patient.community_wide')) AS v (p)
WHERE EXISTS (SELECT 1 FROM role_permissions);
