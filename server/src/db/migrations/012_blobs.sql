-- 012_blobs: the bytes of attachments (photos and files on records),
-- content-addressed by their SHA-256 (lower-case hex).
--
-- blobs: complete blobs only, each checked against its hash and size
-- before it was moved here; never changed afterwards. Who may read one is
-- decided by the record field that refers to it (api/files.rs), not here.
-- created_at is RFC 3339.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- blob_uploads: resumable uploads under way, one per hash: the bytes
-- received so far (appended at their end only), with the size and media
-- type of the reference they were sent for. Deleted when the blob is
-- complete or its bytes do not match the hash. updated_at is RFC 3339.
CREATE TABLE blob_uploads (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    data       BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
