-- A person may settle a doubt as sent ('person': they checked the chat or the provider's panel),
-- beside putting it back in line ('requeued').
ALTER TABLE in_doubt_settlements DROP CONSTRAINT in_doubt_settlements_outcome_check;
ALTER TABLE in_doubt_settlements ADD CONSTRAINT in_doubt_settlements_outcome_check
    CHECK (outcome IN ('echoed', 'found', 'absent', 'resent', 'held', 'requeued', 'person'));
