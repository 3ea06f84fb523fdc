-- 015: the merge log (duplicates merged through POST /v1/merge/{kind}).
--
-- One row per merge of a loser into a survivor of the same kind: who, when
-- (milliseconds since the Unix epoch), the survivor fields it filled with
-- their previous values (`filled_json`: [{field, value, previous}]) and the
-- references it re-pointed (`repointed_json`: [{record, field}]), so that
-- an undo within the period (docs/API.md) puts back exactly those and only
-- where nobody changed them since. undone_at is set once, by the undo.
CREATE TABLE merges (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL,
    survivor       TEXT NOT NULL,
    loser          TEXT NOT NULL,
    merged_by      TEXT NOT NULL,
    merged_at      INTEGER NOT NULL,
    filled_json    TEXT NOT NULL,
    repointed_json TEXT NOT NULL,
    undone_by      TEXT,
    undone_at      INTEGER
);

CREATE INDEX merges_by_survivor ON merges(survivor);
CREATE INDEX merges_by_loser ON merges(loser);
