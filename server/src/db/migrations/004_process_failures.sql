-- 004: instances the engine gave up on.
--
-- `failed` holds why (the engine panicked on it, it used its whole step
-- budget without waiting, a `set` step wrote what its user may not): such
-- an instance is inactive and listed by `process monitor` until an
-- administrator stops or migrates it.
ALTER TABLE process_wakeups ADD COLUMN failed TEXT;
