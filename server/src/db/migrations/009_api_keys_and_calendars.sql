-- 009_api_keys_and_calendars: API keys for integrations and the secret
-- tokens of personal calendar feeds.
--
-- api_keys: one row per key ever issued (revoked keys stay, for the list
-- and the audit trail). The key handed out is `fwk_<id>_<secret>`; only the
-- SHA-256 of the secret is kept. kinds is a JSON array of record kinds, or
-- NULL for every kind. last_used_at is written at most once a minute.
CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY,
    secret_hash     BLOB NOT NULL,
    name            TEXT NOT NULL,
    user_id         INTEGER NOT NULL,
    read_only       INTEGER NOT NULL,
    kinds           TEXT,
    rate_per_minute INTEGER,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);

-- calendar_feeds: at most one live feed per user; a new feed replaces the
-- old one, revoking deletes it. Only the SHA-256 of the token is kept.
CREATE TABLE calendar_feeds (
    user_id    INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- A user's calendar: activities assigned to them, and those they own that
-- have no assignee.
CREATE INDEX records_activity_assignee ON records(assignee) WHERE kind = 'activity';
CREATE INDEX records_activity_owner ON records(owner) WHERE kind = 'activity' AND assignee IS NULL;
