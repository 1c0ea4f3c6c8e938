-- The doctors campaign-api reaches, and the LGPD history of their consent.

-- One row per person, keyed by the phone in E.164 (Brazilian mobiles always with the ninth
-- digit), so the same doctor imported as "(11) 8765-4321" and "+55 11 98765-4321" is one row.
-- Opt-out lives in opted_out_at/opt_out_reason, apart from the business status, so no import or
-- status change can silently undo it.
CREATE TABLE contacts (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    phone            text        NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    name             text,
    specialty        text,
    region           text,
    tags             text[]      NOT NULL DEFAULT '{}',
    status           text        NOT NULL DEFAULT 'active',
    time_zone        text        NOT NULL DEFAULT 'America/Sao_Paulo',
    attributes       jsonb       NOT NULL DEFAULT '{}',
    interactions     integer     NOT NULL DEFAULT 0,
    last_contact_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    opted_out_at     timestamptz,
    opt_out_reason   text
);

-- Segment filters: tags any/all (&& / @>), custom attributes by containment
-- (attributes @> '{"crm_uf": "SP"}'; jsonb_path_ops is the smaller, faster GIN for @>).
CREATE INDEX contacts_tags ON contacts USING gin (tags);
CREATE INDEX contacts_attributes ON contacts USING gin (attributes jsonb_path_ops);
CREATE INDEX contacts_specialty ON contacts (specialty);
CREATE INDEX contacts_region ON contacts (region);
CREATE INDEX contacts_status ON contacts (status);
CREATE INDEX contacts_last_contact_at ON contacts (last_contact_at);
CREATE INDEX contacts_interactions ON contacts (interactions);
-- Keyset pagination of GET /v1/contacts walks (created_at, id).
CREATE INDEX contacts_created_at_id ON contacts (created_at, id);
-- Audiences exclude opted-out contacts; the few who opted out are found fast.
CREATE INDEX contacts_opted_out_at ON contacts (opted_out_at) WHERE opted_out_at IS NOT NULL;

-- Every opt-out and opt-in ever recorded (LGPD: when, why, from where), never updated.
CREATE TABLE opt_outs (
    id           bigserial   PRIMARY KEY,
    contact_id   uuid        NOT NULL REFERENCES contacts (id),
    phone        text        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('opted_out', 'opted_in')),
    reason       text,
    source       text        NOT NULL CHECK (source IN ('api', 'inbound_message')),
    source_ref   text,
    event_id     uuid        NOT NULL UNIQUE,
    occurred_at  timestamptz NOT NULL
);
CREATE INDEX opt_outs_contact ON opt_outs (contact_id, occurred_at);
