-- The kinds of medical care (医療的ケアの種別): data an administrator corrects, never constants.
CREATE TABLE care_types (
    code TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    name TEXT NOT NULL,
    base_score BIGINT NOT NULL,
    supervision_scores TEXT NOT NULL DEFAULT '',
    power_dependent BIGINT NOT NULL DEFAULT 0,
    unconfirmed BIGINT NOT NULL DEFAULT 0,
    sort_order BIGINT NOT NULL DEFAULT 0,
    retired_at TEXT NULL,
    updated_at TEXT NOT NULL
);
