-- The regional situation survey (状況把握調査): definitions, rounds, municipalities' responses.

-- Survey definitions (調査票), versioned. All versions of one definition share `family` (the
-- seeded standard one is `standard` in every prefecture); a
-- version used by a round never changes: editing it creates the next version.
CREATE TABLE survey_definitions (
    id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    version BIGINT NOT NULL,
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    title TEXT NOT NULL,
    -- JSON of the sections, items and rules.
    body TEXT NOT NULL,
    retired BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (prefecture_code, family, version)
);

-- A definition issued for a 年度 to a set of municipalities (調査の実施回).
CREATE TABLE survey_rounds (
    id TEXT PRIMARY KEY,
    definition_id TEXT NOT NULL REFERENCES survey_definitions (id),
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    fiscal_year BIGINT NOT NULL,
    title TEXT NOT NULL,
    as_of TEXT NOT NULL,
    opens_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NULL REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX survey_rounds_year ON survey_rounds (fiscal_year, prefecture_code);

-- One municipality's response to a round (回答).
CREATE TABLE survey_responses (
    id TEXT PRIMARY KEY,
    round_id TEXT NOT NULL REFERENCES survey_rounds (id),
    municipality_code6 TEXT NOT NULL REFERENCES municipalities (code6),
    -- not_started | draft | submitted | returned | approved
    status TEXT NOT NULL,
    -- JSON object: field key -> the text as entered.
    answers TEXT NOT NULL DEFAULT '{}',
    -- The center let the municipality edit after the deadline.
    reopened BIGINT NOT NULL DEFAULT 0,
    submitted_at TEXT NULL,
    submitted_by TEXT NULL REFERENCES users (id),
    approved_at TEXT NULL,
    approved_by TEXT NULL REFERENCES users (id),
    updated_at TEXT NOT NULL,
    updated_by TEXT NULL REFERENCES users (id),
    -- Bumped on every write, so a stale form cannot overwrite newer answers.
    revision BIGINT NOT NULL DEFAULT 0,
    UNIQUE (round_id, municipality_code6)
);
CREATE INDEX survey_responses_municipality ON survey_responses (municipality_code6, round_id);
CREATE INDEX survey_responses_status ON survey_responses (round_id, status);

-- What happened to a response, shown to both sides: submitted, returned with a comment…
CREATE TABLE survey_response_events (
    id TEXT PRIMARY KEY,
    response_id TEXT NOT NULL REFERENCES survey_responses (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    user_id TEXT NULL REFERENCES users (id),
    -- saved | submitted | returned | approved | unlocked | reopened | reminded | uploaded
    kind TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX survey_response_events_response ON survey_response_events (response_id, at);

-- In-app notices to an organisation (お知らせ), e.g. survey reminders.
CREATE TABLE notices (
    id TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    link TEXT NOT NULL DEFAULT '',
    created_by TEXT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    read_at TEXT NULL
);
CREATE INDEX notices_organisation ON notices (organisation_id, created_at);
