-- The reconciler looks for delivered restriction warnings that still lack their dates on every pass: only those
-- rows are in this index, so the look-up does not scan the notification table.
create index notification_restriction_undated_idx on notification (notification_id)
    where state = 'delivered' and template_kind = 'restriction_warning' and delivered_on is null;
