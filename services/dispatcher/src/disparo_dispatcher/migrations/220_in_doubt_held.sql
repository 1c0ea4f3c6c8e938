-- A send in doubt that neither an echo nor the provider's own search could settle, of a kind
-- sent at most once (campaigns, follow-ups): held 'in_doubt' for a person from this time on.
-- The resolver no longer looks at it; one call puts the held ones back in line.
ALTER TABLE messages ADD COLUMN in_doubt_held_at timestamptz;

CREATE INDEX messages_in_doubt_held ON messages (campaign_id)
    WHERE state = 'in_doubt' AND in_doubt_held_at IS NOT NULL;
