-- 002: the quarantine of edits the server refused.
--
-- When the server refuses a change (for example because the policy changed
-- while the device was offline), the device keeps what the user typed here,
-- with the reason, rebuilds the document on the server-confirmed state and
-- replays every permitted edit. Nothing typed is lost silently.

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    code        TEXT NOT NULL,
    rule        TEXT NOT NULL,
    message     TEXT NOT NULL,
    typed_at    INTEGER NOT NULL,
    refused_at  INTEGER NOT NULL
);
CREATE INDEX quarantine_by_record ON quarantine(record_id);
