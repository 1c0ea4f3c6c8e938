-- The conversation of a doctor in a campaign, computed where fan-out renders its messages:
-- a name-based UUID (version 8, SHA-256 of the namespace and 'campaign:<campaign_id>:<contact_id>';
-- Postgres has no built-in SHA-1 for uuid5), the same value as
-- disparo_shared.events.campaign_conversation_id, so every service derives it alike.
CREATE FUNCTION campaign_conversation_id(campaign_id uuid, contact_id uuid)
RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT encode(
               set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 128), 8, (get_byte(h, 8) & 63) | 128),
               'hex')::uuid
    FROM (SELECT substring(sha256(decode('5b0c6b1e8a574c8e9f1d6d1a2f0c7e42', 'hex')
                                || convert_to('campaign:' || campaign_id || ':' || contact_id,
                                              'UTF8'))
                           FROM 1 FOR 16) AS h) AS hashed
);
