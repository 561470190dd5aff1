-- Organisation registry: communities, institutions, departments, staff.
-- Every row that belongs to an institution names it; ids are BLOB v7 made by the application.

CREATE TABLE institutions (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    tier TEXT NOT NULL,
    parent_id BLOB REFERENCES institutions (id),
    uscc TEXT,
    division_code TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT institutions_uscc_key UNIQUE (uscc)
);
CREATE INDEX institutions_parent_idx ON institutions (parent_id);
CREATE INDEX institutions_tier_idx ON institutions (tier, name);

CREATE TABLE institution_aliases (
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    alias TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (institution_id, alias)
);
CREATE INDEX institution_aliases_alias_idx ON institution_aliases (alias);

CREATE TABLE institution_services (
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    service TEXT NOT NULL,
    PRIMARY KEY (institution_id, service)
);

CREATE TABLE communities (
    id BLOB PRIMARY KEY,
    name TEXT NOT NULL,
    form TEXT NOT NULL,
    lead_institution_id BLOB REFERENCES institutions (id),
    division_code TEXT,
    description TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE community_members (
    community_id BLOB NOT NULL REFERENCES communities (id),
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    joined_at TEXT NOT NULL,
    left_at TEXT,
    PRIMARY KEY (community_id, institution_id)
);
CREATE INDEX community_members_institution_idx ON community_members (institution_id);

CREATE TABLE departments (
    id BLOB PRIMARY KEY,
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    code TEXT,
    beds INTEGER NOT NULL DEFAULT 0,
    phone TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT departments_name_key UNIQUE (institution_id, name)
);

CREATE TABLE staff (
    id BLOB PRIMARY KEY,
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    department_id BLOB REFERENCES departments (id),
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    title TEXT NOT NULL,
    licence_number TEXT,
    id_number TEXT,
    phone TEXT,
    active INTEGER NOT NULL DEFAULT TRUE,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT staff_licence_key UNIQUE (licence_number),
    CONSTRAINT staff_id_number_key UNIQUE (id_number)
);
CREATE INDEX staff_institution_idx ON staff (institution_id, name);
CREATE INDEX staff_department_idx ON staff (department_id);
CREATE INDEX staff_name_idx ON staff (name);
