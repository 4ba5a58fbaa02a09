-- The keyword index of consultations and resources (search_index.rs): the grams of each search
-- key in a full-text table, written by the program with the row. FTS5 keys its rows by
-- integer, so consultation_search and resource_search give each row one. Contentless and
-- without positions: the grams are only looked up, never read back.
CREATE TABLE consultation_search (
    seq INTEGER PRIMARY KEY,
    row_id TEXT NOT NULL UNIQUE REFERENCES consultations (id)
);
CREATE VIRTUAL TABLE consultation_grams USING fts5 (
    grams,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);
CREATE TABLE resource_search (
    seq INTEGER PRIMARY KEY,
    row_id TEXT NOT NULL UNIQUE REFERENCES resources (id)
);
CREATE VIRTUAL TABLE resource_grams USING fts5 (
    grams,
    content = '',
    contentless_delete = 1,
    detail = none,
    tokenize = 'ascii'
);
