-- The shared health record: clinical items from every member institution, linked to persons.

CREATE TABLE clinical_items (
    id UUID PRIMARY KEY,
    person_id UUID REFERENCES persons (id),      -- NULL while the index cannot identify the patient
    kind TEXT NOT NULL,                          -- encounter, diagnosis, lab_report, ...
    institution_id UUID NOT NULL REFERENCES institutions (id),
    source_system TEXT NOT NULL,                 -- the sending system (HL7 MSH-3, FHIR client, file)
    source_id TEXT NOT NULL,                     -- the item's identifier in that system
    encounter_ref TEXT,                          -- source id of the item's encounter, same system
    occurred_at TIMESTAMPTZ NOT NULL,                   -- visit start, report time, measurement time
    ended_at TIMESTAMPTZ,
    status TEXT NOT NULL,
    code TEXT,
    code_system TEXT,
    title TEXT NOT NULL,
    summary TEXT,
    department TEXT,
    doctor TEXT,
    abnormal BOOLEAN NOT NULL DEFAULT FALSE,
    body TEXT NOT NULL,                          -- structured content (JSON)
    patient_ref TEXT NOT NULL,                   -- the patient as the source identified them (JSON)
    record_id TEXT,                              -- the institution's own patient number, as sent
    version BIGINT NOT NULL DEFAULT 1,
    received_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (source_system, source_id, kind)
);
CREATE INDEX clinical_items_timeline_idx ON clinical_items (person_id, occurred_at, id);
CREATE INDEX clinical_items_kind_idx ON clinical_items (person_id, kind, occurred_at);
CREATE INDEX clinical_items_unmatched_idx ON clinical_items (received_at) WHERE person_id IS NULL;

-- Earlier versions of corrected items.
CREATE TABLE clinical_item_versions (
    item_id UUID NOT NULL REFERENCES clinical_items (id),
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    replaced_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item_id, version)
);

-- Results and measurements, one row per value, for trends and mutual recognition.
CREATE TABLE observations (
    item_id UUID NOT NULL REFERENCES clinical_items (id),
    seq BIGINT NOT NULL,
    person_id UUID,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    value_num DOUBLE PRECISION,
    value_text TEXT,
    unit TEXT,
    ref_range TEXT,
    abnormal TEXT,
    effective_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item_id, seq)
);
CREATE INDEX observations_series_idx ON observations (person_id, code, effective_at);

-- Mutual recognition of results (检查检验结果互认): which items are recognised, for how long.
CREATE TABLE recognised_items (
    code TEXT PRIMARY KEY,                       -- an observation code, or modality:body part
    name TEXT NOT NULL,
    kind TEXT NOT NULL,                          -- lab_report, imaging_report, ecg_report, ...
    valid_days BIGINT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The default catalogue (community administrators change it): common lab items, imaging, ECG.
INSERT INTO recognised_items (code, name, kind, valid_days, active, updated_at) VALUES
    ('GLU', '空腹血糖', 'lab_report', 30, TRUE, '2026-01-01T00:00:00Z'),
    ('HBA1C', '糖化血红蛋白', 'lab_report', 90, TRUE, '2026-01-01T00:00:00Z'),
    ('CREA', '肌酐', 'lab_report', 30, TRUE, '2026-01-01T00:00:00Z'),
    ('ALT', '丙氨酸氨基转移酶', 'lab_report', 30, TRUE, '2026-01-01T00:00:00Z'),
    ('TC', '总胆固醇', 'lab_report', 30, TRUE, '2026-01-01T00:00:00Z'),
    ('WBC', '白细胞计数', 'lab_report', 7, TRUE, '2026-01-01T00:00:00Z'),
    ('HGB', '血红蛋白', 'lab_report', 7, TRUE, '2026-01-01T00:00:00Z'),
    ('CT:胸部', '胸部CT', 'imaging_report', 180, TRUE, '2026-01-01T00:00:00Z'),
    ('CT:头颅', '头颅CT', 'imaging_report', 180, TRUE, '2026-01-01T00:00:00Z'),
    ('DX:胸部', '胸部X线', 'imaging_report', 180, TRUE, '2026-01-01T00:00:00Z'),
    ('US:腹部', '腹部超声', 'imaging_report', 90, TRUE, '2026-01-01T00:00:00Z'),
    ('ECG', '常规心电图', 'ecg_report', 30, TRUE, '2026-01-01T00:00:00Z');
