-- What became of each follow-up requested: sent (message.sent) or cancelled with the reason the
-- dispatcher gave (message.cancelled: replied, opted_out, taken_over, closed). The loop report
-- reads these with the conversations' timelines.
ALTER TABLE followups
    ADD COLUMN sent_at           timestamptz,
    ADD COLUMN cancelled_reason  text;
CREATE INDEX followups_conversation_sent ON followups (conversation_id, sent_at);
