-- The conversation id of migration 100, the same values, a fifth of the cost. Fan-out calls it
-- once per message, and its scalar subquery (which read the hash three times) ran as a subplan
-- per call: 24 µs a call, 100,000 calls, on the machine's Postgres 15 — most of a fan-out
-- chunk's CPU (EXPLAIN ANALYZE of a 5,000-recipient chunk: 130 of 190 ms building the
-- messages). The version and variant bits are now set with set_bit on the one hash value
-- (bit n is bit n % 8 of byte n / 8): byte 6's high nibble becomes 1000 (bits 55–52), byte 8's
-- two high bits 10 (bits 71–70); 5 µs a call. Equal to migration 100's for 200,000 random pairs
-- and to disparo_shared.events.campaign_conversation_id (tests/integration).
CREATE OR REPLACE FUNCTION campaign_conversation_id(campaign_id uuid, contact_id uuid)
RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN encode(
    set_bit(set_bit(set_bit(set_bit(set_bit(set_bit(
        substring(sha256('\x5b0c6b1e8a574c8e9f1d6d1a2f0c7e42'::bytea
                         || convert_to('campaign:' || campaign_id::text || ':' || contact_id::text,
                                       'UTF8'))
                  FROM 1 FOR 16),
        55, 1), 54, 0), 53, 0), 52, 0), 71, 1), 70, 0),
    'hex')::uuid;
