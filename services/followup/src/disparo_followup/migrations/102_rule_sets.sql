-- Follow-up rules and texts as named, versioned rule sets, edited over HTTP; every version kept.
CREATE TABLE rule_sets (
    name        text        NOT NULL,
    version     int         NOT NULL CHECK (version > 0),
    rules       jsonb       NOT NULL,   -- {stage: {delay, max_followups, texts: [[variant…]…]}}
    created_at  timestamptz NOT NULL,
    created_by  text        NOT NULL,
    PRIMARY KEY (name, version)
);

-- The rule set a conversation follows (NULL: the default, 'padrao'); and which rule set and
-- version each follow-up was requested under, so reports can tell reply rates per rule.
ALTER TABLE conversations ADD COLUMN rule_set text;
ALTER TABLE followups
    ADD COLUMN rule_set     text,
    ADD COLUMN rule_version int;
