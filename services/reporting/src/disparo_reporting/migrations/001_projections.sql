-- Read models built from the event streams; every table here can be rebuilt by replay.

-- How far a message has got. Events arrive out of order and more than once, so a state only
-- replaces another of lower rank: a late "delivered" never undoes "read".
CREATE FUNCTION message_state_rank(state text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE state
    WHEN 'requested' THEN 0
    WHEN 'enqueued' THEN 10
    WHEN 'retrying' THEN 20
    WHEN 'sent' THEN 30
    WHEN 'delivered' THEN 40
    WHEN 'read' THEN 50
    WHEN 'dead' THEN 60
END;

-- One row per message, created by whichever of its events arrives first.
CREATE TABLE messages (
    message_id       uuid PRIMARY KEY,
    campaign_id      uuid,
    conversation_id  uuid,
    kind             text,
    sender           text,
    phone            text,          -- E.164, only to attribute replies; never exported in clear
    state            text NOT NULL,
    attempts         int  NOT NULL DEFAULT 0,
    requested_at     timestamptz,
    enqueued_at      timestamptz,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    read_at          timestamptz,
    failed_at        timestamptz,   -- the latest failed attempt
    last_error_code  text,
    last_error       text,
    dead             boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_campaign ON messages (campaign_id, message_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX messages_phone_sent ON messages (phone, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX messages_sent_at ON messages (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX messages_state ON messages (state);

-- Every status a message went through, in the order the facts happened (``at``).
-- A batch request is one event for many messages, hence the pair as key.
CREATE TABLE message_history (
    message_id  uuid        NOT NULL,
    event_id    uuid        NOT NULL,
    status      text        NOT NULL,
    at          timestamptz NOT NULL,
    detail      text,
    PRIMARY KEY (message_id, event_id)
);

-- Inbound replies, each attributed to the latest message sent to that phone within the window
-- before it (NULL until such a message is known; re-attributed when one arrives late).
CREATE TABLE replies (
    event_id    uuid PRIMARY KEY,
    phone       text        NOT NULL,
    at          timestamptz NOT NULL,
    message_id  uuid
);
CREATE INDEX replies_phone ON replies (phone, at);
CREATE INDEX replies_message ON replies (message_id) WHERE message_id IS NOT NULL;

-- Campaign lifecycle; ``status_at`` orders late events so an old "paused" never wins.
CREATE TABLE campaigns (
    campaign_id    uuid PRIMARY KEY,
    name           text,
    status         text,
    status_at      timestamptz,
    audience_size  int,
    started_at     timestamptz,
    finished_at    timestamptz
);

-- The latest consent fact per phone.
CREATE TABLE consent (
    phone       text PRIMARY KEY,
    opted_out   boolean     NOT NULL,
    changed_at  timestamptz NOT NULL
);
