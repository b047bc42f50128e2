-- Authenticated provider callbacks that cannot be read (a missing or bad field, an unknown status): kept as
-- received with the problem named, so a provider's change of format shows up as rows, not as silence. Callbacks
-- with a wrong path token or signature are refused and logged only (anyone can send those).
create table rejected_callback (
    rejected_id bigint generated always as identity primary key,
    provider    text not null,
    problem     text not null,
    received_at timestamptz not null,
    raw         jsonb not null
);
create index rejected_callback_received_idx on rejected_callback (received_at);
