-- Production-calendar overrides on top of the shipped federal data (holidays-ru: official decrees to 2027):
-- regional non-working days, and decrees for later years once published. Region '' means federal (all regions).
create table calendar_override (
    region     text not null default '' check (region ~ '^[0-9]{0,3}$'),
    day        date not null,
    day_off    boolean not null,
    note       text not null default '',
    added_by   text not null,
    created_at timestamptz not null default now(),
    primary key (region, day)
);
