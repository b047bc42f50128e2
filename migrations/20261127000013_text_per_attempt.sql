-- The text handed over, with its SHA-256, is kept on each attempt's `sending` event instead of on the notification
-- row. Every attempt's exact text stays in the evidence: a retry no longer overwrites what an earlier attempt said
-- (a call tried again after a new batch changed the debt says a different amount). The notification row stays
-- narrow, so the outcome record, which rewrites the whole row, no longer copies the text a second time.
-- Notices sent before this migration keep their text on the notification row; readers take the latest
-- `sending` event's text first and fall back to the row's.
alter table delivery_event add column rendered_text text, add column text_sha256 bytea;
