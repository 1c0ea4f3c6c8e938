-- name: erase_contact
-- Delete the doctor's consent history and profile; the phone is returned for the event.
WITH history AS (
    DELETE FROM opt_outs WHERE contact_id = $1::uuid
)
DELETE FROM contacts WHERE id = $1::uuid RETURNING phone;

-- name: record_erasure
-- The proof of erasure, without the person.
INSERT INTO contact_erasures (contact_id, event_id, erased_at)
VALUES ($1::uuid, $2::uuid, $3::timestamptz)
ON CONFLICT (contact_id) DO NOTHING;

-- name: find_erasure
-- When a contact id was erased, if it was.
SELECT contact_id, event_id, erased_at FROM contact_erasures WHERE contact_id = $1::uuid;

-- name: contact_campaigns
-- The campaigns that targeted the doctor, with what became of their message there.
SELECT r.campaign_id, c.name AS campaign_name, c.state AS campaign_state,
       r.status AS message_status, r.finished_at
FROM campaign_recipients r
JOIN campaigns c ON c.id = r.campaign_id
WHERE r.contact_id = $1::uuid
ORDER BY r.campaign_id;
