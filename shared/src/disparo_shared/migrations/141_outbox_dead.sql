-- Events the relay could not publish whatever it did (larger than NATS's max payload), moved
-- out of the outbox so the events behind them still go out. Kept for an operator to read,
-- fix and replay; each one is also counted (disparo_outbox_dead_letters_total) and logged.
CREATE TABLE outbox_dead (
    id          bigint PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    subject     text        NOT NULL,
    payload     text        NOT NULL,
    headers     jsonb       NOT NULL,
    size_bytes  integer     NOT NULL,
    reason      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    dead_at     timestamptz NOT NULL DEFAULT now()
);
