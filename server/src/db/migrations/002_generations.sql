-- 002: document generations.
--
-- When a policy moves a field to another class, the server rewrites the old
-- class document without the field *and without its history*: a new
-- generation with a fresh history. Devices holding an older generation are
-- sent the new one with `replace`, never a merge (which would bring the old
-- history back).

ALTER TABLE documents ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_docs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
