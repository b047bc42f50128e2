-- Live dispatcher processes: each beats every few seconds. The configured provider and campaign limits are shared
-- among the processes seen recently, so N processes together keep to one provider's rate and concurrency.
create table dispatcher_presence (
    worker  text primary key,
    seen_at timestamptz not null
);
