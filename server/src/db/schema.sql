-- The server database's schema as its migrations (migrations/*.sql) leave it.
-- Written by migrations/schema_test.rs; do not edit by hand: add a migration.
-- user_version: 6

CREATE TABLE actors (
    actor BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    device_id TEXT,
    doc_id TEXT,
    hash BLOB,
    code TEXT NOT NULL,
    field TEXT,
    rule TEXT,
    message TEXT NOT NULL
);

CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    hash BLOB NOT NULL,
    bytes BLOB NOT NULL,
    user_id INTEGER,
    device_id TEXT,
    received_at INTEGER NOT NULL
);

CREATE TABLE device_docs (
    device_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, doc_id)
) WITHOUT ROWID;

CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    policy_revision INTEGER NOT NULL DEFAULT 0,
    user_version INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER,
    app_version TEXT,
    pending_changes INTEGER,
    last_address TEXT,
    wipe_requested_at INTEGER,
    wipe_requested_by TEXT,
    wipe_delivered_at INTEGER,
    wipe_confirmed_at INTEGER,
    docs_confirm_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    class TEXT NOT NULL,
    snapshot BLOB,
    snapshot_seq INTEGER NOT NULL DEFAULT 0,
    since_snapshot INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE ended_sessions (
    token_hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    ended_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE policies (
    revision INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);

CREATE TABLE process_wakeups (
    instance TEXT PRIMARY KEY,
    wake_at INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    failed TEXT
) WITHOUT ROWID;

CREATE TABLE records (
    record_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT,
    assignee TEXT,
    territory TEXT,
    account_id TEXT
) WITHOUT ROWID;

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    device_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    territories TEXT NOT NULL DEFAULT '[]',
    manager TEXT,
    time_zone TEXT,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE UNIQUE INDEX changes_by_doc_hash ON changes(doc_id, hash);

CREATE INDEX devices_by_user ON devices(user_id);

CREATE INDEX documents_by_record ON documents(record_id);

CREATE INDEX ended_sessions_by_device ON ended_sessions(device_id);

CREATE INDEX process_wakeups_due ON process_wakeups(active, wake_at);

CREATE INDEX records_by_account ON records(account_id);

CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TRIGGER sessions_keep_ended AFTER DELETE ON sessions WHEN OLD.device_id IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO ended_sessions(token_hash, user_id, device_id, ended_at) VALUES (OLD.token_hash, OLD.user_id, OLD.device_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;
