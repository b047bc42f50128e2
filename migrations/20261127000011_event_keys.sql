-- delivery_event gets three rows per notice (sending, submitted, the report), so each of its indexes is paid three
-- times on the hot path. It is read two ways: one notice's history in event order (the evidence; the log, the API,
-- restrictions), and the outbox relay's run of events past its cursor in id order.
--
-- The first is now the primary key, (notification_id, event_id), replacing the separate index on those columns.
-- The second is served by a BRIN index on event_id: the table is append-only and its ids grow with its pages, so
-- ranges of 16 pages summarise it in a few pages, and an insert into a range not yet summarised costs next to
-- nothing, where the btree on event_id cost an index insert per event. autosummarize has autovacuum summarise each
-- range as it fills; the relay reads a bounded window of ids, so the last unsummarised ranges are all it rescans.
-- event_id stays an identity column, unique by construction.
alter table delivery_event drop constraint delivery_event_pkey;
drop index delivery_event_notification_idx;
alter table delivery_event add primary key (notification_id, event_id);
create index delivery_event_id_brin on delivery_event using brin (event_id) with (pages_per_range = 16, autosummarize = on);
