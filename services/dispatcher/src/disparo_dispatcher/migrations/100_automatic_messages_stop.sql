-- Automatic messages (follow-ups) stop when their conversation moves on: the doctor replied,
-- opted out, a human took the conversation over, or it was closed.

-- When the phone's latest reply was recorded, by our clock (compared with last_sent_at: the
-- doctor had the last word when it is later).
ALTER TABLE recipients ADD COLUMN last_inbound_at timestamptz;

-- An automatic message's last check before its provider call; once set, a reply recorded later
-- no longer cancels it (it is on its way).
ALTER TABLE messages ADD COLUMN send_confirmed_at timestamptz;

-- Conversations whose automatic messages must not go out (a human controls them, or they are
-- closed), fed by conversation.* events; the newest fact wins.
CREATE TABLE conversation_controls (
    conversation_id  uuid PRIMARY KEY,
    stopped          boolean     NOT NULL,
    reason           text,            -- 'taken_over' or 'closed' while stopped
    changed_at       timestamptz NOT NULL
);

-- A takeover or a closing cancels the conversation's pending follow-ups.
CREATE INDEX messages_pending_automatic ON messages (conversation_id)
    WHERE kind = 'followup' AND state IN ('queued', 'held', 'sending');
