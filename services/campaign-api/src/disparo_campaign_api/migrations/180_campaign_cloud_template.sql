-- A campaign may name an approved Cloud API template for its doctors outside the 24 h window
-- (campaigns/cloud_templates.py): name, language and each body parameter's contact field or
-- text, as the API took it. without_template counts the recipients whose message went without
-- it because a mapped field was empty and had no fallback (the dispatcher holds those as
-- needs_template on a Cloud number, or sends the text where it may).
ALTER TABLE campaigns
    ADD COLUMN cloud_template   jsonb,
    ADD COLUMN without_template bigint NOT NULL DEFAULT 0;
