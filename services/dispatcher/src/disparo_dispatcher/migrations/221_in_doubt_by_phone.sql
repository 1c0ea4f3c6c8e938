-- A claim asks, per phone, whether a send to it is still in doubt (it may have reached the
-- provider: pair spacing counts it). Doubts are few, so the partial index stays tiny.
CREATE INDEX messages_in_doubt_by_phone ON messages (phone) WHERE state = 'in_doubt';
