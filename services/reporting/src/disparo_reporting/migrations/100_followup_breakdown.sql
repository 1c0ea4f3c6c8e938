-- What a campaign's follow-up breakdown needs: which follow-up each message was (from
-- messages.requested), and when each conversation was taken over by a person or closed (from
-- conversation.control_changed). Both are projections: a rebuild replays them.
ALTER TABLE messages
    ADD COLUMN followup_attempt int,    -- 1, 2… for a follow-up; NULL for the original message
    ADD COLUMN followup_rule    text;   -- the rule it was requested under, e.g. padrao/primeiro_contato

CREATE TABLE conversation_controls (
    conversation_id  uuid PRIMARY KEY,
    taken_over_at    timestamptz,   -- the first time a person took it over
    closed_at        timestamptz    -- the first time it was closed (stage encerrada)
);
