-- The trace a message was requested in, kept while it waits in the queue, so the spans of its
-- send and of the provider's statuses join that trace (telemetry.pack_context: trace id and span
-- id, 24 bytes, 25 on disk). NULL when nobody records the trace (no collector configured): the
-- row then costs nothing more. Adding a nullable column without a default rewrites no rows.
ALTER TABLE messages ADD COLUMN trace_context bytea;
