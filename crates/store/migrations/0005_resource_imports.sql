-- Files uploaded to import into the resource directory (社会資源の取り込み), kept between the
-- preview and the commit so that what is committed is exactly the file that was previewed,
-- never something the browser sends back. Removed a day after upload.
CREATE TABLE resource_imports (
    id TEXT PRIMARY KEY,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    filename TEXT NOT NULL DEFAULT '',
    -- The file's bytes, base64 (TEXT is the same on both backends).
    content TEXT NOT NULL,
    -- SHA-256 of the bytes, hex; checked when the file is read back.
    sha256 TEXT NOT NULL,
    -- Set when the import was committed: a file is imported once.
    committed_at TEXT NULL
);
CREATE INDEX resource_imports_created ON resource_imports (created_at);
