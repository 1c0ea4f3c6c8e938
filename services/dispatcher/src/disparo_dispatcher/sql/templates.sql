-- The Cloud API's template registry, the doctors' 24 h windows, and what waits on them.

-- name: upsert_templates
-- Store an account's templates as the provider listed them (a sync); known ones are updated.
INSERT INTO templates (waba_id, name, language, template_id, category, status, body,
                       parameter_format, parameters, synced_at)
SELECT $1::text, t.name, t.language, t.template_id, t.category, t.status, t.body, t.format,
       string_to_array(t.parameters, ','), $8::timestamptz
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $9::text[], $10::text[])
     AS t(name, language, template_id, category, status, body, format, parameters)
ORDER BY t.name, t.language
ON CONFLICT (waba_id, name, language) DO UPDATE
SET template_id = EXCLUDED.template_id, category = EXCLUDED.category, status = EXCLUDED.status,
    body = EXCLUDED.body, parameter_format = EXCLUDED.parameter_format,
    parameters = EXCLUDED.parameters, synced_at = EXCLUDED.synced_at;

-- name: set_template_status
-- A template's status changed (webhook, or a send refused for it); a template we never synced
-- is recorded with what we know, so the claim sees the stop at once.
INSERT INTO templates (waba_id, name, language, template_id, category, status, reason, synced_at)
VALUES ($1::text, $2::text, $3::text, $4::text, coalesce($5::text, 'UNKNOWN'), $6::text,
        $7::text, $8::timestamptz)
ON CONFLICT (waba_id, name, language) DO UPDATE
SET status = EXCLUDED.status, reason = EXCLUDED.reason,
    template_id = coalesce(EXCLUDED.template_id, templates.template_id),
    synced_at = EXCLUDED.synced_at;

-- name: list_templates
-- The registry, optionally of one account.
SELECT waba_id, name, language, template_id, category, status, body, parameter_format,
       parameters, reason, synced_at
FROM templates
WHERE $1::text IS NULL OR waba_id = $1::text
ORDER BY waba_id, name, language;

-- name: get_template
SELECT waba_id, name, language, template_id, category, status, body, parameter_format,
       parameters, reason, synced_at
FROM templates WHERE waba_id = $1::text AND name = $2::text AND language = $3::text;

-- name: open_windows
-- Doctors wrote to our numbers: their windows run 24 h from their latest message.
INSERT INTO conversation_windows (sender_id, phone, last_inbound_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS w(sender_id, phone, at)
ORDER BY 1, 2
ON CONFLICT (sender_id, phone) DO UPDATE
SET last_inbound_at = greatest(conversation_windows.last_inbound_at, EXCLUDED.last_inbound_at);

-- name: close_windows
-- The provider said the window is closed (131047): forget it, so the next try is a template.
DELETE FROM conversation_windows w
USING unnest($1::text[], $2::text[]) AS c(sender_id, phone)
WHERE w.sender_id = c.sender_id AND w.phone = c.phone;

-- name: release_needs_template
-- Doctors who wrote can get free text now: their messages held for a template go back in line.
UPDATE messages
SET state = 'queued', due_at = $2::timestamptz
WHERE state = 'held' AND last_error_code = 'needs_template' AND phone = ANY($1::text[])
RETURNING message_id;

-- name: hold_template_sends
-- A template was paused or disabled: the campaign's queued sends through it wait, with why.
UPDATE messages
SET state = 'held', last_error_code = $4::text, last_error = $5::text
WHERE campaign_id = $1::uuid AND state = 'queued'
  AND template ->> 'name' = $2::text AND template ->> 'language' = $3::text
RETURNING message_id, campaign_id, attempt;

-- name: release_template_sends
-- A template was approved again: what waited for it goes back in line.
UPDATE messages m
SET state = 'queued', due_at = $4::timestamptz
FROM senders s
WHERE m.state = 'held' AND m.last_error_code IN ('template_paused', 'template_disabled')
  AND s.sender_id = m.sender_id AND s.waba_id = $1::text
  AND m.template ->> 'name' = $2::text AND m.template ->> 'language' = $3::text
RETURNING m.message_id;

-- name: waba_of_sender
SELECT waba_id FROM senders WHERE sender_id = $1::text;

-- name: cloud_accounts
-- The accounts of the Cloud senders, with one sender's address and credential to reach them.
SELECT DISTINCT ON (waba_id) waba_id, sender_id, base_url, credential_ref
FROM senders
WHERE provider = 'cloud' AND waba_id IS NOT NULL AND ($1::text IS NULL OR waba_id = $1::text)
ORDER BY waba_id, sender_id;

-- name: set_number_quality
-- Meta rated a number (by its display number, within its account).
UPDATE senders
SET quality = $3::text, quality_updated_at = $4::timestamptz, updated_at = now()
WHERE waba_id = $1::text AND display_phone_number = $2::text;

-- name: set_portfolio_tier
-- The messaging tier of the portfolio(s) of an account's numbers; an unknown tier is ignored.
INSERT INTO portfolios (portfolio, tier, updated_at)
SELECT DISTINCT coalesce(s.portfolio, s.waba_id), $2::text, $3::timestamptz
FROM senders s
WHERE s.waba_id = $1::text AND EXISTS (SELECT 1 FROM messaging_tiers t WHERE t.tier = $2::text)
ON CONFLICT (portfolio) DO UPDATE SET tier = EXCLUDED.tier, updated_at = EXCLUDED.updated_at;
