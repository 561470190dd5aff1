//! Two-way referral: referrals and their events, catalogues and overdue rules, resource
//! calendars and slots, care tasks and the inbox.

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use ygt_domain::referral::{Direction, EventKind, ResourceKind, Status, TaskKind, Urgency};

use crate::record::{ITEM_COLUMNS, Item};
use crate::{Backend, Result, Sql, Store, StoreError, Tx};

/// A referral with the names a list or a slip shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Referral {
    pub id: Uuid,
    pub number: String,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    #[sqlx(try_from = "String")]
    pub status: Status,
    #[sqlx(try_from = "String")]
    pub urgency: Urgency,
    pub person_id: Uuid,
    pub person_name: String,
    pub person_sex: String,
    pub person_birth_date: Option<Date>,
    pub from_institution_id: Uuid,
    pub from_institution_name: String,
    pub from_department_id: Option<Uuid>,
    pub from_department_name: Option<String>,
    pub from_user_id: Option<Uuid>,
    pub from_doctor: String,
    pub to_institution_id: Uuid,
    pub to_institution_name: String,
    pub to_department_id: Option<Uuid>,
    pub to_department_name: Option<String>,
    pub to_staff_id: Option<Uuid>,
    pub to_staff_name: Option<String>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub reason: String,
    pub criterion: Option<String>,
    pub summary: Option<String>,
    #[sqlx(try_from = "crate::NullableCode")]
    pub needs: Option<ResourceKind>,
    pub plan: Option<String>,
    pub outcome: Option<String>,
    pub status_note: Option<String>,
    pub appointment_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub accepted_at: Option<OffsetDateTime>,
    pub arrived_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    pub status_since: OffsetDateTime,
    pub version: i64,
}

const REFERRAL_COLUMNS: &str = "SELECT r.id, r.number, r.direction, r.status, r.urgency, \
    r.person_id, p.name AS person_name, p.sex AS person_sex, p.birth_date AS person_birth_date, \
    r.from_institution_id, fi.name AS from_institution_name, r.from_department_id, \
    fd.name AS from_department_name, r.from_user_id, r.from_doctor, \
    r.to_institution_id, ti.name AS to_institution_name, r.to_department_id, \
    td.name AS to_department_name, r.to_staff_id, ts.name AS to_staff_name, \
    r.diagnosis_code, r.diagnosis_name, r.reason, r.criterion, r.summary, r.needs, r.plan, \
    r.outcome, r.status_note, r.appointment_at, r.created_at, r.submitted_at, r.accepted_at, \
    r.arrived_at, r.closed_at, r.status_since, r.version \
    FROM referrals r JOIN persons p ON p.id = r.person_id \
    JOIN institutions fi ON fi.id = r.from_institution_id \
    JOIN institutions ti ON ti.id = r.to_institution_id \
    LEFT JOIN departments fd ON fd.id = r.from_department_id \
    LEFT JOIN departments td ON td.id = r.to_department_id \
    LEFT JOIN staff ts ON ts.id = r.to_staff_id";

/// A new referral as the app built it.
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub id: Uuid,
    pub number: String,
    pub direction: Direction,
    pub status: Status,
    pub urgency: Urgency,
    pub person_id: Uuid,
    pub from_institution_id: Uuid,
    pub from_department_id: Option<Uuid>,
    pub from_user_id: Option<Uuid>,
    pub from_doctor: String,
    pub to_institution_id: Uuid,
    pub to_department_id: Option<Uuid>,
    pub to_staff_id: Option<Uuid>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub reason: String,
    pub criterion: Option<String>,
    pub summary: Option<String>,
    pub needs: Option<ResourceKind>,
    pub plan: Option<String>,
    pub submitted_at: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

/// One step of a referral's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralEvent {
    pub id: Uuid,
    pub referral_id: Uuid,
    #[sqlx(try_from = "String")]
    pub action: EventKind,
    #[sqlx(try_from = "crate::NullableCode")]
    pub from_status: Option<Status>,
    #[sqlx(try_from = "String")]
    pub to_status: Status,
    pub actor_user_id: Option<Uuid>,
    pub actor_name: String,
    pub institution_id: Option<Uuid>,
    pub note: Option<String>,
    pub at: OffsetDateTime,
}

/// Which referrals a list shows.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    /// Sent by one of these institutions.
    pub from: Option<Vec<Uuid>>,
    /// Addressed to one of these institutions.
    pub to: Option<Vec<Uuid>>,
    /// Addressed to none of these institutions (sent out of them).
    pub not_to: Option<Vec<Uuid>>,
    /// Either sent by or addressed to one of these institutions.
    pub involving: Option<Vec<Uuid>>,
    pub statuses: Vec<String>,
    pub direction: Option<String>,
    pub person_id: Option<Uuid>,
    /// Only those with an appointment (a booked slot or a time).
    pub booked: bool,
    /// Only those waiting too long: (status, urgency, cutoff of status_since) triples, and
    /// appointments older than (urgency, cutoff) for scheduled ones.
    pub overdue: Option<Overdue>,
    /// Created at or after.
    pub since: Option<OffsetDateTime>,
    /// Created before.
    pub until: Option<OffsetDateTime>,
    /// In its status since this moment or later.
    pub changed_since: Option<OffsetDateTime>,
    /// Keyset paging: rows with (status_since, id) before this.
    pub before: Option<(OffsetDateTime, Uuid)>,
    /// Drafts only when sent by one of these institutions.
    pub drafts_from: Option<Vec<Uuid>>,
}

/// The SQL form of the overdue rules at one moment.
#[derive(Debug, Clone, Default)]
pub struct Overdue {
    /// (status, urgency, status_since before) for referrals without an appointment.
    pub waiting: Vec<(String, String, OffsetDateTime)>,
    /// (urgency, appointment before) for accepted or scheduled referrals with an appointment.
    pub appointments: Vec<(String, OffsetDateTime)>,
}

fn push_filter(q: &mut Sql, f: &ReferralFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(v) = &f.from {
        q.push(" AND r.from_institution_id IN ").bind_list(v.iter());
    }
    if let Some(v) = &f.to {
        q.push(" AND r.to_institution_id IN ").bind_list(v.iter());
    }
    if let Some(v) = f.not_to.as_ref().filter(|v| !v.is_empty()) {
        q.push(" AND r.to_institution_id NOT IN ")
            .bind_list(v.iter());
    }
    if let Some(v) = &f.involving {
        q.push(" AND (r.from_institution_id IN ")
            .bind_list(v.iter())
            .push(" OR r.to_institution_id IN ")
            .bind_list(v.iter())
            .push(")");
    }
    if !f.statuses.is_empty() {
        q.push(" AND r.status IN ").bind_list(f.statuses.iter());
    }
    if let Some(d) = &f.direction {
        q.push(" AND r.direction = ").bind(d.as_str());
    }
    if let Some(p) = f.person_id {
        q.push(" AND r.person_id = ").bind(p);
    }
    if f.booked {
        q.push(" AND r.appointment_at IS NOT NULL");
    }
    if let Some(t) = f.since {
        q.push(" AND r.created_at >= ").bind(t);
    }
    if let Some(t) = f.until {
        q.push(" AND r.created_at < ").bind(t);
    }
    if let Some(t) = f.changed_since {
        q.push(" AND r.status_since >= ").bind(t);
    }
    if let Some(o) = &f.overdue {
        q.push(" AND (1 = 0");
        for (status, urgency, cutoff) in &o.waiting {
            q.push(" OR (r.appointment_at IS NULL AND r.status = ")
                .bind(status.as_str())
                .push(" AND r.urgency = ")
                .bind(urgency.as_str())
                .push(" AND r.status_since < ")
                .bind(*cutoff)
                .push(")");
        }
        for (urgency, cutoff) in &o.appointments {
            q.push(" OR (r.appointment_at IS NOT NULL AND r.status IN ('accepted', 'scheduled') AND r.urgency = ")
                .bind(urgency.as_str())
                .push(" AND r.appointment_at < ")
                .bind(*cutoff)
                .push(")");
        }
        q.push(")");
    }
    if let Some(v) = &f.drafts_from {
        q.push(" AND (r.status <> 'draft' OR r.from_institution_id IN ")
            .bind_list(v.iter())
            .push(")");
    }
    if let Some((t, id)) = f.before {
        q.push(" AND (r.status_since < ")
            .bind(t)
            .push(" OR (r.status_since = ")
            .bind(t)
            .push(" AND r.id < ")
            .bind(id)
            .push("))");
    }
}

/// Counts of referrals by (status) for the home page and worklist tabs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusCount {
    pub status: String,
    pub n: i64,
}

/// The facts of one referral that statistics group and measure.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferralFact {
    pub direction: String,
    pub status: String,
    pub from_institution_id: Uuid,
    pub from_institution_name: String,
    pub to_institution_id: Uuid,
    pub to_institution_name: String,
    pub criterion: Option<String>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub created_at: OffsetDateTime,
    pub submitted_at: Option<OffsetDateTime>,
    pub accepted_at: Option<OffsetDateTime>,
    pub arrived_at: Option<OffsetDateTime>,
}

// ---------------------------------------------------------------- catalogues and rules

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogueRow {
    pub id: Uuid,
    pub tier: String,
    pub codes: String,
    pub name: String,
    pub chronic: bool,
    pub position: i64,
}

#[derive(Debug, Clone, serde::Deserialize, sqlx::FromRow)]
pub struct RuleRow {
    pub urgency: String,
    pub accept_minutes: i64,
    pub arrive_minutes: i64,
    pub grace_minutes: i64,
    pub complete_minutes: i64,
}

// ---------------------------------------------------------------- booking

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Resource {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: ResourceKind,
    pub name: String,
    /// Where it is (building, floor, room), empty when not given.
    pub location: String,
    pub staff_id: Option<Uuid>,
    pub staff_name: Option<String>,
    pub release_hours: i64,
    pub active: bool,
}

const RESOURCE_COLUMNS: &str = "SELECT b.id, b.institution_id, i.name AS institution_name, \
    b.department_id, d.name AS department_name, b.kind, b.name, b.location, b.staff_id, s.name AS staff_name, \
    b.release_hours, b.active FROM booking_resources b JOIN institutions i ON i.id = b.institution_id \
    LEFT JOIN departments d ON d.id = b.department_id LEFT JOIN staff s ON s.id = b.staff_id";

#[derive(Debug, Clone)]
pub struct NewResource {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub department_id: Option<Uuid>,
    pub kind: String,
    pub name: String,
    pub location: String,
    pub staff_id: Option<Uuid>,
    pub release_hours: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Slot {
    pub id: Uuid,
    pub resource_id: Uuid,
    pub starts_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
    pub reserved: bool,
    pub release_at: OffsetDateTime,
    pub referral_id: Option<Uuid>,
    pub booked_at: Option<OffsetDateTime>,
}

const SLOT_COLUMNS: &str = "SELECT id, resource_id, starts_at, ends_at, reserved, release_at, \
    referral_id, booked_at FROM slots";

/// Free slots counted per resource (for a booking form).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotCount {
    pub resource_id: Uuid,
    pub free: i64,
    pub reserved_free: i64,
}

// ---------------------------------------------------------------- tasks and inbox

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CareTask {
    pub id: Uuid,
    pub referral_id: Option<Uuid>,
    pub person_id: Uuid,
    pub person_name: String,
    pub institution_id: Uuid,
    pub staff_id: Option<Uuid>,
    pub staff_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: TaskKind,
    pub title: String,
    pub due_on: Date,
    pub done_at: Option<OffsetDateTime>,
    pub done_by: Option<String>,
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Which care tasks a list shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Tasks of these institutions (empty: all).
    pub institutions: Vec<Uuid>,
    pub open_only: bool,
    /// Due before this day.
    pub due_before: Option<Date>,
    /// Due on or after this day.
    pub due_from: Option<Date>,
}

fn push_task_filter(q: &mut Sql, f: &TaskFilter) {
    q.push(" WHERE 1 = 1");
    if !f.institutions.is_empty() {
        q.push(" AND t.institution_id IN ")
            .bind_list(f.institutions.iter());
    }
    if f.open_only {
        q.push(" AND t.done_at IS NULL");
    }
    if let Some(d) = f.due_before {
        q.push(" AND t.due_on < ").bind(d);
    }
    if let Some(d) = f.due_from {
        q.push(" AND t.due_on >= ").bind(d);
    }
}

const TASK_COLUMNS: &str = "SELECT t.id, t.referral_id, t.person_id, p.name AS person_name, \
    t.institution_id, t.staff_id, s.name AS staff_name, t.kind, t.title, t.due_on, t.done_at, \
    t.done_by, t.note, t.created_at FROM care_tasks t JOIN persons p ON p.id = t.person_id \
    LEFT JOIN staff s ON s.id = t.staff_id";

#[derive(Debug, Clone)]
pub struct NewCareTask {
    pub id: Uuid,
    pub referral_id: Option<Uuid>,
    pub person_id: Uuid,
    pub institution_id: Uuid,
    pub staff_id: Option<Uuid>,
    pub kind: TaskKind,
    pub title: String,
    pub due_on: Date,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub referral_id: Option<Uuid>,
    pub kind: String,
    /// Titles of rows written before notifications kept a message (migration 0016).
    pub title_zh: String,
    pub title_en: String,
    /// What happened: a catalogue message as JSON (`ygt_domain::message::Message`).
    pub message: Option<String>,
    pub created_at: OffsetDateTime,
    pub read_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Seq {
    seq: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

impl Store {
    pub async fn referral(&self, id: Uuid) -> Result<Option<Referral>> {
        self.fetch_optional(Sql::new(&format!("{REFERRAL_COLUMNS} WHERE r.id = ?")).arg(id))
            .await
    }

    /// A page of referrals, most recently changed first.
    pub async fn referrals(&self, f: &ReferralFilter, limit: i64) -> Result<Vec<Referral>> {
        let mut q = Sql::new(REFERRAL_COLUMNS);
        push_filter(&mut q, f);
        q.push(" ORDER BY r.status_since DESC, r.id DESC LIMIT ")
            .bind(limit);
        self.fetch_all(q).await
    }

    /// How many referrals match, per status.
    pub async fn referral_counts(&self, f: &ReferralFilter) -> Result<Vec<StatusCount>> {
        let mut q = Sql::new("SELECT r.status, COUNT(*) AS n FROM referrals r");
        push_filter(&mut q, f);
        q.push(" GROUP BY r.status");
        self.fetch_all(q).await
    }

    /// How many referrals match.
    pub async fn referral_count(&self, f: &ReferralFilter) -> Result<i64> {
        Ok(self.referral_counts(f).await?.iter().map(|c| c.n).sum())
    }

    /// How many referrals match each filter, in the order of `filters`: one statement.
    pub async fn referral_count_each(&self, filters: &[ReferralFilter]) -> Result<Vec<i64>> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("");
        for (i, f) in filters.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            q.push("SELECT CAST(")
                .push(&i.to_string())
                .push(" AS BIGINT) AS k, COUNT(*) AS n FROM referrals r");
            push_filter(&mut q, f);
        }
        let rows: Vec<(i64, i64)> = self.fetch_all(q).await?;
        let mut out = vec![0; filters.len()];
        for (k, n) in rows {
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
                *slot = n;
            }
        }
        Ok(out)
    }

    pub async fn referral_events(&self, referral: Uuid) -> Result<Vec<ReferralEvent>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, referral_id, action, from_status, to_status, actor_user_id, actor_name, \
                 institution_id, note, at FROM referral_events WHERE referral_id = ? ORDER BY at, id",
            )
            .arg(referral),
        )
        .await
    }

    /// The record items attached to a referral.
    pub async fn referral_items(&self, referral: Uuid) -> Result<Vec<Item>> {
        self.fetch_all(
            Sql::new(&format!(
                "{ITEM_COLUMNS} JOIN referral_items ri ON ri.item_id = c.id \
                 WHERE ri.referral_id = ? ORDER BY c.occurred_at DESC"
            ))
            .arg(referral),
        )
        .await
    }

    /// Referral facts created in [since, until) for statistics.
    pub async fn referral_facts(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<ReferralFact>> {
        self.fetch_all(
            Sql::new(
                "SELECT r.direction, r.status, r.from_institution_id, fi.name AS from_institution_name, \
                 r.to_institution_id, ti.name AS to_institution_name, r.criterion, r.diagnosis_code, \
                 r.diagnosis_name, r.created_at, r.submitted_at, r.accepted_at, r.arrived_at \
                 FROM referrals r JOIN institutions fi ON fi.id = r.from_institution_id \
                 JOIN institutions ti ON ti.id = r.to_institution_id \
                 WHERE r.status <> 'draft' AND r.created_at >= ? AND r.created_at < ?",
            )
            .arg(since)
            .arg(until),
        )
        .await
    }

    pub async fn catalogue(&self, tier: &str) -> Result<Vec<CatalogueRow>> {
        self.fetch_all(
            Sql::new(
                "SELECT id, tier, codes, name, chronic, position FROM catalogue_entries \
                 WHERE tier = ? ORDER BY position, codes",
            )
            .arg(tier),
        )
        .await
    }

    pub async fn referral_rules(&self) -> Result<Vec<RuleRow>> {
        self.fetch_all(Sql::new(
            "SELECT urgency, accept_minutes, arrive_minutes, grace_minutes, complete_minutes \
             FROM referral_rules ORDER BY urgency",
        ))
        .await
    }

    pub async fn booking_resources(
        &self,
        institution: Option<Uuid>,
        kind: Option<&str>,
    ) -> Result<Vec<Resource>> {
        let mut q = Sql::new(RESOURCE_COLUMNS);
        q.push(" WHERE b.active = ").bind(true);
        if let Some(i) = institution {
            q.push(" AND b.institution_id = ").bind(i);
        }
        if let Some(k) = kind {
            q.push(" AND b.kind = ").bind(k);
        }
        q.push(" ORDER BY i.name, b.kind, b.name");
        self.fetch_all(q).await
    }

    pub async fn booking_resource(&self, id: Uuid) -> Result<Option<Resource>> {
        self.fetch_optional(Sql::new(&format!("{RESOURCE_COLUMNS} WHERE b.id = ?")).arg(id))
            .await
    }

    /// Slots of a resource starting in [from, until).
    pub async fn slots(
        &self,
        resource: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        free_only: bool,
    ) -> Result<Vec<Slot>> {
        let mut q = Sql::new(SLOT_COLUMNS);
        q.push(" WHERE resource_id = ")
            .bind(resource)
            .push(" AND starts_at >= ")
            .bind(from)
            .push(" AND starts_at < ")
            .bind(until);
        if free_only {
            q.push(" AND referral_id IS NULL");
        }
        q.push(" ORDER BY starts_at, id");
        self.fetch_all(q).await
    }

    pub async fn slot(&self, id: Uuid) -> Result<Option<Slot>> {
        self.fetch_optional(Sql::new(&format!("{SLOT_COLUMNS} WHERE id = ?")).arg(id))
            .await
    }

    /// The slot a referral holds.
    pub async fn slot_of_referral(&self, referral: Uuid) -> Result<Option<Slot>> {
        self.fetch_optional(
            Sql::new(&format!("{SLOT_COLUMNS} WHERE referral_id = ?")).arg(referral),
        )
        .await
    }

    /// The slots held by these referrals.
    pub async fn slots_of_referrals(&self, referrals: &[Uuid]) -> Result<Vec<Slot>> {
        if referrals.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(SLOT_COLUMNS);
        q.push(" WHERE referral_id IN ").bind_list(referrals.iter());
        self.fetch_all(q).await
    }

    /// A page of a resource's calendar: slots starting in [from, until), booked or not (or
    /// both), in start order after the keyset `after`.
    pub async fn slot_page(
        &self,
        resource: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        booked: Option<bool>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Slot>> {
        let mut q = Sql::new(SLOT_COLUMNS);
        q.push(" WHERE resource_id = ")
            .bind(resource)
            .push(" AND starts_at >= ")
            .bind(from)
            .push(" AND starts_at < ")
            .bind(until);
        match booked {
            Some(true) => {
                q.push(" AND referral_id IS NOT NULL");
            }
            Some(false) => {
                q.push(" AND referral_id IS NULL");
            }
            None => {}
        }
        if let Some((t, id)) = after {
            q.push(" AND (starts_at > ")
                .bind(t)
                .push(" OR (starts_at = ")
                .bind(t)
                .push(" AND id > ")
                .bind(id)
                .push("))");
        }
        q.push(" ORDER BY starts_at, id LIMIT ").bind(limit);
        self.fetch_all(q).await
    }

    /// Free future slots per resource of an institution (all of them, reserved ones apart).
    pub async fn free_slot_counts(
        &self,
        institution: Uuid,
        now: OffsetDateTime,
    ) -> Result<Vec<SlotCount>> {
        self.fetch_all(
            Sql::new(
                "SELECT s.resource_id, COUNT(*) AS free, \
                 SUM(CASE WHEN s.reserved AND s.release_at > ? THEN 1 ELSE 0 END) AS reserved_free \
                 FROM slots s JOIN booking_resources b ON b.id = s.resource_id \
                 WHERE b.institution_id = ? AND s.referral_id IS NULL AND s.starts_at > ? \
                 GROUP BY s.resource_id",
            )
            .arg(now)
            .arg(institution)
            .arg(now),
        )
        .await
    }

    pub async fn care_tasks(
        &self,
        institutions: &[Uuid],
        open_only: bool,
        referral: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<CareTask>> {
        let mut q = Sql::new(TASK_COLUMNS);
        q.push(" WHERE 1 = 1");
        if !institutions.is_empty() {
            q.push(" AND t.institution_id IN ")
                .bind_list(institutions.iter());
        }
        if open_only {
            q.push(" AND t.done_at IS NULL");
        }
        if let Some(r) = referral {
            q.push(" AND t.referral_id = ").bind(r);
        }
        q.push(" ORDER BY t.due_on, t.id LIMIT ").bind(limit);
        self.fetch_all(q).await
    }

    /// One page of care tasks, earliest due first, and how many match.
    pub async fn care_task_page(
        &self,
        f: &TaskFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<CareTask>, i64)> {
        let mut q = Sql::new(TASK_COLUMNS);
        push_task_filter(&mut q, f);
        q.push(" ORDER BY t.due_on, t.id LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(offset);
        let rows = self.fetch_all(q).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM care_tasks t");
        push_task_filter(&mut c, f);
        let (n,): (i64,) = self.fetch_one(c).await?;
        Ok((rows, n))
    }

    /// Open care tasks of these institutions: (overdue before `today`, due on `today`, all
    /// open), in one statement.
    pub async fn care_task_tally(
        &self,
        institutions: &[Uuid],
        today: Date,
    ) -> Result<(i64, i64, i64)> {
        let mut q = Sql::new("SELECT COALESCE(SUM(CASE WHEN t.due_on < ");
        q.bind(today)
            .push(" THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN t.due_on = ")
            .bind(today)
            .push(" THEN 1 ELSE 0 END), 0), COUNT(*) FROM care_tasks t");
        push_task_filter(
            &mut q,
            &TaskFilter {
                institutions: institutions.to_vec(),
                open_only: true,
                ..Default::default()
            },
        );
        self.fetch_one(q).await
    }

    pub async fn care_task(&self, id: Uuid) -> Result<Option<CareTask>> {
        self.fetch_optional(Sql::new(&format!("{TASK_COLUMNS} WHERE t.id = ?")).arg(id))
            .await
    }

    pub async fn inbox(
        &self,
        user: Uuid,
        unread_only: bool,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let mut q = Sql::new(
            "SELECT id, user_id, referral_id, kind, title_zh, title_en, message, created_at, read_at \
             FROM notifications WHERE user_id = ",
        );
        q.bind(user);
        if unread_only {
            q.push(" AND read_at IS NULL");
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .bind(limit);
        self.fetch_all(q).await
    }

    pub async fn unread_count(&self, user: Uuid) -> Result<i64> {
        #[derive(sqlx::FromRow)]
        struct N {
            n: i64,
        }
        let n: N = self
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) AS n FROM notifications WHERE user_id = ? AND read_at IS NULL",
                )
                .arg(user),
            )
            .await?;
        Ok(n.n)
    }
}

/// Active staff accounts of an institution who should hear about a referral: those of
/// `department` (or without a department) and, when `department` is None, all of them; only
/// those whose roles write patient data or manage referrals; and the account of the chosen
/// staff member (specialist or family doctor), if any. One statement.
fn receivers_sql(institution: Uuid, department: Option<Uuid>, staff: Option<Uuid>) -> Sql {
    let mut q = Sql::new(
        "SELECT u.id FROM users u LEFT JOIN staff s ON s.id = u.staff_id \
         WHERE u.active = ",
    );
    q.bind(true)
        .push(" AND u.kind = 'staff' AND u.institution_id = ")
        .bind(institution)
        // Only those whose roles act on referrals: administrators, auditors, finance and
        // pharmacy staff of the institution are not sent every referral of the county.
        .push(
            " AND u.id IN (SELECT ur.user_id FROM user_roles ur \
             JOIN role_permissions rp ON rp.role = ur.role WHERE rp.permission IN ",
        )
        .bind_list(["patient.write", "referral.manage"])
        .push(")");
    if let Some(d) = department {
        q.push(" AND (s.department_id IS NULL OR s.department_id = ")
            .bind(d)
            .push(")");
    }
    if let Some(s) = staff {
        q.push(" UNION SELECT id FROM users WHERE staff_id = ")
            .bind(s)
            .push(" AND active = ")
            .bind(true);
    }
    q
}

impl Tx {
    /// Who hears about a referral on the receiving side ([`receivers_sql`]), sorted, read in
    /// this transaction (a pool read here could wait for a connection this one holds).
    pub async fn referral_receivers(
        &mut self,
        institution: Uuid,
        department: Option<Uuid>,
        staff: Option<Uuid>,
    ) -> Result<Vec<Uuid>> {
        let rows: Vec<IdRow> = self
            .fetch_all(receivers_sql(institution, department, staff))
            .await?;
        let mut ids: Vec<Uuid> = rows.into_iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The next slip sequence of a day (1, 2, …), safe under concurrent writers.
    pub async fn next_referral_seq(&mut self, day: &str) -> Result<i64> {
        let s: Seq = self
            .fetch_one(
                Sql::new(
                    "INSERT INTO referral_counters (day, seq) VALUES (?, 1) \
                     ON CONFLICT (day) DO UPDATE SET seq = referral_counters.seq + 1 RETURNING seq",
                )
                .arg(day),
            )
            .await?;
        Ok(s.seq)
    }

    pub async fn insert_referral(&mut self, r: &NewReferral) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO referrals (id, number, direction, status, urgency, person_id, \
                 from_institution_id, from_department_id, from_user_id, from_doctor, to_institution_id, \
                 to_department_id, to_staff_id, diagnosis_code, diagnosis_name, reason, criterion, \
                 summary, needs, plan, created_at, submitted_at, status_since, version) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            )
            .arg(r.id)
            .arg(r.number.as_str())
            .arg(r.direction.code())
            .arg(r.status.code())
            .arg(r.urgency.code())
            .arg(r.person_id)
            .arg(r.from_institution_id)
            .arg(r.from_department_id)
            .arg(r.from_user_id)
            .arg(r.from_doctor.as_str())
            .arg(r.to_institution_id)
            .arg(r.to_department_id)
            .arg(r.to_staff_id)
            .arg(r.diagnosis_code.as_deref())
            .arg(r.diagnosis_name.as_deref())
            .arg(r.reason.as_str())
            .arg(r.criterion.as_deref())
            .arg(r.summary.as_deref())
            .arg(r.needs.map(ResourceKind::code))
            .arg(r.plan.as_deref())
            .arg(r.now)
            .arg(r.submitted_at)
            .arg(r.now),
        )
        .await?;
        Ok(())
    }

    /// The referral, read inside the transaction (PostgreSQL locks the row until commit).
    pub async fn referral_for_update(&mut self, id: Uuid) -> Result<Option<Referral>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF r",
            Backend::Sqlite => "",
        };
        self.fetch_optional(Sql::new(&format!("{REFERRAL_COLUMNS} WHERE r.id = ?{lock}")).arg(id))
            .await
    }

    /// Writes the changed fields of a referral read at `r.version`; fails with
    /// [`StoreError::VersionConflict`] when someone changed it meanwhile.
    pub async fn update_referral(&mut self, r: &Referral) -> Result<()> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE referrals SET status = ?, urgency = ?, to_institution_id = ?, \
                     to_department_id = ?, to_staff_id = ?, diagnosis_code = ?, diagnosis_name = ?, \
                     reason = ?, summary = ?, needs = ?, plan = ?, outcome = ?, status_note = ?, \
                     appointment_at = ?, submitted_at = ?, accepted_at = ?, arrived_at = ?, \
                     closed_at = ?, status_since = ?, version = version + 1 \
                     WHERE id = ? AND version = ?",
                )
                .arg(r.status.code())
                .arg(r.urgency.code())
                .arg(r.to_institution_id)
                .arg(r.to_department_id)
                .arg(r.to_staff_id)
                .arg(r.diagnosis_code.as_deref())
                .arg(r.diagnosis_name.as_deref())
                .arg(r.reason.as_str())
                .arg(r.summary.as_deref())
                .arg(r.needs.map(ResourceKind::code))
                .arg(r.plan.as_deref())
                .arg(r.outcome.as_deref())
                .arg(r.status_note.as_deref())
                .arg(r.appointment_at)
                .arg(r.submitted_at)
                .arg(r.accepted_at)
                .arg(r.arrived_at)
                .arg(r.closed_at)
                .arg(r.status_since)
                .arg(r.id)
                .arg(r.version),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::VersionConflict {
                expected: r.version,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_referral_event(
        &mut self,
        referral: Uuid,
        action: EventKind,
        from_status: Option<Status>,
        to_status: Status,
        actor_user_id: Option<Uuid>,
        actor_name: &str,
        institution_id: Option<Uuid>,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO referral_events (id, referral_id, action, from_status, to_status, \
                 actor_user_id, actor_name, institution_id, note, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(Uuid::now_v7())
            .arg(referral)
            .arg(action.code())
            .arg(from_status.map(Status::code))
            .arg(to_status.code())
            .arg(actor_user_id)
            .arg(actor_name)
            .arg(institution_id)
            .arg(note)
            .arg(at),
        )
        .await?;
        Ok(())
    }

    pub async fn attach_referral_items(&mut self, referral: Uuid, items: &[Uuid]) -> Result<()> {
        for item in items {
            self.execute(
                Sql::new("INSERT INTO referral_items (referral_id, item_id) VALUES (?, ?)")
                    .arg(referral)
                    .arg(*item),
            )
            .await?;
        }
        Ok(())
    }

    /// Books a free future slot for a referral in one conditional update, so that of two
    /// concurrent bookings exactly one wins. Returns false when the slot is taken or past.
    pub async fn book_slot(
        &mut self,
        slot: Uuid,
        referral: Uuid,
        by: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE slots SET referral_id = ?, booked_at = ?, booked_by = ? \
                     WHERE id = ? AND referral_id IS NULL AND starts_at > ?",
                )
                .arg(referral)
                .arg(now)
                .arg(by)
                .arg(slot)
                .arg(now),
            )
            .await?;
        Ok(n == 1)
    }

    /// Returns the slot a referral holds to the calendar; the number of slots released.
    pub async fn release_slot(&mut self, referral: Uuid) -> Result<u64> {
        self.execute(
            Sql::new(
                "UPDATE slots SET referral_id = NULL, booked_at = NULL, booked_by = NULL \
                 WHERE referral_id = ?",
            )
            .arg(referral),
        )
        .await
    }

    pub async fn insert_booking_resource(
        &mut self,
        r: &NewResource,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.execute(
            Sql::new(
                "INSERT INTO booking_resources (id, institution_id, department_id, kind, name, \
                 location, staff_id, release_hours, active, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .arg(r.id)
            .arg(r.institution_id)
            .arg(r.department_id)
            .arg(r.kind.as_str())
            .arg(r.name.as_str())
            .arg(r.location.as_str())
            .arg(r.staff_id)
            .arg(r.release_hours)
            .arg(true)
            .arg(now),
        )
        .await?;
        Ok(())
    }

    /// Adds slots to a resource: (starts_at, ends_at, reserved, release_at); several slots may
    /// start together (the beds of a ward from one admission date). Returns how many were added.
    pub async fn insert_slots(
        &mut self,
        resource: Uuid,
        slots: &[(OffsetDateTime, OffsetDateTime, bool, OffsetDateTime)],
    ) -> Result<u64> {
        let mut added = 0;
        for chunk in slots.chunks(200) {
            let mut q = Sql::new(
                "INSERT INTO slots (id, resource_id, starts_at, ends_at, reserved, release_at) ",
            );
            for (i, (start, end, reserved, release)) in chunk.iter().enumerate() {
                q.push(if i == 0 {
                    "SELECT "
                } else {
                    " UNION ALL SELECT "
                })
                .bind(Uuid::now_v7())
                .push(", ")
                .bind(resource)
                .push(", ")
                .bind(*start)
                .push(", ")
                .bind(*end)
                .push(", ")
                .bind(*reserved)
                .push(", ")
                .bind(*release);
            }
            added += self.execute(q).await?;
        }
        Ok(added)
    }

    pub async fn replace_catalogue(
        &mut self,
        tier: &str,
        entries: &[(String, String, bool)],
    ) -> Result<()> {
        self.execute(Sql::new("DELETE FROM catalogue_entries WHERE tier = ?").arg(tier))
            .await?;
        for (i, (codes, name, chronic)) in entries.iter().enumerate() {
            self.execute(
                Sql::new(
                    "INSERT INTO catalogue_entries (id, tier, codes, name, chronic, position) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .arg(Uuid::now_v7())
                .arg(tier)
                .arg(codes.as_str())
                .arg(name.as_str())
                .arg(*chronic)
                .arg(i64::try_from(i).unwrap_or(i64::MAX)),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn set_referral_rule(&mut self, r: &RuleRow) -> Result<()> {
        self.execute(
            Sql::new(
                "UPDATE referral_rules SET accept_minutes = ?, arrive_minutes = ?, grace_minutes = ?, \
                 complete_minutes = ? WHERE urgency = ?",
            )
            .arg(r.accept_minutes)
            .arg(r.arrive_minutes)
            .arg(r.grace_minutes)
            .arg(r.complete_minutes)
            .arg(r.urgency.as_str()),
        )
        .await?;
        Ok(())
    }

    pub async fn insert_care_tasks(
        &mut self,
        tasks: &[NewCareTask],
        now: OffsetDateTime,
    ) -> Result<()> {
        for t in tasks {
            self.execute(
                Sql::new(
                    "INSERT INTO care_tasks (id, referral_id, person_id, institution_id, staff_id, kind, \
                     title, due_on, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .arg(t.id)
                .arg(t.referral_id)
                .arg(t.person_id)
                .arg(t.institution_id)
                .arg(t.staff_id)
                .arg(t.kind.code())
                .arg(t.title.as_str())
                .arg(t.due_on)
                .arg(t.note.as_deref())
                .arg(now),
            )
            .await?;
        }
        Ok(())
    }

    /// Marks an open task done; false when it was already done.
    pub async fn complete_care_task(
        &mut self,
        id: Uuid,
        by: &str,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let n = self
            .execute(
                Sql::new(
                    "UPDATE care_tasks SET done_at = ?, done_by = ?, note = COALESCE(?, note) \
                     WHERE id = ? AND done_at IS NULL",
                )
                .arg(now)
                .arg(by)
                .arg(note)
                .arg(id),
            )
            .await?;
        Ok(n == 1)
    }

    /// Removes the open tasks a referral handed over (the referral was cancelled).
    pub async fn drop_open_care_tasks(&mut self, referral: Uuid) -> Result<u64> {
        self.execute(
            Sql::new("DELETE FROM care_tasks WHERE referral_id = ? AND done_at IS NULL")
                .arg(referral),
        )
        .await
    }

    /// One notification per recipient.
    pub async fn insert_notifications(
        &mut self,
        users: &[Uuid],
        referral: Option<Uuid>,
        kind: &str,
        message: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        for u in users {
            self.execute(
                Sql::new(
                    "INSERT INTO notifications (id, user_id, referral_id, kind, title_zh, title_en, \
                     message, created_at) VALUES (?, ?, ?, ?, '', '', ?, ?)",
                )
                .arg(Uuid::now_v7())
                .arg(*u)
                .arg(referral)
                .arg(kind)
                .arg(message)
                .arg(now),
            )
            .await?;
        }
        Ok(())
    }

    /// Marks a user's notifications read (all of them, or those of one referral).
    pub async fn mark_read(
        &mut self,
        user: Uuid,
        referral: Option<Uuid>,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let mut q = Sql::new("UPDATE notifications SET read_at = ");
        q.bind(now)
            .push(" WHERE user_id = ")
            .bind(user)
            .push(" AND read_at IS NULL");
        if let Some(r) = referral {
            q.push(" AND referral_id = ").bind(r);
        }
        self.execute(q).await
    }

    /// Sends a PostgreSQL notification on `channel`, delivered when the transaction commits
    /// (other ygt processes relay it to their live clients). Nothing on SQLite, where one
    /// process serves everything.
    pub async fn notify(&mut self, channel: &str, payload: &str) -> Result<()> {
        if self.backend() == Backend::Postgres {
            self.execute(Sql::new("SELECT pg_notify(?, ?)").arg(channel).arg(payload))
                .await?;
        }
        Ok(())
    }
}

/// A subscription to PostgreSQL notifications on one channel (LISTEN).
pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    /// The next payload; an error when the connection dropped (the next call reconnects).
    pub async fn recv(&mut self) -> Result<String> {
        Ok(self.0.recv().await?.payload().to_owned())
    }

    /// The next payload; None when the connection dropped (notifications may have been lost).
    pub async fn try_recv(&mut self) -> Result<Option<String>> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}

impl Store {
    /// Listens on `channel`: None on SQLite, where one process serves everything.
    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>> {
        match &self.pool {
            crate::Pool::Postgres(p) => {
                let mut l = sqlx::postgres::PgListener::connect_with(p).await?;
                l.listen(channel).await?;
                Ok(Some(Listener(l)))
            }
            crate::Pool::Sqlite(_) => Ok(None),
        }
    }
}

// ---------------------------------------------------------------- the 360 page's episodes

impl Store {
    /// A person's items of some referral episodes, newest first, in one query: those recorded
    /// by an institution within a window (the receiving side between arrival and completion,
    /// both ends included), and those of a source system with one of the given source ids
    /// (the prescription of a down-referral's plan).
    pub async fn episode_items(
        &self,
        person: Uuid,
        windows: &[(Uuid, OffsetDateTime, OffsetDateTime)],
        sources: (&str, &[String]),
        limit: i64,
    ) -> Result<Vec<Item>> {
        if windows.is_empty() && sources.1.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(ITEM_COLUMNS);
        q.push(" WHERE c.person_id = ")
            .bind(person)
            .push(" AND c.status <> 'entered_in_error' AND (1 = 0");
        for (institution, from, to) in windows {
            q.push(" OR (c.institution_id = ")
                .bind(*institution)
                .push(" AND c.occurred_at >= ")
                .bind(crate::record::utc(*from))
                .push(" AND c.occurred_at <= ")
                .bind(crate::record::utc(*to))
                .push(")");
        }
        if !sources.1.is_empty() {
            q.push(" OR (c.source_system = ")
                .bind(sources.0)
                .push(" AND c.source_id IN ")
                .bind_list(sources.1.iter())
                .push(")");
        }
        q.push(") ORDER BY c.occurred_at DESC, c.id DESC LIMIT ")
            .bind(limit);
        self.fetch_all(q).await
    }

    /// The care tasks of some referrals, by due date.
    pub async fn care_tasks_of_referrals(&self, referrals: &[Uuid]) -> Result<Vec<CareTask>> {
        if referrals.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(TASK_COLUMNS);
        q.push(" WHERE t.referral_id IN ")
            .bind_list(referrals.iter().copied())
            .push(" ORDER BY t.due_on, t.id");
        self.fetch_all(q).await
    }
}
