-- The archive and the keys table are only appended to (until retention deletes their oldest
-- rows) and read by index: their statistics' shape does not change as they grow. Autovacuum's
-- default analyses them after every 10% of growth, each time reading up to 30,000 pages of a
-- table that reaches gigabytes; once each time they double is enough (archive.tend_archive asks
-- the same where autovacuum is off). Vacuums (dead rows, the visibility map) keep the defaults.
ALTER TABLE messages_archive SET (autovacuum_analyze_scale_factor = 1.0);
ALTER TABLE message_keys SET (autovacuum_analyze_scale_factor = 1.0);
