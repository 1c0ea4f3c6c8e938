-- Erased phones are kept as keyed digests (HMAC-SHA256 under DISPARO_PHONE_DIGEST_KEY), not a
-- plain SHA-256 anyone can reverse by hashing every mobile number. Rows already here hold the
-- SHA-256; the service rewrites them into the keyed form at start (phone_digests.py), which it
-- can without the phone, and marks them; rows written from now on are keyed already.
ALTER TABLE erased_contacts RENAME COLUMN phone_sha256 TO phone_digest;
ALTER TABLE erased_contacts ADD COLUMN digest_keyed boolean NOT NULL DEFAULT false;
ALTER TABLE erased_contacts ALTER COLUMN digest_keyed SET DEFAULT true;
