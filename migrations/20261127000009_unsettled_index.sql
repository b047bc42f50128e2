-- The reconciler's look-up of in-doubt notices and of submitted ones still waiting for a report: a partial index
-- of exactly those rows, by state then age, so each arm of the query reads only its own rows, oldest first,
-- instead of scanning the notification table (about a second per pass with a million rows).
create index notification_unsettled_idx on notification (state, updated_at) where state in ('in_doubt', 'submitted');
