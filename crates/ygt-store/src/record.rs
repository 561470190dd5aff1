//! The shared health record: clinical items, their versions, observations, the unmatched
//! queue and the catalogue of mutually recognised results.
//!
//! Times are stored in UTC so that text ordering (SQLite) and time ordering agree.

use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;
use ygt_domain::clinical::{ItemKind, ItemStatus};

use crate::pgcopy::copy_in;
use crate::{Result, Sql, Store, Tx};

/// A clinical item as stored (the timeline's row; `body` holds the structured content).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub kind: ItemKind,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub source_system: String,
    pub source_id: String,
    pub encounter_ref: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    #[sqlx(try_from = "String")]
    pub status: ItemStatus,
    pub code: Option<String>,
    pub code_system: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub department: Option<String>,
    pub doctor: Option<String>,
    pub abnormal: bool,
    pub body: String,
    pub patient_ref: String,
    pub record_id: Option<String>,
    pub version: i64,
    pub received_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub(crate) const ITEM_COLUMNS: &str = "SELECT c.id, c.person_id, c.kind, c.institution_id, i.name AS institution_name, \
    c.source_system, c.source_id, c.encounter_ref, c.occurred_at, c.ended_at, c.status, c.code, \
    c.code_system, c.title, c.summary, c.department, c.doctor, c.abnormal, c.body, c.patient_ref, \
    c.record_id, c.version, c.received_at, c.updated_at FROM clinical_items c JOIN institutions i ON i.id = c.institution_id";

/// The source identity of a clinical item: (sending institution, source system, source id,
/// kind). The same source id from another institution is another item.
pub type SourceKey<'a> = (Uuid, &'a str, &'a str, &'a str);

/// A new item or a new version of one.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub person_id: Option<Uuid>,
    pub kind: String,
    pub institution_id: Uuid,
    pub source_system: String,
    pub source_id: String,
    pub encounter_ref: Option<String>,
    pub occurred_at: OffsetDateTime,
    pub ended_at: Option<OffsetDateTime>,
    pub status: String,
    pub code: Option<String>,
    pub code_system: Option<String>,
    pub title: String,
    pub summary: Option<String>,
    pub department: Option<String>,
    pub doctor: Option<String>,
    pub abnormal: bool,
    pub body: String,
    pub patient_ref: String,
    pub record_id: Option<String>,
    pub observations: Vec<NewObservation>,
}

/// One value of a result or measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct NewObservation {
    pub code: String,
    pub name: String,
    pub value_num: Option<f64>,
    pub value_text: Option<String>,
    pub unit: Option<String>,
    pub ref_range: Option<String>,
    pub abnormal: Option<String>,
    pub effective_at: OffsetDateTime,
}

/// A stored observation (trend points, recognised results).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Observation {
    pub item_id: Uuid,
    pub code: String,
    pub name: String,
    pub value_num: Option<f64>,
    pub value_text: Option<String>,
    pub unit: Option<String>,
    pub ref_range: Option<String>,
    pub abnormal: Option<String>,
    pub effective_at: OffsetDateTime,
    pub institution_name: String,
}

/// An earlier version of a corrected item.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemVersion {
    pub version: i64,
    pub status: String,
    pub title: String,
    pub body: String,
    pub received_at: OffsetDateTime,
    pub replaced_at: OffsetDateTime,
}

/// What an item with a given source identity looks like now (for idempotent ingest).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemHead {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub version: i64,
    pub status: String,
    pub title: String,
    pub body: String,
    pub occurred_at: OffsetDateTime,
    pub received_at: OffsetDateTime,
}

/// A diagnosis code of a person with its first and last time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Problem {
    pub code: String,
    pub title: String,
    pub first_at: OffsetDateTime,
    pub last_at: OffsetDateTime,
    pub times: i64,
}

/// Filters of a person's timeline.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub kinds: Vec<String>,
    pub institution: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Keyset cursor: items strictly before this (occurred_at, id), newest first.
    pub before: Option<(OffsetDateTime, Uuid)>,
    /// The item's code (an ICD-10 code, a report's code), exactly.
    pub code: Option<String>,
}

/// An entry of the mutual-recognition catalogue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecognisedItem {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub valid_days: i64,
    pub active: bool,
}

pub fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC)
}

impl Tx {
    /// The current state of the item a source sent under this identity, if any.
    pub async fn item_by_source(&mut self, key: SourceKey<'_>) -> Result<Option<ItemHead>> {
        let (institution, source_system, source_id, kind) = key;
        self.fetch_optional(
            Sql::new(
                "SELECT id, person_id, version, status, title, body, occurred_at, received_at FROM clinical_items \
                 WHERE institution_id = ? AND source_system = ? AND source_id = ? AND kind = ?",
            )
            .arg(institution)
            .arg(source_system)
            .arg(source_id)
            .arg(kind),
        )
        .await
    }

    /// Stores a new item and its observations.
    pub async fn insert_item(&mut self, id: Uuid, it: &NewItem, now: OffsetDateTime) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO clinical_items (id, person_id, kind, institution_id, source_system, source_id, \
             encounter_ref, occurred_at, ended_at, status, code, code_system, title, summary, department, \
             doctor, abnormal, body, patient_ref, record_id, version, received_at, updated_at) VALUES (",
        );
        q.bind(id).push(", ");
        push_item_values(&mut q, it.person_id, it);
        q.push(", 1, ")
            .bind(utc(now))
            .push(", ")
            .bind(utc(now))
            .push(")");
        self.execute(q).await?;
        self.insert_observations(id, it.person_id, &it.observations)
            .await
    }

    /// Replaces an item by a corrected version; the current version goes to the history.
    pub async fn replace_item(
        &mut self,
        head: &ItemHead,
        it: &NewItem,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO clinical_item_versions (item_id, version, status, title, body, received_at, replaced_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(head.id)
            .arg(head.version)
            .arg(head.status.as_str())
            .arg(head.title.as_str())
            .arg(head.body.as_str())
            .arg(utc(head.received_at))
            .arg(utc(now)),
        )
        .await?;
        let mut q = Sql::new("UPDATE clinical_items SET person_id = ");
        q.bind(it.person_id)
            .push(", encounter_ref = ")
            .bind(it.encounter_ref.as_deref())
            .push(", occurred_at = ")
            .bind(utc(it.occurred_at))
            .push(", ended_at = ")
            .bind(it.ended_at.map(utc))
            .push(", status = ")
            .bind(it.status.as_str())
            .push(", code = ")
            .bind(it.code.as_deref())
            .push(", code_system = ")
            .bind(it.code_system.as_deref())
            .push(", title = ")
            .bind(it.title.as_str())
            .push(", summary = ")
            .bind(it.summary.as_deref())
            .push(", department = ")
            .bind(it.department.as_deref())
            .push(", doctor = ")
            .bind(it.doctor.as_deref())
            .push(", abnormal = ")
            .bind(it.abnormal)
            .push(", body = ")
            .bind(it.body.as_str())
            .push(", patient_ref = ")
            .bind(it.patient_ref.as_str())
            .push(", record_id = ")
            .bind(it.record_id.as_deref())
            .push(", version = version + 1, received_at = ")
            .bind(utc(now))
            .push(", updated_at = ")
            .bind(utc(now))
            .push(" WHERE id = ")
            .bind(head.id);
        self.execute(q).await?;
        self.execute(Sql::new("DELETE FROM observations WHERE item_id = ?").arg(head.id))
            .await?;
        self.insert_observations(head.id, it.person_id, &it.observations)
            .await
    }

    async fn insert_observations(
        &mut self,
        item: Uuid,
        person: Option<Uuid>,
        obs: &[NewObservation],
    ) -> Result<()> {
        let rows: Vec<(Uuid, Option<Uuid>, i64, &NewObservation)> = obs
            .iter()
            .enumerate()
            .map(|(j, o)| (item, person, i64::try_from(j).unwrap_or(i64::MAX), o))
            .collect();
        self.insert_observation_rows(&rows).await
    }

    /// Inserts observations: (item, person, sequence within the item, value).
    async fn insert_observation_rows(
        &mut self,
        obs: &[(Uuid, Option<Uuid>, i64, &NewObservation)],
    ) -> Result<()> {
        for chunk in obs.chunks(400) {
            let mut q = Sql::new(
                "INSERT INTO observations (item_id, seq, person_id, code, name, value_num, value_text, unit, \
                 ref_range, abnormal, effective_at) VALUES ",
            );
            for (j, (item, person, seq, o)) in chunk.iter().enumerate() {
                if j > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .bind(*item)
                    .push(", ")
                    .bind(*seq)
                    .push(", ")
                    .bind(*person)
                    .push(", ")
                    .bind(o.code.as_str())
                    .push(", ")
                    .bind(o.name.as_str())
                    .push(", ")
                    .bind(o.value_num)
                    .push(", ")
                    .bind(o.value_text.as_deref())
                    .push(", ")
                    .bind(o.unit.as_deref())
                    .push(", ")
                    .bind(o.ref_range.as_deref())
                    .push(", ")
                    .bind(o.abnormal.as_deref())
                    .push(", ")
                    .bind(utc(o.effective_at))
                    .push(")");
            }
            self.execute(q).await?;
        }
        Ok(())
    }

    /// Which of these source identities (institution, system, id, kind) are already stored.
    pub async fn existing_sources(
        &mut self,
        keys: &[SourceKey<'_>],
    ) -> Result<std::collections::HashSet<(Uuid, String, String, String)>> {
        let mut out = std::collections::HashSet::new();
        // By institution and source system, so that the unique index (institution_id,
        // source_system, source_id, kind) serves.
        let mut by_system: std::collections::BTreeMap<(Uuid, &str), Vec<&str>> = Default::default();
        for k in keys {
            by_system.entry((k.0, k.1)).or_default().push(k.2);
        }
        if let Tx::Postgres(t, _) = self {
            // The ids as one array parameter: one statement text whatever their number, one
            // cached plan, in which the unique index serves every condition once the table
            // has statistics (`copy_items` sees to that for a new database).
            for ((institution, system), mut ids) in by_system {
                ids.sort_unstable();
                ids.dedup();
                for chunk in ids.chunks(1000) {
                    crate::counted();
                    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
                        "SELECT institution_id, source_system, source_id, kind FROM clinical_items \
                         WHERE institution_id = $1 AND source_system = $2 AND source_id = ANY($3)",
                    )
                    .bind(institution)
                    .bind(system)
                    .bind(chunk)
                    .fetch_all(&mut **t)
                    .await?;
                    out.extend(rows);
                }
            }
            return Ok(out);
        }
        for ((institution, system), ids) in by_system {
            for chunk in ids.chunks(500) {
                let mut q = Sql::new(
                    "SELECT institution_id, source_system, source_id, kind FROM clinical_items \
                     WHERE institution_id = ",
                );
                q.bind(institution)
                    .push(" AND source_system = ")
                    .bind(system)
                    .push(" AND source_id IN ")
                    .bind_list(chunk.iter().copied());
                let rows: Vec<(Uuid, String, String, String)> = self.fetch_all(q).await?;
                out.extend(rows);
            }
        }
        Ok(out)
    }

    /// Inserts many new items and their observations (bulk import, batches of new items): (id, person, item), the
    /// person stored in place of `item.person_id`.
    pub async fn bulk_insert_items(
        &mut self,
        items: &[(Uuid, Option<Uuid>, &NewItem)],
        now: OffsetDateTime,
    ) -> Result<()> {
        // COPY on PostgreSQL for imports; a small batch (an HL7 group commit) as INSERTs:
        // a COPY ends with a short write that waits for the server's delayed
        // acknowledgement (about 40 ms here), which dwarfs a few rows.
        if let Tx::Postgres(t, _) = self
            && items.len() >= COPY_MIN_ITEMS
        {
            return copy_items(t, items, now).await;
        }
        const ROWS: usize = 200;
        for chunk in items.chunks(ROWS) {
            let mut q = Sql::new(
                "INSERT INTO clinical_items (id, person_id, kind, institution_id, source_system, source_id, \
                 encounter_ref, occurred_at, ended_at, status, code, code_system, title, summary, department, \
                 doctor, abnormal, body, patient_ref, record_id, version, received_at, updated_at) VALUES ",
            );
            for (i, (id, person, it)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(").bind(*id).push(", ");
                push_item_values(&mut q, *person, it);
                q.push(", 1, ")
                    .bind(utc(now))
                    .push(", ")
                    .bind(utc(now))
                    .push(")");
            }
            self.execute(q).await?;
        }
        let mut obs: Vec<(Uuid, Option<Uuid>, i64, &NewObservation)> = Vec::new();
        for (id, person, it) in items {
            for (j, o) in it.observations.iter().enumerate() {
                obs.push((*id, *person, i64::try_from(j).unwrap_or(i64::MAX), o));
            }
        }
        self.insert_observation_rows(&obs).await
    }

    /// The active person a person id stands for now (following merges), if any.
    pub async fn current_person(&mut self, id: Uuid) -> Result<Option<Uuid>> {
        let mut id = id;
        for _ in 0..16 {
            let row: Option<(Option<Uuid>, bool)> = self
                .fetch_optional(
                    Sql::new("SELECT merged_into, active FROM persons WHERE id = ?").arg(id),
                )
                .await?;
            match row {
                None => return Ok(None),
                Some((Some(next), _)) => id = next,
                Some((None, active)) => return Ok(active.then_some(id)),
            }
        }
        Ok(None)
    }

    /// The person of an institution's own patient number.
    pub async fn person_by_record(
        &mut self,
        institution: Uuid,
        record_id: &str,
    ) -> Result<Option<Uuid>> {
        let rows: Vec<(Uuid,)> = self
            .fetch_all(
                Sql::new(
                    "SELECT DISTINCT person_id FROM registrations WHERE institution_id = ? AND record_id = ?",
                )
                .arg(institution)
                .arg(record_id),
            )
            .await?;
        Ok(match rows.as_slice() {
            [(p,)] => Some(*p),
            _ => None,
        })
    }

    /// Active persons whose registrations carry a valid ID number.
    pub async fn persons_by_id_number(&mut self, id_number: &str) -> Result<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = self
            .fetch_all(
                Sql::new(
                    "SELECT DISTINCT r.person_id FROM registrations r JOIN persons p ON p.id = r.person_id \
                     WHERE r.id_number = ? AND p.active = TRUE",
                )
                .arg(id_number),
            )
            .await?;
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }

    /// [`Tx::person_by_record`] for many patient numbers at once: the answers in the order
    /// of `keys` (institution, record id).
    pub async fn person_by_records(&mut self, keys: &[(Uuid, &str)]) -> Result<Vec<Option<Uuid>>> {
        let Tx::Postgres(t, _) = self else {
            // In process: a statement per number costs next to nothing.
            let mut out = Vec::with_capacity(keys.len());
            for (inst, rec) in keys {
                out.push(self.person_by_record(*inst, rec).await?);
            }
            return Ok(out);
        };
        let mut found = vec![Vec::new(); keys.len()];
        for (c, chunk) in keys.chunks(LOOKUPS).enumerate() {
            let insts: Vec<Uuid> = chunk.iter().map(|k| k.0).collect();
            let recs: Vec<&str> = chunk.iter().map(|k| k.1).collect();
            // LATERAL: one index lookup per number, whatever the planner makes of the list.
            crate::counted();
            let rows: Vec<(i64, Uuid)> = sqlx::query_as(
                "SELECT k.n, r.person_id FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS k (i, rec, n) \
                 CROSS JOIN LATERAL (SELECT DISTINCT person_id FROM registrations \
                 WHERE institution_id = k.i AND record_id = k.rec) r",
            )
            .bind(&insts)
            .bind(&recs)
            .fetch_all(&mut **t)
            .await?;
            collect_lookups(&mut found, c, rows);
        }
        Ok(found.into_iter().map(only_one).collect())
    }

    /// [`Tx::persons_by_id_number`] for many ID numbers at once: the person when exactly one
    /// active person has the number, in the order of `numbers`.
    pub async fn person_by_id_numbers(&mut self, numbers: &[&str]) -> Result<Vec<Option<Uuid>>> {
        let Tx::Postgres(t, _) = self else {
            let mut out = Vec::with_capacity(numbers.len());
            for n in numbers {
                out.push(only_one(self.persons_by_id_number(n).await?));
            }
            return Ok(out);
        };
        let mut found = vec![Vec::new(); numbers.len()];
        for (c, chunk) in numbers.chunks(LOOKUPS).enumerate() {
            crate::counted();
            let rows: Vec<(i64, Uuid)> = sqlx::query_as(
                "SELECT k.n, x.person_id FROM unnest($1::text[]) WITH ORDINALITY AS k (idn, n) \
                 CROSS JOIN LATERAL (SELECT DISTINCT r.person_id FROM registrations r \
                 JOIN persons p ON p.id = r.person_id WHERE r.id_number = k.idn AND p.active = TRUE) x",
            )
            .bind(chunk)
            .fetch_all(&mut **t)
            .await?;
            collect_lookups(&mut found, c, rows);
        }
        Ok(found.into_iter().map(only_one).collect())
    }

    /// Links an unmatched item (and its observations) to a person.
    pub async fn assign_item(
        &mut self,
        item: Uuid,
        person: Uuid,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE clinical_items SET person_id = ?, updated_at = ? WHERE id = ? AND person_id IS NULL",
                )
                .arg(person)
                .arg(utc(now))
                .arg(item),
            )
            .await?;
        self.execute(
            Sql::new("UPDATE observations SET person_id = ? WHERE item_id = ?")
                .arg(person)
                .arg(item),
        )
        .await?;
        Ok(n)
    }

    /// Moves the items one institution sent under one patient number from one person to
    /// another (a registration moved between persons).
    pub async fn move_registration_items(
        &mut self,
        from: Uuid,
        to: Uuid,
        institution: Uuid,
        record_id: &str,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "UPDATE observations SET person_id = ? WHERE person_id = ? AND item_id IN \
                 (SELECT id FROM clinical_items WHERE person_id = ? AND institution_id = ? AND record_id = ?)",
            )
            .arg(to)
            .arg(from)
            .arg(from)
            .arg(institution)
            .arg(record_id),
        )
        .await?;
        self.execute(
            Sql::new(
                "UPDATE clinical_items SET person_id = ? WHERE person_id = ? AND institution_id = ? AND record_id = ?",
            )
            .arg(to)
            .arg(from)
            .arg(institution)
            .arg(record_id),
        )
        .await?;
        Ok(())
    }

    /// Moves every item of one person to another (after a merge of persons).
    pub async fn move_items(&mut self, from: Uuid, to: Uuid) -> Result<()> {
        self.execute(
            Sql::new("UPDATE clinical_items SET person_id = ? WHERE person_id = ?")
                .arg(to)
                .arg(from),
        )
        .await?;
        self.execute(
            Sql::new("UPDATE observations SET person_id = ? WHERE person_id = ?")
                .arg(to)
                .arg(from),
        )
        .await?;
        Ok(())
    }

    pub async fn upsert_recognised(
        &mut self,
        r: &RecognisedItem,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO recognised_items (code, name, kind, valid_days, active, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 valid_days = excluded.valid_days, active = excluded.active, updated_at = excluded.updated_at",
            )
            .arg(r.code.as_str())
            .arg(r.name.as_str())
            .arg(r.kind.as_str())
            .arg(r.valid_days)
            .arg(r.active)
            .arg(utc(now)),
        )
        .await?;
        Ok(())
    }
}

/// [`Tx::bulk_insert_items`] on PostgreSQL: one binary `COPY` per table, the same rows and
/// values as the multi-row `INSERT`s.
/// From this many items PostgreSQL takes them by COPY ([`Tx::bulk_insert_items`]).
const COPY_MIN_ITEMS: usize = 1_000;

async fn copy_items(
    conn: &mut sqlx::PgConnection,
    items: &[(Uuid, Option<Uuid>, &NewItem)],
    now: OffsetDateTime,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let now = utc(now);
    // Whether the table has statistics yet (-1: never analysed; 0: analysed while empty).
    crate::counted();
    let (tuples,): (f32,) =
        sqlx::query_as("SELECT reltuples FROM pg_class WHERE oid = 'clinical_items'::regclass")
            .fetch_one(&mut *conn)
            .await?;
    copy_in(
        conn,
        "COPY clinical_items (id, person_id, kind, institution_id, source_system, source_id, \
         encounter_ref, occurred_at, ended_at, status, code, code_system, title, summary, department, \
         doctor, abnormal, body, patient_ref, record_id, version, received_at, updated_at) \
         FROM STDIN WITH (FORMAT binary)",
        items,
        |r, (id, person, it)| {
            r.row(23)
                .uuid(*id)?
                .opt_uuid(*person)?
                .text(&it.kind)?
                .uuid(it.institution_id)?
                .text(&it.source_system)?
                .text(&it.source_id)?
                .opt_text(it.encounter_ref.as_deref())?
                .ts(it.occurred_at)?
                .opt_ts(it.ended_at)?
                .text(&it.status)?
                .opt_text(it.code.as_deref())?
                .opt_text(it.code_system.as_deref())?
                .text(&it.title)?
                .opt_text(it.summary.as_deref())?
                .opt_text(it.department.as_deref())?
                .opt_text(it.doctor.as_deref())?
                .bool(it.abnormal)?
                .text(&it.body)?
                .text(&it.patient_ref)?
                .opt_text(it.record_id.as_deref())?
                .i64(1)?
                .ts(now)?
                .ts(now)?;
            Ok(())
        },
    )
    .await?;
    if tuples < 1.0 {
        // The first rows of a new database: analyse the table now, in this transaction
        // (which sees its own rows), rather than at the statistics keeper's next round.
        // Without statistics the planner takes an id list to match most of the table, and
        // a plan cached in that belief (the source lookups of the next chunks of an import)
        // filters every row of a source system by the list: seconds per chunk, growing.
        crate::counted();
        sqlx::query("ANALYZE clinical_items")
            .execute(&mut *conn)
            .await?;
    }
    if items.iter().all(|(_, _, it)| it.observations.is_empty()) {
        return Ok(());
    }
    // Collected first: a lazy iterator held across the COPY's awaits would keep callers'
    // futures from being proven `Send` (rustc #96865).
    let mut obs: Vec<(Uuid, Option<Uuid>, usize, &NewObservation)> = Vec::new();
    for (id, person, it) in items {
        for (j, o) in it.observations.iter().enumerate() {
            obs.push((*id, *person, j, o));
        }
    }
    copy_in(
        conn,
        "COPY observations (item_id, seq, person_id, code, name, value_num, value_text, unit, \
         ref_range, abnormal, effective_at) FROM STDIN WITH (FORMAT binary)",
        obs,
        |r, (id, person, seq, o)| {
            r.row(11)
                .uuid(id)?
                .i64(i64::try_from(seq).unwrap_or(i64::MAX))?
                .opt_uuid(person)?
                .text(&o.code)?
                .text(&o.name)?
                .opt_f64(o.value_num)?
                .opt_text(o.value_text.as_deref())?
                .opt_text(o.unit.as_deref())?
                .opt_text(o.ref_range.as_deref())?
                .opt_text(o.abnormal.as_deref())?
                .ts(o.effective_at)?;
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// Keys per statement of the batched person lookups.
const LOOKUPS: usize = 1000;

/// Files the persons a batched lookup found (1-based position within chunk `chunk`) under
/// their key's position.
fn collect_lookups(found: &mut [Vec<Uuid>], chunk: usize, rows: Vec<(i64, Uuid)>) {
    for (n, person) in rows {
        let at = usize::try_from(n - 1)
            .ok()
            .map(|n| chunk * LOOKUPS + n)
            .and_then(|i| found.get_mut(i));
        if let Some(persons) = at {
            persons.push(person);
        }
    }
}

/// The person when exactly one was found.
fn only_one(persons: Vec<Uuid>) -> Option<Uuid> {
    match persons.as_slice() {
        [p] => Some(*p),
        _ => None,
    }
}

fn push_item_values(q: &mut Sql, person: Option<Uuid>, it: &NewItem) {
    q.bind(person)
        .push(", ")
        .bind(it.kind.as_str())
        .push(", ")
        .bind(it.institution_id)
        .push(", ")
        .bind(it.source_system.as_str())
        .push(", ")
        .bind(it.source_id.as_str())
        .push(", ")
        .bind(it.encounter_ref.as_deref())
        .push(", ")
        .bind(utc(it.occurred_at))
        .push(", ")
        .bind(it.ended_at.map(utc))
        .push(", ")
        .bind(it.status.as_str())
        .push(", ")
        .bind(it.code.as_deref())
        .push(", ")
        .bind(it.code_system.as_deref())
        .push(", ")
        .bind(it.title.as_str())
        .push(", ")
        .bind(it.summary.as_deref())
        .push(", ")
        .bind(it.department.as_deref())
        .push(", ")
        .bind(it.doctor.as_deref())
        .push(", ")
        .bind(it.abnormal)
        .push(", ")
        .bind(it.body.as_str())
        .push(", ")
        .bind(it.patient_ref.as_str())
        .push(", ")
        .bind(it.record_id.as_deref());
}

impl Store {
    /// A person's items, newest first, filtered, at most `limit` (keyset paging).
    pub async fn timeline(
        &self,
        person: Uuid,
        f: &TimelineFilter,
        limit: i64,
    ) -> Result<Vec<Item>> {
        let mut q = Sql::new(ITEM_COLUMNS);
        q.push(" WHERE c.person_id = ").bind(person);
        if !f.kinds.is_empty() {
            q.push(" AND c.kind IN ")
                .bind_list(f.kinds.iter().map(String::as_str));
        }
        if let Some(i) = f.institution {
            q.push(" AND c.institution_id = ").bind(i);
        }
        if let Some(t) = f.from {
            q.push(" AND c.occurred_at >= ").bind(utc(t));
        }
        if let Some(t) = f.to {
            q.push(" AND c.occurred_at < ").bind(utc(t));
        }
        if let Some(code) = &f.code {
            q.push(" AND c.code = ").bind(code.as_str());
        }
        if let Some((t, id)) = f.before {
            q.push(" AND (c.occurred_at < ")
                .bind(utc(t))
                .push(" OR (c.occurred_at = ")
                .bind(utc(t))
                .push(" AND c.id < ")
                .bind(id)
                .push("))");
        }
        q.push(" ORDER BY c.occurred_at DESC, c.id DESC LIMIT ")
            .bind(limit);
        self.fetch_all(q).await
    }

    /// Number of a person's items per kind.
    pub async fn item_counts(&self, person: Uuid) -> Result<Vec<(String, i64)>> {
        self.fetch_all(
            Sql::new(
                "SELECT kind, COUNT(*) FROM clinical_items WHERE person_id = ? GROUP BY kind ORDER BY kind",
            )
            .arg(person),
        )
        .await
    }

    pub async fn item(&self, id: Uuid) -> Result<Option<Item>> {
        self.fetch_optional(Sql::new(&format!("{ITEM_COLUMNS} WHERE c.id = ?")).arg(id))
            .await
    }

    pub async fn item_versions(&self, id: Uuid) -> Result<Vec<ItemVersion>> {
        self.fetch_all(
            Sql::new(
                "SELECT version, status, title, body, received_at, replaced_at FROM clinical_item_versions \
                 WHERE item_id = ? ORDER BY version DESC",
            )
            .arg(id),
        )
        .await
    }

    pub async fn item_observations(&self, id: Uuid) -> Result<Vec<Observation>> {
        self.fetch_all(
            Sql::new(
                "SELECT o.item_id, o.code, o.name, o.value_num, o.value_text, o.unit, o.ref_range, o.abnormal, \
                 o.effective_at, i.name AS institution_name FROM observations o \
                 JOIN clinical_items c ON c.id = o.item_id JOIN institutions i ON i.id = c.institution_id \
                 WHERE o.item_id = ? ORDER BY o.seq",
            )
            .arg(id),
        )
        .await
    }

    /// The most recent values (at most `per_code` of each) of the given codes for a person
    /// since a time, oldest first (trend charts: a chart needs no more points than it has
    /// pixels, and a resident with years of results must not slow the page).
    pub async fn series(
        &self,
        person: Uuid,
        codes: &[&str],
        since: OffsetDateTime,
        per_code: i64,
    ) -> Result<Vec<Observation>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for every code: the newest `per_code` of each, by a window.
        let mut q = Sql::new(
            "SELECT * FROM (SELECT o.item_id, o.code, o.name, o.value_num, o.value_text, o.unit, \
             o.ref_range, o.abnormal, o.effective_at, i.name AS institution_name, \
             ROW_NUMBER() OVER (PARTITION BY o.code ORDER BY o.effective_at DESC) AS nth \
             FROM observations o \
             JOIN clinical_items c ON c.id = o.item_id JOIN institutions i ON i.id = c.institution_id \
             WHERE o.person_id = ",
        );
        q.bind(person)
            .push(" AND o.code IN ")
            .bind_list(codes.iter().copied())
            .push(" AND o.effective_at >= ")
            .bind(utc(since))
            .push(" AND c.status <> 'entered_in_error') s WHERE nth <= ")
            .bind(per_code);
        let mut out: Vec<Observation> = self.fetch_all(q).await?;
        out.sort_by_key(|o| o.effective_at);
        Ok(out)
    }

    /// A person's diagnoses grouped by code, most recent first.
    pub async fn problems(&self, person: Uuid) -> Result<Vec<Problem>> {
        self.fetch_all(
            Sql::new(
                "SELECT code, MAX(title) AS title, MIN(occurred_at) AS first_at, MAX(occurred_at) AS last_at, \
                 COUNT(*) AS times FROM clinical_items \
                 WHERE person_id = ? AND kind = 'diagnosis' AND status <> 'entered_in_error' AND code IS NOT NULL \
                 GROUP BY code ORDER BY MAX(occurred_at) DESC",
            )
            .arg(person),
        )
        .await
    }

    /// A person's items of one kind since a time, newest first (allergies, current medication).
    pub async fn items_of_kind(
        &self,
        person: Uuid,
        kind: &str,
        since: Option<OffsetDateTime>,
        limit: i64,
    ) -> Result<Vec<Item>> {
        let mut q = Sql::new(ITEM_COLUMNS);
        q.push(" WHERE c.person_id = ")
            .bind(person)
            .push(" AND c.kind = ")
            .bind(kind)
            .push(" AND c.status <> 'entered_in_error'");
        if let Some(t) = since {
            q.push(" AND c.occurred_at >= ").bind(utc(t));
        }
        q.push(" ORDER BY c.occurred_at DESC, c.id DESC LIMIT ")
            .bind(limit);
        self.fetch_all(q).await
    }

    /// Items waiting for a person (the unmatched queue), oldest first.
    pub async fn unmatched_items(
        &self,
        institutions: Option<&[Uuid]>,
        limit: i64,
    ) -> Result<Vec<Item>> {
        let mut q = Sql::new(ITEM_COLUMNS);
        q.push(" WHERE c.person_id IS NULL");
        if let Some(list) = institutions {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" AND c.institution_id IN ")
                .bind_list(list.iter().copied());
        }
        q.push(" ORDER BY c.received_at, c.id LIMIT ").bind(limit);
        self.fetch_all(q).await
    }

    pub async fn count_unmatched(&self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new(
                "SELECT COUNT(*) FROM clinical_items WHERE person_id IS NULL",
            ))
            .await?;
        Ok(n)
    }

    pub async fn recognised_catalogue(&self) -> Result<Vec<RecognisedItem>> {
        self.fetch_all(Sql::new(
            "SELECT code, name, kind, valid_days, active FROM recognised_items ORDER BY kind, code",
        ))
        .await
    }

    /// The latest observation of each code for a person since the given time per code.
    pub async fn latest_observations(
        &self,
        person: Uuid,
        codes: &[(String, OffsetDateTime)],
    ) -> Result<Vec<Observation>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        // One statement: the newest observation of each code within its window.
        let mut q = Sql::new(
            "SELECT * FROM (SELECT o.item_id, o.code, o.name, o.value_num, o.value_text, o.unit, \
             o.ref_range, o.abnormal, o.effective_at, i.name AS institution_name, \
             ROW_NUMBER() OVER (PARTITION BY o.code ORDER BY o.effective_at DESC) AS nth \
             FROM observations o \
             JOIN clinical_items c ON c.id = o.item_id JOIN institutions i ON i.id = c.institution_id \
             WHERE o.person_id = ",
        );
        q.bind(person).push(" AND (1 = 0");
        for (code, since) in codes {
            q.push(" OR (o.code = ")
                .bind(code.as_str())
                .push(" AND o.effective_at >= ")
                .bind(utc(*since))
                .push(")");
        }
        q.push(") AND c.status <> 'entered_in_error') s WHERE nth = 1");
        self.fetch_all(q).await
    }

    /// The latest item of each code within its window (`(code, since)`), in one statement
    /// (reports recognised as a whole: imaging, ECG).
    pub async fn latest_items_with_codes(
        &self,
        person: Uuid,
        codes: &[(String, OffsetDateTime)],
    ) -> Result<Vec<Item>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let inner = ITEM_COLUMNS.replacen(
            "SELECT ",
            "SELECT ROW_NUMBER() OVER (PARTITION BY c.code ORDER BY c.occurred_at DESC) AS nth, ",
            1,
        );
        let mut q = Sql::new(&format!("SELECT * FROM ({inner}"));
        q.push(" WHERE c.person_id = ")
            .bind(person)
            .push(" AND (1 = 0");
        for (code, since) in codes {
            q.push(" OR (c.code = ")
                .bind(code.as_str())
                .push(" AND c.occurred_at >= ")
                .bind(utc(*since))
                .push(")");
        }
        q.push(") AND c.status <> 'entered_in_error') s WHERE nth = 1");
        self.fetch_all(q).await
    }
}

/// Baselines for the benchmarks: what the database itself does, without ygt around it.
impl Store {
    /// Inserts `n` rows shaped like clinical items (same column count and types, the same
    /// 200-row statements) into a scratch table with only a primary key, in one transaction,
    /// then drops it: the raw batched-insert rate of this database on this machine.
    pub async fn raw_insert_baseline(&self, n: usize) -> Result<std::time::Duration> {
        let ddl = match self.backend() {
            crate::Backend::Sqlite => {
                "CREATE TABLE bench_raw_items (id BLOB PRIMARY KEY, person_id BLOB, kind TEXT, institution_id BLOB, \
                 source_system TEXT, source_id TEXT, occurred_at TEXT, status TEXT, code TEXT, title TEXT, \
                 summary TEXT, abnormal INTEGER, body TEXT, patient_ref TEXT, received_at TEXT)"
            }
            crate::Backend::Postgres => {
                "CREATE TABLE bench_raw_items (id UUID PRIMARY KEY, person_id UUID, kind TEXT, institution_id UUID, \
                 source_system TEXT, source_id TEXT, occurred_at TIMESTAMPTZ, status TEXT, code TEXT, title TEXT, \
                 summary TEXT, abnormal BOOLEAN, body TEXT, patient_ref TEXT, received_at TIMESTAMPTZ)"
            }
        };
        let mut tx = self.begin().await?;
        tx.execute(Sql::new("DROP TABLE IF EXISTS bench_raw_items"))
            .await?;
        tx.execute(Sql::new(ddl)).await?;
        tx.commit().await?;
        let now = utc(OffsetDateTime::now_utc());
        let person = Uuid::now_v7();
        let inst = Uuid::now_v7();
        let body = r#"{"results":[{"code":"GLU","name":"空腹血糖","value":"6.2","unit":"mmol/L","ref_range":"3.9-6.1","abnormal":"H"}]}"#;
        let started = std::time::Instant::now();
        let mut tx = self.begin().await?;
        let mut done = 0;
        while done < n {
            let rows = (n - done).min(200);
            let mut q = Sql::new(
                "INSERT INTO bench_raw_items (id, person_id, kind, institution_id, source_system, source_id, \
                 occurred_at, status, code, title, summary, abnormal, body, patient_ref, received_at) VALUES ",
            );
            for i in 0..rows {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .bind(Uuid::now_v7())
                    .push(", ")
                    .bind(person)
                    .push(", 'lab_report', ")
                    .bind(inst)
                    .push(", 'LIS', ")
                    .bind(format!("RAW-{}", done + i))
                    .push(", ")
                    .bind(now)
                    .push(", 'final', 'GLU', '空腹血糖', '空腹血糖 6.2mmol/L↑', TRUE, ")
                    .bind(body)
                    .push(", '{}', ")
                    .bind(now)
                    .push(")");
            }
            tx.execute(q).await?;
            done += rows;
        }
        tx.commit().await?;
        let elapsed = started.elapsed();
        let mut tx = self.begin().await?;
        tx.execute(Sql::new("DROP TABLE bench_raw_items")).await?;
        tx.commit().await?;
        Ok(elapsed)
    }

    /// The person with the most clinical items (benchmarks pick the heaviest record).
    pub async fn busiest_person(&self) -> Result<Option<(Uuid, i64)>> {
        self.fetch_optional(Sql::new(
            "SELECT person_id, COUNT(*) AS n FROM clinical_items WHERE person_id IS NOT NULL \
             GROUP BY person_id ORDER BY n DESC LIMIT 1",
        ))
        .await
    }

    /// The 360 page's reads (the person, allergies, recent prescriptions, the first timeline
    /// page, problems, counts, trend series) as plain statements, without ygt's checks, audit
    /// or mapping: the hand-written baseline. Returns the rows read.
    pub async fn raw_record_baseline(&self, person: Uuid, since: OffsetDateTime) -> Result<usize> {
        let mut rows = 0;
        let person_row: Option<crate::mpi::Person> = self.person(person).await?;
        rows += usize::from(person_row.is_some());
        let recent = OffsetDateTime::now_utc() - time::Duration::days(90);
        for (kind, since_kind, limit) in [("allergy", None, 20), ("prescription", Some(recent), 10)]
        {
            let mut q = Sql::new(ITEM_COLUMNS);
            q.push(" WHERE c.person_id = ")
                .bind(person)
                .push(" AND c.kind = ")
                .bind(kind)
                .push(" AND c.status <> 'entered_in_error'");
            if let Some(t) = since_kind {
                q.push(" AND c.occurred_at >= ").bind(utc(t));
            }
            q.push(" ORDER BY c.occurred_at DESC, c.id DESC LIMIT ")
                .bind(limit);
            let v: Vec<Item> = self.fetch_all(q).await?;
            rows += v.len();
        }
        let t: Vec<Item> = self
            .fetch_all(
                Sql::new(&format!(
                    "{ITEM_COLUMNS} WHERE c.person_id = ? ORDER BY c.occurred_at DESC, c.id DESC LIMIT 51"
                ))
                .arg(person),
            )
            .await?;
        rows += t.len();
        let p: Vec<Problem> = self
            .fetch_all(
                Sql::new(
                    "SELECT code, MAX(title) AS title, MIN(occurred_at) AS first_at, MAX(occurred_at) AS last_at, \
                     COUNT(*) AS times FROM clinical_items WHERE person_id = ? AND kind = 'diagnosis' \
                     AND status <> 'entered_in_error' AND code IS NOT NULL GROUP BY code ORDER BY MAX(occurred_at) DESC",
                )
                .arg(person),
            )
            .await?;
        rows += p.len();
        let c: Vec<(String, i64)> = self
            .fetch_all(
                Sql::new(
                    "SELECT kind, COUNT(*) FROM clinical_items WHERE person_id = ? GROUP BY kind",
                )
                .arg(person),
            )
            .await?;
        rows += c.len();
        for code in ["SBP", "DBP", "GLU", "HBA1C", "CREA"] {
            let o: Vec<Observation> = self
                .fetch_all(
                    Sql::new(
                        "SELECT o.item_id, o.code, o.name, o.value_num, o.value_text, o.unit, o.ref_range, o.abnormal, \
                         o.effective_at, i.name AS institution_name FROM observations o \
                         JOIN clinical_items c ON c.id = o.item_id JOIN institutions i ON i.id = c.institution_id \
                         WHERE o.person_id = ? AND o.code = ? AND o.effective_at >= ? \
                         AND c.status <> 'entered_in_error' ORDER BY o.effective_at DESC LIMIT 120",
                    )
                    .arg(person)
                    .arg(code)
                    .arg(utc(since)),
                )
                .await?;
            rows += o.len();
        }
        Ok(rows)
    }
}
