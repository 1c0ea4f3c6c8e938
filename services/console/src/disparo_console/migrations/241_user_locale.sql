-- Each user's language for the interface; NULL follows the browser's Accept-Language.
ALTER TABLE users ADD COLUMN locale text CHECK (locale IN ('pt-BR', 'en'));
