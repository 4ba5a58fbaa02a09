-- Each audit entry's MAC under the audit key kept outside the database (`keyid:hex`). Entries
-- written before this have none; the first start after the upgrade signs one entry that seals
-- them (audit.sealed).
ALTER TABLE audit_log ADD COLUMN mac TEXT NULL;
