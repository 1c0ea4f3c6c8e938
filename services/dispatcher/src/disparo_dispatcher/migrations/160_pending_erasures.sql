-- An erasure that found one of the doctor's messages being sent at that instant waits here
-- until the send is over (a lease, seconds), then that message is blanked too and the row
-- goes: the phone is held no longer than the send it waits for.
CREATE TABLE pending_erasures (
    phone       text        PRIMARY KEY,
    contact_id  uuid        NOT NULL,
    erased_at   timestamptz NOT NULL
);
