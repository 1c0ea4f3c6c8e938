-- Proof that a doctor was erased (LGPD), without the person: which contact id, when, and the
-- event that told the other services to forget them. A repeated DELETE answers from here.
CREATE TABLE contact_erasures (
    contact_id  uuid        PRIMARY KEY,
    event_id    uuid        NOT NULL,
    erased_at   timestamptz NOT NULL
);
