-- Pair spacing asks, for each claimed phone, whether another send to it may already have gone:
-- one still 'sending' under another replica's lease, or one in doubt. Asked of the pending index
-- (queued, held, sending) it also walked every queued row of the phone and its just-claimed old
-- version, plus a second probe of the in-doubt index: ~8.7 buffers per claimed message. One
-- small index of the unsettled sends alone answers it in one probe; it replaces the in-doubt one
-- (its queries name state = 'in_doubt', which this predicate covers).
CREATE INDEX messages_unsettled_by_phone ON messages (phone) WHERE state IN ('sending', 'in_doubt');
DROP INDEX messages_in_doubt_by_phone;
