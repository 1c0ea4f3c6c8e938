-- name: contact_consent_by_phone
-- The contact a message goes to, with its consent state and name ({nome} of follow-ups).
SELECT id, name, opted_out_at, opt_out_reason FROM contacts WHERE phone = $1::text;
