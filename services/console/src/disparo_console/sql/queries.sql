-- The console's own reads and writes: users, sessions, failed logins, import results.

-- name: count_users
-- How many users exist (the first admin is created only when none does).
SELECT count(*) FROM users;

-- name: insert_user
-- A new user; NULL when the user name is taken.
INSERT INTO users (id, username, display_name, role, password_hash, created_at, updated_at)
VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $6::timestamptz)
ON CONFLICT (username) DO NOTHING
RETURNING id, username, display_name, role, active, created_at;

-- name: get_user_for_login
-- A user by name with the hash to verify.
SELECT id, username, display_name, role, active, password_hash FROM users WHERE username = $1::text;

-- name: list_users
-- Every user, by name.
SELECT id, username, display_name, role, active, created_at FROM users ORDER BY username;

-- name: update_user_access
-- Change a user's role and whether they may log in.
UPDATE users SET role = $2::text, active = $3::boolean, updated_at = $4::timestamptz
WHERE id = $1::uuid
RETURNING id, username, display_name, role, active, created_at;

-- name: update_password_hash
-- Replace a user's password hash (after a rehash or a reset).
UPDATE users SET password_hash = $2::text, updated_at = $3::timestamptz WHERE id = $1::uuid;

-- name: end_user_sessions
-- Log a user out everywhere (role change, deactivation).
DELETE FROM sessions WHERE user_id = $1::uuid;

-- name: insert_session
-- A new session for a user.
INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1::bytea, $2::uuid, $3::text, $4::timestamptz, $4::timestamptz, $5::timestamptz);

-- name: get_session
-- A live session and its active user; nothing when expired, ended or the user is inactive.
SELECT s.token_hash, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
       u.id AS user_id, u.username, u.display_name, u.role, u.locale
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1::bytea AND s.expires_at > $2::timestamptz AND u.active;

-- name: touch_session
-- Slide a session's expiry forward (never past its absolute end, computed by the caller).
UPDATE sessions SET last_seen_at = $2::timestamptz, expires_at = $3::timestamptz
WHERE token_hash = $1::bytea;

-- name: delete_session
-- End one session (logout).
DELETE FROM sessions WHERE token_hash = $1::bytea;

-- name: delete_expired_sessions
-- Forget sessions and failed logins that no longer matter.
WITH gone AS (DELETE FROM sessions WHERE expires_at <= $1::timestamptz)
DELETE FROM login_failures WHERE at < $1::timestamptz - interval '1 day';

-- name: insert_login_failure
-- Remember one failed login.
INSERT INTO login_failures (username, address, at) VALUES ($1::text, $2::text, $3::timestamptz);

-- name: recent_login_failures
-- Failed logins for this user name and this address since $3.
SELECT
    count(*) FILTER (WHERE username = $1::text) AS by_username,
    count(*) FILTER (WHERE address = $2::text) AS by_address,
    min(at) FILTER (WHERE username = $1::text) AS oldest_by_username,
    min(at) FILTER (WHERE address = $2::text) AS oldest_by_address
FROM login_failures
WHERE at > $3::timestamptz AND (username = $1::text OR address = $2::text);

-- name: clear_login_failures
-- A successful login forgets that user name's failures.
DELETE FROM login_failures WHERE username = $1::text;

-- name: insert_import
-- The answer of one CSV import.
INSERT INTO imports (id, user_id, filename, result, created_at)
VALUES ($1::uuid, $2::uuid, $3::text, $4::jsonb, $5::timestamptz);

-- name: get_import
-- One import's answer.
SELECT id, user_id, filename, result, created_at FROM imports WHERE id = $1::uuid;

-- name: set_user_locale
-- A user's interface language (NULL: the browser's).
UPDATE users SET locale = $2::text, updated_at = $3::timestamptz WHERE id = $1::uuid;
