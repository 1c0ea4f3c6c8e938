-- Per-conversation follow-up state, built from message.*, conversation.* and contact.* events.

-- One row per conversation; created by its stage event or by a message sent in it.
CREATE TABLE conversations (
    conversation_id   uuid PRIMARY KEY,
    contact_id        uuid,
    phone             text,          -- E.164, from conversation.stage_changed
    contact_name      text,
    stage             text,
    controlled_by     text,          -- 'ai' or 'human'
    stage_changed_at  timestamptz,   -- occurred_at of the stage fact applied, so late ones lose
    last_outbound_at  timestamptz,   -- our latest message sent in the conversation
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_due ON conversations (last_outbound_at)
    WHERE controlled_by = 'ai' AND phone IS NOT NULL;
CREATE INDEX conversations_phone ON conversations (phone);

-- Facts known per phone (inbound replies carry only the phone): last reply and consent.
CREATE TABLE phones (
    phone               text PRIMARY KEY,
    last_inbound_at     timestamptz,
    opted_out           boolean NOT NULL DEFAULT false,
    consent_changed_at  timestamptz
);

-- Every follow-up requested; the key makes a second run of the job request nothing new.
CREATE TABLE followups (
    conversation_id  uuid        NOT NULL,
    stage            text        NOT NULL,
    n                int         NOT NULL,
    message_id       uuid        NOT NULL UNIQUE,
    requested_at     timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, stage, n)
);

-- Daily slots already claimed by a replica, so a restart or a second replica skips them.
CREATE TABLE job_runs (
    slot         timestamptz PRIMARY KEY,
    started_at   timestamptz NOT NULL,
    requested    int
);
