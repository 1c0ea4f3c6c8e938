-- name: record_audit_entry
-- One state-changing call as the edge saw it.
INSERT INTO audit_log (at, key_name, acting_user, method, path, status, client, contact_id)
VALUES ($1::timestamptz, $2::text, $3::text, $4::text, $5::text, $6::integer, $7::text,
        $8::uuid);

-- name: list_audit_entries
-- Newest first, before an optional id (the cursor), optionally for one key or one contact.
SELECT audit_id, at, key_name, acting_user, method, path, status, client, contact_id
FROM audit_log
WHERE ($1::bigint IS NULL OR audit_id < $1::bigint)
  AND ($2::text IS NULL OR key_name = $2::text)
  AND ($3::timestamptz IS NULL OR at >= $3::timestamptz)
  AND ($5::uuid IS NULL OR contact_id = $5::uuid)
ORDER BY audit_id DESC
LIMIT $4::integer;
