-- Organisation registry: communities, institutions, departments, staff.
-- Every row that belongs to an institution names it; ids are UUID v7 made by the application.

CREATE TABLE institutions (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    tier TEXT NOT NULL,
    parent_id UUID REFERENCES institutions (id),
    uscc TEXT,
    division_code TEXT NOT NULL,
    address TEXT,
    phone TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT institutions_uscc_key UNIQUE (uscc)
);
CREATE INDEX institutions_parent_idx ON institutions (parent_id);
CREATE INDEX institutions_tier_idx ON institutions (tier, name);

CREATE TABLE institution_aliases (
    institution_id UUID NOT NULL REFERENCES institutions (id),
    alias TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (institution_id, alias)
);
CREATE INDEX institution_aliases_alias_idx ON institution_aliases (alias);

CREATE TABLE institution_services (
    institution_id UUID NOT NULL REFERENCES institutions (id),
    service TEXT NOT NULL,
    PRIMARY KEY (institution_id, service)
);

CREATE TABLE communities (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    form TEXT NOT NULL,
    lead_institution_id UUID REFERENCES institutions (id),
    division_code TEXT,
    description TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE community_members (
    community_id UUID NOT NULL REFERENCES communities (id),
    institution_id UUID NOT NULL REFERENCES institutions (id),
    joined_at TIMESTAMPTZ NOT NULL,
    left_at TIMESTAMPTZ,
    PRIMARY KEY (community_id, institution_id)
);
CREATE INDEX community_members_institution_idx ON community_members (institution_id);

CREATE TABLE departments (
    id UUID PRIMARY KEY,
    institution_id UUID NOT NULL REFERENCES institutions (id),
    name TEXT NOT NULL,
    code TEXT,
    beds BIGINT NOT NULL DEFAULT 0,
    phone TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT departments_name_key UNIQUE (institution_id, name)
);

CREATE TABLE staff (
    id UUID PRIMARY KEY,
    institution_id UUID NOT NULL REFERENCES institutions (id),
    department_id UUID REFERENCES departments (id),
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    title TEXT NOT NULL,
    licence_number TEXT,
    id_number TEXT,
    phone TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT staff_licence_key UNIQUE (licence_number),
    CONSTRAINT staff_id_number_key UNIQUE (id_number)
);
CREATE INDEX staff_institution_idx ON staff (institution_id, name);
CREATE INDEX staff_department_idx ON staff (department_id);
CREATE INDEX staff_name_idx ON staff (name);
