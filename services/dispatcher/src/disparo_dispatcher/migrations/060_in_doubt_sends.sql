-- Sends whose outcome is unknown (a crashed replica's, a timed-out call) wait 'in_doubt' until the
-- provider's sent-echo says they went out, instead of being sent again blindly.

ALTER TABLE messages DROP CONSTRAINT messages_state_check;
ALTER TABLE messages ADD CONSTRAINT messages_state_check
    CHECK (state IN ('queued', 'sending', 'in_doubt', 'sent', 'dead', 'cancelled', 'held'));

-- When the current attempt was claimed: the provider cannot have taken it earlier, so an
-- Evolution echo older than this (minus clock skew) belongs to another send.
ALTER TABLE messages ADD COLUMN claimed_at timestamptz;
-- When the attempt became doubtful (its lease ran out, or its call timed out): the provider
-- cannot have taken it later, and the grace for its echo runs from here.
ALTER TABLE messages ADD COLUMN in_doubt_since timestamptz;

-- The resolver walks doubtful messages oldest first.
CREATE INDEX messages_in_doubt ON messages (in_doubt_since) WHERE state = 'in_doubt';

-- One row per send a provider told us it made (Cloud `sent` status, Evolution `send.message`),
-- kept `echo_retention_seconds` (24 h) so a doubtful send can be told apart from a lost one.
-- Cloud echoes carry our message id; Evolution's carry only the number, the recipient, the text
-- (kept as its SHA-256) and the time, so they are matched on those.
CREATE TABLE provider_echoes (
    provider             text        NOT NULL,
    provider_message_id  text        NOT NULL,
    address              text        NOT NULL,   -- Evolution instance / Cloud phone-number id
    message_id           uuid,                   -- ours, when the provider echoes it (Cloud)
    recipient            text,                   -- recipient key (see in_doubt.recipient_key)
    body_sha256          bytea,
    at                   timestamptz NOT NULL,   -- when the provider says it sent
    received_at          timestamptz NOT NULL,
    PRIMARY KEY (provider, provider_message_id)
);
CREATE INDEX provider_echoes_message_id ON provider_echoes (message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX provider_echoes_content ON provider_echoes (provider, address, recipient, body_sha256, at)
    WHERE recipient IS NOT NULL;
CREATE INDEX provider_echoes_received_at ON provider_echoes (received_at);
