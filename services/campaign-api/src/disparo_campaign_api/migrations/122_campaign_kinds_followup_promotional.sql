-- The spec's campaign kinds (tipo: primeiro_contato, followup, promocional) beside the generic
-- 'campaign': 'followup' sends its messages as follow-ups, 'promotional' as campaign messages.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_kind_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_kind_check
    CHECK (kind IN ('campaign', 'first_contact', 'followup', 'promotional'));
