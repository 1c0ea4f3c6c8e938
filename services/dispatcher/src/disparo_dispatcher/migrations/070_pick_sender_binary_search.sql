-- pick_sender, same draw, as a binary search in PL/pgSQL. The SQL version started an executor
-- (function scan, sort, limit) for every message of every batch; perf showed it among the top
-- costs of a campaign's intake.
CREATE OR REPLACE FUNCTION pick_sender(phone text, sender_ids text[], cum_weights bigint[])
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n     int := cardinality(cum_weights);
    total bigint;
    draw  bigint;
    lo    int := 1;
    hi    int;
    mid   int;
BEGIN
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    total := cum_weights[n];
    draw := ((hashtextextended(phone, 0) % total) + total) % total;
    hi := n;
    -- the first sender whose running total exceeds the draw
    WHILE lo < hi LOOP
        mid := (lo + hi) / 2;
        IF cum_weights[mid] > draw THEN
            hi := mid;
        ELSE
            lo := mid + 1;
        END IF;
    END LOOP;
    RETURN sender_ids[lo];
END
$$;
