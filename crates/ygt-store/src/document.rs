//! The files of documents sent as files (PDF): their bytes, kept per item and SHA-256. The
//! item's body names the current file; earlier files of a corrected document stay.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::record::utc;
use crate::{Result, Sql, Store, Tx};

/// A stored file of a document.
#[derive(Clone, sqlx::FromRow)]
pub struct DocumentContent {
    pub item_id: Uuid,
    /// Lowercase hex of the SHA-256 of `data`.
    pub sha256: String,
    pub institution_id: Uuid,
    pub content_type: String,
    pub size: i64,
    pub data: Vec<u8>,
    pub received_at: OffsetDateTime,
}

impl std::fmt::Debug for DocumentContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentContent")
            .field("item_id", &self.item_id)
            .field("sha256", &self.sha256)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A file to keep with an item.
#[derive(Clone, Copy)]
pub struct NewContent<'a> {
    pub content_type: &'a str,
    /// Lowercase hex of the SHA-256 of `data`.
    pub sha256: &'a str,
    pub data: &'a [u8],
}

impl Tx {
    /// Keeps a file of an item; the same file (same hash) is kept once.
    pub async fn insert_content(
        &mut self,
        item_id: Uuid,
        institution_id: Uuid,
        c: NewContent<'_>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let size = i64::try_from(c.data.len()).unwrap_or(i64::MAX);
        self.execute(
            Sql::new(
                "INSERT INTO document_contents (item_id, sha256, institution_id, content_type, size, data, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, sha256) DO NOTHING",
            )
            .arg(item_id)
            .arg(c.sha256)
            .arg(institution_id)
            .arg(c.content_type)
            .arg(size)
            .arg(c.data.to_vec())
            .arg(utc(now)),
        )
        .await?;
        Ok(())
    }
}

impl Store {
    /// The file of an item with this hash.
    pub async fn document_content(
        &self,
        item_id: Uuid,
        sha256: &str,
    ) -> Result<Option<DocumentContent>> {
        self.fetch_optional(
            Sql::new(
                "SELECT item_id, sha256, institution_id, content_type, size, data, received_at \
                 FROM document_contents WHERE item_id = ? AND sha256 = ?",
            )
            .arg(item_id)
            .arg(sha256),
        )
        .await
    }

    /// How many files an item has had.
    pub async fn count_document_contents(&self, item_id: Uuid) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(
                Sql::new("SELECT COUNT(*) FROM document_contents WHERE item_id = ?").arg(item_id),
            )
            .await?;
        Ok(n)
    }
}
