-- Read events wait here until the sealing task chains them (issue 14): appending one touches
-- no shared row. `seq` is the order of arrival; `hash` covers the event's content
-- (ygt_domain::audit::pending_hash).
CREATE TABLE audit_inbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor_user_id UUID,
    actor_name TEXT NOT NULL,
    actor_institution_id UUID,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    resident_id UUID,
    purpose TEXT,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    request_id TEXT NOT NULL,
    detail TEXT,
    alg TEXT NOT NULL,
    hash TEXT NOT NULL
);
