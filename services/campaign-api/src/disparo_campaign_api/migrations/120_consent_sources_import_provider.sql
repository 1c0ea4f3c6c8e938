-- Consent changes also come from an import (status "optout", the spec's marker) and from the
-- provider (Cloud 131050 "stopped marketing", reported by the dispatcher as contact.opted_out).
ALTER TABLE opt_outs DROP CONSTRAINT opt_outs_source_check;
ALTER TABLE opt_outs ADD CONSTRAINT opt_outs_source_check
    CHECK (source IN ('api', 'inbound_message', 'import', 'provider'));
