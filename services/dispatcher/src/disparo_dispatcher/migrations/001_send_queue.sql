-- The send queue: senders and their leases, recipients' memory, campaigns' controls, messages.

-- WhatsApp numbers we send from. A replica sends for a sender only while it holds its lease.
CREATE TABLE senders (
    sender_id          text PRIMARY KEY,
    provider           text        NOT NULL,
    address            text        NOT NULL,           -- Evolution instance / Cloud phone-number id
    base_url           text        NOT NULL,
    credential_ref     text        NOT NULL,           -- "env:NAME" or a literal (dev only)
    rate_per_second    integer     NOT NULL DEFAULT 80 CHECK (rate_per_second > 0),
    daily_limit        integer     CHECK (daily_limit > 0),
    warmup_started_on  date,
    status             text        NOT NULL DEFAULT 'active'
                                   CHECK (status IN ('active', 'paused', 'banned')),
    paused_until       timestamptz,                    -- a 'paused' sender comes back by itself then
    pause_reason       text,
    lease_owner        text,
    lease_until        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Live dispatcher processes; a sender's fair share is computed from how many are alive.
CREATE TABLE replicas (
    replica_id   text PRIMARY KEY,
    alive_until  timestamptz NOT NULL
);

-- What the queue remembers about each recipient phone (E.164): its sticky sender, its pacing
-- and its consent. One row per phone, written at enqueue (sticky sender) and at send.
CREATE TABLE recipients (
    phone                  text PRIMARY KEY,
    sender_id              text,
    last_sent_at           timestamptz,
    campaign_day           date,
    campaign_sent_on_day   integer     NOT NULL DEFAULT 0,
    opted_out_at           timestamptz,
    opt_out_reason         text
);

-- Campaign controls fed by campaign.* events and the admin API: pause/cancel, daily cap,
-- today's count, and the virtual time of the campaign's next message (fair interleaving).
CREATE TABLE campaigns (
    campaign_id    uuid PRIMARY KEY,
    status         text        NOT NULL DEFAULT 'running'
                               CHECK (status IN ('running', 'paused', 'cancelled')),
    max_per_day    integer     CHECK (max_per_day > 0),
    day            date,
    sent_on_day    integer     NOT NULL DEFAULT 0,
    next_rank_at   timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per message to send. 'queued' rows are claimable once due_at has passed, in order of
-- priority (10 first) then rank_at (arrival time, or a campaign's virtual time).
CREATE TABLE messages (
    message_id           uuid PRIMARY KEY,
    idempotency_key      text        NOT NULL UNIQUE,
    contact_id           uuid,
    phone                text        NOT NULL,
    kind                 text        NOT NULL,
    body                 text        NOT NULL,
    priority             smallint    NOT NULL CHECK (priority BETWEEN 1 AND 10),
    campaign_id          uuid,
    conversation_id      uuid,
    time_zone            text        NOT NULL,
    state                text        NOT NULL
                                     CHECK (state IN ('queued', 'sending', 'sent', 'dead', 'cancelled', 'held')),
    due_at               timestamptz NOT NULL,
    rank_at              timestamptz NOT NULL,
    attempt              integer     NOT NULL DEFAULT 0,  -- provider calls made (or in flight)
    max_attempts         integer     NOT NULL CHECK (max_attempts > 0),
    sender_id            text,
    lease_owner          text,
    lease_until          timestamptz,
    last_error_code      text,
    last_error           text,
    provider_message_id  text,
    requested_at         timestamptz NOT NULL,
    enqueued_at          timestamptz NOT NULL,
    sent_at              timestamptz,
    finished_at          timestamptz
);

-- The claim walks this index per sender: priority first, then place in line.
CREATE INDEX messages_claimable ON messages (sender_id, priority DESC, rank_at) INCLUDE (due_at)
    WHERE state = 'queued';
-- Leases to reclaim after a crash.
CREATE INDEX messages_in_flight ON messages (sender_id, lease_until) WHERE state = 'sending';
-- Pause, resume, cancel and "resend the failed" per campaign.
CREATE INDEX messages_by_campaign ON messages (campaign_id, state) WHERE campaign_id IS NOT NULL;
-- An opt-out drops that phone's pending messages.
CREATE INDEX messages_pending_by_phone ON messages (phone) WHERE state IN ('queued', 'held', 'sending');
-- Today's count per sender when a replica takes a sender over.
CREATE INDEX messages_sent_by_sender ON messages (sender_id, sent_at) WHERE state = 'sent';
-- Provider statuses (webhooks) name the provider's id.
CREATE INDEX messages_provider_message_id ON messages (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- Queue-depth gauges count non-terminal rows only.
CREATE INDEX messages_dead ON messages (priority) WHERE state = 'dead';

-- The sender a new contact gets: a stable draw over healthy senders weighted by today's
-- capacity, so the same phone picks the same sender and heavier senders take more contacts.
-- ``cum_weights`` are running totals (each weight at least 1) aligned with ``sender_ids``;
-- with no sender it returns NULL and the message waits for one.
CREATE FUNCTION pick_sender(phone text, sender_ids text[], cum_weights bigint[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sender_ids[i]
    FROM generate_subscripts(cum_weights, 1) AS i
    WHERE cardinality(cum_weights) > 0
      AND cum_weights[i] > ((hashtextextended(phone, 0) % cum_weights[cardinality(cum_weights)])
                            + cum_weights[cardinality(cum_weights)]) % cum_weights[cardinality(cum_weights)]
    ORDER BY i
    LIMIT 1
$$;
