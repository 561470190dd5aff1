-- Documents sent as files (a PDF of a discharge summary, an operation note): the bytes of each
-- file an item has had, keyed by the item and the SHA-256 of the bytes. The item's body names
-- the current one (content type, size, hash); a corrected document keeps its earlier files, as
-- the item keeps its earlier versions.
CREATE TABLE document_contents (
    item_id BLOB NOT NULL REFERENCES clinical_items (id),
    sha256 TEXT NOT NULL,                        -- lowercase hex of the SHA-256 of data
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    content_type TEXT NOT NULL,                  -- application/pdf
    size INTEGER NOT NULL,                       -- bytes of data
    data BLOB NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (item_id, sha256)
);
