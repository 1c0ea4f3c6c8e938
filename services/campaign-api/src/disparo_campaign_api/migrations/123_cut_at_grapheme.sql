-- Cutting text on a grapheme boundary inside Postgres, as disparo_shared.template_syntax's
-- cut_at_grapheme does in Python (the same code point ranges, kept in step by a test), so a
-- fan-out that renders a message in SQL never splits an emoji, a flag or an accented letter.

-- Whether a code point belongs to the character before it (combining marks, ZWJ, variation
-- selectors, keycap, skin tones, tags): EXTENDING_RANGES.
CREATE FUNCTION is_extending_code_point(code integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT code BETWEEN 768 AND 879
        OR code BETWEEN 6832 AND 6911
        OR code BETWEEN 7616 AND 7679
        OR code BETWEEN 8204 AND 8205
        OR code BETWEEN 8400 AND 8447
        OR code BETWEEN 65024 AND 65039
        OR code BETWEEN 65056 AND 65071
        OR code BETWEEN 127995 AND 127999
        OR code BETWEEN 917536 AND 917631
        OR code BETWEEN 917760 AND 917999
$$;

-- At most n characters of t, moved left while the first character left out extends the one
-- before it or follows a ZWJ (8205), then once more if that would split a flag (an odd run of
-- regional indicators, 127462–127487). Text already short enough comes back as is.
CREATE FUNCTION cut_at_grapheme(t text, n integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    k integer := greatest(n, 0);
    run integer := 0;
BEGIN
    IF length(t) <= n THEN
        RETURN t;
    END IF;
    -- 1-based: the first character left out is at k + 1
    WHILE k > 0 AND (is_extending_code_point(ascii(substr(t, k + 1, 1)))
                     OR ascii(substr(t, k, 1)) = 8205) LOOP
        k := k - 1;
    END LOOP;
    IF k > 0 AND ascii(substr(t, k + 1, 1)) BETWEEN 127462 AND 127487 THEN
        WHILE run < k AND ascii(substr(t, k - run, 1)) BETWEEN 127462 AND 127487 LOOP
            run := run + 1;
        END LOOP;
        IF run % 2 = 1 THEN
            k := k - 1;
        END IF;
    END IF;
    RETURN left(t, k);
END
$$;
