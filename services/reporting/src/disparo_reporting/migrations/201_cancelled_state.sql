-- A message the dispatcher will not send (its conversation moved on: the doctor replied, opted
-- out, a human took over) is "cancelled": past waiting, so it no longer counts as pending, and
-- below "sent", which it never reached.
CREATE OR REPLACE FUNCTION message_state_rank(state text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE state
    WHEN 'requested' THEN 0
    WHEN 'enqueued' THEN 10
    WHEN 'retrying' THEN 20
    WHEN 'cancelled' THEN 25
    WHEN 'sent' THEN 30
    WHEN 'delivered' THEN 40
    WHEN 'read' THEN 50
    WHEN 'dead' THEN 60
END;
