-- campaign_recipients loses UNIQUE (campaign_id, contact_id): nothing looks a recipient up by
-- contact, and "each contact once" holds without it. The snapshot is one INSERT … SELECT from
-- contacts, whose ids are unique, so one start lists each contact once; a second snapshot of
-- the same campaign would collide on the primary key at seq 1, and none is attempted, because a
-- start writes its audience holding the campaign's row lock, in the transaction that marks it
-- running. The index took most of the snapshot's time, its keys arriving in random order: with
-- it and the ON CONFLICT it served, 998,000 recipients cost 8–9 s of CPU; without them, ~2.5 s.
ALTER TABLE campaign_recipients DROP CONSTRAINT campaign_recipients_campaign_id_contact_id_key;
