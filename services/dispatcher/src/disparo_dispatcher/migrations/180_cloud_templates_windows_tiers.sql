-- The official Cloud API: templates per account, the 24 h customer-service window per
-- (number, doctor), number quality and the portfolio's messaging tier.

-- A Cloud number's account (WABA, whose templates it may send), its business portfolio (the
-- numbers that share one messaging tier) and its quality rating as Meta last reported it.
ALTER TABLE senders
    ADD COLUMN waba_id            text,
    ADD COLUMN display_phone_number text,  -- how Meta's quality webhooks name the number
    ADD COLUMN portfolio          text,
    ADD COLUMN quality            text NOT NULL DEFAULT 'GREEN'
                                  CHECK (quality IN ('GREEN', 'YELLOW', 'RED', 'UNKNOWN')),
    ADD COLUMN quality_updated_at timestamptz;

-- Meta's messaging tiers as data: unique business-initiated recipients per rolling 24 h
-- (NULL = unlimited). Changing a limit is an UPDATE, not a release.
CREATE TABLE messaging_tiers (
    tier              text PRIMARY KEY,
    unique_recipients integer CHECK (unique_recipients > 0)
);
INSERT INTO messaging_tiers (tier, unique_recipients) VALUES
    ('TIER_250', 250), ('TIER_2K', 2000), ('TIER_10K', 10000), ('TIER_100K', 100000),
    ('TIER_UNLIMITED', NULL);

-- A business portfolio's current tier (from phone_number_quality_update webhooks).
CREATE TABLE portfolios (
    portfolio   text PRIMARY KEY,
    tier        text NOT NULL DEFAULT 'TIER_250' REFERENCES messaging_tiers (tier),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Each account's templates as the provider lists them (synced on demand and by webhook).
CREATE TABLE templates (
    waba_id          text        NOT NULL,
    name             text        NOT NULL,
    language         text        NOT NULL,
    template_id      text,
    category         text        NOT NULL,
    status           text        NOT NULL,
    body             text        NOT NULL DEFAULT '',
    parameter_format text        NOT NULL DEFAULT 'POSITIONAL',
    parameters       text[]      NOT NULL DEFAULT '{}',  -- placeholders in order: {1,2} / {nome}
    reason           text,                                -- Meta's word on the last status change
    synced_at        timestamptz NOT NULL,
    PRIMARY KEY (waba_id, name, language)
);

-- When each doctor last wrote to each of our numbers: free text may go for 24 h after it.
CREATE TABLE conversation_windows (
    sender_id        text        NOT NULL,
    phone            text        NOT NULL,
    last_inbound_at  timestamptz NOT NULL,
    PRIMARY KEY (sender_id, phone)
);

-- Who got a business-initiated message from a portfolio, and when last: the tier counts the
-- distinct phones here in the last 24 h.
CREATE TABLE portfolio_recipients (
    portfolio        text        NOT NULL,
    phone            text        NOT NULL,
    sender_id        text        NOT NULL,  -- the number that reached them last (its share)
    last_initiated_at timestamptz NOT NULL,
    PRIMARY KEY (portfolio, phone)
);
CREATE INDEX portfolio_recipients_recent ON portfolio_recipients (portfolio, last_initiated_at);

-- A message's template (name, language, filled parameters) for when the window is closed, and
-- how often Meta's per-user marketing limit (131049) has put it off a day.
ALTER TABLE messages
    ADD COLUMN template                jsonb,
    ADD COLUMN marketing_limit_retries smallint NOT NULL DEFAULT 0;

-- Held messages by reason: released when a window opens or a template is approved again.
CREATE INDEX messages_held_by_reason ON messages (last_error_code, phone) WHERE state = 'held';
