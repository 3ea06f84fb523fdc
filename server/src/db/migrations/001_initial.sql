-- 001: the server's first schema.
--
-- changes is the feed: every accepted Automerge change once, numbered by a
-- server-wide sequence. documents keeps a compacted snapshot per document
-- (for fresh devices) and the sequence it covers. records holds the facts
-- that decide visibility, maintained from each record's base document.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    territories   TEXT NOT NULL DEFAULT '[]',
    manager       TEXT,
    time_zone     TEXT,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    device_id  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE policies (
    revision INTEGER PRIMARY KEY,
    source   TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   INTEGER NOT NULL
);

CREATE TABLE documents (
    doc_id        TEXT PRIMARY KEY,
    record_id     TEXT NOT NULL,
    class         TEXT NOT NULL,
    snapshot      BLOB,
    snapshot_seq  INTEGER NOT NULL DEFAULT 0,
    since_snapshot INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX documents_by_record ON documents(record_id);

CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id      TEXT NOT NULL,
    hash        BLOB NOT NULL,
    bytes       BLOB NOT NULL,
    user_id     INTEGER,
    device_id   TEXT,
    received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX changes_by_doc_hash ON changes(doc_id, hash);

CREATE TABLE records (
    record_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    owner      TEXT,
    assignee   TEXT,
    territory  TEXT,
    account_id TEXT
) WITHOUT ROWID;
CREATE INDEX records_by_account ON records(account_id);

CREATE TABLE actors (
    actor   BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE devices (
    device_id       TEXT PRIMARY KEY,
    user_id         INTEGER NOT NULL,
    policy_revision INTEGER NOT NULL DEFAULT 0,
    user_version    INTEGER NOT NULL DEFAULT 0,
    last_seen       INTEGER
) WITHOUT ROWID;

CREATE TABLE device_docs (
    device_id TEXT NOT NULL,
    doc_id    TEXT NOT NULL,
    PRIMARY KEY (device_id, doc_id)
) WITHOUT ROWID;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    user_name TEXT NOT NULL,
    device_id TEXT,
    doc_id    TEXT,
    hash      BLOB,
    code      TEXT NOT NULL,
    field     TEXT,
    rule      TEXT,
    message   TEXT NOT NULL
);
