-- Message templates (versioned) and the creditor details templates print.

alter table utility
    add column contact_phone text,
    add column payment_url text,
    add column payment_details text,
    -- 152-ФЗ minimisation: full name and address stay out of SMS unless the tenant decides otherwise.
    add column allow_personal_details_in_sms boolean not null default false;

-- Every edit adds a version; a campaign step pins (name, version) and the delivery log records it.
create table template (
    template_id  bigint generated always as identity primary key,
    name         text not null check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    version      int not null check (version >= 1),
    kind         text not null check (kind in ('soft_reminder', 'pretrial', 'restriction_warning',
                                               'restructuring_offer', 'penalty_writeoff', 'subsidy_advice', 'custom')),
    channel      text not null check (channel in ('sms', 'voice')),
    body         text not null,
    -- An SMS rendering longer than this is suppressed as too_long, never truncated.
    max_segments int not null default 4 check (max_segments between 1 and 8),
    -- A tenant's own template (null = shared). Only a tenant's template may use its permissions, such as the
    -- full name or address in SMS.
    utility_id   text references utility (utility_id),
    description  text not null default '',
    created_by   text not null default 'system',
    created_at   timestamptz not null default now(),
    unique (name, version)
);

-- Built-in defaults (version 1, editable by adding versions).
insert into template (name, kind, channel, description, body, version) values
('soft-reminder-sms', 'soft_reminder', 'sms', 'Мягкое напоминание о долге',
$t${{ creditor.name }}: на {{ debt.as_of | date_ru }} по ЛС {{ account_masked }} долг {{ debt.total | money }}. Просим оплатить{% if creditor.payment_url %}: {{ creditor.payment_url }}{% endif %}.{% if creditor.phone %} Тел. {{ creditor.phone }}{% endif %}$t$, 1),
('soft-reminder-voice', 'soft_reminder', 'voice', 'Мягкое напоминание о долге (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, на {{ debt.as_of | date_ru }} числится задолженность {{ debt.total | money_words }}. Просим оплатить её в ближайшее время. Спасибо!$t$, 1),
('pretrial-sms', 'pretrial', 'sms', 'Предсудебное напоминание',
$t${{ creditor.name }}: ЛС {{ account_masked }}, долг {{ debt.total | money }}, просрочка {{ debt.months_overdue }} {{ debt.months_overdue | plural("месяц", "месяца", "месяцев") }}. Без оплаты долг будет взыскан в судебном порядке с пени и судебными расходами.{% if creditor.phone %} Тел. {{ creditor.phone }}{% endif %}$t$, 1),
('pretrial-voice', 'pretrial', 'voice', 'Предсудебное напоминание (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, задолженность {{ debt.total | money_words }}, просрочка {{ debt.months_overdue | in_words }} {{ debt.months_overdue | plural("месяц", "месяца", "месяцев") }}. Это предсудебное напоминание: если долг не будет оплачен, он будет взыскан в судебном порядке вместе с пени и судебными расходами.{% if creditor.phone %} Телефон для справок: {{ creditor.phone }}.{% endif %}$t$, 1),
('restriction-warning-sms', 'restriction_warning', 'sms', 'Предупреждение об ограничении (ПП 354 п.119)',
$t${{ creditor.name }}: долг по ЛС {{ account_masked }} на {{ debt.as_of | date_ru }} {{ debt.total | money }}{% for s in debt.restrictable_services %}{% if loop.first %} ({% else %}, {% endif %}{{ s.service }}{% if loop.last %}){% endif %}{% endfor %}. При неоплате в течение 20 дней со дня доставки введут ограничение, затем приостановление услуги. Оплата, соглашение: {{ creditor.phone }}$t$, 1),
('restriction-warning-voice', 'restriction_warning', 'voice', 'Предупреждение об ограничении (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, на {{ debt.as_of | date_ru }} задолженность {{ debt.total | money_words }}{% for s in debt.restrictable_services %}{% if loop.first %}, за услуги: {% else %}, {% endif %}{{ s.service }}{% endfor %}. Если задолженность не будет оплачена в течение 20 дней со дня доставки этого предупреждения, будет введено ограничение, а затем приостановление предоставления услуги. Оплатить долг или заключить соглашение о погашении можно, позвонив по телефону {{ creditor.phone }}.$t$, 1),
('restructuring-offer-sms', 'restructuring_offer', 'sms', 'Предложение о реструктуризации',
$t${{ creditor.name }}: по ЛС {{ account_masked }} долг {{ debt.total | money }}. Предлагаем соглашение о погашении долга в рассрочку.{% if creditor.phone %} Звоните: {{ creditor.phone }}{% endif %}$t$, 1),
('restructuring-offer-voice', 'restructuring_offer', 'voice', 'Предложение о реструктуризации (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, задолженность {{ debt.total | money_words }}. Мы предлагаем заключить соглашение о погашении долга в рассрочку.{% if creditor.phone %} Позвоните нам по телефону {{ creditor.phone }}.{% endif %}$t$, 1),
('penalty-writeoff-sms', 'penalty_writeoff', 'sms', 'Списание пени при полной оплате',
$t${{ creditor.name }}: по ЛС {{ account_masked }} долг {{ debt.total | money }}, пени {{ debt.penalty | money }}. Оплатите долг полностью до {{ debt.as_of | add_days(30) | date_ru }} и пени будут списаны.{% if creditor.phone %} Тел. {{ creditor.phone }}{% endif %}$t$, 1),
('penalty-writeoff-voice', 'penalty_writeoff', 'voice', 'Списание пени при полной оплате (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, задолженность {{ debt.total | money_words }} и пени {{ debt.penalty | money_words }}. Если оплатить долг полностью до {{ debt.as_of | add_days(30) | date_ru }}, пени будут списаны.$t$, 1),
('subsidy-advice-sms', 'subsidy_advice', 'sms', 'Информация о субсидии',
$t${{ creditor.name }}: по ЛС {{ account_masked }} долг {{ debt.total | money }}. Если плата за ЖКУ выше 22% дохода семьи, можно получить субсидию: обратитесь в МФЦ.{% if creditor.phone %} Тел. {{ creditor.phone }}{% endif %}$t$, 1),
('subsidy-advice-voice', 'subsidy_advice', 'voice', 'Информация о субсидии (автодозвон)',
$t$Здравствуйте! Это автоматическое сообщение от {{ creditor.name }}.{% if name %} Сообщение предназначено абоненту: {{ name.first_patronymic }}. Если вы не {{ name.first_patronymic }}, пожалуйста, положите трубку.{% endif %} 
По лицевому счёту, оканчивающемуся на {{ account_tail }}, задолженность {{ debt.total | money_words }}. Если плата за жилищно-коммунальные услуги превышает двадцать два процента дохода семьи, вы можете получить субсидию. Обратитесь в МФЦ.$t$, 1);
