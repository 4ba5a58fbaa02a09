-- The consultation desk (相談支援): consultations, their timeline, referrals to local windows.

-- Receipt numbers run per 年度: R8-0001, R8-0002, …
CREATE TABLE consultation_counters (
    fiscal_year BIGINT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

CREATE TABLE consultations (
    id TEXT PRIMARY KEY,
    receipt_no TEXT NOT NULL UNIQUE,
    fiscal_year BIGINT NOT NULL,
    received_at TEXT NOT NULL,
    -- JST date of receipt, for statistics by month and 年度.
    received_on TEXT NOT NULL,
    -- phone | visit | home_visit | email | online | other
    channel TEXT NOT NULL,
    -- family | municipality | coordinator | medical | school | provider | other
    requester_type TEXT NOT NULL,
    -- Personal data (要配慮個人情報 may follow): shown only to those the policy allows.
    requester_name TEXT NOT NULL DEFAULT '',
    requester_contact TEXT NOT NULL DEFAULT '',
    requester_organisation TEXT NOT NULL DEFAULT '',
    child_municipality_code6 TEXT NULL REFERENCES municipalities (code6),
    -- 0-2 | 3-5 | 6-11 | 12-14 | 15-17 | 18-19 | 20+ | unknown
    child_age_band TEXT NOT NULL DEFAULT 'unknown',
    question TEXT NOT NULL DEFAULT '',
    advice TEXT NOT NULL DEFAULT '',
    follow_up_on TEXT NULL,
    minutes_spent BIGINT NULL,
    handled_by TEXT NULL REFERENCES users (id),
    -- received | in_progress | awaiting_follow_up | closed (受付・対応中・フォロー待ち・完了)
    status TEXT NOT NULL,
    -- desk | public_form
    source TEXT NOT NULL DEFAULT 'desk',
    -- Consent to pass personal details on with a referral: given, when, how.
    consent_given BIGINT NOT NULL DEFAULT 0,
    consent_on TEXT NULL,
    consent_method TEXT NOT NULL DEFAULT '',
    search_text TEXT NOT NULL DEFAULT '',
    created_by TEXT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX consultations_received ON consultations (received_on);
CREATE INDEX consultations_status ON consultations (status, follow_up_on);
CREATE INDEX consultations_handler ON consultations (handled_by, status);
CREATE INDEX consultations_fy ON consultations (fiscal_year, received_on);
CREATE INDEX consultations_municipality ON consultations (child_municipality_code6);

CREATE TABLE consultation_topics (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    -- medical | welfare | childcare_education | work_family | disaster | financial | procedures | transition | other
    topic TEXT NOT NULL,
    PRIMARY KEY (consultation_id, topic)
);
CREATE INDEX consultation_topics_topic ON consultation_topics (topic, consultation_id);

CREATE TABLE consultation_care_types (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    care_type_code TEXT NOT NULL REFERENCES care_types (code),
    PRIMARY KEY (consultation_id, care_type_code)
);
CREATE INDEX consultation_care_types_code ON consultation_care_types (care_type_code, consultation_id);

CREATE TABLE consultation_resources (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL REFERENCES resources (id),
    PRIMARY KEY (consultation_id, resource_id)
);

-- Dated additions to a consultation (追記).
CREATE TABLE consultation_entries (
    id TEXT PRIMARY KEY,
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    author_id TEXT NULL REFERENCES users (id),
    body TEXT NOT NULL
);
CREATE INDEX consultation_entries_consultation ON consultation_entries (consultation_id, at);

CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    to_organisation_id TEXT NOT NULL REFERENCES organisations (id),
    note TEXT NOT NULL DEFAULT '',
    -- Whether personal details go with it: fixed when sent, from the consent recorded then.
    with_personal_details BIGINT NOT NULL DEFAULT 0,
    -- sent | acknowledged | closed
    status TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    sent_by TEXT NULL REFERENCES users (id),
    acknowledged_at TEXT NULL,
    acknowledged_by TEXT NULL REFERENCES users (id),
    outcome TEXT NOT NULL DEFAULT '',
    outcome_at TEXT NULL,
    outcome_by TEXT NULL REFERENCES users (id)
);
CREATE INDEX referrals_to ON referrals (to_organisation_id, status, sent_at);
CREATE INDEX referrals_consultation ON referrals (consultation_id);
