-- 006: the feed position that confirms what the server records a device
-- holds.
--
-- The server records a document in `device_docs` when it sends it whole
-- and drops it when it sends its revocation; if those messages travel
-- outside a cursor batch (or the link drops before the device applies
-- them) the record runs ahead of the device until the device's cursor
-- reaches `docs_confirm_seq`. A device that says hello with a cursor below
-- it is compared document by document instead of caught up incrementally
-- (`sync::machine` `unconfirmed`). 0: nothing unconfirmed.
--
-- Until now the position lived in `meta` under
-- `device_docs_unconfirmed:<device>`; it moves here, and those keys go.
-- Every such key was written after the device's hello registered it in
-- `devices` (rows there are never deleted), so none is left behind.
ALTER TABLE devices ADD COLUMN docs_confirm_seq INTEGER NOT NULL DEFAULT 0;

UPDATE devices
   SET docs_confirm_seq = (
       SELECT max(CAST(value AS INTEGER), 0) FROM meta
        WHERE key = 'device_docs_unconfirmed:' || devices.device_id)
 WHERE EXISTS (
       SELECT 1 FROM meta
        WHERE key = 'device_docs_unconfirmed:' || devices.device_id);

DELETE FROM meta WHERE key GLOB 'device_docs_unconfirmed:*';
