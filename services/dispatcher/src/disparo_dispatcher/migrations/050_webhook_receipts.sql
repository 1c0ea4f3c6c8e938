-- What provider webhooks have already told us, so repeated and reordered webhooks tell nothing twice.

-- One row per fact told about one of our messages. A fact is told (its event written to the
-- outbox) only by the transaction that inserts its row, so each fact is told at most once.
-- Kept as long as the message: a doctor may read a message weeks later (at most 3 rows each).
CREATE TABLE message_status_facts (
    message_id           uuid        NOT NULL,
    fact                 text        NOT NULL CHECK (fact IN ('delivered', 'read', 'failed')),
    provider_message_id  text        NOT NULL,
    at                   timestamptz NOT NULL,   -- when the provider says it happened
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, fact)
);

-- Inbound messages already turned into message.received, by the provider's id.
CREATE TABLE inbound_receipts (
    provider             text        NOT NULL,
    provider_message_id  text        NOT NULL,
    recorded_at          timestamptz NOT NULL,
    PRIMARY KEY (provider, provider_message_id)
);
CREATE INDEX inbound_receipts_recorded_at ON inbound_receipts (recorded_at);

-- Statuses that arrived before we committed the send they describe (the provider's webhook beat
-- our write of its id). They wait here until a message with that provider id appears, or expire.
CREATE TABLE pending_statuses (
    provider             text        NOT NULL,
    provider_message_id  text        NOT NULL,
    status               text        NOT NULL CHECK (status IN ('delivered', 'read', 'failed')),
    address              text        NOT NULL,
    at                   timestamptz NOT NULL,
    error_code           text,
    error                text,
    received_at          timestamptz NOT NULL,
    PRIMARY KEY (provider, provider_message_id, status)
);
CREATE INDEX pending_statuses_provider_message_id ON pending_statuses (provider_message_id);
CREATE INDEX pending_statuses_received_at ON pending_statuses (received_at);
