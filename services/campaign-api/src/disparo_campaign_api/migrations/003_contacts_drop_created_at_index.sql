-- GET /v1/contacts now pages by id (the primary key): the (created_at, id) index only cost the
-- bulk import one more index to maintain per row.
DROP INDEX IF EXISTS contacts_created_at_id;
