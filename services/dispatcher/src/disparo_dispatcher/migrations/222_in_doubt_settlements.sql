-- How each send in doubt was settled, one row per verdict: what the in-doubt policies touched
-- (held for a person, resent at least once), beside what the provider's own word settled
-- (echoed, found by its search, proven absent) and what a person put back in line. Kept as
-- long as the echoes are.
CREATE TABLE in_doubt_settlements (
    message_id uuid NOT NULL,
    attempt int NOT NULL,
    kind text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('echoed', 'found', 'absent', 'resent', 'held',
                                             'requeued')),
    settled_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, attempt, outcome)
);

CREATE INDEX in_doubt_settlements_settled_at ON in_doubt_settlements (settled_at);
