-- The send queue rewrites every row two or three times (queued → sending → sent), so the
-- default autovacuum thresholds (20% of the table) let a 5,000,000-row queue gather a million
-- dead rows before a vacuum: the claim then walks them. Where autovacuum runs, ask it to pass
-- after 2% instead; where it is off, the dispatcher's table care does the same (table_care.py).
ALTER TABLE messages SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02
);
ALTER TABLE recipients SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);
