-- 008_webhooks: webhook subscriptions, the durable outbox of deliveries and
-- the log of delivery attempts (see server/src/webhooks.rs).

-- An administrator's subscription of a URL to events. `user_id` is the
-- service user whose rights filter every payload; `events` is a JSON array
-- of event types, `kinds` a JSON array of record kinds or NULL for all.
-- A deleted subscription stays (its deliveries are kept) with active = 0.
CREATE TABLE webhook_subscriptions (
    id         INTEGER PRIMARY KEY,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    events     TEXT    NOT NULL,
    kinds      TEXT,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL
);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions(active);

-- The outbox: one row per event and subscription, written in the same
-- transaction as the change it reports. A pending delivery is due when
-- next_attempt_at (ms) has passed; a worker that claims one pushes
-- next_attempt_at forward by a lease, so a claim lost with a crashed
-- worker is retried once the lease ends.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id),
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries(subscription_id, id);

-- Every attempt: when, the HTTP status (NULL when none came back), the
-- error, and how long it took.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at          INTEGER NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id, id);

-- Process instances marked failed while a subscription is active, noted in
-- the same transaction by the triggers below; the delivery worker turns
-- them into `process.failed` deliveries and removes them.
CREATE TABLE webhook_process_failures (
    id       INTEGER PRIMARY KEY,
    instance TEXT    NOT NULL,
    reason   TEXT    NOT NULL
);

CREATE TRIGGER webhook_process_failed_insert AFTER INSERT ON process_wakeups
WHEN NEW.failed IS NOT NULL
 AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)
BEGIN
    INSERT INTO webhook_process_failures(instance, reason) VALUES (NEW.instance, NEW.failed);
END;

CREATE TRIGGER webhook_process_failed_update AFTER UPDATE OF failed ON process_wakeups
WHEN NEW.failed IS NOT NULL AND OLD.failed IS NULL
 AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)
BEGIN
    INSERT INTO webhook_process_failures(instance, reason) VALUES (NEW.instance, NEW.failed);
END;
