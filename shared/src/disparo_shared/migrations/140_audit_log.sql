-- The audit trail of the HTTP edge: one row per state-changing call (who, what, when, from
-- where), written after the response, read newest first by an admin.
CREATE TABLE audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    key_name    text,
    acting_user text,
    method      text NOT NULL,
    path        text NOT NULL,
    status      integer NOT NULL,
    client      text
);
CREATE INDEX audit_log_at ON audit_log (at DESC, audit_id DESC);
