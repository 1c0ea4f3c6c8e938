-- Doctors erased (LGPD), so a message requested before the erasure that reaches the queue after
-- it (messages.requested and contact.erased are separate streams, unordered between them) is
-- cancelled at intake and its phone never stored. Keyed by contact id: a doctor imported again
-- later is a new contact and is not blocked. A message without a contact id is matched by the
-- phone's SHA-256 digest, and only when it was requested before the erasure. No phone here.
CREATE TABLE erased_contacts (
    contact_id    uuid        PRIMARY KEY,
    phone_sha256  bytea       NOT NULL,
    erased_at     timestamptz NOT NULL
);
CREATE INDEX erased_contacts_by_phone ON erased_contacts (phone_sha256);
