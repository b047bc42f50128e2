-- The relay summarises the event ids' new BRIN ranges itself every 10 s (storage::outbox::summarise_new_ranges),
-- and every vacuum summarises the rest. autosummarize added nothing to that but a request per new range to
-- autovacuum's work-item queue: 256 slots, drained only after a vacuum of the database. At dispatch rates a new
-- 16-page range starts every few dozen notices, so the queue was full within seconds and every further range
-- logged "request for BRIN range summarization ... was not recorded" with its whole statement (16,000 such
-- entries, 30 MB of server log, in four runs of `bench dispatch`); with autovacuum off, from the first range.
alter index delivery_event_id_brin set (autosummarize = off);
