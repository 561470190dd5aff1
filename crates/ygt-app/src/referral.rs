//! Two-way referral use cases: create (with a booking), move through the states, hand over the
//! treatment plan, close the loop, worklists, suggestions from the written criteria, calendars,
//! the inbox and statistics. Pages, the JSON API and FHIR all call these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_domain::access::{Ground, Permission};
use ygt_domain::audit::Outcome;
use ygt_domain::clinical::Icd10Code;
use ygt_domain::message::Message;
use ygt_domain::msg;
use ygt_domain::org::{ServiceKind, Tier};
use ygt_domain::referral::command::{Place, beijing, opt_id, parse_id, text};
use ygt_domain::referral::{
    Action, Catalogue, CatalogueEntry, CodeRange, Criterion, Direction, EventKind, Evidence,
    OverdueRule, OverdueRules, Reading, ResourceKind, Side, Status, Suggestion, Urgency,
    slip_number,
};
use ygt_domain::referral::{
    Appointment, NewReferral, RedirectFacts, Step, StepDecision, StepFacts, StepRefusal,
    check_target, decide_step,
};
pub use ygt_domain::referral::{
    FollowUp, Plan, PlanDraft, ReferralDraft, ReferralOutcome, StepDraft, local_minute,
    parse_local_time,
};
use ygt_domain::{Reason, ValidationError, ValidationErrors};
use ygt_store::Tx;
use ygt_store::org::Institution;
use ygt_store::referral::NewReferral as NewReferralRow;
use ygt_store::referral::{
    CareTask, NewCareTask, NewResource, Notification, Referral, ReferralEvent, ReferralFilter,
    Resource, RuleRow, Slot, TaskFilter,
};

use crate::access::{Event, Principal};
use crate::grounds::{Grant, grant_event};
use crate::{Actor, App, AppError, Ctx, Result, new_id};

/// The channel live events travel on between ygt processes sharing one PostgreSQL.
pub const EVENT_CHANNEL: &str = "ygt_events";

/// Something a signed-in user should see at once (a server-sent event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LiveEvent {
    pub users: Vec<Uuid>,
    pub referral_id: Option<Uuid>,
    pub kind: String,
    /// What happened, rendered in each reader's language by the door.
    pub message: Message,
}

/// The defaults of a down-referral: where the resident came from, and what was found here.
#[derive(Debug, Clone)]
pub struct DownDefaults {
    pub to_institution_id: Uuid,
    /// The doctor who referred the resident up (their family doctor, as a rule).
    pub to_staff_id: Option<Uuid>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    /// The up-referral the defaults come from.
    pub up_referral: Uuid,
    pub up_number: String,
}

/// A referral with everything its page shows.
#[derive(Debug, Clone)]
pub struct ReferralView {
    pub referral: Referral,
    /// The patient's ID number, masked (for the slip).
    pub person_id_number: Option<ygt_domain::masked::MaskedIdNumber>,
    pub events: Vec<ReferralEvent>,
    /// The record items attached, when the viewer may read the resident's record now (a side
    /// whose ground ended, such as a receiver that rejected, sees the referral without them).
    pub items: Vec<ygt_store::record::Item>,
    pub items_hidden: bool,
    pub plan: Option<Plan>,
    pub outcome: Option<ReferralOutcome>,
    pub slot: Option<Slot>,
    pub resource: Option<Resource>,
    pub tasks: Vec<CareTask>,
    /// What the viewer may do now.
    pub actions: Vec<Action>,
    pub overdue: Option<ygt_domain::referral::Overdue>,
}

/// What a follow-up found, as the form or the API sends it: readings and a note.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskDone {
    pub note: Option<String>,
    /// Systolic blood pressure, mmHg.
    pub systolic: Option<String>,
    /// Diastolic blood pressure, mmHg.
    pub diastolic: Option<String>,
    /// Fasting blood glucose, mmol/L.
    pub glucose: Option<String>,
}

/// A follow-up's readings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub blood_pressure: Option<(u16, u16)>,
    pub glucose: Option<f64>,
    pub note: Option<String>,
}

impl TaskDone {
    pub fn parse(&self) -> Result<Findings> {
        let mut errs = ValidationErrors::default();
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let whole = |errs: &mut ValidationErrors, f: &str, v: Option<&str>, min: i64, max: i64| {
            let v = v?;
            match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => u16::try_from(n).ok(),
                _ => {
                    errs.push(ValidationError::new(f, Reason::Range { min, max }));
                    None
                }
            }
        };
        let sys = whole(&mut errs, "systolic", given(&self.systolic), 50, 300);
        let dia = whole(&mut errs, "diastolic", given(&self.diastolic), 30, 200);
        match (given(&self.systolic), given(&self.diastolic)) {
            (Some(_), None) => errs.push(ValidationError::new("diastolic", Reason::Required)),
            (None, Some(_)) => errs.push(ValidationError::new("systolic", Reason::Required)),
            _ => {}
        }
        if let (Some(s), Some(d)) = (sys, dia)
            && d >= s
        {
            errs.push(ValidationError::new(
                "diastolic",
                Reason::Other(msg!("referral.below_systolic_pressure")),
            ));
        }
        let glucose = match given(&self.glucose) {
            None => None,
            Some(v) => match v.parse::<f64>() {
                Ok(x) if (1.0..=40.0).contains(&x) => Some((x * 10.0).round() / 10.0),
                _ => {
                    errs.push(ValidationError::new(
                        "glucose",
                        Reason::Other(msg!("referral.number_from_1_0")),
                    ));
                    None
                }
            },
        };
        let note = match given(&self.note) {
            Some(n) => errs.check(text("note", n, 1000, false)),
            None => None,
        };
        if !errs.0.is_empty() {
            return Err(AppError::Invalid(errs));
        }
        Ok(Findings {
            blood_pressure: sys.zip(dia),
            glucose,
            note,
        })
    }
}

impl Findings {
    /// What the task shows: the readings, then the note (`血压 138/86 mmHg；空腹血糖 6.1 mmol/L`).
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some((s, d)) = self.blood_pressure {
            parts.push(format!("血压 {s}/{d} mmHg"));
        }
        if let Some(g) = self.glucose {
            parts.push(format!("空腹血糖 {g:.1} mmol/L"));
        }
        parts.extend(self.note.clone());
        (!parts.is_empty()).then(|| parts.join("；"))
    }

    /// The measurement item the readings make, at the task's institution, about its resident;
    /// `None` without readings.
    fn measurement(
        &self,
        t: &CareTask,
        now: OffsetDateTime,
    ) -> Result<Option<crate::record::ParsedItem>> {
        let mut results = Vec::new();
        let reading = |code: &str, name: &str, value: String, unit: &str, range: &str| {
            crate::record::ResultDraft {
                code: code.into(),
                name: Some(name.into()),
                value,
                unit: Some(unit.into()),
                ref_range: Some(range.into()),
                ..Default::default()
            }
        };
        if let Some((s, d)) = self.blood_pressure {
            results.push(reading("SBP", "收缩压", s.to_string(), "mmHg", "90-139"));
            results.push(reading("DBP", "舒张压", d.to_string(), "mmHg", "60-89"));
        }
        if let Some(g) = self.glucose {
            results.push(reading(
                "GLU",
                "空腹血糖",
                format!("{g:.1}"),
                "mmol/L",
                "3.9-6.1",
            ));
        }
        if results.is_empty() {
            return Ok(None);
        }
        let d = crate::record::ItemDraft {
            kind: "measurement".into(),
            institution_id: t.institution_id.to_string(),
            source_system: "ygt-care-task".into(),
            source_id: t.id.to_string(),
            patient: crate::record::PatientRef {
                person_id: Some(t.person_id.to_string()),
                ..Default::default()
            },
            occurred_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            title: Some(t.title.clone()),
            results,
            ..Default::default()
        };
        Ok(Some(d.parse(now)?))
    }
}

/// Which worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worklist {
    /// Sent by the user's institutions.
    Outgoing,
    /// Addressed to the user's institutions.
    Incoming,
    /// Open ones waiting too long, either side.
    Overdue,
    /// Down-referrals addressed to the user's institutions waiting for acceptance (handover).
    Handover,
    /// Everything the user's institutions are part of.
    All,
}

impl Worklist {
    pub fn parse(s: &str) -> Option<Worklist> {
        Some(match s {
            "outgoing" | "" => Worklist::Outgoing,
            "incoming" => Worklist::Incoming,
            "overdue" => Worklist::Overdue,
            "handover" => Worklist::Handover,
            "all" => Worklist::All,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Worklist::Outgoing => "outgoing",
            Worklist::Incoming => "incoming",
            Worklist::Overdue => "overdue",
            Worklist::Handover => "handover",
            Worklist::All => "all",
        }
    }

    pub const ALL: [Worklist; 5] = [
        Worklist::Outgoing,
        Worklist::Incoming,
        Worklist::Overdue,
        Worklist::Handover,
        Worklist::All,
    ];
}

/// Filters of a worklist.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorklistQuery {
    pub list: String,
    /// A status, or several separated by commas.
    pub status: Option<String>,
    pub direction: Option<String>,
    pub person_id: Option<String>,
    /// Sent by this institution (within the list's scope).
    pub from_institution_id: Option<String>,
    /// Addressed to this institution (within the list's scope).
    pub to_institution_id: Option<String>,
    /// Only referrals with an appointment; the page then carries their bookings.
    pub booked: bool,
    /// Only those whose status changed within this many days (1–366).
    pub days: Option<i64>,
    /// Page size (1–200, default [`WORKLIST_PAGE`]).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A page of a worklist.
#[derive(Debug, Clone)]
pub struct WorklistPage {
    pub referrals: Vec<Referral>,
    /// Overdue step of each referral, in the same order.
    pub overdue: Vec<Option<ygt_domain::referral::Overdue>>,
    /// With [`WorklistQuery::booked`]: the slot each referral holds and its resource, in the
    /// same order (None for an appointment without a slot). Empty otherwise.
    pub bookings: Vec<Option<(Slot, Resource)>>,
    pub next: Option<String>,
    /// How many referrals the list holds (all pages).
    pub total: i64,
}

/// Counts of the worklists for the home page.
#[derive(Debug, Clone, Default)]
pub struct WorklistCounts {
    pub outgoing_open: i64,
    pub incoming_waiting: i64,
    pub overdue: i64,
    pub handover: i64,
    /// Drafts written here, not yet submitted.
    pub drafts: i64,
    /// Sent from here and completed (outcome returned) in the last [`RETURNED_DAYS`] days.
    pub returned: i64,
    pub tasks_open: i64,
    /// Open care tasks due before today.
    pub tasks_overdue: i64,
    /// Open care tasks due today.
    pub tasks_today: i64,
    pub unread: i64,
}

/// How far back the home page's 「已反馈」 list looks.
pub const RETURNED_DAYS: i64 = 7;

pub const WORKLIST_PAGE: i64 = 50;

/// Care tasks listed per page.
pub const TASK_PAGE: i64 = 50;

/// Which care tasks to list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskQuery {
    /// Include done ones.
    pub all: bool,
    /// `overdue` (due before today), `today`, or `now` (due today or earlier).
    pub due: Option<String>,
    pub offset: i64,
    /// Page size (1–500, default [`TASK_PAGE`]).
    pub limit: Option<i64>,
}

/// A referral addressed to a department that sees no patients of its own.
fn not_clinical(name: &str) -> AppError {
    AppError::invalid(
        "to_department_id",
        Reason::Other(msg!("referral.does_see_referred_patients", name = name)),
    )
}

fn rules_from(rows: &[RuleRow]) -> OverdueRules {
    let mut r = OverdueRules::default();
    for row in rows {
        let rule = OverdueRule {
            accept_within: Duration::minutes(row.accept_minutes),
            arrive_within: Duration::minutes(row.arrive_minutes),
            appointment_grace: Duration::minutes(row.grace_minutes),
            complete_within: Duration::minutes(row.complete_minutes),
        };
        match row.urgency.as_str() {
            "routine" => r.routine = rule,
            "urgent" => r.urgent = rule,
            "emergency" => r.emergency = rule,
            _ => {}
        }
    }
    r
}

/// Whether the principal acts for the institution in care: its own, and for a township
/// centre also its village clinics (乡村一体化). A county hospital administers the townships
/// but does not act for them in their referrals.
fn acts_for(p: &Principal, institution: Uuid) -> bool {
    p.covers_patients(institution)
}

/// The sides of a referral the actor stands on.
/// The actions of a status the actor's side may take (none for a read-only actor).
fn side_actions(ctx: &Ctx, status: Status, referring: bool, receiving: bool) -> Vec<Action> {
    if !may_act(ctx) {
        return Vec::new();
    }
    status
        .actions()
        .into_iter()
        .filter(|a| match a.side() {
            Side::Referring => referring,
            Side::Receiving => receiving,
            Side::Either => referring || receiving,
        })
        .collect()
}

fn sides(ctx: &Ctx, r: &Referral) -> (bool, bool) {
    match &ctx.actor {
        Actor::System => (true, true),
        Actor::Anonymous => (false, false),
        Actor::User(p) => (
            acts_for(p, r.from_institution_id),
            acts_for(p, r.to_institution_id),
        ),
    }
}

fn may_act(ctx: &Ctx) -> bool {
    match &ctx.actor {
        Actor::System => true,
        Actor::Anonymous => false,
        Actor::User(p) => p.can(Permission::PatientWrite) || p.can(Permission::ReferralManage),
    }
}

/// Who acts, as a referral's history shows it: the person's name (the user name stays in the
/// audit log), the user and the institution.
fn actor_name(ctx: &Ctx) -> (Option<Uuid>, String, Option<Uuid>) {
    match &ctx.actor {
        Actor::User(p) if !p.display_name.trim().is_empty() => {
            (p.user_id, p.display_name.clone(), p.institution_id)
        }
        _ => crate::access::actor_fields(ctx),
    }
}

impl App {
    async fn overdue_rules(&self) -> Result<OverdueRules> {
        Ok(rules_from(&self.store().referral_rules().await?))
    }

    /// The catalogue of a tier (empty for the county, which treats everything).
    pub async fn catalogue(&self, tier: Tier) -> Result<Catalogue> {
        let rows = self.store().catalogue(tier.code()).await?;
        Ok(Catalogue {
            entries: rows
                .into_iter()
                .filter_map(|r| {
                    Some(CatalogueEntry {
                        codes: CodeRange::parse("codes", &r.codes).ok()?,
                        name: r.name,
                        chronic: r.chronic,
                    })
                })
                .collect(),
        })
    }

    fn require_actor(&self, ctx: &Ctx) -> Result<()> {
        match &ctx.actor {
            Actor::Anonymous => Err(AppError::Unauthenticated),
            Actor::User(p) if p.must_change_password => Err(AppError::PasswordChangeRequired),
            _ => Ok(()),
        }
    }

    async fn refuse(
        &self,
        ctx: &Ctx,
        action: &str,
        r: Option<&Referral>,
        why: Message,
    ) -> AppError {
        let e = Event::new(action, "referral", r.map(|r| r.id.to_string()));
        let e = match r {
            Some(r) => e.resident(r.person_id),
            None => e,
        };
        self.deny(ctx, e, AppError::forbidden(why)).await
    }

    /// Creates a referral (a draft, or submitted at once), booking the slot given.
    pub async fn create_referral(&self, ctx: &Ctx, d: &ReferralDraft) -> Result<Referral> {
        self.authorise_create(ctx).await?;
        let c = d.parse()?;
        let (from, to) = self.referral_ends(ctx, &c).await?;
        check_target(c.direction, place(&from), place(&to))?;
        let facts = self.new_referral_facts(ctx, &c, from, to).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let row = self
            .insert_new_referral(&mut tx, ctx, &c, &facts, now)
            .await?;
        let live = if c.submit {
            Some(
                self.submit_new_referral(&mut tx, ctx, &c, &facts, &row, now)
                    .await?,
            )
        } else {
            None
        };
        let events = new_referral_events(&c, &facts, row.id);
        self.audit_many_in(&mut tx, ctx, &events, Outcome::Allowed)
            .await?;
        tx.commit().await?;
        if let Some(ev) = live {
            self.publish(ev);
        }
        self.reread_referral(row.id).await
    }

    async fn reread_referral(&self, id: Uuid) -> Result<Referral> {
        self.store()
            .referral(id)
            .await?
            .ok_or(AppError::NotFound("referral"))
    }

    /// Writing referrals needs a user of an institution who may write patient data.
    async fn authorise_create(&self, ctx: &Ctx) -> Result<()> {
        self.require_actor(ctx)?;
        if may_act(ctx) {
            return Ok(());
        }
        Err(self
            .refuse(
                ctx,
                "referral.create",
                None,
                msg!("referral.not_allowed_write"),
            )
            .await)
    }

    /// The writer's institution and the (active) one the referral is addressed to.
    async fn referral_ends(
        &self,
        ctx: &Ctx,
        c: &NewReferral,
    ) -> Result<(Institution, Institution)> {
        let Some(from_institution_id) = actor_name(ctx).2 else {
            return Err(AppError::conflict(
                None,
                msg!("referral.staff_institution_write_referrals"),
            ));
        };
        let store = self.store();
        let from = store
            .institution(from_institution_id)
            .await?
            .ok_or(AppError::NotFound("institution"))?;
        match store.institution(c.to_institution_id).await? {
            Some(to) if to.active => Ok((from, to)),
            _ => Err(AppError::invalid("to_institution_id", Reason::NotFound)),
        }
    }

    /// The rules of a new referral that need the database, in the order a form shows them:
    /// the departments and the doctor belong to their institutions (a consultation goes to a
    /// clinical department), the resident exists and is in the writer's scope (audited), the
    /// items are the resident's, the slot is the target's.
    async fn new_referral_facts(
        &self,
        ctx: &Ctx,
        c: &NewReferral,
        from: Institution,
        to: Institution,
    ) -> Result<NewFacts> {
        let store = self.store();
        if let Some(dep) = c.to_department_id {
            match store.department(dep).await? {
                // A consultation goes to a department that sees patients; an examination
                // (a resource is booked) may go to the department that performs it.
                Some(dd) if dd.institution_id == to.id && dd.active => {
                    if c.needs.is_none() && !ygt_domain::org::is_clinical_department(&dd.name) {
                        return Err(not_clinical(&dd.name));
                    }
                }
                _ => return Err(AppError::invalid("to_department_id", Reason::NotFound)),
            }
        }
        if let Some(dep) = c.from_department_id {
            match store.department(dep).await? {
                Some(dd) if dd.institution_id == from.id => {}
                _ => return Err(AppError::invalid("from_department_id", Reason::NotFound)),
            }
        }
        if let Some(s) = c.to_staff_id {
            match store.staff_member(s).await? {
                Some(st) if st.institution_id == to.id && st.active => {}
                _ => return Err(AppError::invalid("to_staff_id", Reason::NotFound)),
            }
        }
        let Some(person) = store.person(c.person_id).await? else {
            return Err(AppError::invalid("person_id", Reason::NotFound));
        };
        // Writing a referral reads the resident's record: the scope decides.
        self.resident_access(ctx, c.person_id, "referral.create", "referral")
            .await?;
        for (i, item) in c.item_ids.iter().enumerate() {
            match store.item(*item).await? {
                Some(it) if it.person_id == Some(c.person_id) => {}
                _ => {
                    return Err(AppError::invalid(
                        &format!("item_ids[{i}]"),
                        Reason::NotFound,
                    ));
                }
            }
        }
        let slot = match c.slot_id {
            Some(s) => Some(self.slot_of(s, to.id).await?),
            None => None,
        };
        Ok(NewFacts {
            from,
            to,
            person_name: person.name,
            slot,
        })
    }

    /// A slot and its resource, which must belong to `institution`; errors name `slot_id`.
    async fn slot_of(&self, slot: Uuid, institution: Uuid) -> Result<(Slot, Resource)> {
        let store = self.store();
        let slot = store
            .slot(slot)
            .await?
            .ok_or(AppError::invalid("slot_id", Reason::NotFound))?;
        let res = store
            .booking_resource(slot.resource_id)
            .await?
            .ok_or(AppError::invalid("slot_id", Reason::NotFound))?;
        if res.institution_id != institution {
            return Err(AppError::invalid(
                "slot_id",
                Reason::Other(msg!("referral.slot_belongs_another_institution")),
            ));
        }
        Ok((slot, res))
    }

    /// Writes the new referral: its row (with the next slip number of the day), the first
    /// line of its history, the items, and the slot booked with it.
    async fn insert_new_referral(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        c: &NewReferral,
        f: &NewFacts,
        now: OffsetDateTime,
    ) -> Result<NewReferralRow> {
        let (user_id, actor, _) = actor_name(ctx);
        let status = c.status();
        let id = new_id();
        let day = now.to_offset(beijing()).date();
        let seq = tx.next_referral_seq(&day.to_string()).await?;
        let res = f.slot.as_ref().map(|(_, r)| r);
        let row = NewReferralRow {
            id,
            number: slip_number(day, seq),
            direction: c.direction,
            status,
            urgency: c.urgency,
            person_id: c.person_id,
            from_institution_id: f.from.id,
            from_department_id: c.from_department_id,
            from_user_id: user_id,
            from_doctor: ctx
                .principal()
                .map_or(actor.clone(), |p| p.display_name.clone()),
            to_institution_id: f.to.id,
            to_department_id: c.to_department_id.or(res.and_then(|r| r.department_id)),
            to_staff_id: c.to_staff_id.or(res.and_then(|r| r.staff_id)),
            diagnosis_code: c.diagnosis_code.as_ref().map(|c| c.as_str().to_owned()),
            diagnosis_name: c.diagnosis_name.clone(),
            reason: c.reason.clone(),
            criterion: c.criterion.map(|c| c.code().to_owned()),
            summary: c.summary.clone(),
            needs: c.needs.or(res.map(|r| r.kind)),
            plan: match &c.plan {
                Some(p) => Some(
                    serde_json::to_string(p)
                        .map_err(|_| AppError::invalid("plan", Reason::Required))?,
                ),
                None => None,
            },
            submitted_at: c.submit.then_some(now),
            now,
        };
        tx.insert_referral(&row).await?;
        let from = Some(f.from.id);
        tx.insert_referral_event(
            id,
            EventKind::Create,
            None,
            status,
            user_id,
            &actor,
            from,
            None,
            now,
        )
        .await?;
        tx.attach_referral_items(id, &c.item_ids).await?;
        if let Some((slot, res)) = &f.slot {
            if !tx.book_slot(slot.id, id, user_id, now).await? {
                return Err(slot_taken());
            }
            let mut r = tx
                .referral_for_update(id)
                .await?
                .ok_or(AppError::NotFound("referral"))?;
            r.appointment_at = Some(slot.starts_at);
            tx.update_referral(&r).await?;
            let note = format!("{} {}", res.name, local_minute(slot.starts_at));
            tx.insert_referral_event(
                id,
                EventKind::Book,
                Some(status),
                status,
                user_id,
                &actor,
                from,
                Some(&note),
                now,
            )
            .await?;
        }
        Ok(row)
    }

    /// A referral submitted as it is written: the receiving side gets the record, the plan's
    /// medications go into the record, the receiving side is told.
    async fn submit_new_referral(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        c: &NewReferral,
        f: &NewFacts,
        row: &NewReferralRow,
        now: OffsetDateTime,
    ) -> Result<LiveEvent> {
        self.open_access(tx, ctx, row.id, c.person_id, f.to.id)
            .await?;
        if let Some(p) = &c.plan {
            self.record_plan_medications(tx, ctx, row.id, c.person_id, f.from.id, p)
                .await?;
        }
        let head = new_referral_view(row, &f.person_name, &f.from.name);
        self.notify_receiving(tx, &head, "submitted", now).await
    }

    /// The receiving institution holds the record while the referral is open.
    /// The medications of a submitted treatment plan, as a prescription of the sending
    /// institution in the resident's record: they show under 「近90天用药」 wherever the record
    /// is opened. One item per referral (its source identity), written with the referral.
    async fn record_plan_medications(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        referral: Uuid,
        person: Uuid,
        from: Uuid,
        plan: &Plan,
    ) -> Result<()> {
        if plan.medications.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let d = crate::record::ItemDraft {
            kind: "prescription".into(),
            institution_id: from.to_string(),
            source_system: "ygt-referral-plan".into(),
            source_id: referral.to_string(),
            patient: crate::record::PatientRef {
                person_id: Some(person.to_string()),
                ..Default::default()
            },
            occurred_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            title: Some("转诊治疗方案用药".into()),
            medications: plan
                .medications
                .iter()
                .map(|m| crate::record::MedicationDraft {
                    name: m.chars().take(100).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let item = d.parse(now)?;
        tx.lock_writes().await?;
        self.record_in(tx, ctx, std::slice::from_ref(&item), "referral")
            .await?;
        Ok(())
    }

    async fn open_access(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        referral: Uuid,
        person: Uuid,
        institution: Uuid,
    ) -> Result<()> {
        self.grant_in(
            tx,
            ctx,
            Grant {
                resident: person,
                ground: Ground::Referral,
                institution: Some(institution),
                user: None,
                source: Some(&referral.to_string()),
                until: None,
            },
        )
        .await
    }

    /// Recipients on the receiving side: the department's (or the institution's) staff and
    /// the chosen specialist or family doctor, read in the step's transaction.
    async fn receiving_users(&self, tx: &mut Tx, r: &RefHead) -> Result<Vec<Uuid>> {
        Ok(tx
            .referral_receivers(r.to_institution_id, r.to_department_id, r.to_staff_id)
            .await?)
    }

    async fn notify_receiving(
        &self,
        tx: &mut Tx,
        r: &RefHead,
        kind: &str,
        now: OffsetDateTime,
    ) -> Result<LiveEvent> {
        let users = self.receiving_users(tx, r).await?;
        let message = msg!(
            "referral.new_notice",
            direction = r.direction,
            person = &r.person_name,
            number = &r.number,
            from = &r.from_name
        );
        self.notify_in(tx, users, Some(r.id), kind, message, now)
            .await
    }

    async fn notify_in(
        &self,
        tx: &mut Tx,
        users: Vec<Uuid>,
        referral: Option<Uuid>,
        kind: &str,
        message: Message,
        now: OffsetDateTime,
    ) -> Result<LiveEvent> {
        let stored = serde_json::to_string(&message).map_err(|e| {
            AppError::Store(ygt_store::StoreError::Corrupt(format!("message: {e}")))
        })?;
        tx.insert_notifications(&users, referral, kind, &stored, now)
            .await?;
        let ev = LiveEvent {
            users,
            referral_id: referral,
            kind: kind.to_owned(),
            message,
        };
        if let Ok(payload) = serde_json::to_string(&ev) {
            tx.notify(EVENT_CHANNEL, &payload).await?;
        }
        Ok(ev)
    }

    /// Hands a committed event to this process's live clients (on PostgreSQL every process,
    /// this one included, hears it through LISTEN instead).
    fn publish(&self, ev: LiveEvent) {
        if self.store().backend() == ygt_store::Backend::Sqlite {
            let _ = self.events().send(ev);
        }
    }

    /// A referral with its history, attachments, plan, booking and tasks: for the two sides,
    /// community-wide roles and the system. Audited as a read of the resident's data.
    pub async fn referral_view(&self, ctx: &Ctx, id: Uuid) -> Result<ReferralView> {
        self.require_actor(ctx)?;
        let store = self.store();
        let r = store
            .referral(id)
            .await?
            .ok_or(AppError::NotFound("referral"))?;
        let (referring, receiving) = self.may_read_referral(ctx, &r).await?;
        let items_hidden = self
            .referral_items_hidden(ctx, &r, referring, receiving)
            .await?;
        let actions = side_actions(ctx, r.status, referring, receiving);
        let rules = self.overdue_rules().await?;
        let overdue = rules.overdue(
            r.status,
            r.urgency,
            r.status_since,
            r.appointment_at,
            self.now(),
        );
        let slot = store.slot_of_referral(id).await?;
        let resource = match &slot {
            Some(s) => store.booking_resource(s.resource_id).await?,
            None => None,
        };
        if let Some(u) = ctx.principal().and_then(|p| p.user_id) {
            let mut tx = store.begin().await?;
            tx.mark_read(u, Some(id), self.now()).await?;
            tx.commit().await?;
        }
        let person_id_number = store
            .person(r.person_id)
            .await?
            .and_then(|p| ygt_domain::masked::id_number(p.id_number.as_deref()));
        Ok(ReferralView {
            events: store.referral_events(id).await?,
            items: if items_hidden {
                Vec::new()
            } else {
                store.referral_items(id).await?
            },
            items_hidden,
            person_id_number,
            plan: r.plan.as_deref().and_then(|p| serde_json::from_str(p).ok()),
            outcome: r
                .outcome
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
            tasks: store.care_tasks(&[], false, Some(id), 200).await?,
            slot,
            resource,
            actions,
            overdue,
            referral: r,
        })
    }

    /// Whether the actor may read the referral: (referring side, receiving side), or the
    /// refusal, audited. A draft is the referring doctor's until it is submitted.
    async fn may_read_referral(&self, ctx: &Ctx, r: &Referral) -> Result<(bool, bool)> {
        let (referring, receiving) = sides(ctx, r);
        let wide = ctx
            .principal()
            .is_some_and(|p| p.can(Permission::CommunityWide));
        let reads = match &ctx.actor {
            Actor::User(p) => p.can(Permission::PatientRead) || p.can(Permission::ReferralManage),
            _ => true,
        };
        let refusal = if !(reads && (referring || receiving || wide)) {
            Some(msg!("referral.not_involved"))
        } else if r.status == Status::Draft && !referring {
            Some(msg!("referral.not_submitted"))
        } else {
            None
        };
        match refusal {
            Some(m) => Err(self.refuse(ctx, "referral.read", Some(r), m).await),
            None => Ok((referring, receiving)),
        }
    }

    /// Whether the resident's record items attached to a referral are hidden from this reader:
    /// they pass the one access policy like every other read of the record (audited there).
    async fn referral_items_hidden(
        &self,
        ctx: &Ctx,
        r: &Referral,
        referring: bool,
        receiving: bool,
    ) -> Result<bool> {
        let side = match (referring, receiving) {
            (true, _) => "referring",
            (false, true) => "receiving",
            (false, false) => "community",
        };
        let what = format!("referral={} side={side}", r.id);
        match self
            .resident_access_to(ctx, r.person_id, "referral.read", "referral", Some(&what))
            .await
        {
            Ok(_) => Ok(false),
            Err(AppError::Forbidden { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Takes one step on a referral. Exactly one of two concurrent steps wins; the other is
    /// told the referral changed.
    pub async fn referral_step(&self, ctx: &Ctx, id: Uuid, d: &StepDraft) -> Result<Referral> {
        self.require_actor(ctx)?;
        let action = d.action()?;
        let parsed = d.parse();
        let before = self.reread_referral(id).await?;
        self.authorise_step(ctx, action, &before).await?;
        // A step the state does not allow is refused before its fields are checked.
        before.status.next(action).map_err(transition_conflict)?;
        let step = parsed?;
        let target = self.step_target(&step, &before).await?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let mut r = match self
            .lock_for_step(&mut tx, ctx, action, id, d.version, &target)
            .await?
        {
            Ok(r) => r,
            Err(refused) => {
                drop(tx);
                return Err(self.refuse_step(ctx, action, &refused).await);
            }
        };
        let decision =
            decide_step(&target.facts(&r), &step, side_of(ctx, &r), now).map_err(|e| match e {
                StepRefusal::Transition(e) => transition_conflict(e),
                StepRefusal::Invalid(e) => e.into(),
            })?;
        let mut audit = self
            .write_step(&mut tx, ctx, &mut r, &step, &decision, &target, now)
            .await?;
        audit.extend(self.step_effects(&mut tx, ctx, &r, &decision, now).await?);
        let live = self
            .notify_step(&mut tx, ctx, &r, &step, &decision, &target, now)
            .await?;
        self.audit_many_in(&mut tx, ctx, &audit, Outcome::Allowed)
            .await?;
        tx.commit().await?;
        if let Some(ev) = live {
            self.publish(ev);
        }
        self.reread_referral(id).await
    }

    /// Only those who may write patient data, on the side that takes the action.
    async fn authorise_step(&self, ctx: &Ctx, action: Action, r: &Referral) -> Result<()> {
        if may_act(ctx) && side_allows(ctx, action, r) {
            return Ok(());
        }
        Err(self.refuse_step(ctx, action, r).await)
    }

    async fn refuse_step(&self, ctx: &Ctx, action: Action, r: &Referral) -> AppError {
        self.refuse(
            ctx,
            step_audit_action(action),
            Some(r),
            side_refusal(action),
        )
        .await
    }

    /// What a step needs read before its transaction: a redirection's new target (active,
    /// with its department) and the referring institution's tier, a schedule's slot (the
    /// receiving institution's).
    async fn step_target(&self, step: &Step, r: &Referral) -> Result<StepTarget> {
        let store = self.store();
        let mut t = StepTarget::default();
        match step {
            Step::Redirect { to, department, .. } => {
                let inst = match store.institution(*to).await? {
                    Some(i) if i.active => i,
                    _ => return Err(AppError::invalid("to_institution_id", Reason::NotFound)),
                };
                let from = store
                    .institution(r.from_institution_id)
                    .await?
                    .ok_or(AppError::NotFound("institution"))?;
                if let Some(dep) = department {
                    match store.department(*dep).await? {
                        Some(dd) if dd.institution_id == inst.id && dd.active => {}
                        _ => return Err(AppError::invalid("to_department_id", Reason::NotFound)),
                    }
                }
                t.redirect = Some((inst, from.tier, *department));
            }
            Step::Schedule {
                when: Appointment::Slot(s),
                ..
            } => t.slot = Some(self.slot_of(*s, r.to_institution_id).await?),
            _ => {}
        }
        Ok(t)
    }

    /// The referral read again inside the transaction (locked on PostgreSQL): the version the
    /// user saw must be current, and the actor's side is decided again on the row as locked
    /// (a redirect committed since the first read has moved the receiving side). `Ok(Err(r))`
    /// when the side no longer allows the step.
    async fn lock_for_step(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        action: Action,
        id: Uuid,
        version: Option<i64>,
        target: &StepTarget,
    ) -> Result<std::result::Result<Referral, Referral>> {
        let r = tx
            .referral_for_update(id)
            .await?
            .ok_or(AppError::NotFound("referral"))?;
        if version.is_some_and(|v| v != r.version) {
            return Err(AppError::Stale);
        }
        if !side_allows(ctx, action, &r) {
            return Ok(Err(r));
        }
        if let Some((_, res)) = &target.slot
            && res.institution_id != r.to_institution_id
        {
            return Err(AppError::Stale);
        }
        Ok(Ok(r))
    }

    /// Writes the decided step: the booking, the row under its version, the history.
    /// Returns the audit lines (the step, and a slot booked).
    #[allow(clippy::too_many_arguments)]
    async fn write_step(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        r: &mut Referral,
        step: &Step,
        dec: &StepDecision,
        target: &StepTarget,
        now: OffsetDateTime,
    ) -> Result<Vec<Event<'static>>> {
        let (user_id, actor, actor_inst) = actor_name(ctx);
        let mut audit = vec![
            Event::new(
                step_audit_action(dec.action),
                "referral",
                Some(r.id.to_string()),
            )
            .resident(r.person_id)
            .purpose("referral")
            .detail(format!("{}→{}", dec.from, dec.to)),
        ];
        if let Step::Schedule { .. } = step {
            tx.release_slot(r.id).await?;
        }
        if let Some((slot, _)) = &target.slot {
            if !tx.book_slot(slot.id, r.id, user_id, now).await? {
                return Err(slot_taken());
            }
            audit.push(
                Event::new("slot.book", "slot", Some(slot.id.to_string()))
                    .resident(r.person_id)
                    .detail(format!("referral={}", r.id)),
            );
        }
        apply_step(r, step, dec, target, now);
        tx.update_referral(r).await?;
        let note = match step {
            Step::Schedule { .. } => r.appointment_at.map(local_minute),
            Step::Redirect { reason, .. } => target
                .redirect
                .as_ref()
                .map(|(i, _, _)| format!("{} — {reason}", i.name)),
            _ => step.reason().map(str::to_owned),
        };
        let (id, from) = (r.id, Some(dec.from));
        tx.insert_referral_event(
            id,
            dec.action.into(),
            from,
            dec.first_to(),
            user_id,
            &actor,
            actor_inst,
            note.as_deref(),
            now,
        )
        .await?;
        if dec.accepted_then_scheduled {
            let at = r.appointment_at.map(local_minute);
            tx.insert_referral_event(
                id,
                EventKind::Schedule,
                Some(Status::Accepted),
                dec.to,
                user_id,
                &actor,
                actor_inst,
                at.as_deref(),
                now,
            )
            .await?;
        }
        Ok(audit)
    }

    /// Access, slots and tasks follow the state. Returns the audit lines of what changed
    /// (slots released, a care link granted).
    async fn step_effects(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        r: &Referral,
        dec: &StepDecision,
        now: OffsetDateTime,
    ) -> Result<Vec<Event<'static>>> {
        let mut audit = Vec::new();
        let rid = r.id.to_string();
        let released =
            || Event::new("slot.release", "referral", Some(rid.clone())).resident(r.person_id);
        if dec.opens_access {
            self.open_access(tx, ctx, r.id, r.person_id, r.to_institution_id)
                .await?;
            if let Some(p) = stored_plan(r) {
                self.record_plan_medications(tx, ctx, r.id, r.person_id, r.from_institution_id, &p)
                    .await?;
            }
        }
        if dec.moves_target {
            tx.end_care_links(Ground::Referral, &rid, now).await?;
            if tx.release_slot(r.id).await? > 0 {
                audit.push(released());
            }
            self.open_access(tx, ctx, r.id, r.person_id, r.to_institution_id)
                .await?;
        }
        if dec.ends_access {
            tx.end_care_links(Ground::Referral, &rid, now).await?;
        }
        if dec.releases_slot && tx.release_slot(r.id).await? > 0 {
            audit.push(released());
        }
        if dec.drops_tasks {
            tx.drop_open_care_tasks(r.id).await?;
        }
        if dec.creates_follow_ups {
            tx.insert_care_tasks(&follow_up_tasks(r, now), now).await?;
        }
        if dec.adds_care_link {
            // The patient is now seen there: the institution cares for them beyond the
            // referral, as it does for anyone it treats.
            let source = format!("referral:{rid}");
            if tx
                .ensure_care_link(r.person_id, r.to_institution_id, Ground::Care, &source, now)
                .await?
            {
                audit.push(grant_event(&Grant {
                    resident: r.person_id,
                    ground: Ground::Care,
                    institution: Some(r.to_institution_id),
                    user: None,
                    source: Some(&source),
                    until: None,
                }));
            }
        }
        Ok(audit)
    }

    /// Tells the other side (not the actor): a submission as a new referral for the receiving
    /// side, otherwise the new state with the reason.
    #[allow(clippy::too_many_arguments)]
    async fn notify_step(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        r: &Referral,
        step: &Step,
        dec: &StepDecision,
        target: &StepTarget,
        now: OffsetDateTime,
    ) -> Result<Option<LiveEvent>> {
        let head = RefHead::of(r);
        if dec.action == Action::Submit {
            return Ok(Some(
                self.notify_receiving(tx, &head, "submitted", now).await?,
            ));
        }
        let (person, number) = (&r.person_name, &r.number);
        let (users, message) = if dec.tell == Side::Receiving {
            let message = match step.reason() {
                Some(why) => msg!(
                    "referral.step_notice_why",
                    status = dec.to,
                    person = person,
                    number = number,
                    why = why
                ),
                None => msg!(
                    "referral.step_notice",
                    status = dec.to,
                    person = person,
                    number = number
                ),
            };
            (self.receiving_users(tx, &head).await?, message)
        } else {
            let mut u: Vec<Uuid> = r.from_user_id.into_iter().collect();
            if dec.moves_target {
                u.extend(self.receiving_users(tx, &head).await?);
            }
            u.sort();
            u.dedup();
            let place = match &target.redirect {
                Some((i, _, _)) => i.name.clone(),
                None => r.to_institution_name.clone(),
            };
            let message = msg!(
                "referral.step_notice_at",
                status = dec.to,
                person = person,
                number = number,
                place = place
            );
            (u, message)
        };
        let me = actor_name(ctx).0;
        let users: Vec<Uuid> = users.into_iter().filter(|u| Some(*u) != me).collect();
        if users.is_empty() {
            return Ok(None);
        }
        let ev = self
            .notify_in(tx, users, Some(r.id), dec.action.code(), message, now)
            .await?;
        Ok(Some(ev))
    }

    /// A worklist of the actor's institutions.
    pub async fn worklist(&self, ctx: &Ctx, q: &WorklistQuery) -> Result<WorklistPage> {
        self.require_actor(ctx)?;
        let mut f = self.worklist_filter(ctx, q).await?;
        let total = self.store().referral_count(&f).await?;
        let page = match q.limit {
            None => WORKLIST_PAGE,
            Some(n) if (1..=200).contains(&n) => n,
            Some(_) => {
                return Err(AppError::invalid(
                    "limit",
                    Reason::Range { min: 1, max: 200 },
                ));
            }
        };
        if let Some(c) = q.cursor.as_deref().filter(|s| !s.is_empty()) {
            f.before = Some(
                crate::record::parse_cursor(c)
                    .ok_or_else(|| AppError::invalid("cursor", Reason::Format("cursor")))?,
            );
        }
        let mut rows = self.store().referrals(&f, page + 1).await?;
        let next = if rows.len() > page as usize {
            rows.truncate(page as usize);
            rows.last().map(|r| {
                format!(
                    "{}~{}",
                    r.status_since
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    r.id
                )
            })
        } else {
            None
        };
        let rules = self.overdue_rules().await?;
        let now = self.now();
        let overdue = rows
            .iter()
            .map(|r| rules.overdue(r.status, r.urgency, r.status_since, r.appointment_at, now))
            .collect();
        self.audit(
            ctx,
            Event::new("referral.list", "referral", None)
                .purpose("referral")
                .detail(format!("list={} n={}", q.list, rows.len())),
            Outcome::Allowed,
        )
        .await?;
        let bookings = if q.booked {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let slots = self.store().slots_of_referrals(&ids).await?;
            let mut resources: BTreeMap<Uuid, Option<Resource>> = BTreeMap::new();
            for s in &slots {
                if let std::collections::btree_map::Entry::Vacant(e) =
                    resources.entry(s.resource_id)
                {
                    e.insert(self.store().booking_resource(s.resource_id).await?);
                }
            }
            rows.iter()
                .map(|r| {
                    let slot = slots.iter().find(|s| s.referral_id == Some(r.id))?;
                    let res = resources.get(&slot.resource_id)?.clone()?;
                    Some((slot.clone(), res))
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(WorklistPage {
            referrals: rows,
            overdue,
            bookings,
            next,
            total,
        })
    }

    /// The filter of a worklist over the actor's institutions (all for community-wide roles).
    pub(crate) async fn scope_filter(&self, ctx: &Ctx, list: Worklist) -> Result<ReferralFilter> {
        let scope: Option<Vec<Uuid>> = match &ctx.actor {
            Actor::System => None,
            Actor::Anonymous => return Err(AppError::Unauthenticated),
            Actor::User(p) => {
                if !(p.can(Permission::PatientRead) || p.can(Permission::ReferralManage)) {
                    return Err(self
                        .refuse(
                            ctx,
                            "referral.list",
                            None,
                            msg!("referral.not_allowed_read"),
                        )
                        .await);
                }
                if p.can(Permission::CommunityWide)
                    && (list == Worklist::All || p.patient_scope.is_empty())
                {
                    None
                } else {
                    // A worklist is the work of the user's own institutions, also for
                    // community-wide roles (who read everything under 「全部」).
                    Some(p.patient_scope.iter().copied().collect())
                }
            }
        };
        let mut f = ReferralFilter::default();
        let open: Vec<String> = Status::ALL
            .iter()
            .filter(|s| s.is_open() && **s != Status::Draft)
            .map(|s| s.code().to_owned())
            .collect();
        match list {
            Worklist::Outgoing => {
                // Sent out: one from a village clinic to its own township centre is the
                // centre's incoming work, not counted twice.
                f.not_to = scope.clone();
                f.from = scope;
            }
            Worklist::Incoming => {
                f.to = scope;
                f.statuses = open.clone();
            }
            Worklist::Overdue => {
                f.involving = scope;
                let rules = self.overdue_rules().await?;
                let now = self.now();
                let mut o = ygt_store::referral::Overdue::default();
                for u in Urgency::ALL {
                    for s in [
                        Status::Submitted,
                        Status::Redirected,
                        Status::Accepted,
                        Status::Scheduled,
                        Status::Arrived,
                    ] {
                        o.waiting.push((
                            s.code().into(),
                            u.code().into(),
                            rules.cutoff(s, *u, now),
                        ));
                    }
                    o.appointments
                        .push((u.code().into(), now - rules.rule(*u).appointment_grace));
                }
                f.overdue = Some(o);
            }
            Worklist::Handover => {
                f.to = scope;
                f.direction = Some(Direction::Down.code().into());
                f.statuses = vec![
                    Status::Submitted.code().into(),
                    Status::Redirected.code().into(),
                ];
            }
            Worklist::All => {
                // Drafts stay with the side that writes them, also for community-wide roles.
                f.drafts_from = match ctx.principal() {
                    Some(p) => Some(p.patient_scope.iter().copied().collect()),
                    None => scope.clone(),
                };
                f.involving = scope;
            }
        }
        Ok(f)
    }

    /// The store's filter of a worklist query: the list's scope narrowed by the query.
    async fn worklist_filter(&self, ctx: &Ctx, q: &WorklistQuery) -> Result<ReferralFilter> {
        let list = Worklist::parse(&q.list).ok_or_else(|| {
            AppError::invalid(
                "list",
                Reason::UnknownCode {
                    allowed: "outgoing, incoming, overdue, handover, all".into(),
                },
            )
        })?;
        let mut f = self.scope_filter(ctx, list).await?;
        if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty()) {
            let asked = s
                .split(',')
                .map(|x| Status::parse("status", x.trim()).map(|x| x.code().to_owned()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            f.statuses = asked;
        }
        if let Some(s) = q.direction.as_deref().filter(|s| !s.is_empty()) {
            f.direction = Some(Direction::parse("direction", s)?.code().to_owned());
        }
        if let Some(s) = q.person_id.as_deref().filter(|s| !s.is_empty()) {
            f.person_id = Some(parse_id("person_id", s)?);
        }
        // The list's scope stays in the filter (`involving`, or `from`/`to` narrowed here).
        if let Some(s) = opt_id("from_institution_id", q.from_institution_id.as_ref())? {
            f.from = Some(match f.from.take() {
                Some(v) => v.into_iter().filter(|i| *i == s).collect(),
                None => vec![s],
            });
        }
        if let Some(s) = opt_id("to_institution_id", q.to_institution_id.as_ref())? {
            f.to = Some(match f.to.take() {
                Some(v) => v.into_iter().filter(|i| *i == s).collect(),
                None => vec![s],
            });
        }
        f.booked = q.booked;
        if let Some(d) = q.days {
            if !(1..=366).contains(&d) {
                return Err(AppError::invalid(
                    "days",
                    Reason::Range { min: 1, max: 366 },
                ));
            }
            f.changed_since = Some(self.now() - time::Duration::days(d));
        }
        Ok(f)
    }

    /// The lists the home page counts, each exactly as its link opens it: outgoing ones still
    /// open; up-referrals addressed here waiting for acceptance; overdue ones; down-referrals
    /// waiting for handover. No referral is counted under two of the first, second and fourth.
    pub fn counted_lists() -> [(&'static str, WorklistQuery); 6] {
        let q = |list: &str, status: Option<String>, direction: Option<&str>| WorklistQuery {
            list: list.into(),
            status,
            direction: direction.map(str::to_owned),
            ..Default::default()
        };
        let open: Vec<&str> = Status::ALL
            .iter()
            .filter(|s| s.is_open() && **s != Status::Draft)
            .map(|s| s.code())
            .collect();
        let returned = WorklistQuery {
            days: Some(RETURNED_DAYS),
            ..q("outgoing", Some(Status::Completed.code().into()), None)
        };
        let waiting = [Status::Submitted.code(), Status::Redirected.code()].join(",");
        [
            ("outgoing", q("outgoing", Some(open.join(",")), None)),
            (
                "incoming",
                q("incoming", Some(waiting), Some(Direction::Up.code())),
            ),
            ("overdue", q("overdue", None, None)),
            ("handover", q("handover", None, None)),
            (
                "drafts",
                q("outgoing", Some(Status::Draft.code().into()), None),
            ),
            ("returned", returned),
        ]
    }

    pub async fn worklist_counts(&self, ctx: &Ctx) -> Result<WorklistCounts> {
        self.require_actor(ctx)?;
        let store = self.store();
        let mut c = WorklistCounts::default();
        let lists = Self::counted_lists();
        let mut filters = Vec::with_capacity(lists.len());
        for (_, q) in &lists {
            filters.push(self.worklist_filter(ctx, q).await?);
        }
        let counts = store.referral_count_each(&filters).await?;
        for ((name, _), n) in lists.into_iter().zip(counts) {
            match name {
                "outgoing" => c.outgoing_open = n,
                "incoming" => c.incoming_waiting = n,
                "overdue" => c.overdue = n,
                "drafts" => c.drafts = n,
                "returned" => c.returned = n,
                _ => c.handover = n,
            }
        }
        if let Some(p) = ctx.principal() {
            let inst: Vec<Uuid> = p.patient_scope.iter().copied().collect();
            if !inst.is_empty() && p.can(Permission::PatientRead) {
                let today = crate::local_today(self.now());
                (c.tasks_overdue, c.tasks_today, c.tasks_open) =
                    store.care_task_tally(&inst, today).await?;
            }
            if let Some(u) = p.user_id {
                c.unread = store.unread_count(u).await?;
            }
        }
        Ok(c)
    }

    /// Open (or all) care tasks of the actor's institutions, earliest due first (up to 500).
    pub async fn care_task_list(&self, ctx: &Ctx, open_only: bool) -> Result<Vec<CareTask>> {
        let q = TaskQuery {
            all: !open_only,
            limit: Some(500),
            ..Default::default()
        };
        Ok(self.care_task_page(ctx, &q).await?.0)
    }

    /// A page of the care tasks of the actor's institutions, earliest due first, and how
    /// many there are.
    pub async fn care_task_page(&self, ctx: &Ctx, q: &TaskQuery) -> Result<(Vec<CareTask>, i64)> {
        self.require_actor(ctx)?;
        let inst: Vec<Uuid> = match ctx.principal() {
            Some(p) if p.can(Permission::PatientRead) => p.patient_scope.iter().copied().collect(),
            Some(_) => {
                return Err(self
                    .refuse(ctx, "task.list", None, msg!("referral.not_allowed_tasks"))
                    .await);
            }
            None => Vec::new(),
        };
        let f = self.task_filter(q, inst.clone())?;
        let limit = match q.limit {
            None => TASK_PAGE,
            Some(n) if (1..=500).contains(&n) => n,
            Some(_) => {
                return Err(AppError::invalid(
                    "limit",
                    Reason::Range { min: 1, max: 500 },
                ));
            }
        };
        if inst.is_empty() && ctx.principal().is_some() {
            return Ok((Vec::new(), 0));
        }
        let (tasks, total) = self
            .store()
            .care_task_page(&f, q.offset.max(0), limit)
            .await?;
        self.audit(
            ctx,
            Event::new("task.list", "care_task", None)
                .purpose("follow_up")
                .detail(format!("n={}", tasks.len())),
            Outcome::Allowed,
        )
        .await?;
        Ok((tasks, total))
    }

    fn task_filter(&self, q: &TaskQuery, institutions: Vec<Uuid>) -> Result<TaskFilter> {
        let today = crate::local_today(self.now());
        let mut f = TaskFilter {
            institutions,
            open_only: !q.all,
            ..Default::default()
        };
        match q.due.as_deref().map(str::trim).unwrap_or("") {
            "" => {}
            "overdue" => f.due_before = Some(today),
            "now" => f.due_before = today.next_day(),
            "today" => {
                f.due_from = Some(today);
                f.due_before = today.next_day();
            }
            _ => {
                return Err(AppError::invalid(
                    "due",
                    Reason::UnknownCode {
                        allowed: "overdue, today, now".into(),
                    },
                ));
            }
        }
        Ok(f)
    }

    /// Marks a care task done (by staff of the institution it belongs to). The readings taken
    /// (blood pressure, fasting glucose) become a measurement in the resident's record, on
    /// its trend charts, in the same transaction; the task shows them.
    pub async fn complete_care_task(
        &self,
        ctx: &Ctx,
        id: Uuid,
        done: &TaskDone,
    ) -> Result<CareTask> {
        self.require_actor(ctx)?;
        let store = self.store();
        let t = store
            .care_task(id)
            .await?
            .ok_or(AppError::NotFound("task"))?;
        let ok = match &ctx.actor {
            Actor::System => true,
            Actor::User(p) => {
                p.can(Permission::PatientWrite) && p.covers_patients(t.institution_id)
            }
            Actor::Anonymous => false,
        };
        let e = || {
            Event::new("task.complete", "care_task", Some(id.to_string()))
                .resident(t.person_id)
                .purpose("follow_up")
        };
        if !ok {
            return Err(self
                .deny(
                    ctx,
                    e(),
                    AppError::forbidden(msg!("referral.task_belongs_another_institution")),
                )
                .await);
        }
        let now = self.now();
        let findings = done.parse()?;
        let measurement = findings.measurement(&t, now)?;
        if let Some(m) = &measurement {
            self.authorise_items(ctx, std::slice::from_ref(m), "record.write")
                .await?;
        }
        let (_, actor, _) = actor_name(ctx);
        let by = ctx.principal().map_or(actor, |p| p.display_name.clone());
        let mut tx = store.begin().await?;
        tx.lock_writes().await?;
        if !tx
            .complete_care_task(id, &by, findings.summary().as_deref(), now)
            .await?
        {
            return Err(AppError::conflict(None, msg!("referral.task_already_done")));
        }
        if let Some(m) = &measurement {
            self.record_in(&mut tx, ctx, std::slice::from_ref(m), "care_task")
                .await?;
        }
        self.audit_in(&mut tx, ctx, e(), Outcome::Allowed).await?;
        tx.commit().await?;
        store.care_task(id).await?.ok_or(AppError::NotFound("task"))
    }

    /// The user's inbox.
    pub async fn inbox(&self, ctx: &Ctx, unread_only: bool) -> Result<Vec<Notification>> {
        self.require_actor(ctx)?;
        match ctx.principal().and_then(|p| p.user_id) {
            Some(u) => Ok(self.store().inbox(u, unread_only, 100).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Marks the user's notifications read.
    pub async fn mark_inbox_read(&self, ctx: &Ctx) -> Result<u64> {
        self.require_actor(ctx)?;
        match ctx.principal().and_then(|p| p.user_id) {
            Some(u) => {
                let mut tx = self.store().begin().await?;
                let n = tx.mark_read(u, None, self.now()).await?;
                tx.commit().await?;
                Ok(n)
            }
            None => Ok(0),
        }
    }

    /// Suggestions of the written criteria for a resident, seen from the actor's institution.
    pub async fn referral_suggestions(
        &self,
        ctx: &Ctx,
        person: Uuid,
        needs: &[ServiceKind],
    ) -> Result<Vec<Suggestion>> {
        self.require_actor(ctx)?;
        let store = self.store();
        let p = store
            .person(person)
            .await?
            .ok_or(AppError::NotFound("resident"))?;
        self.resident_access(ctx, person, "referral.suggest", "referral")
            .await?;
        let inst = match ctx.principal().and_then(|p| p.institution_id) {
            Some(i) => store.institution(i).await?,
            None => None,
        };
        let Some(inst) = inst else {
            return Ok(Vec::new());
        };
        let now = self.now();
        let since = now - Duration::days(365);
        let mut obs = store
            .series(person, &["SBP", "DBP", "GLU"], since, 10)
            .await?;
        obs.sort_by_key(|o| o.effective_at);
        let mut bp: BTreeMap<(OffsetDateTime, Uuid), (Option<f64>, Option<f64>)> = BTreeMap::new();
        let mut glucose = Vec::new();
        for o in &obs {
            match (o.code.as_str(), o.value_num) {
                ("SBP", Some(v)) => bp.entry((o.effective_at, o.item_id)).or_default().0 = Some(v),
                ("DBP", Some(v)) => bp.entry((o.effective_at, o.item_id)).or_default().1 = Some(v),
                ("GLU", Some(v)) => glucose.push(Reading::FastingGlucose { mmol_per_l: v }),
                _ => {}
            }
        }
        let blood_pressure = bp
            .values()
            .filter_map(|(s, d)| {
                Some(Reading::BloodPressure {
                    systolic: (*s)?,
                    diastolic: (*d)?,
                })
            })
            .collect();
        let diagnoses = store
            .problems(person)
            .await?
            .iter()
            .filter(|pr| pr.last_at > now - Duration::days(180))
            .filter_map(|pr| Icd10Code::parse("code", &pr.code).ok())
            .collect();
        let age = p.birth_date.map(|b| {
            let t = now.date();
            let mut a = t.year() - b.year();
            if (u8::from(t.month()), t.day()) < (u8::from(b.month()), b.day()) {
                a -= 1;
            }
            a
        });
        let discharges = store
            .items_of_kind(person, "encounter", Some(now - Duration::days(30)), 20)
            .await?;
        let days_since_discharge = discharges
            .iter()
            .filter(|e| e.body.contains("\"inpatient\"") && e.institution_id == inst.id)
            .filter_map(|e| e.ended_at)
            .map(|t| (now - t).whole_days())
            .min();
        let e = Evidence {
            tier: Some(inst.tier),
            services: inst.services.clone(),
            needs: needs.to_vec(),
            age,
            diagnoses,
            blood_pressure,
            glucose,
            days_since_discharge,
        };
        let own = self.catalogue(inst.tier).await?;
        let lower = self.catalogue(Tier::Township).await?;
        Ok(ygt_domain::referral::suggest(&e, &own, &lower))
    }

    /// Records that the doctor dismissed a suggestion, and why.
    pub async fn dismiss_suggestion(
        &self,
        ctx: &Ctx,
        person: Uuid,
        criterion: &str,
        reason: &str,
    ) -> Result<()> {
        self.require_actor(ctx)?;
        let c = Criterion::parse("criterion", criterion)?;
        let reason = text("reason", reason, 500, true)?;
        self.resident_access(ctx, person, "referral.suggest", "referral")
            .await?;
        self.audit(
            ctx,
            Event::new(
                "referral.suggestion_dismissed",
                "resident",
                Some(person.to_string()),
            )
            .resident(person)
            .purpose("referral")
            .detail(format!("criterion={} reason={reason}", c.code())),
            Outcome::Allowed,
        )
        .await
    }

    // ------------------------------------------------------------ calendars

    /// Booking resources of an institution (or all), for anyone who may refer.
    pub async fn booking_resources(
        &self,
        ctx: &Ctx,
        institution: Option<Uuid>,
        kind: Option<&str>,
    ) -> Result<Vec<Resource>> {
        self.require_actor(ctx)?;
        let kind = match kind.filter(|k| !k.is_empty()) {
            Some(k) => Some(ResourceKind::parse("kind", k)?.code()),
            None => None,
        };
        Ok(self.store().booking_resources(institution, kind).await?)
    }

    /// Free slots of a resource in the next `days` days, with who may book each now.
    pub async fn free_slots(
        &self,
        ctx: &Ctx,
        resource: Uuid,
        days: i64,
    ) -> Result<Vec<(Slot, ygt_domain::referral::SlotAvailability)>> {
        self.require_actor(ctx)?;
        let now = self.now();
        let slots = self
            .store()
            .slots(resource, now, now + Duration::days(days.clamp(1, 60)), true)
            .await?;
        Ok(slots
            .into_iter()
            .map(|s| {
                let a = ygt_domain::referral::slot_availability(
                    s.reserved,
                    s.release_at,
                    s.starts_at,
                    s.referral_id.is_some(),
                    now,
                );
                (s, a)
            })
            .filter(|(_, a)| !matches!(a, ygt_domain::referral::SlotAvailability::Past))
            .collect())
    }

    /// A page of a resource's calendar, booked slots included (without saying for whom):
    /// slots starting in [from, until), only booked (`Some(true)`) or free (`Some(false)`) ones
    /// if asked, after the keyset `after`, at most `limit`; with who may book each now.
    #[allow(clippy::too_many_arguments)]
    pub async fn calendar_slots(
        &self,
        ctx: &Ctx,
        resource: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
        booked: Option<bool>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<(Slot, ygt_domain::referral::SlotAvailability)>> {
        self.require_actor(ctx)?;
        let now = self.now();
        let slots = self
            .store()
            .slot_page(resource, from, until, booked, after, limit.clamp(1, 1000))
            .await?;
        Ok(slots
            .into_iter()
            .map(|s| {
                let a = ygt_domain::referral::slot_availability(
                    s.reserved,
                    s.release_at,
                    s.starts_at,
                    s.referral_id.is_some(),
                    now,
                );
                (s, a)
            })
            .collect())
    }

    /// One slot of a calendar with its resource and who may book it now.
    pub async fn calendar_slot(
        &self,
        ctx: &Ctx,
        id: Uuid,
    ) -> Result<(Slot, Resource, ygt_domain::referral::SlotAvailability)> {
        self.require_actor(ctx)?;
        let store = self.store();
        let slot = store.slot(id).await?.ok_or(AppError::NotFound("slot"))?;
        let res = store
            .booking_resource(slot.resource_id)
            .await?
            .ok_or(AppError::NotFound("slot"))?;
        let a = ygt_domain::referral::slot_availability(
            slot.reserved,
            slot.release_at,
            slot.starts_at,
            slot.referral_id.is_some(),
            self.now(),
        );
        Ok((slot, res, a))
    }

    /// Creates a bookable resource with its calendar: `per_day` slots of `minutes` from
    /// `first_start` each day for `days` days (weekdays only unless `weekends`), the first
    /// `reserved_per_day` of each day reserved for referrals until `release_hours` before.
    /// `location` says where it is (building, floor, room; may be empty).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_calendar(
        &self,
        ctx: &Ctx,
        institution: Uuid,
        department: Option<Uuid>,
        kind: ResourceKind,
        name: &str,
        location: &str,
        staff: Option<Uuid>,
        release_hours: i64,
        first_start: OffsetDateTime,
        minutes: i64,
        per_day: i64,
        reserved_per_day: i64,
        days: i64,
        weekends: bool,
    ) -> Result<Uuid> {
        self.require_for(
            ctx,
            Permission::RegistryWrite,
            Permission::RegistryWriteAll,
            Some(institution),
            Event::new("calendar.create", "booking_resource", None),
        )
        .await?;
        let name = text("name", name, 100, true)?;
        let location = text("location", location, 100, false)?;
        if !(0..=24 * 14).contains(&release_hours) {
            return Err(AppError::invalid(
                "release_hours",
                Reason::Range { min: 0, max: 336 },
            ));
        }
        let slots = session_slots(
            kind,
            release_hours,
            first_start,
            minutes,
            per_day,
            reserved_per_day,
            days,
            weekends,
        )?;
        let id = new_id();
        let mut tx = self.store().begin().await?;
        tx.insert_booking_resource(
            &NewResource {
                id,
                institution_id: institution,
                department_id: department,
                kind: kind.code().into(),
                name,
                location,
                staff_id: staff,
                release_hours,
            },
            self.now(),
        )
        .await?;
        let n = tx.insert_slots(id, &slots).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("calendar.create", "booking_resource", Some(id.to_string()))
                .detail(format!("kind={kind} slots={n}")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds a session to a calendar made by [`App::create_calendar`] (the afternoon clinic
    /// beside the morning one): `per_day` slots of `minutes` from `first_start` each day for
    /// `days` days, the first `reserved_per_day` of each day reserved for referrals until the
    /// resource's release time. Returns how many slots were added.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_calendar_session(
        &self,
        ctx: &Ctx,
        resource: Uuid,
        first_start: OffsetDateTime,
        minutes: i64,
        per_day: i64,
        reserved_per_day: i64,
        days: i64,
        weekends: bool,
    ) -> Result<u64> {
        let res = self
            .store()
            .booking_resource(resource)
            .await?
            .ok_or(AppError::NotFound("resource"))?;
        self.require_for(
            ctx,
            Permission::RegistryWrite,
            Permission::RegistryWriteAll,
            Some(res.institution_id),
            Event::new(
                "calendar.add_session",
                "booking_resource",
                Some(resource.to_string()),
            ),
        )
        .await?;
        let kind = res.kind;
        let slots = session_slots(
            kind,
            res.release_hours,
            first_start,
            minutes,
            per_day,
            reserved_per_day,
            days,
            weekends,
        )?;
        let mut tx = self.store().begin().await?;
        let n = tx.insert_slots(resource, &slots).await?;
        self.audit_in(
            &mut tx,
            ctx,
            Event::new(
                "calendar.add_session",
                "booking_resource",
                Some(resource.to_string()),
            )
            .detail(format!("kind={kind} slots={n}")),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    // ------------------------------------------------------------ receiving doctors

    /// The doctors a down-referral to `institution` can name as the resident's doctor (the
    /// family doctor who takes the follow-ups over): its active physicians and village doctors,
    /// most senior first, then by name. Reading the registry needs `registry.read`.
    /// What a down-referral of this resident starts with: back to the institution and the
    /// doctor who referred them up, with the diagnosis made here. Taken from the latest
    /// up-referral addressed to the user's institutions that the resident arrived for.
    pub async fn down_referral_defaults(
        &self,
        ctx: &Ctx,
        person: Uuid,
    ) -> Result<Option<DownDefaults>> {
        let Some(p) = ctx.principal() else {
            return Ok(None);
        };
        let scope: Vec<Uuid> = p.patient_scope.iter().copied().collect();
        if scope.is_empty() {
            return Ok(None);
        }
        let f = ReferralFilter {
            to: Some(scope),
            person_id: Some(person),
            direction: Some(Direction::Up.code().into()),
            statuses: vec![
                Status::Arrived.code().into(),
                Status::Completed.code().into(),
            ],
            ..Default::default()
        };
        let Some(up) = self.store().referrals(&f, 1).await?.into_iter().next() else {
            return Ok(None);
        };
        let outcome: Option<ReferralOutcome> = up
            .outcome
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok());
        let staff = match up.from_user_id {
            Some(u) => self.store().user(u).await?.and_then(|u| u.staff_id),
            None => None,
        };
        let (code, name) = match outcome {
            Some(o) if o.diagnosis_code.is_some() || o.diagnosis_name.is_some() => {
                (o.diagnosis_code, o.diagnosis_name)
            }
            _ => (up.diagnosis_code.clone(), up.diagnosis_name.clone()),
        };
        Ok(Some(DownDefaults {
            to_institution_id: up.from_institution_id,
            to_staff_id: staff,
            diagnosis_code: code,
            diagnosis_name: name,
            up_referral: up.id,
            up_number: up.number,
        }))
    }

    pub async fn referral_doctors(
        &self,
        ctx: &Ctx,
        institution: Uuid,
    ) -> Result<Vec<ygt_store::org::Staff>> {
        let (staff, _) = self
            .list_staff(
                ctx,
                &ygt_store::org::StaffFilter {
                    institution_id: Some(institution),
                    limit: Some(1_000),
                    ..Default::default()
                },
            )
            .await?;
        let mut doctors: Vec<ygt_store::org::Staff> =
            staff.into_iter().filter(|s| s.title.is_doctor()).collect();
        doctors.sort_by(|a, b| (a.title, a.name.as_str()).cmp(&(b.title, b.name.as_str())));
        Ok(doctors)
    }

    // ------------------------------------------------------------ statistics

    /// Referral statistics over [since, until): by month, direction, institution, reason and
    /// outcome, with acceptance rate and median times.
    pub async fn referral_stats(
        &self,
        ctx: &Ctx,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<ReferralStats> {
        self.require_actor(ctx)?;
        let ok = match &ctx.actor {
            Actor::System => true,
            Actor::User(p) => {
                p.can(Permission::IndicatorRead)
                    || p.can(Permission::ReferralManage)
                    || p.can(Permission::CommunityWide)
            }
            Actor::Anonymous => false,
        };
        if !ok {
            return Err(self
                .refuse(
                    ctx,
                    "referral.stats",
                    None,
                    msg!("referral.not_allowed_stats"),
                )
                .await);
        }
        let facts = self.store().referral_facts(since, until).await?;
        self.audit(
            ctx,
            Event::new("referral.stats", "referral", None).detail(format!("n={}", facts.len())),
            Outcome::Allowed,
        )
        .await?;
        Ok(ReferralStats::from_facts(&facts))
    }
}

/// The slots of one daily session: `per_day` slots of `minutes` from `first_start` each day
/// for `days` days (weekdays only unless `weekends`), the first `reserved_per_day` of each day
/// reserved until `release_hours` before they start. Beds: every bed of the day admits at
/// `first_start`'s time.
#[allow(clippy::too_many_arguments)]
fn session_slots(
    kind: ResourceKind,
    release_hours: i64,
    first_start: OffsetDateTime,
    minutes: i64,
    per_day: i64,
    reserved_per_day: i64,
    days: i64,
    weekends: bool,
) -> Result<Vec<(OffsetDateTime, OffsetDateTime, bool, OffsetDateTime)>> {
    if !(1..=200).contains(&per_day) {
        return Err(AppError::invalid(
            "per_day",
            Reason::Range { min: 1, max: 200 },
        ));
    }
    if !(0..=per_day).contains(&reserved_per_day) {
        return Err(AppError::invalid(
            "reserved_per_day",
            Reason::Range {
                min: 0,
                max: per_day,
            },
        ));
    }
    if !(1..=180).contains(&days) {
        return Err(AppError::invalid(
            "days",
            Reason::Range { min: 1, max: 180 },
        ));
    }
    let first_start = first_start.to_offset(time::UtcOffset::UTC);
    let mut slots = Vec::new();
    for d in 0..days {
        let day_start = first_start + Duration::days(d);
        let wd = day_start.to_offset(beijing()).weekday();
        if !weekends && matches!(wd, time::Weekday::Saturday | time::Weekday::Sunday) {
            continue;
        }
        for i in 0..per_day {
            // Beds: every bed of the day admits at the same time.
            let start = if kind == ResourceKind::Bed {
                day_start
            } else {
                day_start + Duration::minutes(minutes * i)
            };
            let end = start + Duration::minutes(minutes.max(1));
            slots.push((
                start,
                end,
                i < reserved_per_day,
                start - Duration::hours(release_hours),
            ));
        }
    }
    Ok(slots)
}

/// Statistics of referrals (no resident data: counts and times only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferralStats {
    pub total: i64,
    pub rows: Vec<StatsRow>,
    pub by_reason: Vec<(String, i64)>,
    pub by_outcome: Vec<(String, i64)>,
}

/// One group: month, direction and the referring institution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsRow {
    pub month: String,
    pub direction: String,
    pub from_institution: String,
    pub to_institution: String,
    pub count: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Accepted (ever) over decided (accepted or rejected), in per cent.
    pub acceptance_rate: Option<f64>,
    pub median_hours_to_acceptance: Option<f64>,
    pub median_hours_to_arrival: Option<f64>,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

impl ReferralStats {
    pub fn from_facts(facts: &[ygt_store::referral::ReferralFact]) -> ReferralStats {
        type Key = (String, String, String, String);
        let mut groups: BTreeMap<Key, Vec<&ygt_store::referral::ReferralFact>> = BTreeMap::new();
        let mut reasons: BTreeMap<String, i64> = BTreeMap::new();
        let mut outcomes: BTreeMap<String, i64> = BTreeMap::new();
        for f in facts {
            let t = f.created_at.to_offset(beijing());
            let month = format!("{:04}-{:02}", t.year(), u8::from(t.month()));
            groups
                .entry((
                    month,
                    f.direction.clone(),
                    f.from_institution_name.clone(),
                    f.to_institution_name.clone(),
                ))
                .or_default()
                .push(f);
            let reason = f.criterion.clone().unwrap_or_else(|| {
                match (&f.diagnosis_code, &f.diagnosis_name) {
                    (Some(c), Some(n)) => format!("{} {n}", c.get(..3).unwrap_or(c)),
                    (Some(c), None) => c.get(..3).unwrap_or(c).to_owned(),
                    _ => "other".into(),
                }
            });
            *reasons.entry(reason).or_default() += 1;
            *outcomes.entry(f.status.clone()).or_default() += 1;
        }
        let hours = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>| match (a, b) {
            (Some(a), Some(b)) if b >= a => Some((b - a).as_seconds_f64() / 3600.0),
            _ => None,
        };
        let rows = groups
            .into_iter()
            .map(
                |((month, direction, from_institution, to_institution), fs)| {
                    let accepted = fs.iter().filter(|f| f.accepted_at.is_some()).count() as i64;
                    let rejected = fs.iter().filter(|f| f.status == "rejected").count() as i64;
                    let mut ta: Vec<f64> = fs
                        .iter()
                        .filter_map(|f| hours(f.submitted_at, f.accepted_at))
                        .collect();
                    let mut tr: Vec<f64> = fs
                        .iter()
                        .filter_map(|f| hours(f.submitted_at, f.arrived_at))
                        .collect();
                    StatsRow {
                        month,
                        direction,
                        from_institution,
                        to_institution,
                        count: fs.len() as i64,
                        accepted,
                        rejected,
                        acceptance_rate: (accepted + rejected > 0)
                            .then(|| 100.0 * accepted as f64 / (accepted + rejected) as f64),
                        median_hours_to_acceptance: median(&mut ta),
                        median_hours_to_arrival: median(&mut tr),
                    }
                },
            )
            .collect();
        let mut by_reason: Vec<(String, i64)> = reasons.into_iter().collect();
        by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ReferralStats {
            total: facts.len() as i64,
            rows,
            by_reason,
            by_outcome: outcomes.into_iter().collect(),
        }
    }
}

/// The few fields notifications need.
struct RefHead {
    id: Uuid,
    number: String,
    direction: Direction,
    person_name: String,
    from_name: String,
    to_institution_id: Uuid,
    to_department_id: Option<Uuid>,
    to_staff_id: Option<Uuid>,
}

impl RefHead {
    fn of(r: &Referral) -> RefHead {
        RefHead {
            id: r.id,
            number: r.number.clone(),
            direction: r.direction,
            person_name: r.person_name.clone(),
            from_name: r.from_institution_name.clone(),
            to_institution_id: r.to_institution_id,
            to_department_id: r.to_department_id,
            to_staff_id: r.to_staff_id,
        }
    }
}

fn new_referral_view(n: &NewReferralRow, person: &str, from: &str) -> RefHead {
    RefHead {
        id: n.id,
        number: n.number.clone(),
        direction: n.direction,
        person_name: person.to_owned(),
        from_name: from.to_owned(),
        to_institution_id: n.to_institution_id,
        to_department_id: n.to_department_id,
        to_staff_id: n.to_staff_id,
    }
}

/// The referral settings the community administrator edits: the catalogue of each primary
/// tier (one line per entry: `codes name`, `慢病`/`chronic` at the end marks a long-term
/// condition) and the overdue minutes per urgency.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ReferralSettings {
    pub township: String,
    pub village: String,
    pub rules: Vec<RuleRow>,
}

fn catalogue_text(rows: &[ygt_store::referral::CatalogueRow]) -> String {
    rows.iter()
        .map(|r| {
            if r.chronic {
                format!("{} {} 慢病", r.codes, r.name)
            } else {
                format!("{} {}", r.codes, r.name)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses catalogue lines; errors name `<field>[line]`.
pub fn parse_catalogue(
    field: &str,
    text: &str,
) -> std::result::Result<Vec<(String, String, bool)>, ValidationErrors> {
    let mut errs = ValidationErrors::default();
    let mut out: Vec<(String, String, bool)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let f = format!("{field}[{}]", i + 1);
        let (codes, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
        let range = match CodeRange::parse(&f, codes) {
            Ok(r) => r,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        let mut name = rest.trim().to_owned();
        let mut chronic = false;
        for tag in ["慢病", "chronic"] {
            if let Some(n) = name.strip_suffix(tag) {
                name = n.trim().to_owned();
                chronic = true;
            }
        }
        if name.is_empty() {
            errs.push(ValidationError::new(&f, Reason::Required));
            continue;
        }
        if name.chars().count() > 100 {
            errs.push(ValidationError::new(&f, Reason::TooLong { max: 100 }));
            continue;
        }
        let key = range.to_string();
        if out.iter().any(|(c, _, _)| *c == key) {
            errs.push(ValidationError::new(
                &f,
                Reason::Other(msg!("referral.appears_twice", key = key)),
            ));
            continue;
        }
        out.push((key, name, chronic));
    }
    errs.into_result()?;
    Ok(out)
}

impl App {
    /// The settings as the editing form shows them.
    pub async fn referral_settings(&self, ctx: &Ctx) -> Result<ReferralSettings> {
        self.require(
            ctx,
            Permission::RegistryRead,
            Event::new("referral.settings", "referral_settings", None),
        )
        .await?;
        let store = self.store();
        Ok(ReferralSettings {
            township: catalogue_text(&store.catalogue(Tier::Township.code()).await?),
            village: catalogue_text(&store.catalogue(Tier::Village.code()).await?),
            rules: store.referral_rules().await?,
        })
    }

    /// Replaces the catalogues and the overdue rules (community administrators).
    pub async fn set_referral_settings(&self, ctx: &Ctx, s: &ReferralSettings) -> Result<()> {
        self.require(
            ctx,
            Permission::RegistryWriteAll,
            Event::new("referral.settings_update", "referral_settings", None),
        )
        .await?;
        let mut errs = ValidationErrors::default();
        let township = match parse_catalogue("township", &s.township) {
            Ok(v) => v,
            Err(e) => {
                errs.0.extend(e.0);
                Vec::new()
            }
        };
        let village = match parse_catalogue("village", &s.village) {
            Ok(v) => v,
            Err(e) => {
                errs.0.extend(e.0);
                Vec::new()
            }
        };
        for (i, r) in s.rules.iter().enumerate() {
            if Urgency::parse("urgency", &r.urgency).is_err() {
                errs.push(ValidationError::new(
                    format!("rules[{i}].urgency"),
                    Reason::UnknownCode {
                        allowed: Urgency::codes(),
                    },
                ));
            }
            for (name, v) in [
                ("accept_minutes", r.accept_minutes),
                ("arrive_minutes", r.arrive_minutes),
                ("grace_minutes", r.grace_minutes),
                ("complete_minutes", r.complete_minutes),
            ] {
                if !(1..=525_600).contains(&v) {
                    errs.push(ValidationError::new(
                        format!("rules[{i}].{name}"),
                        Reason::Range {
                            min: 1,
                            max: 525_600,
                        },
                    ));
                }
            }
        }
        errs.into_result()?;
        let mut tx = self.store().begin().await?;
        tx.replace_catalogue(Tier::Township.code(), &township)
            .await?;
        tx.replace_catalogue(Tier::Village.code(), &village).await?;
        for r in &s.rules {
            tx.set_referral_rule(r).await?;
        }
        self.audit_in(
            &mut tx,
            ctx,
            Event::new("referral.settings_update", "referral_settings", None).detail(format!(
                "township={} village={} rules={}",
                township.len(),
                village.len(),
                s.rules.len()
            )),
            Outcome::Allowed,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl App {
    /// Every active calendar with its free future slots and, of those, the ones still
    /// reserved for referrals.
    pub async fn calendar_overview(&self, ctx: &Ctx) -> Result<Vec<(Resource, i64, i64)>> {
        self.require_actor(ctx)?;
        let store = self.store();
        let resources = store.booking_resources(None, None).await?;
        let now = self.now();
        let mut counts = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in &resources {
            if seen.insert(r.institution_id) {
                for c in store.free_slot_counts(r.institution_id, now).await? {
                    counts.insert(c.resource_id, (c.free, c.reserved_free));
                }
            }
        }
        Ok(resources
            .into_iter()
            .map(|r| {
                let (f, rf) = counts.get(&r.id).copied().unwrap_or((0, 0));
                (r, f, rf)
            })
            .collect())
    }

    /// How many of the signed-in user's messages are unread (0 for tokens).
    pub async fn unread_count(&self, ctx: &Ctx) -> Result<i64> {
        match ctx.principal().and_then(|p| p.user_id) {
            Some(u) => Ok(self.store().unread_count(u).await?),
            None => Ok(0),
        }
    }
}

/// Whether the actor's institutions are the side that takes `action` on `r`.
fn side_allows(ctx: &Ctx, action: Action, r: &Referral) -> bool {
    let (referring, receiving) = sides(ctx, r);
    match action.side() {
        Side::Referring => referring,
        Side::Receiving => receiving,
        Side::Either => referring || receiving,
    }
}

fn side_refusal(action: Action) -> Message {
    match action.side() {
        Side::Referring => msg!("referral.referring_side_only"),
        Side::Receiving => msg!("referral.receiving_side_only"),
        Side::Either => msg!("referral.not_involved"),
    }
}

/// What a new referral is written with, once loaded and checked.
struct NewFacts {
    from: Institution,
    to: Institution,
    person_name: String,
    slot: Option<(Slot, Resource)>,
}

fn place(i: &Institution) -> Place<'_> {
    Place {
        id: i.id,
        tier: i.tier,
        name: &i.name,
    }
}

fn slot_taken() -> AppError {
    AppError::conflict(Some("slot_id"), msg!("referral.slot_already_booked_past"))
}

/// The audit lines of a new referral: its creation, and the slot booked with it.
fn new_referral_events(c: &NewReferral, f: &NewFacts, id: Uuid) -> Vec<Event<'static>> {
    let mut events = vec![
        Event::new("referral.create", "referral", Some(id.to_string()))
            .resident(c.person_id)
            .purpose("referral")
            .detail(format!(
                "direction={} to={} status={}",
                c.direction,
                f.to.id,
                c.status()
            )),
    ];
    if let Some((slot, _)) = &f.slot {
        events.push(
            Event::new("slot.book", "slot", Some(slot.id.to_string()))
                .resident(c.person_id)
                .detail(format!("referral={id}")),
        );
    }
    events
}

/// What a step loaded before its transaction.
#[derive(Default)]
struct StepTarget {
    /// Redirect: the new institution, the referring institution's tier, the new department.
    redirect: Option<(Institution, Tier, Option<Uuid>)>,
    /// Schedule: the slot booked and its resource.
    slot: Option<(Slot, Resource)>,
}

impl StepTarget {
    /// The facts a step on `r` is decided on.
    fn facts(&self, r: &Referral) -> StepFacts {
        StepFacts {
            status: r.status,
            direction: r.direction,
            from: r.from_institution_id,
            to: r.to_institution_id,
            appointment_at: r.appointment_at,
            redirect: self
                .redirect
                .as_ref()
                .map(|(i, from_tier, _)| RedirectFacts {
                    from_tier: *from_tier,
                    to: i.id,
                    to_tier: i.tier,
                }),
        }
    }
}

/// The side the actor stands on (`Either`: both).
fn side_of(ctx: &Ctx, r: &Referral) -> Side {
    match sides(ctx, r) {
        (true, false) => Side::Referring,
        (false, true) => Side::Receiving,
        _ => Side::Either,
    }
}

fn transition_conflict(e: ygt_domain::referral::TransitionError) -> AppError {
    AppError::conflict(Some("action"), e.message())
}

/// The audit action of a step (`referral.accept`, …).
fn step_audit_action(a: Action) -> &'static str {
    match a {
        Action::Submit => "referral.submit",
        Action::Accept => "referral.accept",
        Action::Reject => "referral.reject",
        Action::Redirect => "referral.redirect",
        Action::Schedule => "referral.schedule",
        Action::Arrive => "referral.arrive",
        Action::Complete => "referral.complete",
        Action::Cancel => "referral.cancel",
    }
}

/// The decided step on the row: its times, target, appointment, note or outcome, and state.
fn apply_step(
    r: &mut Referral,
    step: &Step,
    dec: &StepDecision,
    target: &StepTarget,
    now: OffsetDateTime,
) {
    match step {
        Step::Submit { .. } => r.submitted_at = Some(now),
        Step::Accept { .. } => r.accepted_at = Some(now),
        Step::Reject { reason } | Step::Cancel { reason } => {
            r.closed_at = Some(now);
            r.status_note = Some(reason.clone());
            r.appointment_at = None;
        }
        Step::Redirect { reason, .. } => {
            if let Some((inst, _, department)) = &target.redirect {
                r.to_institution_id = inst.id;
                r.to_department_id = *department;
                r.to_staff_id = None;
                r.appointment_at = None;
            }
            r.status_note = Some(reason.clone());
        }
        Step::Schedule { when, .. } => match (&target.slot, when) {
            (Some((slot, res)), _) => {
                r.appointment_at = Some(slot.starts_at);
                r.to_department_id = r.to_department_id.or(res.department_id);
            }
            (None, Appointment::At(t)) => r.appointment_at = Some(*t),
            (None, Appointment::Slot(_)) => {}
        },
        Step::Arrive { .. } => r.arrived_at = Some(now),
        Step::Complete { outcome, .. } => {
            r.closed_at = Some(now);
            r.outcome = serde_json::to_string(outcome).ok();
        }
    }
    r.status = dec.to;
    r.status_since = now;
}

/// The treatment plan stored with a referral.
fn stored_plan(r: &Referral) -> Option<Plan> {
    r.plan.as_deref().and_then(|p| serde_json::from_str(p).ok())
}

/// The care tasks of an accepted down-referral: one per follow-up of its plan, for the
/// receiving institution (and the doctor it is addressed to).
fn follow_up_tasks(r: &Referral, now: OffsetDateTime) -> Vec<NewCareTask> {
    let today = now.to_offset(beijing()).date();
    stored_plan(r)
        .unwrap_or_default()
        .follow_ups
        .iter()
        .map(|f| NewCareTask {
            id: new_id(),
            referral_id: Some(r.id),
            person_id: r.person_id,
            institution_id: r.to_institution_id,
            staff_id: r.to_staff_id,
            kind: ygt_domain::referral::TaskKind::FollowUp,
            title: f.title.clone(),
            due_on: f.due_on(today),
            note: None,
        })
        .collect()
}
