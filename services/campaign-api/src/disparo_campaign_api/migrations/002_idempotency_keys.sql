-- Idempotency-Key records: a retried POST gets the first answer back and changes nothing.

-- scope names the operation ("POST /v1/messages"), so one key may be reused across endpoints.
-- fingerprint is the SHA-256 of the canonical request body: the same key with another body is
-- refused. The row is written in the transaction that does the work, so a crash keeps neither.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    status_code  integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
