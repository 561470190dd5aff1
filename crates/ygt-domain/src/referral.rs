//! Two-way referral (双向转诊): directions, states and who may move a referral where, the
//! overdue rules, the per-tier catalogues of diseases each tier treats, and the criteria that
//! suggest a referral from a resident's record. No IO: the app feeds these rules what it read.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::clinical::Icd10Code;
use crate::code_enum;
use crate::error::{Reason, ValidationError};
use crate::org::{ServiceKind, Tier};

pub mod command;
pub use command::{
    Appointment, FollowUp, NewReferral, Place, Plan, PlanDraft, RedirectFacts, ReferralDraft,
    ReferralOutcome, Step, StepDecision, StepDraft, StepFacts, StepRefusal, check_target,
    decide_step, local_minute, parse_local_time,
};

code_enum! {
    /// Which way a referral goes.
    pub enum Direction {
        Up = ("up", "上转", "Up-referral"),
        Down = ("down", "下转", "Down-referral"),
    }
}

code_enum! {
    /// How soon the receiving side must act.
    pub enum Urgency {
        Routine = ("routine", "普通", "Routine"),
        Urgent = ("urgent", "加急", "Urgent"),
        Emergency = ("emergency", "急诊", "Emergency"),
    }
}

code_enum! {
    /// Where a referral stands. "Overdue" is not a state: it is computed from the state, the
    /// urgency and how long the referral has waited (see [`OverdueRules`]).
    pub enum Status {
        Draft = ("draft", "草稿", "Draft"),
        Submitted = ("submitted", "已提交", "Submitted"),
        Accepted = ("accepted", "已接收", "Accepted"),
        Rejected = ("rejected", "已拒绝", "Rejected"),
        Redirected = ("redirected", "已改派", "Redirected"),
        Scheduled = ("scheduled", "已预约", "Scheduled"),
        Arrived = ("arrived", "已到诊", "Arrived"),
        Completed = ("completed", "已完成", "Completed"),
        Cancelled = ("cancelled", "已取消", "Cancelled"),
    }
}

code_enum! {
    /// What someone does to a referral.
    pub enum Action {
        Submit = ("submit", "提交", "Submit"),
        Accept = ("accept", "接收", "Accept"),
        Reject = ("reject", "拒绝", "Reject"),
        Redirect = ("redirect", "改派", "Redirect"),
        Schedule = ("schedule", "预约", "Schedule"),
        Arrive = ("arrive", "确认到诊", "Confirm arrival"),
        Complete = ("complete", "完成并反馈", "Complete with outcome"),
        Cancel = ("cancel", "取消", "Cancel"),
    }
}

code_enum! {
    /// What a step of a referral's history records: its creation, a booked slot, or an action.
    pub enum EventKind {
        Create = ("create", "创建", "Created"),
        Book = ("book", "预约号源", "Slot booked"),
        Submit = ("submit", "提交", "Submit"),
        Accept = ("accept", "接收", "Accept"),
        Reject = ("reject", "拒绝", "Reject"),
        Redirect = ("redirect", "改派", "Redirect"),
        Schedule = ("schedule", "预约", "Schedule"),
        Arrive = ("arrive", "确认到诊", "Confirm arrival"),
        Complete = ("complete", "完成并反馈", "Complete with outcome"),
        Cancel = ("cancel", "取消", "Cancel"),
    }
}

impl From<Action> for EventKind {
    fn from(a: Action) -> EventKind {
        match a {
            Action::Submit => EventKind::Submit,
            Action::Accept => EventKind::Accept,
            Action::Reject => EventKind::Reject,
            Action::Redirect => EventKind::Redirect,
            Action::Schedule => EventKind::Schedule,
            Action::Arrive => EventKind::Arrive,
            Action::Complete => EventKind::Complete,
            Action::Cancel => EventKind::Cancel,
        }
    }
}

code_enum! {
    /// What a care task asks for (chronic-disease visits will add theirs).
    pub enum TaskKind {
        FollowUp = ("follow_up", "随访", "Follow-up"),
    }
}

/// Which party of a referral may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The referring institution (the doctor who wrote it, their institution).
    Referring,
    /// The institution the referral is addressed to.
    Receiving,
    /// Either of them.
    Either,
}

impl Action {
    pub fn side(self) -> Side {
        match self {
            Action::Submit => Side::Referring,
            Action::Accept
            | Action::Reject
            | Action::Redirect
            | Action::Schedule
            | Action::Arrive
            | Action::Complete => Side::Receiving,
            Action::Cancel => Side::Either,
        }
    }

    /// Whether the action must carry a reason (a rejection, a redirection, a cancellation).
    pub fn needs_reason(self) -> bool {
        matches!(self, Action::Reject | Action::Redirect | Action::Cancel)
    }
}

/// An action that the referral's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionError {
    pub from: Status,
    pub action: Action,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a referral that is {} cannot be {}",
            self.from.label_en().to_lowercase(),
            self.action.label_en().to_lowercase()
        )
    }
}

impl std::error::Error for TransitionError {}

impl TransitionError {
    /// What the user reads.
    pub fn message(&self) -> crate::message::Message {
        crate::msg!(
            "referral.cannot_transition",
            from = self.from,
            action = self.action
        )
    }
}

impl Status {
    /// The state after `action`, or why it is not allowed.
    pub fn next(self, action: Action) -> Result<Status, TransitionError> {
        use Action as A;
        use Status as S;
        let to = match (self, action) {
            (S::Draft, A::Submit) => S::Submitted,
            (S::Submitted | S::Redirected, A::Accept) => S::Accepted,
            (S::Submitted | S::Redirected, A::Reject) => S::Rejected,
            (S::Submitted | S::Redirected, A::Redirect) => S::Redirected,
            (S::Accepted | S::Scheduled, A::Schedule) => S::Scheduled,
            (S::Accepted | S::Scheduled, A::Arrive) => S::Arrived,
            (S::Arrived, A::Complete) => S::Completed,
            (S::Draft | S::Submitted | S::Redirected | S::Accepted | S::Scheduled, A::Cancel) => {
                S::Cancelled
            }
            _ => return Err(TransitionError { from: self, action }),
        };
        Ok(to)
    }

    /// The actions the state allows, in the order a worklist offers them.
    pub fn actions(self) -> Vec<Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(|a| self.next(*a).is_ok())
            .collect()
    }

    /// Whether the referral is still running (not rejected, completed or cancelled).
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Status::Rejected | Status::Completed | Status::Cancelled
        )
    }

    /// Whether the receiving side has the resident's record open for the referral: from
    /// submission until the referral ends.
    pub fn grants_access(self) -> bool {
        self.is_open() && self != Status::Draft
    }

    /// Whether a booked slot is still held (a slot returns to the calendar when the referral is
    /// rejected, redirected or cancelled).
    pub fn holds_slot(self) -> bool {
        matches!(
            self,
            Status::Draft
                | Status::Submitted
                | Status::Accepted
                | Status::Scheduled
                | Status::Arrived
                | Status::Completed
        )
    }
}

// ---------------------------------------------------------------- overdue

/// How long each step may wait before a referral is overdue, per urgency (configurable by the
/// community administrator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueRule {
    /// From submission (or redirection) to acceptance or rejection.
    pub accept_within: Duration,
    /// From acceptance to arrival when no appointment was made.
    pub arrive_within: Duration,
    /// After the appointment time, before the missing arrival counts as overdue.
    pub appointment_grace: Duration,
    /// From arrival to completion with the outcome sent back.
    pub complete_within: Duration,
}

/// The overdue rule of each urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueRules {
    pub routine: OverdueRule,
    pub urgent: OverdueRule,
    pub emergency: OverdueRule,
}

impl Default for OverdueRules {
    fn default() -> Self {
        OverdueRules {
            routine: OverdueRule {
                accept_within: Duration::hours(48),
                arrive_within: Duration::days(14),
                appointment_grace: Duration::days(1),
                complete_within: Duration::days(30),
            },
            urgent: OverdueRule {
                accept_within: Duration::hours(8),
                arrive_within: Duration::days(3),
                appointment_grace: Duration::hours(4),
                complete_within: Duration::days(14),
            },
            emergency: OverdueRule {
                accept_within: Duration::minutes(30),
                arrive_within: Duration::hours(4),
                appointment_grace: Duration::hours(1),
                complete_within: Duration::days(7),
            },
        }
    }
}

code_enum! {
    /// Which step of a referral is waiting too long.
    pub enum Overdue {
        Acceptance = ("acceptance", "超时未接收", "Not accepted in time"),
        Arrival = ("arrival", "超时未到诊", "Patient not arrived in time"),
        Completion = ("completion", "超时未反馈结果", "Outcome not sent back in time"),
    }
}

impl OverdueRules {
    pub fn rule(&self, u: Urgency) -> &OverdueRule {
        match u {
            Urgency::Routine => &self.routine,
            Urgency::Urgent => &self.urgent,
            Urgency::Emergency => &self.emergency,
        }
    }

    /// Which step is overdue at `now`, given when the current state was entered and the
    /// appointment time (if any).
    pub fn overdue(
        &self,
        status: Status,
        urgency: Urgency,
        since: OffsetDateTime,
        appointment: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<Overdue> {
        let r = self.rule(urgency);
        match status {
            Status::Submitted | Status::Redirected => {
                (now - since > r.accept_within).then_some(Overdue::Acceptance)
            }
            Status::Accepted | Status::Scheduled => match appointment {
                Some(at) => (now - at > r.appointment_grace).then_some(Overdue::Arrival),
                None => (now - since > r.arrive_within).then_some(Overdue::Arrival),
            },
            Status::Arrived => (now - since > r.complete_within).then_some(Overdue::Completion),
            _ => None,
        }
    }

    /// The latest `since` at which a referral of this state and urgency without an appointment
    /// is overdue at `now` (for a query that finds overdue referrals in the database).
    pub fn cutoff(&self, status: Status, urgency: Urgency, now: OffsetDateTime) -> OffsetDateTime {
        let r = self.rule(urgency);
        match status {
            Status::Submitted | Status::Redirected => now - r.accept_within,
            Status::Arrived => now - r.complete_within,
            _ => now - r.arrive_within,
        }
    }
}

// ---------------------------------------------------------------- catalogues

/// A code or an inclusive range of ICD-10 codes (`I10`, `M54.5`, `J00-J06`). A code matches
/// when its first characters fall inside the range, so `J00-J06` holds `J06.900`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodeRange {
    lo: String,
    hi: String,
}

impl CodeRange {
    pub fn parse(field: &str, s: &str) -> Result<CodeRange, ValidationError> {
        let t = s.trim();
        let (lo, hi) = match t.split_once(['-', '–', '~']) {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (t, t),
        };
        let lo = Icd10Code::parse(field, lo)?;
        let hi = Icd10Code::parse(field, hi)?;
        if lo.as_str() > hi.as_str() {
            return Err(ValidationError::new(
                field,
                Reason::Other(crate::msg!(
                    "referral.range_reversed",
                    lo = lo.as_str(),
                    hi = hi.as_str()
                )),
            ));
        }
        Ok(CodeRange {
            lo: lo.as_str().to_owned(),
            hi: hi.as_str().to_owned(),
        })
    }

    pub fn contains(&self, code: &Icd10Code) -> bool {
        let c = code.as_str();
        let head = |n: usize| c.get(..n.min(c.len())).unwrap_or(c);
        head(self.lo.len()) >= self.lo.as_str() && head(self.hi.len()) <= self.hi.as_str()
    }
}

impl fmt::Display for CodeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            f.write_str(&self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// One line of a tier's disease catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub codes: CodeRange,
    pub name: String,
    /// A long-term condition that a lower tier keeps managing (a down-referral candidate).
    pub chronic: bool,
}

/// The diseases one tier treats. The county hospital treats everything the community sees, so
/// its catalogue is the empty "everything" catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalogue {
    pub entries: Vec<CatalogueEntry>,
}

impl Catalogue {
    pub fn entry_for(&self, code: &Icd10Code) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| e.codes.contains(code))
    }

    pub fn covers(&self, tier: Tier, code: &Icd10Code) -> bool {
        tier == Tier::County || self.entry_for(code).is_some()
    }
}

/// The default catalogues: (tier, codes, name, chronic). The primary-level list covers the
/// common first-visit conditions (基层首诊); the village list is the part a village doctor
/// manages. The community administrator edits both.
pub const DEFAULT_CATALOGUE: &[(Tier, &str, &str, bool)] = &[
    (Tier::Township, "I10-I15", "高血压", true),
    (Tier::Township, "E11", "2型糖尿病", true),
    (Tier::Township, "E78", "血脂异常", true),
    (Tier::Township, "I25", "慢性缺血性心脏病（稳定期）", true),
    (Tier::Township, "I69", "脑血管病后遗症（康复期）", true),
    (Tier::Township, "J44", "慢性阻塞性肺疾病（稳定期）", true),
    (Tier::Township, "J45", "支气管哮喘（稳定期）", true),
    (Tier::Township, "M17", "膝关节骨关节炎", true),
    (Tier::Township, "Z50", "康复治疗", true),
    (Tier::Township, "Z47", "骨科随诊治疗", true),
    (Tier::Township, "J00-J06", "急性上呼吸道感染", false),
    (Tier::Township, "J20-J21", "急性支气管炎", false),
    (Tier::Township, "J40-J42", "慢性支气管炎", true),
    (Tier::Township, "K21", "胃食管反流病", false),
    (Tier::Township, "K29", "胃炎和十二指肠炎", false),
    (Tier::Township, "K30", "功能性消化不良", false),
    (Tier::Township, "K52", "非感染性胃肠炎", false),
    (Tier::Township, "A09", "感染性腹泻", false),
    (Tier::Township, "K59.0", "便秘", false),
    (Tier::Township, "M54", "背痛（腰肌劳损）", false),
    (Tier::Township, "S33.5", "腰椎扭伤", false),
    (Tier::Township, "M79.1", "肌痛", false),
    (Tier::Township, "N39.0", "泌尿道感染", false),
    (Tier::Township, "L20-L30", "皮炎和湿疹", false),
    (Tier::Township, "H10", "结膜炎", false),
    (Tier::Township, "R51", "头痛", false),
    (Tier::Township, "R50", "发热", false),
    (Tier::Township, "F51.0", "失眠", false),
    (Tier::Township, "D50", "缺铁性贫血", false),
    (Tier::Township, "O80", "单胎顺产", false),
    (Tier::Village, "I10-I15", "高血压", true),
    (Tier::Village, "E11", "2型糖尿病", true),
    (Tier::Village, "J00-J06", "急性上呼吸道感染", false),
    (Tier::Village, "K29", "胃炎和十二指肠炎", false),
    (Tier::Village, "K30", "功能性消化不良", false),
    (Tier::Village, "A09", "感染性腹泻", false),
    (Tier::Village, "M54", "背痛（腰肌劳损）", false),
    (Tier::Village, "S33.5", "腰椎扭伤", false),
    (Tier::Village, "L20-L30", "皮炎和湿疹", false),
    (Tier::Village, "R50", "发热", false),
    (Tier::Village, "Z50", "康复治疗", true),
    (Tier::Village, "I69", "脑血管病后遗症（康复期）", true),
];

/// The default catalogue of one tier.
pub fn default_catalogue(tier: Tier) -> Catalogue {
    let entries = DEFAULT_CATALOGUE
        .iter()
        .filter(|(t, ..)| *t == tier)
        .filter_map(|(_, codes, name, chronic)| {
            Some(CatalogueEntry {
                codes: CodeRange::parse("codes", codes).ok()?,
                name: (*name).to_owned(),
                chronic: *chronic,
            })
        })
        .collect();
    Catalogue { entries }
}

// ---------------------------------------------------------------- criteria

code_enum! {
    /// Why ygt suggests a referral (the written criteria).
    pub enum Criterion {
        OutsideCatalogue = ("outside_catalogue", "诊断超出本级诊疗目录", "Diagnosis outside this tier's catalogue"),
        EmergencyBloodPressure = ("emergency_bp", "血压达急症转诊标准（≥180/110 mmHg）", "Blood pressure at the emergency threshold (≥ 180/110 mmHg)"),
        EmergencyGlucose = ("emergency_glucose", "血糖达急症转诊标准（≥16.7 或 ≤3.9 mmol/L）", "Glucose at the emergency threshold (≥ 16.7 or ≤ 3.9 mmol/L)"),
        UncontrolledTwice = ("uncontrolled_twice", "连续两次随访控制不满意", "Two consecutive uncontrolled follow-ups"),
        MissingEquipment = ("missing_equipment", "本机构缺少所需设备或服务", "Needed equipment or service not available here"),
        StableClearDiagnosis = ("stable", "诊断明确、病情稳定", "Diagnosis clear, condition stable"),
        Rehabilitation = ("rehabilitation", "进入康复期", "Rehabilitation phase"),
        ChronicCare = ("chronic_care", "慢性病长期管理", "Long-term chronic care"),
    }
}

/// A controlled/uncontrolled reading of a chronic follow-up (a blood pressure or a fasting
/// glucose), oldest first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    BloodPressure { systolic: f64, diastolic: f64 },
    FastingGlucose { mmol_per_l: f64 },
}

impl Reading {
    /// Controlled by the national follow-up rules: < 140/90 mmHg (< 150/90 at 65 or over),
    /// fasting glucose < 7.0 mmol/L.
    pub fn controlled(self, age: Option<i32>) -> bool {
        match self {
            Reading::BloodPressure {
                systolic,
                diastolic,
            } => {
                let limit = if age.is_some_and(|a| a >= 65) {
                    150.0
                } else {
                    140.0
                };
                systolic < limit && diastolic < 90.0
            }
            Reading::FastingGlucose { mmol_per_l } => mmol_per_l < 7.0,
        }
    }

    /// Whether the reading alone calls for an emergency referral.
    pub fn emergency(self) -> bool {
        match self {
            Reading::BloodPressure {
                systolic,
                diastolic,
            } => systolic >= 180.0 || diastolic >= 110.0,
            Reading::FastingGlucose { mmol_per_l } => !(3.9..16.7).contains(&mmol_per_l),
        }
    }
}

/// What the criteria look at, as the app read it from the resident's record.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Tier of the institution where the doctor works.
    pub tier: Option<Tier>,
    /// Services that institution offers.
    pub services: Vec<ServiceKind>,
    /// Services the doctor says the patient needs (CT, MRI, dialysis, ...).
    pub needs: Vec<ServiceKind>,
    pub age: Option<i32>,
    /// Current diagnoses, the primary first.
    pub diagnoses: Vec<Icd10Code>,
    /// Blood-pressure readings, oldest first.
    pub blood_pressure: Vec<Reading>,
    /// Fasting-glucose readings, oldest first.
    pub glucose: Vec<Reading>,
    /// Days since the latest inpatient discharge, if any.
    pub days_since_discharge: Option<i64>,
}

/// A referral ygt suggests; the doctor accepts it (a draft is filled in) or dismisses it with
/// a reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub direction: Direction,
    pub criterion: Criterion,
    pub urgency: Urgency,
    /// What matched, in Chinese and English (`I63.900 脑梗死`, `186/112 mmHg`).
    pub detail_zh: String,
    pub detail_en: String,
    /// The diagnosis it concerns, if any.
    pub code: Option<Icd10Code>,
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Evaluates the written criteria against what the record shows. `lower` is the catalogue of
/// the tier below the county (for down-referral: can the township manage it?).
pub fn suggest(e: &Evidence, own: &Catalogue, lower: &Catalogue) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let Some(tier) = e.tier else {
        return out;
    };
    if tier != Tier::County {
        // Emergency signs first: they decide the urgency.
        if let Some(
            r @ Reading::BloodPressure {
                systolic,
                diastolic,
            },
        ) = e.blood_pressure.last().copied()
            && r.emergency()
        {
            let v = format!("{}/{} mmHg", fmt_num(systolic), fmt_num(diastolic));
            out.push(Suggestion {
                direction: Direction::Up,
                criterion: Criterion::EmergencyBloodPressure,
                urgency: Urgency::Emergency,
                detail_zh: format!("最近一次血压 {v}"),
                detail_en: format!("latest blood pressure {v}"),
                code: None,
            });
        }
        if let Some(r @ Reading::FastingGlucose { mmol_per_l }) = e.glucose.last().copied()
            && r.emergency()
        {
            let v = format!("{} mmol/L", fmt_num(mmol_per_l));
            out.push(Suggestion {
                direction: Direction::Up,
                criterion: Criterion::EmergencyGlucose,
                urgency: Urgency::Emergency,
                detail_zh: format!("最近一次血糖 {v}"),
                detail_en: format!("latest glucose {v}"),
                code: None,
            });
        }
        for (series, zh, en) in [
            (&e.blood_pressure, "血压", "blood pressure"),
            (&e.glucose, "血糖", "glucose"),
        ] {
            if let [.., a, b] = series.as_slice()
                && !a.controlled(e.age)
                && !b.controlled(e.age)
                && !b.emergency()
            {
                out.push(Suggestion {
                    direction: Direction::Up,
                    criterion: Criterion::UncontrolledTwice,
                    urgency: Urgency::Urgent,
                    detail_zh: format!("最近两次{zh}随访均未达标"),
                    detail_en: format!("the last two {en} follow-ups were both uncontrolled"),
                    code: None,
                });
            }
        }
        for code in &e.diagnoses {
            if !own.covers(tier, code) {
                out.push(Suggestion {
                    direction: Direction::Up,
                    criterion: Criterion::OutsideCatalogue,
                    urgency: Urgency::Routine,
                    detail_zh: format!("{code} 不在{}诊疗目录内", tier.label_zh()),
                    detail_en: format!("{code} is not in the {} catalogue", tier.label_en()),
                    code: Some(code.clone()),
                });
            }
        }
        for need in &e.needs {
            if !e.services.contains(need) {
                out.push(Suggestion {
                    direction: Direction::Up,
                    criterion: Criterion::MissingEquipment,
                    urgency: Urgency::Routine,
                    detail_zh: format!("需要{}，本机构未开展", need.label_zh()),
                    detail_en: format!("needs {}, not offered here", need.label_en()),
                    code: None,
                });
            }
        }
    } else if let Some(primary) = e.diagnoses.first()
        && let Some(entry) = lower.entry_for(primary)
    {
        let stable = e.blood_pressure.last().is_none_or(|r| r.controlled(e.age))
            && e.glucose.last().is_none_or(|r| r.controlled(e.age));
        if stable {
            let rehab = ["Z50", "Z47", "I69"]
                .iter()
                .any(|c| primary.category() == *c);
            let criterion = if rehab && e.days_since_discharge.is_some() {
                Criterion::Rehabilitation
            } else if entry.chronic {
                Criterion::ChronicCare
            } else {
                Criterion::StableClearDiagnosis
            };
            if criterion != Criterion::StableClearDiagnosis || e.days_since_discharge.is_some() {
                out.push(Suggestion {
                    direction: Direction::Down,
                    criterion,
                    urgency: Urgency::Routine,
                    detail_zh: format!("{primary} {}，可由基层继续管理", entry.name),
                    detail_en: format!(
                        "{primary} ({}) can be managed at primary level",
                        entry.name
                    ),
                    code: Some(primary.clone()),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------- booking

code_enum! {
    /// What a county institution books out: clinic sessions, scanners, beds.
    pub enum ResourceKind {
        SpecialistClinic = ("specialist_clinic", "专家门诊", "Specialist clinic"),
        Ct = ("ct", "CT", "CT"),
        Mri = ("mri", "磁共振", "MRI"),
        Ultrasound = ("ultrasound", "超声", "Ultrasound"),
        Bed = ("bed", "住院床位", "Inpatient bed"),
    }
}

code_enum! {
    /// Who may book a slot now.
    pub enum SlotAvailability {
        /// Reserved for referrals from members (号源下沉), not yet released.
        Reserved = ("reserved", "医共体预留", "Reserved for referrals"),
        /// Open to everybody (public, or a reserved slot after its release time).
        Public = ("public", "公开号源", "Public"),
        Booked = ("booked", "已预约", "Booked"),
        Past = ("past", "已过期", "Past"),
    }
}

/// Whether a slot can be booked at `now`, and by whom.
pub fn slot_availability(
    reserved: bool,
    release_at: OffsetDateTime,
    starts_at: OffsetDateTime,
    booked: bool,
    now: OffsetDateTime,
) -> SlotAvailability {
    if booked {
        SlotAvailability::Booked
    } else if starts_at <= now {
        SlotAvailability::Past
    } else if reserved && now < release_at {
        SlotAvailability::Reserved
    } else {
        SlotAvailability::Public
    }
}

/// The national referral slip number: `ZZ` + referral date + a sequence of the day
/// (`ZZ20261130-0042`).
pub fn slip_number(date: time::Date, seq: i64) -> String {
    format!(
        "ZZ{:04}{:02}{:02}-{:04}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        seq
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn code(s: &str) -> Icd10Code {
        Icd10Code::parse("c", s).unwrap()
    }

    #[test]
    fn the_happy_paths_of_both_directions() {
        let mut s = Status::Draft;
        for a in [
            Action::Submit,
            Action::Accept,
            Action::Schedule,
            Action::Schedule,
            Action::Arrive,
            Action::Complete,
        ] {
            s = s.next(a).unwrap();
        }
        assert_eq!(s, Status::Completed);
        let s = Status::Submitted
            .next(Action::Redirect)
            .unwrap()
            .next(Action::Accept)
            .unwrap()
            .next(Action::Arrive)
            .unwrap();
        assert_eq!(s, Status::Arrived);
    }

    #[test]
    fn forbidden_transitions_name_state_and_action() {
        let e = Status::Arrived.next(Action::Cancel).unwrap_err();
        assert_eq!(e.to_string(), "a referral that is arrived cannot be cancel");
        let m = e.message();
        assert_eq!(m.code, "referral.cannot_transition");
        assert_eq!(m.args.get("from"), Some(&Status::Arrived.into()));
        assert_eq!(m.args.get("action"), Some(&Action::Cancel.into()));
        assert!(Status::Draft.next(Action::Accept).is_err());
        assert!(Status::Completed.next(Action::Complete).is_err());
        assert!(Status::Rejected.next(Action::Accept).is_err());
        assert!(Status::Cancelled.next(Action::Submit).is_err());
        assert!(Status::Submitted.next(Action::Complete).is_err());
    }

    #[test]
    fn every_state_and_action_pair_is_decided() {
        // The full table, so a change to the machine is a visible change to this test.
        let allowed: &[(Status, &[Action])] = &[
            (Status::Draft, &[Action::Submit, Action::Cancel]),
            (
                Status::Submitted,
                &[
                    Action::Accept,
                    Action::Reject,
                    Action::Redirect,
                    Action::Cancel,
                ],
            ),
            (
                Status::Accepted,
                &[Action::Schedule, Action::Arrive, Action::Cancel],
            ),
            (Status::Rejected, &[]),
            (
                Status::Redirected,
                &[
                    Action::Accept,
                    Action::Reject,
                    Action::Redirect,
                    Action::Cancel,
                ],
            ),
            (
                Status::Scheduled,
                &[Action::Schedule, Action::Arrive, Action::Cancel],
            ),
            (Status::Arrived, &[Action::Complete]),
            (Status::Completed, &[]),
            (Status::Cancelled, &[]),
        ];
        for (s, acts) in allowed {
            assert_eq!(s.actions(), acts.to_vec(), "{s}");
        }
        assert_eq!(allowed.len(), Status::ALL.len());
    }

    proptest! {
        #[test]
        fn no_path_leaves_a_closed_referral(path in proptest::collection::vec(0usize..8, 0..20)) {
            let mut s = Status::Draft;
            for i in path {
                let a = Action::ALL[i];
                match s.next(a) {
                    Ok(n) => {
                        prop_assert!(s.is_open(), "{s} moved");
                        if n == Status::Cancelled {
                            prop_assert!(!matches!(s, Status::Arrived | Status::Completed));
                        }
                        s = n;
                    }
                    Err(e) => prop_assert_eq!(e.from, s),
                }
            }
        }
    }

    #[test]
    fn overdue_by_urgency() {
        let r = OverdueRules::default();
        let t0 = datetime!(2026-11-30 08:00 UTC);
        assert_eq!(
            r.overdue(
                Status::Submitted,
                Urgency::Emergency,
                t0,
                None,
                t0 + Duration::minutes(31)
            ),
            Some(Overdue::Acceptance)
        );
        assert_eq!(
            r.overdue(
                Status::Submitted,
                Urgency::Routine,
                t0,
                None,
                t0 + Duration::hours(47)
            ),
            None
        );
        let at = t0 + Duration::days(2);
        assert_eq!(
            r.overdue(
                Status::Scheduled,
                Urgency::Routine,
                t0,
                Some(at),
                at + Duration::hours(20)
            ),
            None
        );
        assert_eq!(
            r.overdue(
                Status::Scheduled,
                Urgency::Routine,
                t0,
                Some(at),
                at + Duration::hours(25)
            ),
            Some(Overdue::Arrival)
        );
        assert_eq!(
            r.overdue(
                Status::Arrived,
                Urgency::Routine,
                t0,
                None,
                t0 + Duration::days(31)
            ),
            Some(Overdue::Completion)
        );
        assert_eq!(
            r.overdue(
                Status::Completed,
                Urgency::Emergency,
                t0,
                None,
                t0 + Duration::days(300)
            ),
            None
        );
        assert_eq!(
            r.cutoff(Status::Submitted, Urgency::Urgent, t0),
            t0 - Duration::hours(8)
        );
    }

    #[test]
    fn code_ranges() {
        let r = CodeRange::parse("c", "J00-J06").unwrap();
        assert!(r.contains(&code("J06.900")));
        assert!(r.contains(&code("J00")));
        assert!(!r.contains(&code("J10.1")));
        let one = CodeRange::parse("c", "M54.5").unwrap();
        assert!(one.contains(&code("M54.500")));
        assert!(!one.contains(&code("M54.4")));
        assert!(!one.contains(&code("M54")));
        assert_eq!(one.to_string(), "M54.5");
        assert_eq!(
            CodeRange::parse("c", " i10 – i15 ").unwrap().to_string(),
            "I10-I15"
        );
        let e = CodeRange::parse("codes", "K29-K20").unwrap_err();
        assert_eq!(e.field, "codes");
        assert!(CodeRange::parse("codes", "hello").is_err());
        assert_eq!(default_catalogue(Tier::Township).entries.len(), 30);
        assert!(default_catalogue(Tier::County).entries.is_empty());
    }

    proptest! {
        #[test]
        fn a_range_holds_its_own_ends(a in 0u8..26, n in 0u16..1000, m in 0u16..1000) {
            let l = char::from(b'A' + a);
            let (lo, hi) = (n.min(m) % 100, n.max(m) % 100);
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            let r = CodeRange::parse("c", &format!("{l}{lo:02}-{l}{hi:02}")).unwrap();
            let (a, b) = (format!("{l}{lo:02}.9"), format!("{l}{hi:02}"));
            prop_assert!(r.contains(&code(&a)));
            prop_assert!(r.contains(&code(&b)));
        }
    }

    fn township() -> Evidence {
        Evidence {
            tier: Some(Tier::Township),
            services: vec![ServiceKind::Outpatient, ServiceKind::Ecg, ServiceKind::Dr],
            age: Some(58),
            ..Evidence::default()
        }
    }

    #[test]
    fn up_referral_criteria() {
        let own = default_catalogue(Tier::Township);
        let lower = default_catalogue(Tier::Township);
        let mut e = township();
        e.diagnoses = vec![code("I10.x00"), code("I63.900")];
        e.blood_pressure = vec![Reading::BloodPressure {
            systolic: 186.0,
            diastolic: 112.0,
        }];
        e.needs = vec![ServiceKind::Ct];
        let s = suggest(&e, &own, &lower);
        let crit: Vec<Criterion> = s.iter().map(|s| s.criterion).collect();
        assert_eq!(
            crit,
            vec![
                Criterion::EmergencyBloodPressure,
                Criterion::OutsideCatalogue,
                Criterion::MissingEquipment
            ]
        );
        assert_eq!(s[0].urgency, Urgency::Emergency);
        assert_eq!(s[0].detail_zh, "最近一次血压 186/112 mmHg");
        assert_eq!(s[1].code, Some(code("I63.900")));

        let mut e = township();
        e.glucose = vec![
            Reading::FastingGlucose { mmol_per_l: 8.2 },
            Reading::FastingGlucose { mmol_per_l: 9.1 },
        ];
        let s = suggest(&e, &own, &lower);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].criterion, Criterion::UncontrolledTwice);
        e.glucose.push(Reading::FastingGlucose { mmol_per_l: 3.2 });
        let s = suggest(&e, &own, &lower);
        assert_eq!(s[0].criterion, Criterion::EmergencyGlucose);
        assert_eq!(s.len(), 1, "{s:?}");

        // 145/85 is controlled at 70, not at 58.
        let mut e = township();
        let bp = Reading::BloodPressure {
            systolic: 145.0,
            diastolic: 85.0,
        };
        e.blood_pressure = vec![bp, bp];
        assert_eq!(suggest(&e, &own, &lower).len(), 1);
        e.age = Some(70);
        assert!(suggest(&e, &own, &lower).is_empty());
    }

    #[test]
    fn down_referral_criteria() {
        let county = Catalogue::default();
        let lower = default_catalogue(Tier::Township);
        let mut e = Evidence {
            tier: Some(Tier::County),
            age: Some(66),
            diagnoses: vec![code("I69.300"), code("I10.x00")],
            days_since_discharge: Some(3),
            ..Evidence::default()
        };
        let s = suggest(&e, &county, &lower);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].direction, Direction::Down);
        assert_eq!(s[0].criterion, Criterion::Rehabilitation);
        e.diagnoses = vec![code("E11.900")];
        e.glucose = vec![Reading::FastingGlucose { mmol_per_l: 6.1 }];
        assert_eq!(
            suggest(&e, &county, &lower)[0].criterion,
            Criterion::ChronicCare
        );
        e.glucose = vec![Reading::FastingGlucose { mmol_per_l: 11.0 }];
        assert!(suggest(&e, &county, &lower).is_empty(), "not stable");
        e.diagnoses = vec![code("C34.900")];
        e.glucose.clear();
        assert!(
            suggest(&e, &county, &lower).is_empty(),
            "township cannot treat it"
        );
        e.diagnoses = vec![code("K29.700")];
        assert_eq!(
            suggest(&e, &county, &lower)[0].criterion,
            Criterion::StableClearDiagnosis
        );
        e.days_since_discharge = None;
        assert!(
            suggest(&e, &county, &lower).is_empty(),
            "an outpatient gastritis"
        );
    }

    #[test]
    fn slots_and_slip_numbers() {
        let now = datetime!(2026-11-30 08:00 UTC);
        let start = now + Duration::days(2);
        let release = start - Duration::hours(24);
        assert_eq!(
            slot_availability(true, release, start, false, now),
            SlotAvailability::Reserved
        );
        assert_eq!(
            slot_availability(true, release, start, false, release),
            SlotAvailability::Public
        );
        assert_eq!(
            slot_availability(false, release, start, true, now),
            SlotAvailability::Booked
        );
        assert_eq!(
            slot_availability(true, release, start, false, start),
            SlotAvailability::Past
        );
        assert_eq!(
            slip_number(time::macros::date!(2026 - 11 - 30), 42),
            "ZZ20261130-0042"
        );
    }
}
