-- Saved segments, campaigns and each campaign's audience snapshot (campaign_recipients).

-- A saved filter (see segment_filters.py); relative dates stay relative and are evaluated at use.
CREATE TABLE segments (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text        NOT NULL,
    description  text,
    filter       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segments_created_at_id ON segments (created_at, id);

-- A campaign targets either a segment (saved uuid or "predefined:<id>", in segment_ref) or an
-- inline filter. audience_filter is the filter actually evaluated at start, kept for audit.
-- fanout_cursor is the seq of the last recipient whose message went to the outbox; fan-out is
-- done when it reaches audience_size.
CREATE TABLE campaigns (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text        NOT NULL,
    kind                text        NOT NULL DEFAULT 'campaign'
                                    CHECK (kind IN ('campaign', 'first_contact')),
    template            text        NOT NULL,
    segment_ref         text,
    filter              jsonb,
    priority            integer     NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    max_per_day         integer     CHECK (max_per_day > 0),
    window_start_hour   integer     NOT NULL DEFAULT 0 CHECK (window_start_hour BETWEEN 0 AND 23),
    window_end_hour     integer     NOT NULL DEFAULT 24 CHECK (window_end_hour BETWEEN 1 AND 24),
    window_days         integer[]   NOT NULL DEFAULT '{1,2,3,4,5,6,7}',
    not_before          timestamptz,
    state               text        NOT NULL DEFAULT 'draft' CHECK (state IN
                                    ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    scheduled_for       timestamptz,
    audience_filter     jsonb,
    audience_size       integer,
    first_due_at        timestamptz,
    fanout_cursor       bigint      NOT NULL DEFAULT 0,
    fanout_done_at      timestamptz,
    started_at          timestamptz,
    paused_at           timestamptz,
    completed_at        timestamptz,
    cancelled_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((segment_ref IS NULL) <> (filter IS NULL)),
    CHECK (window_start_hour < window_end_hour)
);
CREATE INDEX campaigns_created_at_id ON campaigns (created_at, id);
-- The scheduler's scan: due scheduled campaigns only.
CREATE INDEX campaigns_due ON campaigns (scheduled_for) WHERE state = 'scheduled';
-- The fan-out's and the completion sweep's scan: running campaigns not yet finished.
CREATE INDEX campaigns_active ON campaigns (started_at) WHERE state IN ('running', 'paused');

-- The audience of a started campaign, written once by the start's INSERT … SELECT. The unique
-- (campaign_id, contact_id) makes a second start (or the scheduler racing a person) add nobody;
-- seq numbers the recipients 1..n for keyset fan-out and the max_per_day spread; the
-- dispatcher's message id is derived from (campaign_id, seq) (campaign_message_ids.py).
-- status: pending until the dispatcher reports the message sent or finally failed; skipped when
-- the contact opted out (or vanished) before fan-out.
CREATE TABLE campaign_recipients (
    campaign_id  uuid        NOT NULL REFERENCES campaigns (id),
    seq          bigint      NOT NULL,
    contact_id   uuid        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    finished_at  timestamptz,
    PRIMARY KEY (campaign_id, seq),
    UNIQUE (campaign_id, contact_id)
);
-- Completion is "no pending recipient left": this index empties as messages finish.
CREATE INDEX campaign_recipients_pending ON campaign_recipients (campaign_id) WHERE status = 'pending';
