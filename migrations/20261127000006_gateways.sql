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
