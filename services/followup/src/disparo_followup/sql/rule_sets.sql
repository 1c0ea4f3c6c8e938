-- Versioned follow-up rule sets.

-- name: current_rule_sets
-- The newest version of every rule set.
SELECT DISTINCT ON (name) name, version, rules, created_at, created_by
FROM rule_sets
ORDER BY name, version DESC;

-- name: lock_rule_set_name
-- Serialise the writers of one rule set's next version.
SELECT pg_advisory_xact_lock(hashtextextended('followup.rule_sets:' || $1::text, 0));

-- name: latest_version
-- The newest version number of one rule set (NULL when never saved).
SELECT max(version) FROM rule_sets WHERE name = $1::text;

-- name: insert_rule_set
-- A new version of a rule set.
INSERT INTO rule_sets (name, version, rules, created_at, created_by)
VALUES ($1::text, $2::int, $3::jsonb, $4::timestamptz, $5::text)
RETURNING name, version, rules, created_at, created_by;
