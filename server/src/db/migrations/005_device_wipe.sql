-- 005: what devices report, and remote wipe.
--
-- At every sync hello the server records the app version the device runs
-- and how many local changes it had not sent yet (`pending_changes`, less
-- those it pushed on that connection), and where it connected from. An
-- administrator may mark a device for wipe (`wipe_requested_*`); the
-- device's next contact is answered with a wipe order (`wipe_delivered_at`,
-- the first time), and the device confirms once its store and secrets are
-- gone (`wipe_confirmed_at`).
ALTER TABLE devices ADD COLUMN app_version TEXT;
ALTER TABLE devices ADD COLUMN pending_changes INTEGER;
ALTER TABLE devices ADD COLUMN last_address TEXT;
ALTER TABLE devices ADD COLUMN wipe_requested_at INTEGER;
ALTER TABLE devices ADD COLUMN wipe_requested_by TEXT;
ALTER TABLE devices ADD COLUMN wipe_delivered_at INTEGER;
ALTER TABLE devices ADD COLUMN wipe_confirmed_at INTEGER;
CREATE INDEX devices_by_user ON devices(user_id);

-- Sessions that ended (logout, a disabled user, expiry, a purge) while
-- naming a device. Their tokens no longer authenticate anything; they only
-- let the server recognise a device marked for wipe when it comes back
-- with its old token. Kept until the device signs in again (its newer
-- session supersedes them) or confirms its wipe.
CREATE TABLE ended_sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    device_id  TEXT NOT NULL,
    ended_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ended_sessions_by_device ON ended_sessions(device_id);

-- Whoever deletes a session (users.set_disabled, logout, purge), its
-- device stays recognisable.
CREATE TRIGGER sessions_keep_ended AFTER DELETE ON sessions
WHEN OLD.device_id IS NOT NULL
BEGIN
    INSERT OR REPLACE INTO ended_sessions(token_hash, user_id, device_id, ended_at)
    VALUES (OLD.token_hash, OLD.user_id, OLD.device_id,
            CAST(strftime('%s', 'now') AS INTEGER) * 1000);
END;
