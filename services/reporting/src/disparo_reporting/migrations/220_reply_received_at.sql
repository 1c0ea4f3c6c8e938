-- When the dispatcher received each reply (its own clock, to the microsecond): a message
-- requested after the reply arrived (the recruiter's answer to it) can never be what the reply
-- answers, however close the provider's whole-second stamp puts their sends. Replies stored
-- before this have none and keep the stamp's rule alone.
ALTER TABLE replies ADD COLUMN received_at timestamptz;
