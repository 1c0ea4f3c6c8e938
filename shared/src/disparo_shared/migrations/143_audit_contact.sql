-- Whose data a call touched (a contact id, never a phone): set by the routes that read or
-- export one doctor's data, so an access request shows up in the trail with its subject.
ALTER TABLE audit_log ADD COLUMN contact_id uuid;
CREATE INDEX audit_log_contact ON audit_log (contact_id, audit_id DESC) WHERE contact_id IS NOT NULL;
