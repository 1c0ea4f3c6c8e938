-- The pending-by-phone index held 'sending' rows too, so every claim (queued → sending, never a
-- HOT update) inserted each claimed row's new version into it, at a random place by phone, in an
-- index as large as the backlog: past ~1.5 million unsent rows those leaves no longer stayed in
-- a 128 MB shared_buffers and a claim read them back from the OS. The queries that look for a
-- phone's 'sending' rows ask messages_unsettled_by_phone (sending, in doubt: small at any
-- backlog); this index keeps what waits to be claimed.
CREATE INDEX messages_waiting_by_phone ON messages (phone) WHERE state IN ('queued', 'held');
DROP INDEX messages_pending_by_phone;
