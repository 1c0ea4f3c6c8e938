-- Who controls a conversation and why, kept as history; each conversation's message timeline.

ALTER TABLE conversations
    ADD COLUMN held_by     text,           -- the person who took it over, while a human controls it
    ADD COLUMN changed_at  timestamptz;    -- the latest stage or controller change (HTTP or event)

-- Every change of stage or controller: who, when, why, from what to what.
CREATE TABLE conversation_changes (
    change_id          bigserial   PRIMARY KEY,
    conversation_id    uuid        NOT NULL,
    at                 timestamptz NOT NULL,
    by                 text        NOT NULL,
    reason             text,
    source             text        NOT NULL CHECK (source IN ('http', 'event')),
    stage_before       text,
    stage_after        text,
    controller_before  text,
    controller_after   text
);
CREATE INDEX conversation_changes_conversation ON conversation_changes (conversation_id, change_id);

-- The messages of a conversation: ours as sent (message.sent), theirs as received (a reply is
-- attributed to every open conversation of the phone). ``entry_key`` is our message id or the
-- provider's id of their message, so a redelivered event adds nothing.
CREATE TABLE conversation_messages (
    conversation_id  uuid        NOT NULL,
    entry_key        text        NOT NULL,
    direction        text        NOT NULL CHECK (direction IN ('out', 'in')),
    kind             text,                 -- ours: campaign, followup, reply, first_contact
    at               timestamptz NOT NULL,
    body             text,                 -- theirs only: what the doctor wrote
    PRIMARY KEY (conversation_id, entry_key)
);
CREATE INDEX conversation_messages_at ON conversation_messages (conversation_id, at);
CREATE INDEX conversations_stage_controller ON conversations (stage, controlled_by, conversation_id);
