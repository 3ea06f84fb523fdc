-- 016: saved column mappings of imports (`PUT /v1/admin/import-mappings/{name}`,
-- used by `fieldwork-server import --mapping-name`, `POST /v1/import/{kind}?mapping_name=`
-- and the web import page).
--
-- `mapping` is the JSON `fieldwork_core::import::Mapping` reads, checked
-- against the fields of `kind` before it is saved; updated_by is the
-- administrator who saved it last, updated_at RFC 3339.
CREATE TABLE import_mappings (
    name       TEXT NOT NULL PRIMARY KEY,
    kind       TEXT NOT NULL,
    mapping    TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
