-- Platform: geography, organisations, accounts, sessions, the role matrix and the audit chain.
-- Portable SQL for SQLite and PostgreSQL: TEXT ids and UTC instants, BIGINT numbers and flags.

CREATE TABLE instance_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE prefectures (
    code TEXT PRIMARY KEY,
    code6 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kana TEXT NOT NULL
);

CREATE TABLE municipalities (
    code6 TEXT PRIMARY KEY,
    code5 TEXT NOT NULL UNIQUE,
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    kana TEXT NOT NULL,
    parent_code6 TEXT NULL REFERENCES municipalities (code6),
    retired_on TEXT NULL,
    note TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
CREATE INDEX municipalities_prefecture ON municipalities (prefecture_code, code6);

CREATE TABLE areas (
    id TEXT PRIMARY KEY,
    prefecture_code TEXT NOT NULL REFERENCES prefectures (code),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    sort_order BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (prefecture_code, name)
);

CREATE TABLE area_municipalities (
    area_id TEXT NOT NULL REFERENCES areas (id) ON DELETE CASCADE,
    municipality_code6 TEXT NOT NULL REFERENCES municipalities (code6),
    PRIMARY KEY (area_id, municipality_code6)
);
CREATE INDEX area_municipalities_municipality ON area_municipalities (municipality_code6);

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    municipality_code6 TEXT NULL REFERENCES municipalities (code6),
    address TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    retired_at TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (name)
);
CREATE INDEX organisations_municipality ON organisations (municipality_code6);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    password_hash TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    password_changed_at TEXT NOT NULL,
    totp_secret TEXT NULL,
    totp_enabled_at TEXT NULL,
    totp_last_step BIGINT NULL,
    disabled_at TEXT NULL,
    locked_until TEXT NULL,
    last_login_at TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX users_organisation ON users (organisation_id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TEXT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_failures (
    id TEXT PRIMARY KEY,
    user_id TEXT NULL REFERENCES users (id) ON DELETE CASCADE,
    login_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_login ON login_failures (login_id, at);
CREATE INDEX login_failures_ip ON login_failures (client_ip, at);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    reauth_at TEXT NULL,
    pending_totp_secret TEXT NULL,
    client_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE matrix_functions (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    sort_order BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE matrix_participants (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    organisation_id TEXT NULL REFERENCES organisations (id),
    sort_order BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE matrix_cells (
    function_id TEXT NOT NULL REFERENCES matrix_functions (id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL REFERENCES matrix_participants (id) ON DELETE CASCADE,
    mark TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (function_id, participant_id)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user_id TEXT NULL,
    actor_login TEXT NOT NULL,
    actor_org_id TEXT NULL,
    client_ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    old_values TEXT NULL,
    new_values TEXT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_login, seq);
CREATE INDEX audit_log_record ON audit_log (record_type, record_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

-- The chain's head: the last sequence number and hash. One row, locked by each append.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
