//! The tamper-evident audit log: the record, its canonical form, its hash and the verifier.
//!
//! Every audit record carries the hash of the record before it (`prev_hash`; the first record
//! carries [`GENESIS`]) and its own hash over its [canonical bytes](canonical_bytes), which
//! include `seq` and `prev_hash`. The store keeps the records in `seq` order (1, 2, 3, …) and,
//! in a separate head row, the `(seq, hash)` of the last record. Editing, deleting, inserting or
//! reordering records therefore breaks either a record's own hash, a link, the numbering or the
//! head, and [`ChainVerifier`] says which, at the first affected `seq`.
//!
//! The chain is not signed: someone who can rewrite the whole table *and* the head row can
//! re-hash everything after the point they changed. The chain makes such rewrites visible as
//! soon as the head (or any copy of an earlier head hash kept elsewhere) is compared.
//!
//! This module does no IO; the storage layer persists the records and the head.

use std::collections::HashMap;
use std::fmt;

use sha2::Digest;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::code_enum;

code_enum! {
    /// The digest that seals a record. Both produce 32 bytes (64 hex digits).
    #[derive(Default)]
    pub enum HashAlg {
        /// SHA-256 (FIPS 180-4), the default.
        #[default]
        Sha256 = ("sha256", "SHA-256", "SHA-256"),
        /// SM3 (GB/T 32905-2016), the Chinese commercial cryptography digest.
        Sm3 = ("sm3", "SM3 国密杂凑", "SM3"),
    }
}

impl HashAlg {
    /// The 32-byte digest of `data`.
    pub fn digest(self, data: &[u8]) -> [u8; 32] {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).into(),
            HashAlg::Sm3 => sm3::Sm3::digest(data).into(),
        }
    }
}

code_enum! {
    /// What became of the audited action.
    pub enum Outcome {
        /// The action was permitted and done.
        Allowed = ("allowed", "允许", "Allowed"),
        /// The action was refused (no permission, out of scope, blocked).
        Denied = ("denied", "拒绝", "Denied"),
        /// The action was attempted and failed (wrong password, invalid input).
        Failed = ("failed", "失败", "Failed"),
    }
}

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record as stored. `hash` seals every other field (see [`canonical_bytes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Position in the chain: 1 for the first record, then without gaps.
    pub seq: i64,
    pub id: Uuid,
    /// When it happened, UTC with microsecond precision (see [`truncate_to_micros`]).
    pub at: OffsetDateTime,
    pub actor_user_id: Option<Uuid>,
    /// Who acted, as shown to people (the user's name, an API token's name, `system`).
    pub actor_name: String,
    pub actor_institution_id: Option<Uuid>,
    /// What was done, such as `auth.sign_in` or `resident.read`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The resident whose data was touched, if any.
    pub resident_id: Option<Uuid>,
    /// Why (purpose of use), such as `treatment` or `emergency`.
    pub purpose: Option<String>,
    pub outcome: Outcome,
    pub client_addr: Option<String>,
    pub request_id: String,
    pub detail: Option<String>,
    /// The digest of `hash`.
    pub alg: HashAlg,
    /// The `hash` of the record with `seq - 1`, or [`GENESIS`] for the first record.
    pub prev_hash: String,
    /// Lowercase hex of `alg` over [`canonical_bytes`].
    pub hash: String,
}

/// The instant in UTC, cut (not rounded) to whole microseconds: what PostgreSQL's
/// `TIMESTAMPTZ` keeps. Callers truncate before storing and hashing, so that a record read back
/// equals the record written.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t - time::Duration::nanoseconds(i64::from(t.nanosecond() % 1_000))
}

/// Marks the start of the canonical form and its version.
const FORMAT_TAG: &[u8] = b"ygt.audit.v1";

/// The canonical bytes of a record: what its hash is computed over.
///
/// **This format is frozen.** Records hashed today must verify forever; a different encoding
/// needs a new tag and a new [`HashAlg`]-like marker, never a change here. The test vector in
/// this module's tests pins it.
///
/// The bytes are a sequence of 18 *items*. An item is either
///
/// * `0x00` — absent (`None`), or
/// * `0x01`, then the length of the value in bytes as a 4-byte big-endian unsigned integer, then
///   the value's bytes (so `Some("")` is `01 00 00 00 00`, distinct from `None`).
///
/// Required fields are always present items. The items, in order:
///
/// | # | value |
/// |---|-------|
/// | 1 | the tag `ygt.audit.v1` (ASCII) |
/// | 2 | `seq` in decimal ASCII, `-` for negatives, no leading zeros or `+` |
/// | 3 | `id`, lowercase hyphenated UUID (36 characters) |
/// | 4 | `at` in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly six fractional digits (the instant is cut to microseconds first, so nanoseconds never matter) |
/// | 5 | `actor_user_id` (UUID as in 3, or absent) |
/// | 6 | `actor_name` (UTF-8) |
/// | 7 | `actor_institution_id` (UUID or absent) |
/// | 8 | `action` |
/// | 9 | `resource_type` |
/// | 10 | `resource_id` (or absent) |
/// | 11 | `resident_id` (UUID or absent) |
/// | 12 | `purpose` (or absent) |
/// | 13 | `outcome` code: `allowed`, `denied` or `failed` |
/// | 14 | `client_addr` (or absent) |
/// | 15 | `request_id` |
/// | 16 | `detail` (or absent) |
/// | 17 | `alg` code: `sha256` or `sm3` |
/// | 18 | `prev_hash` exactly as stored |
///
/// Strings are taken byte for byte, without normalisation. A value longer than `u32::MAX`
/// bytes is not supported (its length saturates).
pub fn canonical_bytes(r: &AuditRecord) -> Vec<u8> {
    fn item(out: &mut Vec<u8>, v: Option<&[u8]>) {
        match v {
            None => out.push(0),
            Some(b) => {
                out.push(1);
                let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    fn text(out: &mut Vec<u8>, s: &str) {
        item(out, Some(s.as_bytes()));
    }
    fn opt_text(out: &mut Vec<u8>, s: Option<&str>) {
        item(out, s.map(str::as_bytes));
    }
    fn opt_uuid(out: &mut Vec<u8>, u: Option<Uuid>) {
        match u {
            Some(u) => text(out, &u.hyphenated().to_string()),
            None => item(out, None),
        }
    }

    let mut out = Vec::with_capacity(512);
    item(&mut out, Some(FORMAT_TAG));
    text(&mut out, &r.seq.to_string());
    text(&mut out, &r.id.hyphenated().to_string());
    text(&mut out, &rfc3339_micros(r.at));
    opt_uuid(&mut out, r.actor_user_id);
    text(&mut out, &r.actor_name);
    opt_uuid(&mut out, r.actor_institution_id);
    text(&mut out, &r.action);
    text(&mut out, &r.resource_type);
    opt_text(&mut out, r.resource_id.as_deref());
    opt_uuid(&mut out, r.resident_id);
    opt_text(&mut out, r.purpose.as_deref());
    text(&mut out, r.outcome.code());
    opt_text(&mut out, r.client_addr.as_deref());
    text(&mut out, &r.request_id);
    opt_text(&mut out, r.detail.as_deref());
    text(&mut out, r.alg.code());
    text(&mut out, &r.prev_hash);
    out
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, cut to microseconds. Years outside 0..=9999 (which
/// `time` only allows with its large-dates feature) are written with a sign.
fn rfc3339_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let year = t.year();
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Lowercase hex of the record's `alg` digest over its [`canonical_bytes`]. Ignores the
/// record's current `hash`.
pub fn compute_hash(r: &AuditRecord) -> String {
    to_hex(&r.alg.digest(&canonical_bytes(r)))
}

/// Sets `r.hash` to [`compute_hash`]`(r)`.
pub fn seal(r: &mut AuditRecord) {
    r.hash = compute_hash(r);
}

/// The `prev_hash` of an event waiting in the inbox (not in the chain yet; its `seq` is 0).
pub const PENDING: &str = "pending";

/// The content hash of an event waiting in the inbox: [`compute_hash`] of the record with
/// `seq` 0 and `prev_hash` [`PENDING`], so it covers every field the chained event will carry
/// but not its place in the chain (given when it is sealed).
pub fn pending_hash(r: &AuditRecord) -> String {
    let mut c = r.clone();
    c.seq = 0;
    c.prev_hash = PENDING.to_owned();
    compute_hash(&c)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Exactly 64 lowercase hex digits as 32 bytes; anything else is `None`.
fn parse_hash(s: &str) -> Option<[u8; 32]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (digit(b[2 * i])? << 4) | digit(b[2 * i + 1])?;
    }
    Some(out)
}

/// The digest of the record as if its `seq` were `seq` (used to recognise renumbered rows).
fn digest_at(r: &AuditRecord, seq: i64) -> [u8; 32] {
    let mut c = r.clone();
    c.seq = seq;
    c.alg.digest(&canonical_bytes(&c))
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// The first thing wrong with a chain. Every variant names the `seq` where the chain stops
/// being trustworthy; [`ChainProblem::seq`] gives it uniformly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The record's stored hash is not the hash of its content: a column was edited (this
    /// includes `seq`, `prev_hash` and `hash` themselves) without re-sealing the record.
    Modified { seq: i64 },
    /// Records `missing_from..=missing_to` are absent: the numbering jumps after `after_seq`
    /// (`after_seq` is 0 when the chain does not start at 1).
    Deleted {
        after_seq: i64,
        missing_from: i64,
        missing_to: i64,
    },
    /// The record at `seq` (and possibly some after it) does not belong to the chain: a later
    /// record links past it to an earlier one, or its `seq` repeats the previous record's, or
    /// it lies beyond the `seq` the head row names (appended without updating the head).
    Inserted { seq: i64 },
    /// The record at `seq` is in the wrong place: it does not link to its predecessor but to a
    /// record that comes later, or its predecessor's successor comes later; or the records were
    /// not given in ascending `seq` order.
    Reordered { seq: i64 },
    /// The record at `seq` links to nothing known: its `prev_hash` is neither its
    /// predecessor's hash nor any other record's. Typically the previous record was rewritten
    /// and re-sealed, or records were removed and the rest renumbered and re-sealed.
    BrokenLink { seq: i64 },
    /// The head row and the last record disagree: records were removed from or added to the
    /// end, the last record was rewritten and re-sealed, or the head row was altered.
    /// `head_seq` is 0 when there is no head row, `last_seq` is 0 when there are no records.
    HeadMismatch { head_seq: i64, last_seq: i64 },
}

impl ChainProblem {
    /// The first `seq` the problem concerns.
    pub fn seq(&self) -> i64 {
        match *self {
            ChainProblem::Modified { seq }
            | ChainProblem::Inserted { seq }
            | ChainProblem::Reordered { seq }
            | ChainProblem::BrokenLink { seq } => seq,
            ChainProblem::Deleted { missing_from, .. } => missing_from,
            ChainProblem::HeadMismatch { head_seq, last_seq } => {
                if head_seq == last_seq {
                    last_seq
                } else {
                    head_seq.min(last_seq).saturating_add(1)
                }
            }
        }
    }

    /// A stable machine code for the kind of problem.
    pub fn code(&self) -> &'static str {
        match self {
            ChainProblem::Modified { .. } => "modified",
            ChainProblem::Deleted { .. } => "deleted",
            ChainProblem::Inserted { .. } => "inserted",
            ChainProblem::Reordered { .. } => "reordered",
            ChainProblem::BrokenLink { .. } => "broken_link",
            ChainProblem::HeadMismatch { .. } => "head_mismatch",
        }
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChainProblem::Modified { seq } => write!(
                f,
                "audit record {seq} was modified: its stored hash does not match its content"
            ),
            ChainProblem::Deleted {
                after_seq,
                missing_from,
                missing_to,
            } => {
                let place = if after_seq <= 0 {
                    "at the start of the chain".to_owned()
                } else {
                    format!("after record {after_seq}")
                };
                if missing_from == missing_to {
                    write!(f, "audit record {missing_from} was deleted ({place})")
                } else {
                    write!(
                        f,
                        "audit records {missing_from} to {missing_to} were deleted ({place})"
                    )
                }
            }
            ChainProblem::Inserted { seq } => write!(
                f,
                "audit record {seq} was inserted: it does not belong to the chain \
                 (a later record links past it, its number repeats, or it lies beyond the chain head)"
            ),
            ChainProblem::Reordered { seq } => write!(
                f,
                "audit record {seq} is out of order: it does not follow the record before it \
                 but belongs elsewhere in the chain"
            ),
            ChainProblem::BrokenLink { seq } => write!(
                f,
                "audit record {seq} does not link to the record before it, nor to any other record \
                 (the record before it may have been rewritten, or records removed and renumbered)"
            ),
            ChainProblem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the chain head names record {head_seq} but the last record is {last_seq}: \
                 records at the end were deleted, appended or rewritten, or the head was altered"
            ),
        }
    }
}

impl std::error::Error for ChainProblem {}

/// A record whose link could not yet be classified: it links neither to its predecessor nor to
/// any earlier record. Later records decide between [`ChainProblem::Reordered`] and (at the
/// end) [`ChainProblem::BrokenLink`].
#[derive(Debug, Clone)]
struct Pending {
    seq: i64,
    /// The record's `prev_hash`, when it is a well-formed hash.
    wants: Option<[u8; 32]>,
    /// The hash of its predecessor.
    pred: [u8; 32],
}

/// Checks a chain record by record, in ascending `seq` order, in O(1) time per record and
/// 32 bytes (plus map overhead) of memory per record.
///
/// ```text
/// let mut v = ChainVerifier::new();
/// for r in records_in_seq_order { v.push(&r)?; }
/// let n = v.finish(head)?;
/// ```
///
/// It reports the *first* problem in `seq` order. Most are known when the record that shows
/// them is pushed, and `push` returns them at once (and again on every later call; callers may
/// stop at the first error, or still call `finish` for the definitive answer, which differs
/// only when records lie beyond the head). Two need more of the chain: a record that links to no known
/// record may turn out to be [`Reordered`](ChainProblem::Reordered) when a later record
/// explains it, and is otherwise a [`BrokenLink`](ChainProblem::BrokenLink) reported by
/// `finish`; records beyond the head's `seq` are [`Inserted`](ChainProblem::Inserted), which
/// only `finish` (given the head) can tell.
///
/// How each record is judged, first match wins (`prev` is the last accepted record; before
/// the first record it is seq 0 with hash [`GENESIS`]):
///
/// 1. `seq` below `prev`'s (not the first record) → `Reordered`; `seq` equal to `prev`'s, or a
///    first record with `seq` < 1 → `Inserted` if the record's own hash is valid, else
///    `Modified`.
/// 2. `prev_hash` is the hash of an accepted record `q` *before* `prev` (or [`GENESIS`]), and
///    the record is valid as stored or valid had its `seq` been `q + 1` → `Inserted` at
///    `q + 1`: this record is the original successor of `q`, and the records between were
///    slipped in (the later ones renumbered).
/// 3. `seq` jumps past `prev.seq + 1` → `Deleted` (the first record not at 1 → deleted from
///    the start).
/// 4. stored hash ≠ recomputed hash → `Modified`.
/// 5. `prev_hash` = `prev`'s hash → accepted. Otherwise the record is pending (see above).
///
/// What the usual tampering looks like:
///
/// * `UPDATE` of any column of record *k* → `Modified { k }` (seq, hash and prev_hash
///   included, since they are hashed or compared).
/// * `DELETE` of record *k* in the middle → `Deleted { k-1, k, k }`; of the first →
///   `Deleted { 0, 1, 1 }`; of the last → `HeadMismatch { n, n-1 }` from `finish`.
/// * Appending a well-sealed record *n+1* chained to the last one without moving the head →
///   `Inserted { n+1 }` from `finish` (it is `HeadMismatch` when the head's hash is not that of
///   the record at the head's `seq`).
/// * Inserting a record at *k* and renumbering the later ones by one → `Inserted { k }`
///   (whether or not the renumbered records were re-sealed, as long as their `prev_hash` was
///   left alone).
/// * Swapping records *k* and *k+1* (their `seq`, or all their other columns) →
///   `Modified { k }`, since `seq` is part of the hashed content.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    /// Hash of every accepted record (and [`GENESIS`]) → its seq.
    seen: HashMap<[u8; 32], i64>,
    /// The last accepted record: seq and hash.
    prev: (i64, [u8; 32]),
    count: u64,
    pending: Option<Pending>,
    problem: Option<ChainProblem>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    pub fn new() -> Self {
        let mut seen = HashMap::new();
        seen.insert([0u8; 32], 0);
        Self {
            seen,
            prev: (0, [0u8; 32]),
            count: 0,
            pending: None,
            problem: None,
        }
    }

    /// How many records have been accepted so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Checks the next record (in ascending `seq` order). `Err` is the first problem of the
    /// chain; once returned, every later call returns it again.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainProblem> {
        if let Some(p) = &self.problem {
            return Err(p.clone());
        }
        let stored = parse_hash(&r.hash);
        let link = parse_hash(&r.prev_hash);
        if let Some(pending) = self.pending.clone() {
            return match self.resolve(&pending, r, stored, link) {
                Some(p) => self.fail(p),
                None => Ok(()),
            };
        }

        let (prev_seq, prev_hash) = self.prev;
        let first = self.count == 0;
        let own = r.alg.digest(&canonical_bytes(r));
        let valid = stored == Some(own);
        let s = r.seq;

        // 1. Order and duplicates.
        if s < prev_seq && !first {
            return self.fail(ChainProblem::Reordered { seq: s });
        }
        if s == prev_seq || (first && s < 1) {
            return self.fail(if valid {
                ChainProblem::Inserted { seq: s }
            } else {
                ChainProblem::Modified { seq: s }
            });
        }
        // 2. Links past its predecessor to an earlier record.
        if let Some(q) = link.and_then(|l| self.seen.get(&l).copied())
            && q < prev_seq
            && (valid || stored == Some(digest_at(r, q.saturating_add(1))))
        {
            return self.fail(ChainProblem::Inserted {
                seq: q.saturating_add(1),
            });
        }
        // 3. Gaps.
        if s > prev_seq.saturating_add(1) {
            return self.fail(ChainProblem::Deleted {
                after_seq: prev_seq,
                missing_from: prev_seq.saturating_add(1),
                missing_to: s.saturating_sub(1),
            });
        }
        // 4. Its own hash.
        if !valid {
            return self.fail(ChainProblem::Modified { seq: s });
        }
        // 5. The link.
        if link == Some(prev_hash) {
            self.seen.entry(own).or_insert(s);
            self.prev = (s, own);
            self.count += 1;
        } else {
            self.pending = Some(Pending {
                seq: s,
                wants: link,
                pred: prev_hash,
            });
        }
        Ok(())
    }

    /// Whether record `r`, coming after the pending record, settles what is wrong.
    fn resolve(
        &self,
        pending: &Pending,
        r: &AuditRecord,
        stored: Option<[u8; 32]>,
        link: Option<[u8; 32]>,
    ) -> Option<ChainProblem> {
        // The pending record links to this later one: it was moved ahead of it.
        if pending.wants.is_some() && stored == pending.wants {
            return Some(ChainProblem::Reordered { seq: pending.seq });
        }
        let q = link.and_then(|l| self.seen.get(&l).copied())?;
        // This later record is the true successor of the pending record's predecessor.
        if link == Some(pending.pred) {
            return Some(ChainProblem::Reordered { seq: pending.seq });
        }
        // This later record links further back: the records after `q` were slipped in.
        let at = q.saturating_add(1);
        if at < pending.seq
            && (stored == Some(r.alg.digest(&canonical_bytes(r)))
                || stored == Some(digest_at(r, at)))
        {
            return Some(ChainProblem::Inserted { seq: at });
        }
        None
    }

    fn fail(&mut self, p: ChainProblem) -> Result<(), ChainProblem> {
        self.pending = None;
        self.problem = Some(p.clone());
        Err(p)
    }

    /// Ends the check, comparing the last record with the head row `(seq, hash)` the store
    /// keeps (`None` when it has none; a head of `(0, GENESIS)` matches an empty chain).
    /// Returns how many records were verified, or the first problem.
    ///
    /// Records beyond the head's `seq`, when the head's hash is that of the record at its
    /// `seq`, are [`Inserted`](ChainProblem::Inserted) — even if they also show other problems,
    /// since they come first. Any other disagreement is a
    /// [`HeadMismatch`](ChainProblem::HeadMismatch). A chain with records but no head row is
    /// a `HeadMismatch` with `head_seq` 0.
    pub fn finish(self, head: Option<(i64, String)>) -> Result<u64, ChainProblem> {
        let head = head.map(|(s, h)| (s, parse_hash(&h)));
        // The head names a record we accepted: records after it were appended past it.
        let beyond_head = |problem_seq: i64| -> Option<i64> {
            let (hs, hh) = head?;
            let known = hh.and_then(|h| self.seen.get(&h).copied()) == Some(hs);
            (known && problem_seq > hs).then_some(hs)
        };

        let problem = self.problem.clone().or_else(|| {
            self.pending
                .as_ref()
                .map(|p| ChainProblem::BrokenLink { seq: p.seq })
        });
        if let Some(p) = problem {
            return Err(match beyond_head(p.seq()) {
                Some(hs) => {
                    let first_beyond = match p {
                        // The records right after the head are missing; the first one
                        // present comes after the gap.
                        ChainProblem::Deleted {
                            after_seq,
                            missing_to,
                            ..
                        } if after_seq == hs => missing_to.saturating_add(1),
                        _ => hs.saturating_add(1),
                    };
                    ChainProblem::Inserted { seq: first_beyond }
                }
                None => p,
            });
        }

        let (last_seq, last_hash) = self.prev;
        match head {
            None if self.count == 0 => Ok(0),
            None => Err(ChainProblem::HeadMismatch {
                head_seq: 0,
                last_seq,
            }),
            Some((hs, hh)) if hs == last_seq && hh == Some(last_hash) => Ok(self.count),
            Some((hs, _)) => match beyond_head(last_seq) {
                Some(hs) => Err(ChainProblem::Inserted {
                    seq: hs.saturating_add(1),
                }),
                None => Err(ChainProblem::HeadMismatch {
                    head_seq: hs,
                    last_seq,
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn uuid(n: u128) -> Uuid {
        Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
    }

    /// A sealed chain of `n` records, 1..=n.
    fn chain(n: i64, alg: HashAlg) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev_hash = out
                .last()
                .map_or_else(|| GENESIS.to_owned(), |r| r.hash.clone());
            let mut r = AuditRecord {
                seq,
                id: uuid(seq as u128),
                at: datetime!(2026-03-01 08:00:00 UTC) + time::Duration::seconds(seq),
                actor_user_id: Some(uuid(1000 + seq as u128)),
                actor_name: format!("用户{seq}"),
                actor_institution_id: (seq % 2 == 0).then(|| uuid(2000)),
                action: "resident.read".into(),
                resource_type: "resident".into(),
                resource_id: Some(seq.to_string()),
                resident_id: Some(uuid(3000 + seq as u128)),
                purpose: Some("treatment".into()),
                outcome: Outcome::Allowed,
                client_addr: Some("10.0.0.1".into()),
                request_id: format!("req-{seq}"),
                detail: None,
                alg,
                prev_hash,
                hash: String::new(),
            };
            seal(&mut r);
            out.push(r);
        }
        out
    }

    fn head_of(c: &[AuditRecord]) -> Option<(i64, String)> {
        Some(
            c.last()
                .map_or((0, GENESIS.to_owned()), |r| (r.seq, r.hash.clone())),
        )
    }

    /// Pushes every record (carrying on after an error, which is sticky), then finishes.
    fn verify(c: &[AuditRecord], head: Option<(i64, String)>) -> Result<u64, ChainProblem> {
        let mut v = ChainVerifier::new();
        let mut first = None;
        for r in c {
            if let Err(p) = v.push(r) {
                first.get_or_insert(p);
            }
        }
        let result = v.finish(head);
        // `finish` never reports a later problem than the first `push` error.
        if let (Some(p), Err(q)) = (&first, &result) {
            assert!(q.seq() <= p.seq(), "{q:?} after {p:?}");
        }
        result
    }

    /// The record of the test vector.
    fn vector_record(alg: HashAlg) -> AuditRecord {
        AuditRecord {
            seq: 1,
            id: Uuid::from_u128(0x0195_5a3c_8e00_7abc_8def_0123_4567_89ab),
            at: datetime!(2026-03-01 16:30:15.123456789 +08:00),
            actor_user_id: Some(Uuid::from_u128(0x0195_5a3c_8e00_7000_8000_0000_0000_0001)),
            actor_name: "张医生".into(),
            actor_institution_id: None,
            action: "resident.read".into(),
            resource_type: "resident".into(),
            resource_id: Some(String::new()),
            resident_id: Some(Uuid::from_u128(0x0195_5a3c_8e00_7000_8000_0000_0000_0002)),
            purpose: Some("treatment".into()),
            outcome: Outcome::Allowed,
            client_addr: None,
            request_id: "req-1".into(),
            detail: None,
            alg,
            prev_hash: GENESIS.into(),
            hash: String::new(),
        }
    }

    /// The canonical bytes of the vector record, spelled out item by item.
    fn vector_bytes(alg: &str) -> Vec<u8> {
        fn some(out: &mut Vec<u8>, s: &str) {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        let mut b = Vec::new();
        some(&mut b, "ygt.audit.v1");
        some(&mut b, "1");
        some(&mut b, "01955a3c-8e00-7abc-8def-0123456789ab");
        some(&mut b, "2026-03-01T08:30:15.123456Z");
        some(&mut b, "01955a3c-8e00-7000-8000-000000000001");
        some(&mut b, "张医生");
        b.push(0);
        some(&mut b, "resident.read");
        some(&mut b, "resident");
        some(&mut b, "");
        some(&mut b, "01955a3c-8e00-7000-8000-000000000002");
        some(&mut b, "treatment");
        some(&mut b, "allowed");
        b.push(0);
        some(&mut b, "req-1");
        b.push(0);
        some(&mut b, alg);
        some(&mut b, GENESIS);
        b
    }

    #[test]
    fn canonical_form_is_pinned() {
        let r = vector_record(HashAlg::Sha256);
        assert_eq!(canonical_bytes(&r), vector_bytes("sha256"));
        // Checked independently: `sha256sum` over these bytes written by a separate script.
        assert_eq!(
            compute_hash(&r),
            "947ab8fee8fd0bb085515238ec99cc36668ffa75df6c4f912018f405d9fe1cb6"
        );
        let r = vector_record(HashAlg::Sm3);
        assert_eq!(canonical_bytes(&r), vector_bytes("sm3"));
        // Checked independently: `openssl dgst -sm3` over the same bytes.
        assert_eq!(
            compute_hash(&r),
            "cf349afd32a60af8f3a631b1c02eedafa7ed1a272a71d654ff9f91168fcb13ab"
        );
    }

    #[test]
    fn known_digests() {
        // FIPS 180-4 and GB/T 32905-2016 examples for "abc".
        assert_eq!(
            to_hex(&HashAlg::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            to_hex(&HashAlg::Sm3.digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn none_differs_from_empty_and_fields_do_not_run_together() {
        let mut a = vector_record(HashAlg::Sha256);
        let mut b = a.clone();
        b.resource_id = None;
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));
        a.action = "ab".into();
        a.resource_type = "c".into();
        b = a.clone();
        b.action = "a".into();
        b.resource_type = "bc".into();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));
    }

    #[test]
    fn time_is_utc_micros() {
        let t = datetime!(2026-03-01 16:30:15.123456789 +08:00);
        let u = truncate_to_micros(t);
        assert_eq!(u, datetime!(2026-03-01 08:30:15.123456 UTC));
        assert_eq!(u.offset(), UtcOffset::UTC);
        assert_eq!(rfc3339_micros(t), "2026-03-01T08:30:15.123456Z");
        assert_eq!(
            rfc3339_micros(datetime!(0987-01-02 03:04:05 UTC)),
            "0987-01-02T03:04:05.000000Z"
        );
        // Nanoseconds and offsets do not change the hash.
        let mut a = vector_record(HashAlg::Sha256);
        let h = compute_hash(&a);
        a.at = truncate_to_micros(a.at);
        assert_eq!(compute_hash(&a), h);
    }

    #[test]
    fn codes_parse() {
        assert_eq!(HashAlg::default(), HashAlg::Sha256);
        assert_eq!(HashAlg::parse("alg", "sm3").unwrap(), HashAlg::Sm3);
        assert_eq!(HashAlg::Sha256.code(), "sha256");
        assert!(HashAlg::parse("alg", "md5").is_err());
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse("outcome", o.code()).unwrap(), *o);
        }
        assert_eq!(Outcome::Denied.code(), "denied");
    }

    #[test]
    fn parse_hash_is_strict() {
        assert_eq!(parse_hash(GENESIS), Some([0; 32]));
        assert_eq!(parse_hash(&"A".repeat(64)), None);
        assert_eq!(parse_hash(&"0".repeat(63)), None);
        let h = to_hex(&[0xab; 32]);
        assert_eq!(parse_hash(&h), Some([0xab; 32]));
    }

    #[test]
    fn intact_chains_verify() {
        for alg in [HashAlg::Sha256, HashAlg::Sm3] {
            let c = chain(20, alg);
            assert_eq!(verify(&c, head_of(&c)), Ok(20));
        }
        assert_eq!(verify(&[], None), Ok(0));
        assert_eq!(verify(&[], Some((0, GENESIS.into()))), Ok(0));
        // Algorithms may change along the chain.
        let mut c = chain(3, HashAlg::Sha256);
        c[2].alg = HashAlg::Sm3;
        seal(&mut c[2]);
        assert_eq!(verify(&c, head_of(&c)), Ok(3));
    }

    #[test]
    fn updated_column_is_modified() {
        let c0 = chain(10, HashAlg::Sha256);
        let head = head_of(&c0);
        let mut c = c0.clone();
        c[4].actor_name = "someone else".into();
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Modified { seq: 5 })
        );
        let mut c = c0.clone();
        c[4].detail = Some(String::new());
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Modified { seq: 5 })
        );
        let mut c = c0.clone();
        c[4].at += time::Duration::microseconds(1);
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Modified { seq: 5 })
        );
        let mut c = c0.clone();
        c[4].hash = c[4].hash.to_uppercase();
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Modified { seq: 5 })
        );
        let mut c = c0.clone();
        c[4].prev_hash = c[2].hash.clone();
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Modified { seq: 5 })
        );
        let mut c = c0.clone();
        c[9].alg = HashAlg::Sm3;
        assert_eq!(verify(&c, head), Err(ChainProblem::Modified { seq: 10 }));
    }

    #[test]
    fn deleted_rows() {
        let c0 = chain(10, HashAlg::Sha256);
        let head = head_of(&c0);
        let mut c = c0.clone();
        c.remove(4);
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Deleted {
                after_seq: 4,
                missing_from: 5,
                missing_to: 5
            })
        );
        let mut c = c0.clone();
        c.drain(3..6);
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Deleted {
                after_seq: 3,
                missing_from: 4,
                missing_to: 6
            })
        );
        let mut c = c0.clone();
        c.remove(0);
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Deleted {
                after_seq: 0,
                missing_from: 1,
                missing_to: 1
            })
        );
        let mut c = c0.clone();
        c.pop();
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::HeadMismatch {
                head_seq: 10,
                last_seq: 9
            })
        );
        assert_eq!(
            verify(&[], head.clone()),
            Err(ChainProblem::HeadMismatch {
                head_seq: 10,
                last_seq: 0
            })
        );
        // The head row itself deleted.
        assert_eq!(
            verify(&c0, None),
            Err(ChainProblem::HeadMismatch {
                head_seq: 0,
                last_seq: 10
            })
        );
    }

    /// A well-sealed record chained to `prev`, with `seq`.
    fn forged(prev: &AuditRecord, seq: i64) -> AuditRecord {
        let mut x = prev.clone();
        x.seq = seq;
        x.id = uuid(9999);
        x.actor_name = "intruder".into();
        x.prev_hash = prev.hash.clone();
        seal(&mut x);
        x
    }

    #[test]
    fn appended_past_the_head() {
        let c0 = chain(5, HashAlg::Sha256);
        let head = head_of(&c0);
        let mut c = c0.clone();
        c.push(forged(&c0[4], 6));
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Inserted { seq: 6 })
        );
        // Appended rows that also have problems of their own: still inserted at 6.
        let mut x7 = forged(&c[5], 7);
        x7.detail = Some("edited".into());
        c.push(x7);
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Inserted { seq: 6 })
        );
        // The head's hash is not the last record's: a mismatch.
        let mut c = c0.clone();
        c[4].request_id = "other".into();
        seal(&mut c[4]);
        assert_eq!(
            verify(&c, head),
            Err(ChainProblem::HeadMismatch {
                head_seq: 5,
                last_seq: 5
            })
        );
    }

    #[test]
    fn inserted_in_the_middle_by_renumbering() {
        let c0 = chain(8, HashAlg::Sha256);
        // A forged record at 4, chained to 3; the originals 4..=8 shifted to 5..=9.
        let x = forged(&c0[2], 4);
        let mut shifted: Vec<AuditRecord> = c0[3..]
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.seq += 1;
                r
            })
            .collect();
        let mut c: Vec<AuditRecord> = c0[..3].to_vec();
        c.push(x.clone());
        c.append(&mut shifted.clone());
        let head = Some((9, c[8].hash.clone()));
        assert_eq!(
            verify(&c, head.clone()),
            Err(ChainProblem::Inserted { seq: 4 })
        );
        // Also when the shifted records were re-sealed (but their links left alone).
        for r in &mut shifted {
            seal(r);
        }
        let mut c: Vec<AuditRecord> = c0[..3].to_vec();
        c.push(x);
        c.append(&mut shifted);
        let head = Some((9, c[8].hash.clone()));
        assert_eq!(verify(&c, head), Err(ChainProblem::Inserted { seq: 4 }));
        // A forged first record, the originals renumbered.
        let x = {
            let mut x = c0[0].clone();
            x.actor_name = "intruder".into();
            seal(&mut x);
            x
        };
        let mut c = vec![x];
        c.extend(c0.iter().map(|r| {
            let mut r = r.clone();
            r.seq += 1;
            r
        }));
        assert_eq!(verify(&c, None), Err(ChainProblem::Inserted { seq: 1 }));
    }

    #[test]
    fn duplicate_seq_is_inserted() {
        let c0 = chain(5, HashAlg::Sha256);
        let mut c = c0.clone();
        c.insert(3, forged(&c0[2], 4));
        assert_eq!(
            verify(&c, head_of(&c0)),
            Err(ChainProblem::Inserted { seq: 4 })
        );
    }

    #[test]
    fn swapped_rows_are_modified_at_the_first() {
        let c0 = chain(6, HashAlg::Sha256);
        // Seq numbers swapped (then read in seq order).
        let mut c = c0.clone();
        c[2].seq = 4;
        c[3].seq = 3;
        c.sort_by_key(|r| r.seq);
        assert_eq!(
            verify(&c, head_of(&c0)),
            Err(ChainProblem::Modified { seq: 3 })
        );
        // Every other column swapped.
        let mut c = c0.clone();
        c.swap(2, 3);
        c[2].seq = 3;
        c[3].seq = 4;
        assert_eq!(
            verify(&c, head_of(&c0)),
            Err(ChainProblem::Modified { seq: 3 })
        );
    }

    #[test]
    fn reordered_and_resealed() {
        // Records 3 and 4 swapped, renumbered and re-sealed, links left alone.
        let c0 = chain(6, HashAlg::Sha256);
        let mut c = c0.clone();
        c.swap(2, 3);
        c[2].seq = 3;
        c[3].seq = 4;
        seal(&mut c[2]);
        seal(&mut c[3]);
        assert_eq!(
            verify(&c, head_of(&c0)),
            Err(ChainProblem::Reordered { seq: 3 })
        );
        // Records given out of order.
        let mut c = c0.clone();
        c.swap(2, 3);
        let mut v = ChainVerifier::new();
        let mut res = Ok(());
        for r in &c {
            res = v.push(r);
            if res.is_err() {
                break;
            }
        }
        assert_eq!(
            res,
            Err(ChainProblem::Deleted {
                after_seq: 2,
                missing_from: 3,
                missing_to: 3
            })
        );
        let mut v = ChainVerifier::new();
        v.push(&c0[0]).unwrap();
        v.push(&c0[1]).unwrap();
        assert_eq!(v.push(&c0[0]), Err(ChainProblem::Reordered { seq: 1 }));
        // Sticky.
        assert_eq!(v.push(&c0[2]), Err(ChainProblem::Reordered { seq: 1 }));
        assert_eq!(
            v.finish(head_of(&c0)),
            Err(ChainProblem::Reordered { seq: 1 })
        );
    }

    #[test]
    fn rewritten_and_resealed_row_breaks_the_next_link() {
        let c0 = chain(6, HashAlg::Sha256);
        let mut c = c0.clone();
        c[2].actor_name = "rewritten".into();
        seal(&mut c[2]);
        let mut v = ChainVerifier::new();
        for r in &c {
            v.push(r).unwrap(); // only the end can tell
        }
        assert_eq!(
            v.finish(head_of(&c0)),
            Err(ChainProblem::BrokenLink { seq: 4 })
        );
        // A garbage prev_hash, re-sealed.
        let mut c = c0.clone();
        c[3].prev_hash = "not a hash".into();
        seal(&mut c[3]);
        assert_eq!(
            verify(&c, head_of(&c0)),
            Err(ChainProblem::BrokenLink { seq: 4 })
        );
    }

    #[test]
    fn problem_seq_and_display() {
        let p = ChainProblem::Deleted {
            after_seq: 4,
            missing_from: 5,
            missing_to: 7,
        };
        assert_eq!(p.seq(), 5);
        assert!(p.to_string().contains("5 to 7"));
        assert!(p.to_string().contains("after record 4"));
        let p = ChainProblem::HeadMismatch {
            head_seq: 10,
            last_seq: 9,
        };
        assert_eq!(p.seq(), 10);
        assert!(p.to_string().contains("head names record 10"));
        assert_eq!(ChainProblem::Modified { seq: 3 }.seq(), 3);
        assert!(
            ChainProblem::Modified { seq: 3 }
                .to_string()
                .contains("record 3 was modified")
        );
        assert_eq!(ChainProblem::BrokenLink { seq: 2 }.code(), "broken_link");
    }
}
