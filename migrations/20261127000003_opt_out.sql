-- Opt-out list: a debtor (by account) or a number that must not be contacted by a utility. Removal keeps the
-- row (removed_at/by/reason) so the history of who asked for what stays visible.
create table opt_out (
    opt_out_id    bigint generated always as identity primary key,
    utility_id    text not null references utility (utility_id),
    e164          text check (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    account       text,
    reason        text not null check (reason <> ''),
    added_by      text not null,
    created_at    timestamptz not null default now(),
    removed_at    timestamptz,
    removed_by    text,
    remove_reason text,
    -- exactly one of phone and account
    check ((e164 is null) <> (account is null))
);
create unique index opt_out_active_phone_key on opt_out (utility_id, e164)
    where removed_at is null and e164 is not null;
create unique index opt_out_active_account_key on opt_out (utility_id, account)
    where removed_at is null and account is not null;
