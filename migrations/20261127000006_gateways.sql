-- Delivery reports that match no notification (an unknown reference or provider id): kept, never dropped.
create table orphan_report (
    orphan_id           bigint generated always as identity primary key,
    provider            text not null,
    client_ref          text,
    provider_message_id text not null,
    state               text not null,
    reason              text,
    reported_at         timestamptz not null,
    received_at         timestamptz not null,
    raw                 jsonb not null
);
create index orphan_report_received_idx on orphan_report (received_at);

-- The outbox relay's position in delivery_event (the outbox itself: append-only, ordered by event_id). Every
-- event up to last_event_id has been confirmed by the broker as notification-event.v1.
create table event_cursor (
    name          text primary key,
    last_event_id bigint not null,
    updated_at    timestamptz not null default now()
);
insert into event_cursor (name, last_event_id) values ('notification-event.v1', 0);

-- Restriction warnings (Decree 354 п.119): the day of delivery on the debtor's wall clock (from the provider's
-- final delivered report) and the earliest day a restriction may start (delivery + 20 days, moved to a working
-- day of the debtor's region). Set once the notice is delivered.
alter table notification
    add column delivered_on date,
    add column restriction_earliest date;

-- A report that arrives before the accept is recorded (SMS.ru names only its own id) is an orphan until the
-- accept lands; then it is applied to that notification and marked adopted.
alter table orphan_report add column adopted_by bigint;
create index orphan_report_waiting_idx on orphan_report (provider_message_id) where adopted_by is null;
