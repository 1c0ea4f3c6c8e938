-- The console's doctor search, accent-insensitive and by the end of a phone.
-- "joao" finds "João", "conceicao" finds "Conceição": the name's trigram index is rebuilt over
-- the name without accents (same size, one index replaced by one). unaccent() is only STABLE
-- (its dictionary could change), so an index needs an IMMUTABLE wrapper; the wrapper names the
-- extension's schema, so it never depends on the caller's search_path. The wrapper is not
-- inlined (its body is less strict than it), which is what lets a query match the index's
-- expression: always search with search_unaccented(name), never unaccent(name).
-- unaccent is a trusted extension, like pg_trgm: the migrator's CREATE on the database is enough.
CREATE EXTENSION IF NOT EXISTS unaccent;
DO $$
DECLARE
    home text := (SELECT n.nspname FROM pg_extension e
                  JOIN pg_namespace n ON n.oid = e.extnamespace
                  WHERE e.extname = 'unaccent');
BEGIN
    EXECUTE format(
        'CREATE FUNCTION search_unaccented(text) RETURNS text '
        'LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT '
        'AS %L',
        format('SELECT %I.unaccent(%L::regdictionary, $1)', home, home || '.unaccent'));
END
$$;
CREATE INDEX contacts_name_unaccented_trgm ON contacts USING gin (search_unaccented(name) gin_trgm_ops);
DROP INDEX contacts_name_trgm;
-- "the phone ending in 4321": the phone read backwards, so its end is a prefix a B-tree finds
-- (reverse(phone) LIKE '1234%'); a B-tree entry costs an import far less than a trigram one.
CREATE INDEX contacts_phone_reversed ON contacts (reverse(phone) text_pattern_ops);
