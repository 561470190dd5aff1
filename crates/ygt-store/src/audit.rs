//! The audit log off the write path: read events appended to an unchained inbox (no shared row
//! touched), sealed into the hash chain in order by one task, and read together with the chain
//! from one consistent snapshot (search, verification).
//!
//! Changes keep appending to the chain inside their own transaction
//! ([`Tx::append_audits`]); reads, refusals and sign-in failures go to the inbox
//! ([`Store::append_inbox`]), which is durable when the statement returns. [`Store::seal_inbox`]
//! moves the oldest inbox rows into the chain and deletes them in one transaction.

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::audit::{
    AuditRecord, HashAlg, PENDING, compute_hash, pending_hash, truncate_to_micros,
};

use crate::access::{AUDIT_COLUMNS, AuditEntry, AuditFilter, AuditRow};
use crate::{Backend, Result, Sql, Store, StoreError, Tx};

/// The key of PostgreSQL's advisory lock that one sealer at a time holds (`ygta`).
const SEAL_LOCK: i64 = 0x7967_7461;

/// The columns an event carries besides its place: inbox and chain alike.
const CONTENT: &str = "id, at, actor_user_id, actor_name, actor_institution_id, action, \
    resource_type, resource_id, resident_id, purpose, outcome, client_addr, request_id, detail, alg";

/// An event of an entry, not in the chain yet: `seq` 0, `prev_hash` [`PENDING`], `hash` its
/// content hash ([`pending_hash`]).
pub fn pending_record(e: &AuditEntry, alg: HashAlg, at: OffsetDateTime) -> AuditRecord {
    let mut r = AuditRecord {
        seq: 0,
        id: Uuid::now_v7(),
        at: truncate_to_micros(at),
        actor_user_id: e.actor_user_id,
        actor_name: e.actor_name.clone(),
        actor_institution_id: e.actor_institution_id,
        action: e.action.clone(),
        resource_type: e.resource_type.clone(),
        resource_id: e.resource_id.clone(),
        resident_id: e.resident_id,
        purpose: e.purpose.clone(),
        outcome: e.outcome,
        client_addr: e.client_addr.clone(),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
        alg,
        prev_hash: PENDING.to_owned(),
        hash: String::new(),
    };
    r.hash = pending_hash(&r);
    r
}

/// One event waiting in the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    /// Its place in the inbox (order of arrival).
    pub inbox_seq: i64,
    /// The event: `seq` 0, `prev_hash` [`PENDING`], `hash` as stored.
    pub record: AuditRecord,
}

impl InboxEvent {
    /// Whether the stored hash is still the hash of the stored content.
    pub fn intact(&self) -> bool {
        pending_hash(&self.record) == self.record.hash
    }
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    seq: i64,
    id: Uuid,
    at: OffsetDateTime,
    actor_user_id: Option<Uuid>,
    actor_name: String,
    actor_institution_id: Option<Uuid>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    resident_id: Option<Uuid>,
    purpose: Option<String>,
    outcome: String,
    client_addr: Option<String>,
    request_id: String,
    detail: Option<String>,
    alg: String,
    hash: String,
}

impl TryFrom<InboxRow> for InboxEvent {
    type Error = StoreError;
    fn try_from(r: InboxRow) -> Result<Self> {
        let inbox_seq = r.seq;
        let row = AuditRow {
            seq: 0,
            id: r.id,
            at: r.at,
            actor_user_id: r.actor_user_id,
            actor_name: r.actor_name,
            actor_institution_id: r.actor_institution_id,
            action: r.action,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            resident_id: r.resident_id,
            purpose: r.purpose,
            outcome: r.outcome,
            client_addr: r.client_addr,
            request_id: r.request_id,
            detail: r.detail,
            alg: r.alg,
            prev_hash: PENDING.to_owned(),
            hash: r.hash,
        };
        Ok(InboxEvent {
            inbox_seq,
            record: AuditRecord::try_from(row)?,
        })
    }
}

fn inbox_columns() -> String {
    format!("SELECT seq, {CONTENT}, hash FROM audit_inbox")
}

/// `(…content…)` of one record, for a multi-row INSERT.
fn push_content(q: &mut Sql, r: &AuditRecord) {
    q.bind(r.id)
        .push(", ")
        .bind(r.at)
        .push(", ")
        .bind(r.actor_user_id)
        .push(", ")
        .bind(r.actor_name.as_str())
        .push(", ")
        .bind(r.actor_institution_id)
        .push(", ")
        .bind(r.action.as_str())
        .push(", ")
        .bind(r.resource_type.as_str())
        .push(", ")
        .bind(r.resource_id.as_deref())
        .push(", ")
        .bind(r.resident_id)
        .push(", ")
        .bind(r.purpose.as_deref())
        .push(", ")
        .bind(r.outcome.code())
        .push(", ")
        .bind(r.client_addr.as_deref())
        .push(", ")
        .bind(r.request_id.as_str())
        .push(", ")
        .bind(r.detail.as_deref())
        .push(", ")
        .bind(r.alg.code());
}

/// What one sealing round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sealed {
    /// Events moved into the chain.
    pub sealed: usize,
    /// Another process holds the sealing lock (PostgreSQL): nothing was done.
    pub busy: bool,
    /// The inbox place of an event whose hash does not match its content: it and everything
    /// after it stay in the inbox (for `ygt audit verify` to report) instead of being sealed.
    pub tampered: Option<i64>,
}

impl Store {
    /// Appends events to the inbox in one statement of its own: no shared row, no long
    /// transaction; durable when it returns.
    pub async fn append_inbox(
        &self,
        entries: &[AuditEntry],
        alg: HashAlg,
        now: OffsetDateTime,
    ) -> Result<()> {
        for chunk in entries.chunks(200) {
            let mut q = Sql::new(&format!(
                "INSERT INTO audit_inbox ({CONTENT}, hash) VALUES "
            ));
            for (i, e) in chunk.iter().enumerate() {
                let r = pending_record(e, alg, now);
                q.push(if i == 0 { "(" } else { ", (" });
                push_content(&mut q, &r);
                q.push(", ").bind(r.hash.as_str()).push(")");
            }
            self.execute_alone(q).await?;
        }
        Ok(())
    }

    /// Moves the oldest inbox events (at most `limit`) into the chain in inbox order and
    /// deletes them, in one transaction. On PostgreSQL one process at a time seals (an
    /// advisory lock; the others return `busy`); the head row serialises it with writers.
    pub async fn seal_inbox(&self, limit: i64) -> Result<Sealed> {
        let mut tx = self.begin().await?;
        if tx.backend() == Backend::Postgres {
            let (got,): (bool,) = tx
                .fetch_one(Sql::new("SELECT pg_try_advisory_xact_lock(?)").arg(SEAL_LOCK))
                .await?;
            if !got {
                return Ok(Sealed {
                    busy: true,
                    ..Default::default()
                });
            }
        }
        let batch = tx.inbox_batch(0, limit).await?;
        let tampered = batch.iter().find(|e| !e.intact()).map(|e| e.inbox_seq);
        let good: Vec<InboxEvent> = batch
            .into_iter()
            .take_while(|e| Some(e.inbox_seq) != tampered)
            .collect();
        if good.is_empty() {
            return Ok(Sealed {
                tampered,
                ..Default::default()
            });
        }
        let places: Vec<i64> = good.iter().map(|e| e.inbox_seq).collect();
        let sealed = good.len();
        tx.chain_records(good.into_iter().map(|e| e.record).collect())
            .await?;
        for chunk in places.chunks(500) {
            let mut q = Sql::new("DELETE FROM audit_inbox WHERE seq IN ");
            q.bind_list(chunk.iter().copied());
            tx.execute(q).await?;
        }
        tx.commit().await?;
        Ok(Sealed {
            sealed,
            busy: false,
            tampered,
        })
    }

    /// Searches chain and inbox together, newest first (inbox events, which are newer than
    /// the chain's reads, first), from one snapshot. Returns the page and the total.
    pub async fn search_audit(&self, f: &AuditFilter) -> Result<(Vec<AuditRecord>, i64)> {
        let (text, args) = crate::access::audit_where(f).into_parts();
        let with = |head: &str, tail: &str| {
            let mut q = Sql::new(head);
            q.push(&text);
            for a in &args {
                q = q.arg(a.clone());
            }
            q.push(tail);
            q
        };
        let mut tx = self.snapshot().await?;
        let (pending,): (i64,) = tx
            .fetch_one(with("SELECT COUNT(*) FROM audit_inbox", ""))
            .await?;
        let (chained,): (i64,) = tx
            .fetch_one(with("SELECT COUNT(*) FROM audit_events", ""))
            .await?;
        let (limit, offset) = (f.limit.max(0), f.offset.max(0));
        let mut items = Vec::new();
        if offset < pending {
            let mut q = with(&inbox_columns(), " ORDER BY seq DESC LIMIT ");
            q.bind(limit).push(" OFFSET ").bind(offset);
            let rows: Vec<InboxRow> = tx.fetch_all(q).await?;
            for r in rows {
                items.push(InboxEvent::try_from(r)?.record);
            }
        }
        let room = limit - i64::try_from(items.len()).unwrap_or(limit);
        if room > 0 {
            let mut q = with(AUDIT_COLUMNS, " ORDER BY seq DESC LIMIT ");
            q.bind(room)
                .push(" OFFSET ")
                .bind((offset - pending).max(0));
            let rows: Vec<AuditRow> = tx.fetch_all(q).await?;
            for r in rows {
                items.push(AuditRecord::try_from(r)?);
            }
        }
        tx.rollback().await?;
        Ok((items, pending + chained))
    }
}

impl Tx {
    /// The head of the chain: (last seq, last hash).
    pub async fn audit_head(&mut self) -> Result<Option<(i64, String)>> {
        self.fetch_optional(Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1"))
            .await
    }

    /// Chain records with seq > `after`, ascending, at most `limit`.
    pub async fn audit_batch(&mut self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = self
            .fetch_all(
                Sql::new(&format!(
                    "{AUDIT_COLUMNS} WHERE seq > ? ORDER BY seq LIMIT ?"
                ))
                .arg(after)
                .arg(limit),
            )
            .await?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }

    /// Inbox events after inbox place `after`, in order of arrival, at most `limit`.
    pub async fn inbox_batch(&mut self, after: i64, limit: i64) -> Result<Vec<InboxEvent>> {
        let rows: Vec<InboxRow> = self
            .fetch_all(
                Sql::new(&format!(
                    "{} WHERE seq > ? ORDER BY seq LIMIT ?",
                    inbox_columns()
                ))
                .arg(after)
                .arg(limit),
            )
            .await?;
        rows.into_iter().map(InboxEvent::try_from).collect()
    }

    /// Appends records (content made, `seq`, `prev_hash` and `hash` not yet) to the chain in
    /// order, in three statements whatever their number: the head advanced by n (which
    /// serialises appends: the chain order is the commit order), the rows, the new head hash.
    pub(crate) async fn chain_records(&mut self, mut records: Vec<AuditRecord>) -> Result<()> {
        let n = i64::try_from(records.len()).unwrap_or(i64::MAX);
        if n == 0 {
            return Ok(());
        }
        let (last, mut prev): (i64, String) = self
            .fetch_one(
                Sql::new("UPDATE audit_head SET seq = seq + ? WHERE id = 1 RETURNING seq, hash")
                    .arg(n),
            )
            .await?;
        for (seq, r) in (last - n + 1..).zip(records.iter_mut()) {
            r.seq = seq;
            r.prev_hash = prev;
            r.hash = compute_hash(r);
            prev = r.hash.clone();
        }
        for chunk in records.chunks(200) {
            let mut q = Sql::new(&format!(
                "INSERT INTO audit_events (seq, {CONTENT}, prev_hash, hash) VALUES "
            ));
            for (i, r) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind(r.seq).push(", ");
                push_content(&mut q, r);
                q.push(", ")
                    .bind(r.prev_hash.as_str())
                    .push(", ")
                    .bind(r.hash.as_str())
                    .push(")");
            }
            self.execute(q).await?;
        }
        self.execute(Sql::new("UPDATE audit_head SET hash = ? WHERE id = 1").arg(prev.as_str()))
            .await?;
        Ok(())
    }
}
