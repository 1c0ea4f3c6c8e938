-- The keyed digest of a phone (phone_digests.py): HMAC-SHA256 under DISPARO_PHONE_DIGEST_KEY of
-- the phone's SHA-256, from the two padded keys every pooled connection is given at start-up.
-- A connection without them fails here (current_setting raises) rather than digest unkeyed.
CREATE FUNCTION keyed_phone_digest(phone_sha256 bytea) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT sha256(decode(current_setting('disparo.phone_digest_outer'), 'hex')
                  || sha256(decode(current_setting('disparo.phone_digest_inner'), 'hex')
                            || phone_sha256))
$$;

CREATE FUNCTION phone_digest(phone text) RETURNS bytea
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT keyed_phone_digest(sha256(convert_to(phone, 'UTF8')))
$$;
