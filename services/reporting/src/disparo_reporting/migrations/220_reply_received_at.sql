-- When the dispatcher received each reply (its own clock, to the microsecond): an answer we sent
-- after the reply arrived can never be what the reply answers, however close the provider's
-- whole-second stamp puts them. Replies stored before this have none and keep the stamp's rule.
ALTER TABLE replies ADD COLUMN received_at timestamptz;
