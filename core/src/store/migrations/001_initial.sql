-- 001: the device store's first schema.
--
-- documents + doc_chunks hold every Automerge class document as a compacted
-- snapshot followed by the chunks appended since (one per write).
-- outbox holds local changes the server has not acknowledged.
-- records + search are the materialised index, rebuilt from the documents
-- whenever a record changes (locally or from sync).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE documents (
    doc_id      TEXT PRIMARY KEY,
    record_id   TEXT NOT NULL,
    class       TEXT NOT NULL,
    snapshot    BLOB,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    chunk_bytes INTEGER NOT NULL DEFAULT 0,
    rev         INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX documents_by_record ON documents(record_id);

CREATE TABLE doc_chunks (
    doc_id TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    change     BLOB NOT NULL,
    writes     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_by_doc ON outbox(doc_id);

CREATE TABLE records (
    rid        INTEGER PRIMARY KEY,
    record_id  TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    title_key  BLOB NOT NULL,
    stage      TEXT,
    stage_rank INTEGER,
    status     TEXT,
    type       TEXT,
    owner      TEXT,
    assignee   TEXT,
    territory  TEXT,
    account_id TEXT,
    due_at     INTEGER,
    amount     INTEGER,
    currency   TEXT,
    created_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX records_by_title     ON records(kind, title_key);
CREATE INDEX records_by_stage     ON records(kind, stage_rank, title_key);
CREATE INDEX records_by_owner     ON records(kind, owner, title_key);
CREATE INDEX records_by_territory ON records(kind, territory, title_key);
CREATE INDEX records_by_due       ON records(kind, due_at);
CREATE INDEX records_by_amount    ON records(kind, amount);
CREATE INDEX records_by_updated   ON records(kind, updated_at);
CREATE INDEX records_by_account   ON records(account_id);
CREATE INDEX records_by_assignee  ON records(assignee, due_at);

-- Accent-insensitive (remove_diacritics 2 folds ő, ñ, á... to their base
-- letter), prefix-searchable full text over what people look records up by.
CREATE VIRTUAL TABLE search USING fts5(
    name, emails, phones, body,
    tokenize = "unicode61 remove_diacritics 2",
    prefix = '2 3'
);
