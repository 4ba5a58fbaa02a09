-- The e-mail outbox: each message written in the same transaction as the change it tells of,
-- sent by the worker, tried again after a failure, kept as sent or failed.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    -- What the message is (e.g. survey_reminder) and what it is about, for the list and audit.
    kind TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    -- The recipients' addresses, one a line.
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- pending, sent or failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When the worker may next take it.
    next_attempt_at TEXT NOT NULL,
    -- While a worker sends it: until when it holds it (another server leaves it alone).
    leased_until TEXT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at TEXT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at);
