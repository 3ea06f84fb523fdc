-- 011: attachments (photos and files) beside the documents.
--
-- A file field's document value names its bytes by SHA-256
-- (core/src/attachment.rs); the bytes live here, inside the store's
-- (encrypted) database, so they are counted in its size and wiped with it.
-- `uploaded` is 1 once the server holds them (or they came from it).
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- Which field of which record refers to which bytes: kept with the index
-- (store/index.rs), so the store knows what to keep, upload and fetch and
-- drops bytes no readable field refers to any more.
CREATE TABLE blob_refs (
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE INDEX blob_refs_sha256 ON blob_refs(sha256);
