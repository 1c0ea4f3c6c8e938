-- Changes of a conversation's stage and controller, and their history.

-- name: lock_conversation
-- The conversation as it is, locked until the change commits (changes of one conversation
-- serialise; changes of different ones do not wait for each other).
SELECT conversation_id, contact_id, stage, controlled_by, held_by, changed_at
FROM conversations
WHERE conversation_id = $1::uuid
FOR UPDATE;

-- name: apply_change
-- Set the stage, the controller and who holds it; stage_changed_at moves too, so an older
-- recruiter-system event arriving late does not undo a person's change.
UPDATE conversations
SET stage = $2::text, controlled_by = $3::text, held_by = $4::text,
    changed_at = $5::timestamptz,
    stage_changed_at = greatest(stage_changed_at, $5::timestamptz),
    updated_at = now()
WHERE conversation_id = $1::uuid;

-- name: record_change
-- One line of the conversation's history.
INSERT INTO conversation_changes
    (conversation_id, at, by, reason, source, stage_before, stage_after, controller_before,
     controller_after)
VALUES ($1::uuid, $2::timestamptz, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text,
        $9::text);

-- name: changes_of
-- A conversation's history, oldest first.
SELECT at, by, reason, source, stage_before, stage_after, controller_before, controller_after
FROM conversation_changes
WHERE conversation_id = $1::uuid
ORDER BY change_id;
