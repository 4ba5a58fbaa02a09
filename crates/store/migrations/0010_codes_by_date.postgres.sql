-- A consultation's topics and care types carry its date of receipt, municipality, status and
-- 担当者, so that a list filtered by a topic or care type reads only that code's rows, newest
-- first, and checks the other filters on the row (consultations.rs, `list`). Written with the
-- codes from the consultation row (`set_codes`, `set_code_status`).
ALTER TABLE consultation_topics ADD COLUMN received_at TEXT NULL, ADD COLUMN child_municipality_code6 TEXT NULL,
    ADD COLUMN status TEXT NULL, ADD COLUMN handled_by TEXT NULL;
UPDATE consultation_topics t SET received_at = c.received_at, child_municipality_code6 = c.child_municipality_code6,
    status = c.status, handled_by = c.handled_by
    FROM consultations c WHERE c.id = t.consultation_id;
ALTER TABLE consultation_topics ALTER COLUMN received_at SET NOT NULL, ALTER COLUMN status SET NOT NULL;
DROP INDEX consultation_topics_topic;
CREATE INDEX consultation_topics_by_date ON consultation_topics (topic, received_at, consultation_id);

ALTER TABLE consultation_care_types ADD COLUMN received_at TEXT NULL, ADD COLUMN child_municipality_code6 TEXT NULL,
    ADD COLUMN status TEXT NULL, ADD COLUMN handled_by TEXT NULL;
UPDATE consultation_care_types x SET received_at = c.received_at, child_municipality_code6 = c.child_municipality_code6,
    status = c.status, handled_by = c.handled_by
    FROM consultations c WHERE c.id = x.consultation_id;
ALTER TABLE consultation_care_types ALTER COLUMN received_at SET NOT NULL, ALTER COLUMN status SET NOT NULL;
DROP INDEX consultation_care_types_code;
CREATE INDEX consultation_care_types_by_date ON consultation_care_types (care_type_code, received_at, consultation_id);

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
    PRIMARY KEY (consultation_id, topic, care_type_code)
);
INSERT INTO consultation_topic_care_types (consultation_id, topic, care_type_code, received_at, child_municipality_code6, status, handled_by)
    SELECT t.consultation_id, t.topic, x.care_type_code, t.received_at, t.child_municipality_code6, t.status, t.handled_by
    FROM consultation_topics t JOIN consultation_care_types x ON x.consultation_id = t.consultation_id;
CREATE INDEX consultation_topic_care_types_by_date ON consultation_topic_care_types (topic, care_type_code, received_at, consultation_id);

-- PostgreSQL chooses by estimated cost, and would read the whole table for the few rows of a
-- small municipality under a topic or care type; within a code and municipality they are at
-- hand, in date order. (SQLite walks the code's rows newest first whatever the municipality;
-- a pair of codes is narrow enough for both.)
CREATE INDEX consultation_topics_by_municipality ON consultation_topics (topic, child_municipality_code6, received_at, consultation_id);
CREATE INDEX consultation_care_types_by_municipality ON consultation_care_types (care_type_code, child_municipality_code6, received_at, consultation_id);
-- Likewise for the few consultations not closed (受付・対応中・フォロー待ち) under a code.
CREATE INDEX consultation_topics_open ON consultation_topics (topic, received_at, consultation_id) WHERE status <> 'closed';
CREATE INDEX consultation_care_types_open ON consultation_care_types (care_type_code, received_at, consultation_id) WHERE status <> 'closed';
CREATE INDEX consultation_topic_care_types_open ON consultation_topic_care_types (topic, care_type_code, received_at, consultation_id) WHERE status <> 'closed';
