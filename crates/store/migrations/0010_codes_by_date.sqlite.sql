-- A consultation's topics and care types carry its date of receipt, municipality, status and
-- 担当者, so that a list filtered by a topic or care type reads only that code's rows, newest
-- first, and checks the other filters on the row (consultations.rs, `list`). Written with the
-- codes from the consultation row (`set_codes`, `set_code_status`).
--
-- Each table is kept in the order it is read (code, then date) without a separate rowid
-- table, so the rows are the index; a second index finds a consultation's codes. SQLite adds
-- a NOT NULL column only with a default, so the two tables are rebuilt.
CREATE TABLE consultation_topics_dated (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    -- medical | welfare | childcare_education | work_family | disaster | financial | procedures | transition | other
    topic TEXT NOT NULL,
    -- consultations.received_at, child_municipality_code6, status and handled_by, copied.
    received_at TEXT NOT NULL,
    child_municipality_code6 TEXT NULL,
    status TEXT NOT NULL,
    handled_by TEXT NULL,
    PRIMARY KEY (topic, received_at, consultation_id)
) WITHOUT ROWID;
INSERT INTO consultation_topics_dated (consultation_id, topic, received_at, child_municipality_code6, status, handled_by)
    SELECT t.consultation_id, t.topic, c.received_at, c.child_municipality_code6, c.status, c.handled_by
    FROM consultation_topics t JOIN consultations c ON c.id = t.consultation_id;
DROP TABLE consultation_topics;
ALTER TABLE consultation_topics_dated RENAME TO consultation_topics;
CREATE UNIQUE INDEX consultation_topics_consultation ON consultation_topics (consultation_id, topic);

CREATE TABLE consultation_care_types_dated (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    care_type_code TEXT NOT NULL REFERENCES care_types (code),
    received_at TEXT NOT NULL,
    child_municipality_code6 TEXT NULL,
    status TEXT NOT NULL,
    handled_by TEXT NULL,
    PRIMARY KEY (care_type_code, received_at, consultation_id)
) WITHOUT ROWID;
INSERT INTO consultation_care_types_dated (consultation_id, care_type_code, received_at, child_municipality_code6, status, handled_by)
    SELECT x.consultation_id, x.care_type_code, c.received_at, c.child_municipality_code6, c.status, c.handled_by
    FROM consultation_care_types x JOIN consultations c ON c.id = x.consultation_id;
DROP TABLE consultation_care_types;
ALTER TABLE consultation_care_types_dated RENAME TO consultation_care_types;
CREATE UNIQUE INDEX consultation_care_types_consultation ON consultation_care_types (consultation_id, care_type_code);

-- Each pair of a consultation's topic and care type, for the list filtered by both: a page of
-- "災害・緊急時 + 人工呼吸器" reads only its own rows.
CREATE TABLE consultation_topic_care_types (
    consultation_id TEXT NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    care_type_code TEXT NOT NULL REFERENCES care_types (code),
    received_at TEXT NOT NULL,
    child_municipality_code6 TEXT NULL,
    status TEXT NOT NULL,
    handled_by TEXT NULL,
    PRIMARY KEY (topic, care_type_code, received_at, consultation_id)
) WITHOUT ROWID;
INSERT INTO consultation_topic_care_types (consultation_id, topic, care_type_code, received_at, child_municipality_code6, status, handled_by)
    SELECT t.consultation_id, t.topic, x.care_type_code, t.received_at, t.child_municipality_code6, t.status, t.handled_by
    FROM consultation_topics t JOIN consultation_care_types x ON x.consultation_id = t.consultation_id;
CREATE INDEX consultation_topic_care_types_consultation ON consultation_topic_care_types (consultation_id);
