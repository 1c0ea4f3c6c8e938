-- The console's doctor search and the audience preview's exclusions.
-- A name fragment found anywhere in the name, any case ("silva", "ana s"), through a trigram
-- index: on a million doctors a rare name answers from the index instead of reading the table.
-- pg_trgm is a trusted extension: the migrator's CREATE on the database is enough.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contacts_name_trgm ON contacts USING gin (name gin_trgm_ops);
-- Opted-out doctors apart (a small share): a preview counts those its filter would have reached.
CREATE INDEX contacts_opted_out ON contacts (opted_out_at) WHERE opted_out_at IS NOT NULL;
