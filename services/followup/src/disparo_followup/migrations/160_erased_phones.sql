-- Phones of erased doctors (LGPD), as SHA-256 digests, and when: an event about the doctor
-- from before the erasure may still arrive after it (streams are not ordered among each
-- other), and what it would bring back is forgotten again at once.
CREATE TABLE erased_phones (
    phone_sha256  bytea       PRIMARY KEY,
    erased_at     timestamptz NOT NULL
);
