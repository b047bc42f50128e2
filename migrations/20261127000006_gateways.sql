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
