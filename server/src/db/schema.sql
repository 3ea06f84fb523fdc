-- The server database's schema as its migrations (migrations/*.sql) leave it.
-- Written by migrations/schema_test.rs; do not edit by hand: add a migration.
-- user_version: 16

CREATE TABLE actors (
    actor BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    secret_hash BLOB NOT NULL,
    name TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    read_only INTEGER NOT NULL,
    kinds TEXT,
    rate_per_minute INTEGER,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

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

CREATE TABLE blob_uploads (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE calendar_feeds (
    user_id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
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

CREATE TABLE erasures (
    id INTEGER PRIMARY KEY,
    contact_id TEXT NOT NULL,
    erased_by TEXT NOT NULL,
    erased_at INTEGER NOT NULL,
    documents_rewritten INTEGER NOT NULL,
    rows_purged INTEGER NOT NULL
);

CREATE TABLE import_keys (
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (kind, external_id)
) WITHOUT ROWID;

CREATE TABLE import_mappings (
    name TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    mapping TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    survivor TEXT NOT NULL,
    loser TEXT NOT NULL,
    merged_by TEXT NOT NULL,
    merged_at INTEGER NOT NULL,
    filled_json TEXT NOT NULL,
    repointed_json TEXT NOT NULL,
    undone_by TEXT,
    undone_at INTEGER
);

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
    failed TEXT,
    watch TEXT
) WITHOUT ROWID;

CREATE TABLE record_docs (
    rid INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    class TEXT NOT NULL
);

CREATE TABLE record_fields (
    doc_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    class TEXT NOT NULL,
    field TEXT NOT NULL,
    value_json TEXT NOT NULL,
    sort_key TEXT,
    PRIMARY KEY (doc_id, field)
) WITHOUT ROWID;

CREATE TABLE record_phones (
    doc_id TEXT NOT NULL,
    field TEXT NOT NULL,
    e164 TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    class TEXT NOT NULL,
    PRIMARY KEY (doc_id, field)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE record_search USING fts5(name, emails, phones, body, tokenize = "unicode61 remove_diacritics 2", prefix = '2 3');

CREATE TABLE records (
    record_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT,
    assignee TEXT,
    territory TEXT,
    account_id TEXT,
    process_task INTEGER NOT NULL DEFAULT 0
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

CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    last_status INTEGER,
    last_error TEXT,
    delivered_at INTEGER
);

CREATE TABLE webhook_process_failures (
    id INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE webhook_subscriptions (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    events TEXT NOT NULL,
    kinds TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);

CREATE UNIQUE INDEX changes_by_doc_hash ON changes(doc_id, hash);

CREATE INDEX devices_by_user ON devices(user_id);

CREATE INDEX documents_by_record ON documents(record_id);

CREATE INDEX ended_sessions_by_device ON ended_sessions(device_id);

CREATE INDEX erasures_by_contact ON erasures(contact_id);

CREATE INDEX merges_by_loser ON merges(loser);

CREATE INDEX merges_by_survivor ON merges(survivor);

CREATE INDEX process_wakeups_due ON process_wakeups(active, wake_at);

CREATE INDEX process_wakeups_watch ON process_wakeups(watch) WHERE watch IS NOT NULL;

CREATE INDEX record_docs_by_kind ON record_docs(kind, record_id, class);

CREATE INDEX record_docs_by_record ON record_docs(record_id);

CREATE INDEX record_fields_by_record ON record_fields(record_id, field);

CREATE INDEX record_fields_sorted ON record_fields(kind, field, sort_key, record_id);

CREATE INDEX record_phones_by_number ON record_phones(e164);

CREATE INDEX records_activity_assignee ON records(assignee) WHERE kind = 'activity';

CREATE INDEX records_activity_owner ON records(owner) WHERE kind = 'activity' AND assignee IS NULL;

CREATE INDEX records_by_account ON records(account_id);

CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id, id);

CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries(subscription_id, id);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);

CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions(active);

CREATE TRIGGER sessions_keep_ended AFTER DELETE ON sessions WHEN OLD.device_id IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO ended_sessions(token_hash, user_id, device_id, ended_at) VALUES (OLD.token_hash, OLD.user_id, OLD.device_id, CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;

CREATE TRIGGER webhook_process_failed_insert AFTER INSERT ON process_wakeups WHEN NEW.failed IS NOT NULL AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)
BEGIN
    INSERT INTO webhook_process_failures(instance, reason) VALUES (NEW.instance, NEW.failed);
END;

CREATE TRIGGER webhook_process_failed_update AFTER UPDATE OF failed ON process_wakeups WHEN NEW.failed IS NOT NULL AND OLD.failed IS NULL AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)
BEGIN
    INSERT INTO webhook_process_failures(instance, reason) VALUES (NEW.instance, NEW.failed);
END;
