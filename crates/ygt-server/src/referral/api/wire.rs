//! The wire types of the referral API: referrals and their events, plans and outcomes,
//! calendars and slots, care tasks, notifications, counts, statistics and settings. Codes go
//! out as their stable codes, dates as `YYYY-MM-DD`, times as RFC 3339.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ygt_app::referral::{ReferralSettings, ReferralStats, ReferralView, StatsRow, WorklistCounts};
use ygt_app::ygt_store::referral::{
    CareTask, Notification, Referral, ReferralEvent, Resource, RuleRow, Slot,
};
use ygt_domain::masked::MaskedIdNumber;
use ygt_domain::referral::command::{FollowUp, Plan, ReferralOutcome};
use ygt_domain::referral::{
    Action, Criterion, Direction, EventKind, Overdue, ResourceKind, SlotAvailability, Status,
    Suggestion, TaskKind, Urgency,
};

use crate::door::api::ymd;
use crate::door::i18n::Lang;
use crate::record::api::ItemOut;

/// A referral.
#[derive(Serialize)]
pub struct ReferralOut {
    id: Uuid,
    number: String,
    direction: Direction,
    status: Status,
    urgency: Urgency,
    person_id: Uuid,
    person_name: String,
    person_sex: String,
    #[serde(with = "ymd::option")]
    person_birth_date: Option<Date>,
    from_institution_id: Uuid,
    from_institution_name: String,
    from_department_id: Option<Uuid>,
    from_department_name: Option<String>,
    from_user_id: Option<Uuid>,
    from_doctor: String,
    to_institution_id: Uuid,
    to_institution_name: String,
    to_department_id: Option<Uuid>,
    to_department_name: Option<String>,
    to_staff_id: Option<Uuid>,
    to_staff_name: Option<String>,
    diagnosis_code: Option<String>,
    diagnosis_name: Option<String>,
    reason: String,
    criterion: Option<String>,
    summary: Option<String>,
    needs: Option<ResourceKind>,
    /// The treatment plan of a down-referral.
    plan: Option<PlanOut>,
    /// What the receiving side reported back on completion.
    outcome: Option<OutcomeOut>,
    status_note: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    appointment_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    submitted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    arrived_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    closed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    status_since: OffsetDateTime,
    version: i64,
}

impl From<&Referral> for ReferralOut {
    fn from(r: &Referral) -> Self {
        ReferralOut {
            id: r.id,
            number: r.number.clone(),
            direction: r.direction,
            status: r.status,
            urgency: r.urgency,
            person_id: r.person_id,
            person_name: r.person_name.clone(),
            person_sex: r.person_sex.clone(),
            person_birth_date: r.person_birth_date,
            from_institution_id: r.from_institution_id,
            from_institution_name: r.from_institution_name.clone(),
            from_department_id: r.from_department_id,
            from_department_name: r.from_department_name.clone(),
            from_user_id: r.from_user_id,
            from_doctor: r.from_doctor.clone(),
            to_institution_id: r.to_institution_id,
            to_institution_name: r.to_institution_name.clone(),
            to_department_id: r.to_department_id,
            to_department_name: r.to_department_name.clone(),
            to_staff_id: r.to_staff_id,
            to_staff_name: r.to_staff_name.clone(),
            diagnosis_code: r.diagnosis_code.clone(),
            diagnosis_name: r.diagnosis_name.clone(),
            reason: r.reason.clone(),
            criterion: r.criterion.clone(),
            summary: r.summary.clone(),
            needs: r.needs,
            plan: parsed::<Plan>(r.plan.as_deref())
                .as_ref()
                .map(PlanOut::from),
            outcome: parsed::<ReferralOutcome>(r.outcome.as_deref())
                .as_ref()
                .map(OutcomeOut::from),
            status_note: r.status_note.clone(),
            appointment_at: r.appointment_at,
            created_at: r.created_at,
            submitted_at: r.submitted_at,
            accepted_at: r.accepted_at,
            arrived_at: r.arrived_at,
            closed_at: r.closed_at,
            status_since: r.status_since,
            version: r.version,
        }
    }
}

/// A stored JSON column, read (None when absent or unreadable).
fn parsed<T: serde::de::DeserializeOwned>(json: Option<&str>) -> Option<T> {
    json.and_then(|s| serde_json::from_str(s).ok())
}

/// A referral of a worklist, with the step that waits too long.
#[derive(Serialize)]
pub struct WorklistRowOut {
    #[serde(flatten)]
    pub referral: ReferralOut,
    pub overdue: Option<Overdue>,
}

/// A page of a worklist.
#[derive(Serialize)]
pub struct WorklistOut {
    pub referrals: Vec<WorklistRowOut>,
    pub next: Option<String>,
}

/// One step taken on a referral.
#[derive(Serialize)]
pub struct EventOut {
    id: Uuid,
    action: EventKind,
    from_status: Option<Status>,
    to_status: Status,
    actor_user_id: Option<Uuid>,
    actor_name: String,
    institution_id: Option<Uuid>,
    note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

impl From<&ReferralEvent> for EventOut {
    fn from(e: &ReferralEvent) -> Self {
        EventOut {
            id: e.id,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            actor_user_id: e.actor_user_id,
            actor_name: e.actor_name.clone(),
            institution_id: e.institution_id,
            note: e.note.clone(),
            at: e.at,
        }
    }
}

/// A follow-up of a plan: so many days after acceptance, or on a date.
#[derive(Serialize)]
pub struct FollowUpOut {
    after_days: Option<i64>,
    #[serde(with = "ymd::option")]
    on: Option<Date>,
    title: String,
}

/// The treatment plan of a down-referral.
#[derive(Serialize)]
pub struct PlanOut {
    discharge_summary: String,
    medications: Vec<String>,
    follow_ups: Vec<FollowUpOut>,
    warning_signs: String,
    rehab_goals: String,
}

impl From<&Plan> for PlanOut {
    fn from(p: &Plan) -> Self {
        let f = |f: &FollowUp| FollowUpOut {
            after_days: f.after_days,
            on: f.on,
            title: f.title.clone(),
        };
        PlanOut {
            discharge_summary: p.discharge_summary.clone(),
            medications: p.medications.clone(),
            follow_ups: p.follow_ups.iter().map(f).collect(),
            warning_signs: p.warning_signs.clone(),
            rehab_goals: p.rehab_goals.clone(),
        }
    }
}

/// What the receiving side reported back.
#[derive(Serialize)]
pub struct OutcomeOut {
    diagnosis_code: Option<String>,
    diagnosis_name: Option<String>,
    treatment: String,
    summary: String,
}

impl From<&ReferralOutcome> for OutcomeOut {
    fn from(o: &ReferralOutcome) -> Self {
        OutcomeOut {
            diagnosis_code: o.diagnosis_code.clone(),
            diagnosis_name: o.diagnosis_name.clone(),
            treatment: o.treatment.clone(),
            summary: o.summary.clone(),
        }
    }
}

/// A bookable resource (a calendar).
#[derive(Serialize)]
pub struct ResourceOut {
    id: Uuid,
    institution_id: Uuid,
    institution_name: String,
    department_id: Option<Uuid>,
    department_name: Option<String>,
    kind: ResourceKind,
    name: String,
    location: String,
    staff_id: Option<Uuid>,
    staff_name: Option<String>,
    release_hours: i64,
    active: bool,
}

impl From<&Resource> for ResourceOut {
    fn from(r: &Resource) -> Self {
        ResourceOut {
            id: r.id,
            institution_id: r.institution_id,
            institution_name: r.institution_name.clone(),
            department_id: r.department_id,
            department_name: r.department_name.clone(),
            kind: r.kind,
            name: r.name.clone(),
            location: r.location.clone(),
            staff_id: r.staff_id,
            staff_name: r.staff_name.clone(),
            release_hours: r.release_hours,
            active: r.active,
        }
    }
}

/// A slot of a calendar; with who may book it now when listed as free.
#[derive(Serialize)]
pub struct SlotOut {
    id: Uuid,
    resource_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    ends_at: OffsetDateTime,
    reserved: bool,
    #[serde(with = "time::serde::rfc3339")]
    release_at: OffsetDateTime,
    referral_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    booked_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability: Option<SlotAvailability>,
}

impl SlotOut {
    pub fn of(s: &Slot, availability: Option<SlotAvailability>) -> SlotOut {
        SlotOut {
            id: s.id,
            resource_id: s.resource_id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            reserved: s.reserved,
            release_at: s.release_at,
            referral_id: s.referral_id,
            booked_at: s.booked_at,
            availability,
        }
    }
}

/// A care task (a follow-up handed over with a down-referral).
#[derive(Serialize)]
pub struct CareTaskOut {
    id: Uuid,
    referral_id: Option<Uuid>,
    person_id: Uuid,
    person_name: String,
    institution_id: Uuid,
    staff_id: Option<Uuid>,
    staff_name: Option<String>,
    kind: TaskKind,
    title: String,
    #[serde(with = "ymd")]
    due_on: Date,
    #[serde(with = "time::serde::rfc3339::option")]
    done_at: Option<OffsetDateTime>,
    done_by: Option<String>,
    note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<&CareTask> for CareTaskOut {
    fn from(t: &CareTask) -> Self {
        CareTaskOut {
            id: t.id,
            referral_id: t.referral_id,
            person_id: t.person_id,
            person_name: t.person_name.clone(),
            institution_id: t.institution_id,
            staff_id: t.staff_id,
            staff_name: t.staff_name.clone(),
            kind: t.kind,
            title: t.title.clone(),
            due_on: t.due_on,
            done_at: t.done_at,
            done_by: t.done_by.clone(),
            note: t.note.clone(),
            created_at: t.created_at,
        }
    }
}

/// A referral with everything its page shows.
#[derive(Serialize)]
pub struct ReferralViewOut {
    referral: ReferralOut,
    person_id_number: Option<MaskedIdNumber>,
    events: Vec<EventOut>,
    items: Vec<ItemOut>,
    items_hidden: bool,
    plan: Option<PlanOut>,
    outcome: Option<OutcomeOut>,
    slot: Option<SlotOut>,
    resource: Option<ResourceOut>,
    tasks: Vec<CareTaskOut>,
    actions: Vec<Action>,
    overdue: Option<Overdue>,
}

impl From<&ReferralView> for ReferralViewOut {
    fn from(v: &ReferralView) -> Self {
        ReferralViewOut {
            referral: ReferralOut::from(&v.referral),
            person_id_number: v.person_id_number.clone(),
            events: v.events.iter().map(EventOut::from).collect(),
            items: v.items.iter().map(ItemOut::from).collect(),
            items_hidden: v.items_hidden,
            plan: v.plan.as_ref().map(PlanOut::from),
            outcome: v.outcome.as_ref().map(OutcomeOut::from),
            slot: v.slot.as_ref().map(|s| SlotOut::of(s, None)),
            resource: v.resource.as_ref().map(ResourceOut::from),
            tasks: v.tasks.iter().map(CareTaskOut::from).collect(),
            actions: v.actions.clone(),
            overdue: v.overdue,
        }
    }
}

/// Counts of the worklists.
#[derive(Serialize)]
pub struct CountsOut {
    outgoing_open: i64,
    incoming_waiting: i64,
    overdue: i64,
    handover: i64,
    drafts: i64,
    returned: i64,
    tasks_open: i64,
    tasks_overdue: i64,
    tasks_today: i64,
    unread: i64,
}

impl From<&WorklistCounts> for CountsOut {
    fn from(c: &WorklistCounts) -> Self {
        CountsOut {
            outgoing_open: c.outgoing_open,
            incoming_waiting: c.incoming_waiting,
            overdue: c.overdue,
            handover: c.handover,
            drafts: c.drafts,
            returned: c.returned,
            tasks_open: c.tasks_open,
            tasks_overdue: c.tasks_overdue,
            tasks_today: c.tasks_today,
            unread: c.unread,
        }
    }
}

/// One group of the statistics: month, direction, the two institutions.
#[derive(Serialize)]
pub struct StatsRowOut {
    month: String,
    direction: String,
    from_institution: String,
    to_institution: String,
    count: i64,
    accepted: i64,
    rejected: i64,
    acceptance_rate: Option<f64>,
    median_hours_to_acceptance: Option<f64>,
    median_hours_to_arrival: Option<f64>,
}

impl From<&StatsRow> for StatsRowOut {
    fn from(r: &StatsRow) -> Self {
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        StatsRowOut {
            month: r.month.clone(),
            direction: r.direction.clone(),
            from_institution: r.from_institution.clone(),
            to_institution: r.to_institution.clone(),
            count: r.count,
            accepted: r.accepted,
            rejected: r.rejected,
            acceptance_rate: finite(r.acceptance_rate),
            median_hours_to_acceptance: finite(r.median_hours_to_acceptance),
            median_hours_to_arrival: finite(r.median_hours_to_arrival),
        }
    }
}

/// Statistics of referrals: counts and times only.
#[derive(Serialize)]
pub struct StatsOut {
    total: i64,
    rows: Vec<StatsRowOut>,
    /// `[reason, count]` pairs.
    by_reason: Vec<(String, i64)>,
    /// `[outcome, count]` pairs.
    by_outcome: Vec<(String, i64)>,
}

impl From<&ReferralStats> for StatsOut {
    fn from(s: &ReferralStats) -> Self {
        StatsOut {
            total: s.total,
            rows: s.rows.iter().map(StatsRowOut::from).collect(),
            by_reason: s.by_reason.clone(),
            by_outcome: s.by_outcome.clone(),
        }
    }
}

/// The overdue minutes of one urgency.
#[derive(Serialize)]
pub struct RuleOut {
    urgency: String,
    accept_minutes: i64,
    arrive_minutes: i64,
    grace_minutes: i64,
    complete_minutes: i64,
}

impl From<&RuleRow> for RuleOut {
    fn from(r: &RuleRow) -> Self {
        RuleOut {
            urgency: r.urgency.clone(),
            accept_minutes: r.accept_minutes,
            arrive_minutes: r.arrive_minutes,
            grace_minutes: r.grace_minutes,
            complete_minutes: r.complete_minutes,
        }
    }
}

/// The referral settings: catalogues of each primary tier and the overdue rules.
#[derive(Serialize)]
pub struct SettingsOut {
    township: String,
    village: String,
    rules: Vec<RuleOut>,
}

impl From<&ReferralSettings> for SettingsOut {
    fn from(s: &ReferralSettings) -> Self {
        SettingsOut {
            township: s.township.clone(),
            village: s.village.clone(),
            rules: s.rules.iter().map(RuleOut::from).collect(),
        }
    }
}

/// A referral the rules suggest for a resident.
#[derive(Serialize)]
pub struct SuggestionOut {
    direction: Direction,
    criterion: Criterion,
    urgency: Urgency,
    detail_zh: String,
    detail_en: String,
    code: Option<String>,
}

impl From<&Suggestion> for SuggestionOut {
    fn from(x: &Suggestion) -> Self {
        SuggestionOut {
            direction: x.direction,
            criterion: x.criterion,
            urgency: x.urgency,
            detail_zh: x.detail_zh.clone(),
            detail_en: x.detail_en.clone(),
            code: x.code.as_ref().map(|c| c.as_str().to_owned()),
        }
    }
}

/// A notification as the API gives it: its title in both languages.
#[derive(Serialize)]
pub struct NotificationOut {
    id: Uuid,
    user_id: Uuid,
    referral_id: Option<Uuid>,
    kind: String,
    title_zh: String,
    title_en: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    read_at: Option<OffsetDateTime>,
}

impl From<&Notification> for NotificationOut {
    fn from(n: &Notification) -> Self {
        let stored = |l: Lang| l.stored(n.message.as_deref(), &n.title_zh, &n.title_en);
        NotificationOut {
            id: n.id,
            user_id: n.user_id,
            referral_id: n.referral_id,
            kind: n.kind.clone(),
            title_zh: stored(Lang::Zh),
            title_en: stored(Lang::En),
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Serialize)]
pub struct SuggestionsOut {
    pub suggestions: Vec<SuggestionOut>,
}

#[derive(Serialize)]
pub struct ResourcesOut {
    pub resources: Vec<ResourceOut>,
}

#[derive(Serialize)]
pub struct SlotsOut {
    pub slots: Vec<SlotOut>,
}

#[derive(Serialize)]
pub struct CareTasksOut {
    pub tasks: Vec<CareTaskOut>,
}

#[derive(Serialize)]
pub struct InboxOut {
    pub notifications: Vec<NotificationOut>,
}

/// What was created: its id.
#[derive(Serialize)]
pub struct CreatedOut {
    pub id: Uuid,
}

/// How many messages were marked read.
#[derive(Serialize)]
pub struct MarkedOut {
    pub marked: u64,
}
