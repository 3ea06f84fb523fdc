-- 003: outbox entries are identified by (document, change hash).
--
-- An Automerge change's hash does not cover the document it belongs to: two
-- documents' first changes made by the same actor in the same second with
-- the same operations are byte-identical. 001 made the hash alone unique,
-- so the second such change was dropped from the outbox.

CREATE TABLE outbox_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    change     BLOB NOT NULL,
    writes     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (doc_id, hash)
);
INSERT INTO outbox_new(id, doc_id, hash, change, writes, created_at)
    SELECT id, doc_id, hash, change, writes, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_by_doc ON outbox(doc_id);
