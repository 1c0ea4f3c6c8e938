-- pick_sender, same draw, as one SQL expression the planner inlines into the statement that
-- calls it: ``width_bucket`` over the running totals is the binary search, done in C. The
-- PL/pgSQL loop (070) cost ~3 µs a call, once per new doctor of every campaign's intake; this
-- ~0.3 µs. The same phone still draws the same sender (a test compares it with the definition:
-- the first sender whose running total exceeds the draw). With no sender, every term is NULL.
CREATE OR REPLACE FUNCTION pick_sender(phone text, sender_ids text[], cum_weights bigint[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sender_ids[width_bucket(
        ((hashtextextended(phone, 0) % cum_weights[cardinality(cum_weights)])
         + cum_weights[cardinality(cum_weights)]) % cum_weights[cardinality(cum_weights)],
        cum_weights) + 1]
$$;
