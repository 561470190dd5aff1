//! Storage of the master patient index: persons, registrations, blocking keys, match tasks,
//! "not the same person" memory and the history of links, merges and splits.

use std::collections::{HashMap, HashSet};

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use ygt_domain::access::Ground;

use crate::{Result, Sql, Store, Tx};

/// A person (golden record). Its fields are derived from its registrations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
    pub registrations: i64,
    pub merged_into: Option<Uuid>,
    pub active: bool,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const PERSON_COLUMNS: &str = "SELECT id, name, sex, birth_date, id_number, phone, address, \
    division_code, village_group, household_number, ethnicity, nationality, registrations, merged_into, active, version, created_at, updated_at FROM persons";

/// The derived fields of a person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Golden {
    pub name: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
    pub registrations: i64,
}

/// A registration (source record) as it came from an institution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registration {
    pub id: Uuid,
    pub person_id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub record_id: Option<String>,
    pub name: String,
    pub name_pinyin: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number_raw: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub insurance_number: Option<String>,
    pub health_card_number: Option<String>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
    pub registered_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const REGISTRATION_COLUMNS: &str = "SELECT r.id, r.person_id, r.institution_id, i.name AS institution_name, \
    r.record_id, r.name, r.name_pinyin, r.sex, r.birth_date, r.id_number_raw, r.id_number, r.phone, \
    r.address, r.insurance_number, r.health_card_number, r.division_code, r.village_group, \
    r.household_number, r.ethnicity, r.nationality, r.registered_at, r.updated_at \
    FROM registrations r JOIN institutions i ON i.id = r.institution_id";

/// A new registration to store.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    pub id: Uuid,
    pub person_id: Uuid,
    pub institution_id: Uuid,
    pub record_id: Option<String>,
    pub name: String,
    pub name_pinyin: String,
    /// The initials of every spelling, '|'-separated (`chy` for 陈海燕).
    pub name_initials: String,
    pub sex: String,
    pub birth_date: Option<Date>,
    pub id_number_raw: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub insurance_number: Option<String>,
    pub health_card_number: Option<String>,
    pub division_code: Option<String>,
    pub village_group: Option<String>,
    pub household_number: Option<String>,
    pub ethnicity: Option<String>,
    pub nationality: Option<String>,
}

/// A possible match waiting for review.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MatchTask {
    pub id: Uuid,
    pub registration_id: Uuid,
    pub candidate_person_id: Uuid,
    pub weight: f64,
    pub explanation: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<OffsetDateTime>,
}

const TASK_COLUMNS: &str = "SELECT id, registration_id, candidate_person_id, weight, explanation, \
    status, created_at, resolved_by, resolved_at FROM match_tasks";

/// One line of a person's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub person_id: Uuid,
    pub registration_id: Option<Uuid>,
    pub action: String,
    pub other_person_id: Option<Uuid>,
    pub detail: Option<String>,
    pub actor: String,
    pub at: OffsetDateTime,
}

/// Search over persons.
#[derive(Debug, Clone, Default)]
pub struct PersonFilter {
    /// Name characters (part of the name).
    pub name: Option<String>,
    /// Pinyin spellings of a name typed in characters: a registration whose name sounds the
    /// same (陈海艳 finds 陈海燕) matches too, by the start of a spelling.
    pub spellings: Vec<String>,
    /// Pinyin typed in letters, without tones or spaces: part of a spelling, or the start of
    /// the initials (`chy`).
    pub pinyin: Option<String>,
    pub id_number: Option<String>,
    /// Blocking-key hashes of an ID number's windows: registrations whose number differs in at
    /// most two adjacent digits (a typo or a transposition) match too.
    pub id_windows: Vec<i64>,
    pub phone: Option<String>,
    pub insurance_number: Option<String>,
    /// The whole name, exactly (with an ID number: the out-of-scope look-up).
    pub name_exact: Option<String>,
    /// Only persons in this data scope; `None`: everyone.
    pub scope: Option<PersonScope>,
    /// Persons cared for by these institutions come first (a community-wide user's own).
    pub prefer: Vec<Uuid>,
    pub offset: i64,
    pub limit: i64,
}

/// A data scope for search: persons an opening care link ties to one of these institutions
/// or to this user, at `now`.
#[derive(Debug, Clone)]
pub struct PersonScope {
    pub institutions: Vec<Uuid>,
    pub user: Option<Uuid>,
    pub now: OffsetDateTime,
}

/// The conditions of a person search: active persons with a registration that matches every
/// criterion given, within the scope.
fn person_where(q: &mut Sql, f: &PersonFilter) {
    let like = |q: &mut Sql, col: &str, pattern: String| {
        q.push(col)
            .push(" LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\'");
    };
    q.push(" WHERE active = TRUE AND id IN (SELECT r.person_id FROM registrations r WHERE 1 = 1");
    let name = f.name.as_deref().filter(|s| !s.is_empty());
    if name.is_some() || !f.spellings.is_empty() {
        q.push(" AND (1 = 0");
        if let Some(n) = name {
            q.push(" OR ");
            like(q, "r.name", crate::org::like_pattern(n));
        }
        for sp in &f.spellings {
            let esc = crate::org::like_escape(sp);
            q.push(" OR ");
            like(q, "r.name_pinyin", format!("{esc}%"));
            q.push(" OR ");
            like(q, "r.name_pinyin", format!("%|{esc}%"));
        }
        q.push(")");
    }
    if let Some(p) = f.pinyin.as_deref().filter(|s| !s.is_empty()) {
        let esc = crate::org::like_escape(p);
        q.push(" AND (");
        like(q, "r.name_pinyin", crate::org::like_pattern(p));
        q.push(" OR ");
        like(q, "r.name_initials", format!("{esc}%"));
        q.push(" OR ");
        like(q, "r.name_initials", format!("%|{esc}%"));
        q.push(")");
    }
    if let Some(v) = f.id_number.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND (r.id_number = ")
            .bind(v)
            .push(" OR r.id_number_raw = ")
            .bind(v);
        if !f.id_windows.is_empty() {
            q.push(" OR r.id IN (SELECT b.registration_id FROM registration_blocks b WHERE b.key_hash IN ")
                .bind_list(f.id_windows.iter().copied())
                .push(")");
        }
        q.push(")");
    }
    if let Some(v) = f.phone.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND r.phone = ").bind(v);
    }
    if let Some(v) = f.insurance_number.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND r.insurance_number = ").bind(v);
    }
    if let Some(v) = f.name_exact.as_deref() {
        q.push(" AND r.name = ").bind(v);
    }
    q.push(")");
    if let Some(sc) = &f.scope {
        q.push(" AND id IN (SELECT c.resident_id FROM care_links c WHERE c.kind IN ")
            .bind_list(Ground::opening_codes())
            .push(" AND c.valid_from <= ")
            .bind(sc.now)
            .push(" AND (c.valid_until IS NULL OR c.valid_until > ")
            .bind(sc.now)
            .push(") AND (c.user_id = ")
            .bind(sc.user)
            .push(" OR c.institution_id IN ")
            .bind_list(sc.institutions.iter().copied())
            .push("))");
    }
}

impl Store {
    pub async fn person(&self, id: Uuid) -> Result<Option<Person>> {
        self.fetch_optional(Sql::new(&format!("{PERSON_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    pub async fn registrations_of(&self, person: Uuid) -> Result<Vec<Registration>> {
        self.fetch_all(
            Sql::new(&format!(
                "{REGISTRATION_COLUMNS} WHERE r.person_id = ? ORDER BY r.registered_at, r.id"
            ))
            .arg(person),
        )
        .await
    }

    pub async fn registration(&self, id: Uuid) -> Result<Option<Registration>> {
        self.fetch_optional(Sql::new(&format!("{REGISTRATION_COLUMNS} WHERE r.id = ?")).arg(id))
            .await
    }

    /// Active persons matching every given criterion, by name.
    /// One page of the persons a search finds (exact name first, then by name) and how many
    /// it finds in all.
    pub async fn search_persons(&self, f: &PersonFilter) -> Result<(Vec<Person>, i64)> {
        let mut q = Sql::new(PERSON_COLUMNS);
        person_where(&mut q, f);
        q.push(" ORDER BY ");
        if !f.prefer.is_empty() {
            q.push("CASE WHEN id IN (SELECT c.resident_id FROM care_links c WHERE c.kind IN ")
                .bind_list(Ground::opening_codes())
                .push(" AND c.institution_id IN ")
                .bind_list(f.prefer.iter().copied())
                .push(") THEN 0 ELSE 1 END, ");
        }
        q.push("CASE WHEN name = ")
            .bind(f.name.as_deref().unwrap_or(""))
            .push(" THEN 0 ELSE 1 END, name, id LIMIT ")
            .bind(f.limit.clamp(1, 500))
            .push(" OFFSET ")
            .bind(f.offset.max(0));
        let rows: Vec<Person> = self.fetch_all(q).await?;
        let total = if f.offset == 0 && (rows.len() as i64) < f.limit.clamp(1, 500) {
            rows.len() as i64
        } else {
            let mut c = Sql::new("SELECT COUNT(*) FROM persons");
            person_where(&mut c, f);
            let (n,): (i64,) = self.fetch_one(c).await?;
            n
        };
        Ok((rows, total))
    }

    /// The institutions where each of these persons is registered (names, sorted, once each).
    pub async fn registration_places(
        &self,
        persons: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<String>>> {
        let mut out: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
        if persons.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::new(
            "SELECT DISTINCT r.person_id, i.name FROM registrations r \
             JOIN institutions i ON i.id = r.institution_id WHERE r.person_id IN ",
        );
        q.bind_list(persons.iter().copied())
            .push(" ORDER BY i.name");
        let rows: Vec<(Uuid, String)> = self.fetch_all(q).await?;
        for (p, name) in rows {
            out.entry(p).or_default().push(name);
        }
        Ok(out)
    }

    pub async fn open_tasks(&self, limit: i64) -> Result<Vec<MatchTask>> {
        self.fetch_all(
            Sql::new(&format!(
                "{TASK_COLUMNS} WHERE status = 'open' ORDER BY weight DESC, created_at LIMIT ?"
            ))
            .arg(limit),
        )
        .await
    }

    pub async fn count_open_tasks(&self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new(
                "SELECT COUNT(*) FROM match_tasks WHERE status = 'open'",
            ))
            .await?;
        Ok(n)
    }

    pub async fn task(&self, id: Uuid) -> Result<Option<MatchTask>> {
        self.fetch_optional(Sql::new(&format!("{TASK_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    pub async fn history_of(&self, person: Uuid) -> Result<Vec<HistoryEntry>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, person_id, registration_id, action, other_person_id, detail, actor, at \
                 FROM person_history WHERE person_id = ? ORDER BY at, id",
            )
            .arg(person),
        )
        .await
    }

    /// Refreshes the query planner's statistics (after a bulk load, the planner would otherwise
    /// plan for empty tables).
    pub async fn analyze(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.execute(Sql::new("ANALYZE")).await?;
        tx.commit().await
    }

    pub async fn count_registrations(&self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new("SELECT COUNT(*) FROM registrations"))
            .await?;
        Ok(n)
    }

    pub async fn count_persons(&self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new("SELECT COUNT(*) FROM persons WHERE active = TRUE"))
            .await?;
        Ok(n)
    }
}

impl Tx {
    pub async fn count_registrations(&mut self) -> Result<i64> {
        let (n,): (i64,) = self
            .fetch_one(Sql::new("SELECT COUNT(*) FROM registrations"))
            .await?;
        Ok(n)
    }

    /// Takes the platform's write lock (the audit head row) at the start of a transaction, so
    /// that matching sees every registration committed before it, on both backends.
    pub async fn lock_writes(&mut self) -> Result<()> {
        self.execute(Sql::new("UPDATE audit_head SET seq = seq WHERE id = 1"))
            .await?;
        Ok(())
    }

    pub async fn insert_person(&mut self, id: Uuid, g: &Golden, now: OffsetDateTime) -> Result<()> {
        self.bulk_insert_persons(&[(id, g.clone())], now).await
    }

    pub async fn update_golden(&mut self, id: Uuid, g: &Golden, now: OffsetDateTime) -> Result<()> {
        self.execute(
            Sql::new(
                "UPDATE persons SET name = ?, sex = ?, birth_date = ?, id_number = ?, phone = ?, address = ?, \
                 division_code = ?, village_group = ?, household_number = ?, ethnicity = ?, nationality = ?, \
                 registrations = ?, active = ?, version = version + 1, updated_at = ? WHERE id = ?",
            )
            .arg(g.name.as_str())
            .arg(g.sex.as_str())
            .arg(g.birth_date)
            .arg(g.id_number.as_deref())
            .arg(g.phone.as_deref())
            .arg(g.address.as_deref())
            .arg(g.division_code.as_deref())
            .arg(g.village_group.as_deref())
            .arg(g.household_number.as_deref())
            .arg(g.ethnicity.as_deref())
            .arg(g.nationality.as_deref())
            .arg(g.registrations)
            .arg(g.registrations > 0)
            .arg(now)
            .arg(id),
        )
        .await?;
        Ok(())
    }

    pub async fn set_merged_into(&mut self, id: Uuid, into: Option<Uuid>) -> Result<()> {
        self.execute(
            Sql::new("UPDATE persons SET merged_into = ? WHERE id = ?")
                .arg(into)
                .arg(id),
        )
        .await?;
        Ok(())
    }

    pub async fn insert_registration(
        &mut self,
        r: &NewRegistration,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.bulk_insert_registrations(std::slice::from_ref(r), now)
            .await
    }

    /// Stores the blocking-key hashes of a registration (one statement).
    pub async fn insert_keys(&mut self, registration: Uuid, keys: &[i64]) -> Result<()> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let rows: Vec<(i64, Uuid)> = keys.into_iter().map(|k| (k, registration)).collect();
        self.bulk_insert_keys(&rows).await
    }

    /// Registrations sharing blocking keys with a registration, those sharing the most keys
    /// first, at most `limit`. Keys shared by more than `max_block` registrations are skipped:
    /// they do not tell people apart (the batch engine does the same). One round trip reads at
    /// most `max_block + 1` index entries per key, however common the key, then one more
    /// fetches the chosen rows.
    pub async fn candidates_by_keys(
        &mut self,
        keys: &[i64],
        max_block: i64,
        limit: usize,
    ) -> Result<Vec<Registration>> {
        if keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push("SELECT * FROM (SELECT key_hash, registration_id FROM registration_blocks WHERE key_hash = ")
                .bind(*k)
                .push(" LIMIT ")
                .bind(max_block + 1)
                .push(&format!(") b{i}"));
        }
        let entries: Vec<(i64, Uuid)> = self.fetch_all(q).await?;
        let mut per_key: HashMap<i64, i64> = HashMap::new();
        for (k, _) in &entries {
            *per_key.entry(*k).or_default() += 1;
        }
        let mut shared: HashMap<Uuid, u32> = HashMap::new();
        for (k, r) in &entries {
            if per_key.get(k).copied().unwrap_or(0) <= max_block {
                *shared.entry(*r).or_default() += 1;
            }
        }
        let mut ranked: Vec<(u32, Uuid)> = shared.into_iter().map(|(r, n)| (n, r)).collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        ranked.truncate(limit);
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(REGISTRATION_COLUMNS);
        q.push(" WHERE r.id IN ")
            .bind_list(ranked.iter().map(|(_, r)| *r));
        self.fetch_all(q).await
    }

    pub async fn registrations_of(&mut self, person: Uuid) -> Result<Vec<Registration>> {
        self.fetch_all(
            Sql::new(&format!(
                "{REGISTRATION_COLUMNS} WHERE r.person_id = ? ORDER BY r.registered_at, r.id"
            ))
            .arg(person),
        )
        .await
    }

    /// The registration an institution keeps under its own patient number (the earliest if
    /// several were stored before numbers were checked).
    pub async fn registration_by_record(
        &mut self,
        institution: Uuid,
        record_id: &str,
    ) -> Result<Option<Registration>> {
        let rows: Vec<Registration> = self
            .fetch_all(
                Sql::new(&format!(
                    "{REGISTRATION_COLUMNS} WHERE r.institution_id = ? AND r.record_id = ? \
                     ORDER BY r.registered_at, r.id LIMIT 1"
                ))
                .arg(institution)
                .arg(record_id),
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Replaces the demographic fields of a registration (the sender corrected them); its
    /// person stays.
    pub async fn update_registration(
        &mut self,
        r: &NewRegistration,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "UPDATE registrations SET name = ?, name_pinyin = ?, name_initials = ?, sex = ?, birth_date = ?, \
                 id_number_raw = ?, id_number = ?, phone = ?, address = ?, insurance_number = ?, \
                 health_card_number = ?, division_code = ?, village_group = ?, household_number = ?, \
                 ethnicity = ?, nationality = ?, version = version + 1, updated_at = ? WHERE id = ?",
            )
            .arg(r.name.as_str())
            .arg(r.name_pinyin.as_str())
            .arg(r.name_initials.as_str())
            .arg(r.sex.as_str())
            .arg(r.birth_date)
            .arg(r.id_number_raw.as_deref())
            .arg(r.id_number.as_deref())
            .arg(r.phone.as_deref())
            .arg(r.address.as_deref())
            .arg(r.insurance_number.as_deref())
            .arg(r.health_card_number.as_deref())
            .arg(r.division_code.as_deref())
            .arg(r.village_group.as_deref())
            .arg(r.household_number.as_deref())
            .arg(r.ethnicity.as_deref())
            .arg(r.nationality.as_deref())
            .arg(now)
            .arg(r.id),
        )
        .await?;
        Ok(())
    }

    /// Removes blocking-key hashes of a registration (its old keys, before storing new ones;
    /// looked up by key, the table's primary key).
    pub async fn delete_keys(&mut self, registration: Uuid, keys: &[i64]) -> Result<()> {
        for chunk in keys.chunks(BULK_ROWS) {
            let mut q = Sql::new("DELETE FROM registration_blocks WHERE registration_id = ?")
                .arg(registration);
            q.push(" AND key_hash IN ").bind_list(chunk.iter().copied());
            self.execute(q).await?;
        }
        Ok(())
    }

    pub async fn move_registration(
        &mut self,
        registration: Uuid,
        to: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new("UPDATE registrations SET person_id = ?, version = version + 1, updated_at = ? WHERE id = ?")
                .arg(to)
                .arg(now)
                .arg(registration),
        )
        .await?;
        Ok(())
    }

    /// Pairs of registrations known not to be the same person, among those touching `regs`.
    pub async fn not_same_pairs(&mut self, regs: &[Uuid]) -> Result<HashSet<(Uuid, Uuid)>> {
        if regs.is_empty() {
            return Ok(HashSet::new());
        }
        let mut q = Sql::new(
            "SELECT registration_a, registration_b FROM not_same WHERE registration_a IN ",
        );
        q.bind_list(regs.iter().copied())
            .push(" OR registration_b IN ")
            .bind_list(regs.iter().copied());
        let rows: Vec<(Uuid, Uuid)> = self.fetch_all(q).await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn insert_not_same(
        &mut self,
        a: Uuid,
        b: Uuid,
        by: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let exists: Option<(i64,)> = self
            .fetch_optional(
                Sql::new("SELECT CAST(1 AS BIGINT) FROM not_same WHERE registration_a = ? AND registration_b = ?")
                    .arg(a)
                    .arg(b),
            )
            .await?;
        if exists.is_none() {
            self.execute(
                Sql::new("INSERT INTO not_same (registration_a, registration_b, decided_by, decided_at) VALUES (?, ?, ?, ?)")
                    .arg(a)
                    .arg(b)
                    .arg(by)
                    .arg(now),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn insert_task(
        &mut self,
        id: Uuid,
        registration: Uuid,
        person: Uuid,
        weight: f64,
        explanation: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO match_tasks (id, registration_id, candidate_person_id, weight, explanation, status, created_at) \
                 VALUES (?, ?, ?, ?, ?, 'open', ?)",
            )
            .arg(id)
            .arg(registration)
            .arg(person)
            .arg(weight)
            .arg(explanation)
            .arg(now),
        )
        .await?;
        Ok(())
    }

    /// Closes an open task. Returns false when it was not open (already decided).
    pub async fn resolve_task(
        &mut self,
        id: Uuid,
        status: &str,
        by: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE match_tasks SET status = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND status = 'open'",
                )
                .arg(status)
                .arg(by)
                .arg(now)
                .arg(id),
            )
            .await?;
        Ok(n > 0)
    }

    /// Closes every open task between a registration and a person (after a decision elsewhere).
    pub async fn supersede_tasks(
        &mut self,
        registration: Uuid,
        person: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "UPDATE match_tasks SET status = 'superseded', resolved_at = ? \
                 WHERE status = 'open' AND registration_id = ? AND candidate_person_id = ?",
            )
            .arg(now)
            .arg(registration)
            .arg(person),
        )
        .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn add_history(
        &mut self,
        person: Uuid,
        registration: Option<Uuid>,
        action: &str,
        other: Option<Uuid>,
        detail: Option<&str>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO person_history (id, person_id, registration_id, action, other_person_id, detail, actor, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(Uuid::now_v7())
            .arg(person)
            .arg(registration)
            .arg(action)
            .arg(other)
            .arg(detail)
            .arg(actor)
            .arg(now),
        )
        .await?;
        Ok(())
    }
}

/// Rows per multi-row INSERT in bulk loading (parameters stay under both backends' limits).
const BULK_ROWS: usize = 400;

impl Tx {
    /// Inserts many persons at once (bulk loading of an initial index).
    pub async fn bulk_insert_persons(
        &mut self,
        rows: &[(Uuid, Golden)],
        now: OffsetDateTime,
    ) -> Result<()> {
        for chunk in rows.chunks(BULK_ROWS) {
            let mut q = Sql::new(
                "INSERT INTO persons (id, name, sex, birth_date, id_number, phone, address, division_code, \
                 village_group, household_number, ethnicity, nationality, registrations, active, version, \
                 created_at, updated_at) VALUES ",
            );
            for (i, (id, g)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .bind(*id)
                    .push(", ")
                    .bind(g.name.as_str())
                    .push(", ")
                    .bind(g.sex.as_str())
                    .push(", ")
                    .bind(g.birth_date)
                    .push(", ")
                    .bind(g.id_number.as_deref())
                    .push(", ")
                    .bind(g.phone.as_deref())
                    .push(", ")
                    .bind(g.address.as_deref())
                    .push(", ")
                    .bind(g.division_code.as_deref())
                    .push(", ")
                    .bind(g.village_group.as_deref())
                    .push(", ")
                    .bind(g.household_number.as_deref())
                    .push(", ")
                    .bind(g.ethnicity.as_deref())
                    .push(", ")
                    .bind(g.nationality.as_deref())
                    .push(", ")
                    .bind(g.registrations)
                    .push(", TRUE, 1, ")
                    .bind(now)
                    .push(", ")
                    .bind(now)
                    .push(")");
            }
            self.execute(q).await?;
        }
        Ok(())
    }

    /// Inserts many registrations at once.
    pub async fn bulk_insert_registrations(
        &mut self,
        rows: &[NewRegistration],
        now: OffsetDateTime,
    ) -> Result<()> {
        for chunk in rows.chunks(BULK_ROWS) {
            let mut q = Sql::new(
                "INSERT INTO registrations (id, person_id, institution_id, record_id, name, name_pinyin, name_initials, sex, \
                 birth_date, id_number_raw, id_number, phone, address, insurance_number, health_card_number, \
                 division_code, village_group, household_number, ethnicity, nationality, \
                 registered_at, updated_at, version) VALUES ",
            );
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .bind(r.id)
                    .push(", ")
                    .bind(r.person_id)
                    .push(", ")
                    .bind(r.institution_id)
                    .push(", ")
                    .bind(r.record_id.as_deref())
                    .push(", ")
                    .bind(r.name.as_str())
                    .push(", ")
                    .bind(r.name_pinyin.as_str())
                    .push(", ")
                    .bind(r.name_initials.as_str())
                    .push(", ")
                    .bind(r.sex.as_str())
                    .push(", ")
                    .bind(r.birth_date)
                    .push(", ")
                    .bind(r.id_number_raw.as_deref())
                    .push(", ")
                    .bind(r.id_number.as_deref())
                    .push(", ")
                    .bind(r.phone.as_deref())
                    .push(", ")
                    .bind(r.address.as_deref())
                    .push(", ")
                    .bind(r.insurance_number.as_deref())
                    .push(", ")
                    .bind(r.health_card_number.as_deref())
                    .push(", ")
                    .bind(r.division_code.as_deref())
                    .push(", ")
                    .bind(r.village_group.as_deref())
                    .push(", ")
                    .bind(r.household_number.as_deref())
                    .push(", ")
                    .bind(r.ethnicity.as_deref())
                    .push(", ")
                    .bind(r.nationality.as_deref())
                    .push(", ")
                    .bind(now)
                    .push(", ")
                    .bind(now)
                    .push(", 1)");
            }
            self.execute(q).await?;
        }
        Ok(())
    }

    /// Inserts many blocking-key hashes at once (duplicates within the input must be removed
    /// first).
    pub async fn bulk_insert_keys(&mut self, rows: &[(i64, Uuid)]) -> Result<()> {
        for chunk in rows.chunks(BULK_ROWS * 4) {
            let mut q =
                Sql::new("INSERT INTO registration_blocks (key_hash, registration_id) VALUES ");
            for (i, (k, r)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(").bind(*k).push(", ").bind(*r).push(")");
            }
            self.execute(q).await?;
        }
        Ok(())
    }

    /// Registrations in id order after `after`, at most `limit` (for rebuilding derived data).
    pub async fn registrations_page(
        &mut self,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<Registration>> {
        let mut q = Sql::new(REGISTRATION_COLUMNS);
        if let Some(a) = after {
            q.push(" WHERE r.id > ").bind(a);
        }
        q.push(" ORDER BY r.id LIMIT ").bind(limit);
        self.fetch_all(q).await
    }

    /// Registrations with a name but no initials yet (stored before initials were kept), as
    /// (id, name), at most `limit`.
    pub async fn registrations_without_initials(
        &mut self,
        limit: i64,
    ) -> Result<Vec<(Uuid, String)>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, name FROM registrations WHERE name_initials = '' AND name <> '' \
                 ORDER BY id LIMIT ?",
            )
            .arg(limit),
        )
        .await
    }

    /// Stores the initials of registrations' names; a name without any keeps '-' so that it is
    /// not looked at again.
    pub async fn set_name_initials(&mut self, rows: &[(Uuid, String)]) -> Result<()> {
        for (id, initials) in rows {
            let v = if initials.is_empty() { "-" } else { initials };
            self.execute(
                Sql::new("UPDATE registrations SET name_initials = ? WHERE id = ?")
                    .arg(v)
                    .arg(*id),
            )
            .await?;
        }
        Ok(())
    }

    /// Empties the blocking index (before rebuilding it).
    pub async fn clear_blocking_index(&mut self) -> Result<u64> {
        self.execute(Sql::new("DELETE FROM registration_blocks"))
            .await
    }

    /// Whether there are registrations but no blocking index (after the migration that
    /// changed its form, or a restore of the registrations alone).
    pub async fn blocking_index_missing(&mut self) -> Result<bool> {
        let regs: Option<(i64,)> = self
            .fetch_optional(Sql::new(
                "SELECT CAST(1 AS BIGINT) FROM registrations LIMIT 1",
            ))
            .await?;
        let blocks: Option<(i64,)> = self
            .fetch_optional(Sql::new(
                "SELECT CAST(1 AS BIGINT) FROM registration_blocks LIMIT 1",
            ))
            .await?;
        Ok(regs.is_some() && blocks.is_none())
    }

    /// (id, merged_into, active) of these persons.
    pub async fn persons_state(&mut self, ids: &[Uuid]) -> Result<Vec<(Uuid, Option<Uuid>, bool)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q = Sql::new("SELECT id, merged_into, active FROM persons WHERE id IN ");
            q.bind_list(chunk.iter().copied());
            let rows: Vec<(Uuid, Option<Uuid>, bool)> = self.fetch_all(q).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Inserts many institution care links at once: (resident, institution, ground, source).
    pub async fn bulk_insert_care_links(
        &mut self,
        rows: &[(Uuid, Uuid, Ground, Option<String>)],
        now: OffsetDateTime,
    ) -> Result<()> {
        for chunk in rows.chunks(BULK_ROWS) {
            let mut q = Sql::new(
                "INSERT INTO care_links (id, resident_id, institution_id, user_id, kind, source_id, valid_from, valid_until) VALUES ",
            );
            for (i, (resident, inst, ground, source)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push("(")
                    .bind(Uuid::now_v7())
                    .push(", ")
                    .bind(*resident)
                    .push(", ")
                    .bind(*inst)
                    .push(", NULL, ")
                    .bind(ground.code())
                    .push(", ")
                    .bind(source.as_deref())
                    .push(", ")
                    .bind(now)
                    .push(", NULL)");
            }
            self.execute(q).await?;
        }
        Ok(())
    }
}

/// What a merge does with a column that names a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMerge {
    /// The rows follow to the surviving person ([`Tx::move_person_rows`]).
    Moved,
    /// Moved one registration at a time by the index itself (`move_registration`).
    ByRegistration,
    /// Derived again from the registrations (registration grounds); episode grounds move.
    Recomputed,
    /// Stays: history, the audit log, a break-glass grant declared for that person.
    Kept,
}

/// Every column of the schema that names a person, and what a merge does with it. A store test
/// reads the schema of both backends and fails on a person column missing here.
pub const PERSON_REFERENCES: &[(&str, &str, OnMerge)] = &[
    ("registrations", "person_id", OnMerge::ByRegistration),
    ("persons", "merged_into", OnMerge::Kept),
    ("clinical_items", "person_id", OnMerge::Moved),
    ("observations", "person_id", OnMerge::Moved),
    ("referrals", "person_id", OnMerge::Moved),
    ("care_tasks", "person_id", OnMerge::Moved),
    ("users", "resident_id", OnMerge::Moved),
    ("match_tasks", "candidate_person_id", OnMerge::Moved),
    ("care_links", "resident_id", OnMerge::Recomputed),
    ("person_history", "person_id", OnMerge::Kept),
    ("person_history", "other_person_id", OnMerge::Kept),
    ("break_glass", "resident_id", OnMerge::Kept),
    ("audit_events", "resident_id", OnMerge::Kept),
    ("audit_inbox", "resident_id", OnMerge::Kept),
];

impl Tx {
    /// Moves everything of a retired person `from` to the survivor `to` (after its last
    /// registration moved): every [`OnMerge::Moved`] column, and the grounds of its episodes
    /// (referrals, arrivals). Open possible matches against `from` now ask about `to`, and
    /// those whose registration already belongs to `to` are settled.
    pub async fn move_person_rows(
        &mut self,
        from: Uuid,
        to: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        for (table, column, how) in PERSON_REFERENCES {
            if *how != OnMerge::Moved {
                continue;
            }
            let mut q = Sql::new(&format!("UPDATE {table} SET {column} = "));
            q.bind(to).push(&format!(" WHERE {column} = ")).bind(from);
            if *table == "match_tasks" {
                q.push(" AND status = 'open'");
            }
            self.execute(q).await?;
        }
        self.execute(
            Sql::new(
                "UPDATE match_tasks SET status = 'superseded', resolved_at = ? WHERE status = 'open' \
                 AND candidate_person_id = ? AND registration_id IN \
                 (SELECT id FROM registrations WHERE person_id = ?)",
            )
            .arg(now)
            .arg(to)
            .arg(to),
        )
        .await?;
        self.move_episode_links(from, to, now).await?;
        Ok(())
    }
}
