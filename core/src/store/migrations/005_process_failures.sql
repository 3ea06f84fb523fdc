-- 005: instances the engine gave up on, on this device.
--
-- `failed` holds why (the engine panicked on it, it used its whole step
-- budget without waiting, a `set` step wrote what its user may not). Such
-- an instance is no longer run here; its card says why.
ALTER TABLE process_wakeups ADD COLUMN failed TEXT;
