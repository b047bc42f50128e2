-- Campaigns, the notification job rows, attempts, the append-only delivery log, payments, and the simulator's
-- provider-side journal. PostgreSQL is the scheduler: dispatchers claim due `notification` rows with
-- FOR UPDATE SKIP LOCKED and a lease.

-- A utility's region (two-digit code, e.g. '16') selects regional production-calendar overrides; its own contact
-- window and caps may only narrow the legal ones.
alter table utility
    add column region text check (region ~ '^[0-9]{2}$'),
    add column window_working text check (window_working ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$'),
    add column window_day_off text check (window_day_off ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$'),
    add column cap_day int check (cap_day >= 0),
    add column cap_week int check (cap_week >= 0),
    add column cap_month int check (cap_month >= 0);

create table campaign (
    campaign_id     bigint generated always as identity primary key,
    name            text not null check (name <> ''),
    -- null: every utility.
    utility_id      text references utility (utility_id),
    status          text not null default 'draft'
                    check (status in ('draft', 'running', 'paused', 'completed', 'cancelled')),
    -- {"min_debt": "1000.00", "min_months_overdue": 2, "services": ["ХВС"], "exclude_agreements": true,
    --  "exclude_paid": true}
    audience        jsonb not null default '{}',
    starts_at       timestamptz not null,
    end_by          timestamptz,
    -- null: once; {"every": "month" | "quarter", "day": N}.
    recurrence      jsonb,
    -- Hand-overs per minute for this campaign (per dispatcher process); null: only the provider limits.
    rate_per_minute int check (rate_per_minute > 0),
    -- Higher first when several campaigns are due at once.
    priority        int not null default 0,
    -- The definition as submitted (TOML or JSON, normalised to JSON).
    spec            jsonb not null,
    created_by      text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

create table campaign_step (
    campaign_id         bigint not null references campaign (campaign_id),
    step_no             int not null check (step_no >= 1),
    template_name       text not null,
    template_version    int not null,
    channel             text not null check (channel in ('sms', 'voice')),
    -- The step is due this long after the campaign (occurrence) start, or after the previous step's notice of
    -- the same debtor reached a final state.
    offset_minutes      int not null default 0 check (offset_minutes >= 0),
    offset_from         text not null check (offset_from in ('start', 'previous')),
    -- always | previous_not_delivered | unpaid (re-checked at dispatch).
    condition           text not null check (condition in ('always', 'previous_not_delivered', 'unpaid')),
    max_attempts        int not null default 3 check (max_attempts between 1 and 10),
    retry_after_minutes int not null default 120 check (retry_after_minutes >= 1),
    primary key (campaign_id, step_no),
    foreign key (template_name, template_version) references template (name, version)
);

-- Who changed a campaign's state, and when.
create table campaign_audit (
    campaign_id bigint not null references campaign (campaign_id),
    at          timestamptz not null default now(),
    action      text not null,
    by_whom     text not null,
    from_status text,
    to_status   text not null
);
create index campaign_audit_idx on campaign_audit (campaign_id, at);

create table notification (
    notification_id     bigint generated always as identity primary key,
    -- → campaign, campaign_step, debtor (no foreign keys on this hot table; the planner writes consistent rows).
    campaign_id         bigint not null,
    -- Start date (UTC) of the campaign round; a one-off campaign has a single round.
    occurrence          date not null,
    step_no             int not null,
    debtor_id           bigint not null,
    utility_id          text not null,
    channel             text not null check (channel in ('sms', 'voice')),
    -- The number chosen at planning (SMS: the first mobile number); null when the debtor has none.
    e164                text,
    phone_kind          text check (phone_kind in ('mobile', 'fixed')),
    timezone            text not null,
    template_name       text not null,
    template_version    int not null,
    template_kind       text not null,
    priority            int not null default 0,
    state               text not null check (state in ('planned', 'sending', 'in_doubt', 'submitted', 'delivered',
                            'undelivered', 'expired', 'failed', 'suppressed', 'cancelled')),
    -- Machine-readable reason of the current state (suppressed/cancelled/failed/rescheduled).
    reason              text,
    due_at              timestamptz not null,
    lease_until         timestamptz,
    attempts            int not null default 0,
    -- The last hand-over to a provider; counts toward the frequency caps.
    sent_at             timestamptz,
    provider            text,
    provider_message_id text,
    rendered_text       text,
    text_sha256         bytea,
    segments            int,
    final_at            timestamptz,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    unique (campaign_id, occurrence, step_no, debtor_id, channel)
);
create index notification_claim_idx on notification (priority desc, due_at) where state = 'planned';
create index notification_lease_idx on notification (lease_until) where state = 'sending';
create index notification_debtor_idx on notification (debtor_id, sent_at);
create index notification_provider_msg_idx on notification (provider_message_id)
    where provider_message_id is not null;

-- One row per hand-over to a provider (or reconciliation of one).
create table attempt (
    notification_id     bigint not null,
    attempt_no          int not null,
    started_at          timestamptz not null,
    finished_at         timestamptz not null,
    provider            text not null,
    -- submitted | retryable_error | permanent_error | reconciled_found | reconciled_not_found
    outcome             text not null,
    provider_message_id text,
    error_code          text,
    error_detail        text,
    primary key (notification_id, attempt_no, outcome)
);

-- Every state change of every notification: the evidence. Append-only, enforced below.
create table delivery_event (
    event_id        bigint generated always as identity primary key,
    notification_id bigint not null,
    at              timestamptz not null,
    -- The same instant on the debtor's wall clock.
    local_at        timestamp not null,
    timezone        text not null,
    state           text not null,
    reason          text,
    attempt_no      int,
    -- planner | dispatcher | provider | reconciler | intake | operator
    source          text not null,
    -- Provider ids, raw report payloads, rescheduling targets.
    detail          jsonb
);
create index delivery_event_notification_idx on delivery_event (notification_id, event_id);
create index delivery_event_reason_idx on delivery_event (reason, at) where reason is not null;

create function delivery_event_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'delivery_event is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end
$$;
create trigger delivery_event_no_update before update or delete on delivery_event
    for each row execute function delivery_event_append_only();
create trigger delivery_event_no_truncate before truncate on delivery_event
    for each statement execute function delivery_event_append_only();

-- payment.v1 messages, once each.
create table payment (
    payment_id   text primary key,
    utility_id   text not null,
    account      text not null,
    amount       numeric(14, 2) not null check (amount > 0),
    paid_on      date not null,
    full_payment boolean not null,
    message_id   text,
    -- Pending notices cancelled by this payment.
    cancelled    int not null default 0,
    received_at  timestamptz not null default now()
);
create index payment_account_idx on payment (utility_id, account);

-- The built-in simulator's provider-side store (simulator.journal = "database"): what the "provider" accepted,
-- keyed by our client reference. Survives a dispatcher crash so reconciliation can ask it; `submissions` counts
-- hand-overs of the same reference (must stay 1).
create table sim_message (
    client_ref          text primary key,
    provider_message_id text not null,
    channel             text not null,
    text_sha256         bytea,
    submissions         int not null default 1,
    outcome             text,
    accepted_at         timestamptz not null default now()
);
