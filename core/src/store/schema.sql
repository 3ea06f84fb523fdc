-- The device store's schema as its migrations (migrations/*.sql) leave it.
-- Written by migrations/schema_test.rs; do not edit by hand: add a migration.
-- user_version: 12

CREATE TABLE blob_refs (
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE doc_chunks (
    doc_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    class TEXT NOT NULL,
    snapshot BLOB,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    chunk_bytes INTEGER NOT NULL DEFAULT 0,
    rev INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE "outbox" (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    hash BLOB NOT NULL,
    change BLOB NOT NULL,
    writes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (doc_id, hash)
);

CREATE TABLE process_wakeups (
    instance TEXT PRIMARY KEY,
    wake_at INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    failed TEXT,
    watch TEXT
) WITHOUT ROWID;

CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    code TEXT NOT NULL,
    rule TEXT NOT NULL,
    message TEXT NOT NULL,
    typed_at INTEGER NOT NULL,
    refused_at INTEGER NOT NULL
);

CREATE TABLE records (
    rid INTEGER PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    title_key BLOB NOT NULL,
    stage TEXT,
    stage_rank INTEGER,
    status TEXT,
    type TEXT,
    owner TEXT,
    assignee TEXT,
    territory TEXT,
    account_id TEXT,
    due_at INTEGER,
    amount INTEGER,
    currency TEXT,
    created_at INTEGER,
    updated_at INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    stage_log TEXT,
    closed_at INTEGER,
    completed_at INTEGER,
    check_in_at INTEGER,
    check_out_at INTEGER,
    check_in_lat REAL,
    check_in_lon REAL,
    check_out_lat REAL,
    check_out_lon REAL,
    report_version INTEGER NOT NULL DEFAULT 0,
    target_spec TEXT,
    custom TEXT
);

CREATE VIRTUAL TABLE search USING fts5(name, emails, phones, body, tokenize = "unicode61 remove_diacritics 2", prefix = '2 3');

CREATE INDEX blob_refs_sha256 ON blob_refs(sha256);

CREATE INDEX documents_by_record ON documents(record_id);

CREATE INDEX outbox_by_doc ON outbox(doc_id);

CREATE INDEX process_wakeups_due ON process_wakeups(active, wake_at);

CREATE INDEX process_wakeups_watch ON process_wakeups(watch) WHERE watch IS NOT NULL;

CREATE INDEX quarantine_by_record ON quarantine(record_id);

CREATE INDEX records_activity_facts ON records(kind, archived, due_at, completed_at, owner, assignee, territory, status, type, record_id);

CREATE INDEX records_by_account ON records(account_id);

CREATE INDEX records_by_amount ON records(kind, amount);

CREATE INDEX records_by_assignee ON records(assignee, due_at);

CREATE INDEX records_by_due ON records(kind, due_at);

CREATE INDEX records_by_kind ON records(kind, archived);

CREATE INDEX records_by_owner ON records(kind, owner, title_key);

CREATE INDEX records_by_stage ON records(kind, stage_rank, title_key);

CREATE INDEX records_by_territory ON records(kind, territory, title_key);

CREATE INDEX records_by_title ON records(kind, title_key);

CREATE INDEX records_by_updated ON records(kind, updated_at);

CREATE INDEX records_done_activities ON records(archived, (CASE WHEN type = 'visit' THEN COALESCE(check_in_at, completed_at, due_at) ELSE COALESCE(completed_at, due_at) END), owner, assignee, territory, type, due_at, completed_at, check_in_at, record_id) WHERE kind = 'activity' AND status = 'done';

CREATE INDEX records_report_stale ON records(rid) WHERE report_version = 0;

CREATE INDEX records_visit_facts ON records(kind, archived, check_in_at, due_at, owner, assignee, territory, status, type, record_id, title, account_id, completed_at, check_out_at, check_in_lat, check_in_lon, check_out_lat, check_out_lon) WHERE type = 'visit';
