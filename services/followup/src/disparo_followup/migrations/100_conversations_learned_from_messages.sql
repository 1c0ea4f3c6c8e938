-- Conversations learned from the messages that flow (messages.requested, message.sent), in the
-- spec's stage words, with the campaign they belong to.

-- The recruiter system's older words become the spec's (the event path accepts both).
UPDATE conversations SET stage = CASE stage
        WHEN 'first_contact' THEN 'primeiro_contato'
        WHEN 'interested' THEN 'pos_interesse'
        WHEN 'offer_made' THEN 'pos_oferta'
        ELSE stage END,
    controlled_by = CASE controlled_by WHEN 'ai' THEN 'automation' ELSE controlled_by END;
UPDATE followups SET stage = CASE stage
        WHEN 'first_contact' THEN 'primeiro_contato'
        WHEN 'interested' THEN 'pos_interesse'
        WHEN 'offer_made' THEN 'pos_oferta'
        ELSE stage END;

ALTER TABLE conversations
    ADD COLUMN campaign_id uuid,
    ADD COLUMN kind        text,          -- kind of the message that opened it (campaign, reply…)
    ADD COLUMN opened_at   timestamptz;   -- when the first message of it was requested

DROP INDEX conversations_due;
CREATE INDEX conversations_due ON conversations (last_outbound_at)
    WHERE controlled_by = 'automation' AND phone IS NOT NULL;
CREATE INDEX conversations_campaign ON conversations (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX conversations_contact ON conversations (contact_id);
