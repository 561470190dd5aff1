//! What people ask of a referral, as written (drafts of plain strings that forms, the JSON API
//! and FHIR share) and as checked commands: [`ReferralDraft`] parses into [`NewReferral`],
//! [`StepDraft`] into a [`Step`]. Every error names its field (`plan.discharge_summary`,
//! `outcome.summary`, `item_ids[3]`, …) so that forms show it beside the field. Then the rules
//! that decide a step from the facts the app loaded ([`decide_step`]), and the target rules of
//! a new referral ([`check_target`]).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Action, Criterion, Direction, ResourceKind, Side, Status, TransitionError, Urgency};
use crate::clinical::Icd10Code;
use crate::error::{Reason, ValidationError, ValidationErrors};
use crate::org::Tier;

// ---------------------------------------------------------------- text, ids and times

/// An identifier (UUID); empty is `Required`.
pub fn parse_id(field: &str, s: &str) -> Result<Uuid, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    Uuid::parse_str(t).map_err(|_| ValidationError::new(field, Reason::Format("uuid")))
}

/// An optional identifier: absent or blank is `None`.
pub fn opt_id(field: &str, s: Option<&String>) -> Result<Option<Uuid>, ValidationError> {
    match s.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => parse_id(field, t).map(Some),
    }
}

/// Text trimmed, at most `max` characters, required or not.
pub fn text(field: &str, s: &str, max: usize, required: bool) -> Result<String, ValidationError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(ValidationError::new(field, Reason::Required));
    }
    if t.chars().count() > max {
        return Err(ValidationError::new(field, Reason::TooLong { max }));
    }
    Ok(t.to_owned())
}

/// Optional text: absent or blank is `None`.
pub fn opt_text(
    field: &str,
    s: Option<&String>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match s.map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(t) => text(field, t, max, false).map(Some),
    }
}

/// An optional code: absent or blank is `None`, otherwise `parse` decides.
fn opt_code<T>(
    errs: &mut ValidationErrors,
    field: &str,
    s: Option<&str>,
    parse: impl Fn(&str, &str) -> Result<T, ValidationError>,
) -> Option<T> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => errs.check(parse(field, c)),
        None => None,
    }
}

/// Beijing time, in which people write dates and times.
pub fn beijing() -> time::UtcOffset {
    time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC)
}

/// A time as people in the county write it: Beijing time to the minute (`2026-12-08 14:00`).
pub fn local_minute(t: OffsetDateTime) -> String {
    let l = t.to_offset(beijing());
    format!("{} {:02}:{:02}", l.date(), l.hour(), l.minute())
}

/// Parses a time given as RFC 3339 or `YYYY-MM-DDTHH:MM` (Beijing time, as a form sends it).
pub fn parse_local_time(field: &str, s: &str) -> Result<OffsetDateTime, ValidationError> {
    let t = s.trim();
    if let Ok(v) = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        return Ok(v.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let fmt2 = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::PrimitiveDateTime::parse(t, &fmt)
        .or_else(|_| time::PrimitiveDateTime::parse(t, &fmt2))
        .map(|p| p.assume_offset(beijing()).to_offset(time::UtcOffset::UTC))
        .map_err(|_| ValidationError::new(field, Reason::Format("datetime_local")))
}

// ---------------------------------------------------------------- drafts

/// A referral as written in a form or sent to the API (text, parsed by [`ReferralDraft::parse`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReferralDraft {
    pub direction: String,
    pub person_id: String,
    pub urgency: String,
    pub from_department_id: Option<String>,
    pub to_institution_id: String,
    pub to_department_id: Option<String>,
    pub to_staff_id: Option<String>,
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub reason: String,
    pub criterion: Option<String>,
    pub summary: Option<String>,
    /// The resource kind wanted (ct, mri, ultrasound, specialist_clinic, bed).
    pub needs: Option<String>,
    /// A slot to book with the referral.
    pub slot_id: Option<String>,
    /// Record items to attach.
    pub item_ids: Vec<String>,
    /// The treatment plan of a down-referral.
    pub plan: Option<PlanDraft>,
    /// Submit at once; otherwise the referral stays a draft.
    pub submit: bool,
}

/// The treatment plan handed over with a down-referral, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PlanDraft {
    pub discharge_summary: String,
    /// One medication per line (`苯磺酸氨氯地平片 5mg 每日一次`).
    pub medications: String,
    /// One follow-up per line: `YYYY-MM-DD what` or `+N what` (N days after acceptance).
    pub follow_ups: String,
    pub warning_signs: String,
    pub rehab_goals: String,
}

/// A follow-up of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FollowUp {
    /// Days after acceptance, or a date.
    pub after_days: Option<i64>,
    pub on: Option<Date>,
    pub title: String,
}

impl FollowUp {
    /// The day the follow-up is due when the plan is accepted on `accepted` (its date, or so
    /// many days later; a fortnight when neither is given).
    pub fn due_on(&self, accepted: Date) -> Date {
        self.on
            .unwrap_or(accepted + time::Duration::days(self.after_days.unwrap_or(14)))
    }
}

/// The treatment plan as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Plan {
    pub discharge_summary: String,
    pub medications: Vec<String>,
    pub follow_ups: Vec<FollowUp>,
    pub warning_signs: String,
    pub rehab_goals: String,
}

/// What the receiving side reports back when it completes a referral: as written, and (after
/// [`ReferralOutcome::parse`]) as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ReferralOutcome {
    pub diagnosis_code: Option<String>,
    pub diagnosis_name: Option<String>,
    pub treatment: String,
    pub summary: String,
}

/// One step someone takes on a referral, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StepDraft {
    pub action: String,
    /// The version the user saw (optional; a stale one is refused).
    pub version: Option<i64>,
    /// Why (rejection, redirection, cancellation; optional otherwise).
    pub reason: Option<String>,
    /// Redirect: the new target.
    pub to_institution_id: Option<String>,
    pub to_department_id: Option<String>,
    /// Schedule: a slot of the calendar, or a time (RFC 3339 or `YYYY-MM-DDTHH:MM`, Beijing time).
    pub slot_id: Option<String>,
    pub appointment_at: Option<String>,
    /// Complete: the outcome.
    pub outcome: Option<ReferralOutcome>,
}

// ---------------------------------------------------------------- commands

/// A new referral, checked: what [`ReferralDraft::parse`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReferral {
    pub direction: Direction,
    pub urgency: Urgency,
    pub person_id: Uuid,
    pub from_department_id: Option<Uuid>,
    pub to_institution_id: Uuid,
    pub to_department_id: Option<Uuid>,
    pub to_staff_id: Option<Uuid>,
    pub diagnosis_code: Option<Icd10Code>,
    pub diagnosis_name: Option<String>,
    pub reason: String,
    pub criterion: Option<Criterion>,
    pub summary: Option<String>,
    pub needs: Option<ResourceKind>,
    pub slot_id: Option<Uuid>,
    /// Record items to attach, sorted, each once.
    pub item_ids: Vec<Uuid>,
    /// The treatment plan (down-referrals only).
    pub plan: Option<Plan>,
    pub submit: bool,
}

impl NewReferral {
    /// The state the referral starts in.
    pub fn status(&self) -> Status {
        if self.submit {
            Status::Submitted
        } else {
            Status::Draft
        }
    }
}

impl ReferralDraft {
    /// The checked referral, or every error at once.
    pub fn parse(&self) -> Result<NewReferral, ValidationErrors> {
        let d = self;
        let mut errs = ValidationErrors::default();
        let direction = errs.check(Direction::parse("direction", &d.direction));
        let urgency = if d.urgency.trim().is_empty() {
            Some(Urgency::Routine)
        } else {
            errs.check(Urgency::parse("urgency", &d.urgency))
        };
        let person_id = errs.check(parse_id("person_id", &d.person_id));
        let to_institution_id = errs.check(parse_id("to_institution_id", &d.to_institution_id));
        let mut opt =
            |field: &str, s: &Option<String>| errs.check(opt_id(field, s.as_ref())).flatten();
        let to_department_id = opt("to_department_id", &d.to_department_id);
        let to_staff_id = opt("to_staff_id", &d.to_staff_id);
        let from_department_id = opt("from_department_id", &d.from_department_id);
        let slot_id = opt("slot_id", &d.slot_id);
        let diagnosis_code = opt_code(
            &mut errs,
            "diagnosis_code",
            d.diagnosis_code.as_deref(),
            Icd10Code::parse,
        );
        let diagnosis_name = errs
            .check(opt_text("diagnosis_name", d.diagnosis_name.as_ref(), 200))
            .flatten();
        let reason = errs.check(text("reason", &d.reason, 1000, true));
        let criterion = opt_code(
            &mut errs,
            "criterion",
            d.criterion.as_deref(),
            Criterion::parse,
        );
        let summary = errs
            .check(opt_text("summary", d.summary.as_ref(), 4000))
            .flatten();
        let needs = opt_code(&mut errs, "needs", d.needs.as_deref(), ResourceKind::parse);
        let mut item_ids = Vec::new();
        for (i, s) in d.item_ids.iter().enumerate() {
            if s.trim().is_empty() {
                continue;
            }
            if let Some(id) = errs.check(parse_id(&format!("item_ids[{i}]"), s)) {
                item_ids.push(id);
            }
        }
        item_ids.sort();
        item_ids.dedup();
        let plan = match (direction, &d.plan) {
            (Some(Direction::Down), Some(p)) => match p.parse() {
                Ok(p) => Some(p),
                Err(e) => {
                    errs.0.extend(e.0);
                    None
                }
            },
            (Some(Direction::Down), None) if d.submit => {
                errs.push(ValidationError::new(
                    "plan.discharge_summary",
                    Reason::Required,
                ));
                None
            }
            _ => None,
        };
        errs.into_result()?;
        let (
            Some(direction),
            Some(urgency),
            Some(person_id),
            Some(to_institution_id),
            Some(reason),
        ) = (direction, urgency, person_id, to_institution_id, reason)
        else {
            return Err(ValidationError::new("referral", Reason::Required).into());
        };
        Ok(NewReferral {
            direction,
            urgency,
            person_id,
            from_department_id,
            to_institution_id,
            to_department_id,
            to_staff_id,
            diagnosis_code,
            diagnosis_name,
            reason,
            criterion,
            summary,
            needs,
            slot_id,
            item_ids,
            plan,
            submit: d.submit,
        })
    }
}

impl PlanDraft {
    /// The plan of a down-referral; errors name `plan.<field>` (and the line).
    pub fn parse(&self) -> Result<Plan, ValidationErrors> {
        let d = self;
        let mut errs = ValidationErrors::default();
        let discharge_summary = errs
            .check(text(
                "plan.discharge_summary",
                &d.discharge_summary,
                4000,
                true,
            ))
            .unwrap_or_default();
        let lines = |s: &str| -> Vec<String> {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let medications = lines(&d.medications);
        for (i, m) in medications.iter().enumerate() {
            if m.chars().count() > 200 {
                errs.push(ValidationError::new(
                    format!("plan.medications[{i}]"),
                    Reason::TooLong { max: 200 },
                ));
            }
        }
        let mut follow_ups = Vec::new();
        for (i, l) in lines(&d.follow_ups).iter().enumerate() {
            if let Some(f) = errs.check(follow_up(&format!("plan.follow_ups[{i}]"), l)) {
                follow_ups.push(f);
            }
        }
        if follow_ups.is_empty()
            && errs
                .0
                .iter()
                .all(|e| !e.field.starts_with("plan.follow_ups"))
        {
            errs.push(ValidationError::new(
                "plan.follow_ups",
                Reason::Other(crate::msg!("referral.down_referral_needs_at")),
            ));
        }
        let warning_signs = errs
            .check(text("plan.warning_signs", &d.warning_signs, 2000, false))
            .unwrap_or_default();
        let rehab_goals = errs
            .check(text("plan.rehab_goals", &d.rehab_goals, 2000, false))
            .unwrap_or_default();
        errs.into_result()?;
        Ok(Plan {
            discharge_summary,
            medications,
            follow_ups,
            warning_signs,
            rehab_goals,
        })
    }
}

/// One line of the follow-ups: `YYYY-MM-DD what` or `+N what`.
fn follow_up(field: &str, l: &str) -> Result<FollowUp, ValidationError> {
    let (when, what) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
    let what = what.trim();
    if what.is_empty() {
        return Err(ValidationError::new(
            field,
            Reason::Other(crate::msg!("referral.write_each_line_as")),
        ));
    }
    let title = what.to_owned();
    if let Some(n) = when.strip_prefix('+') {
        match n.parse::<i64>() {
            Ok(n) if (1..=730).contains(&n) => Ok(FollowUp {
                after_days: Some(n),
                on: None,
                title,
            }),
            _ => Err(ValidationError::new(
                field,
                Reason::Range { min: 1, max: 730 },
            )),
        }
    } else {
        let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
        match Date::parse(when, &date_fmt) {
            Ok(on) => Ok(FollowUp {
                after_days: None,
                on: Some(on),
                title,
            }),
            Err(_) => Err(ValidationError::new(field, Reason::Date)),
        }
    }
}

impl ReferralOutcome {
    /// The outcome as stored; errors name `outcome.<field>`.
    pub fn parse(&self) -> Result<ReferralOutcome, ValidationErrors> {
        let mut errs = ValidationErrors::default();
        let o = self;
        let diagnosis_code = opt_code(
            &mut errs,
            "outcome.diagnosis_code",
            o.diagnosis_code.as_deref(),
            Icd10Code::parse,
        )
        .map(|c| c.as_str().to_owned());
        let diagnosis_name = errs
            .check(opt_text(
                "outcome.diagnosis_name",
                o.diagnosis_name.as_ref(),
                200,
            ))
            .flatten();
        let treatment = errs
            .check(text("outcome.treatment", &o.treatment, 4000, false))
            .unwrap_or_default();
        let summary = errs
            .check(text("outcome.summary", &o.summary, 8000, true))
            .unwrap_or_default();
        errs.into_result()?;
        Ok(ReferralOutcome {
            diagnosis_code,
            diagnosis_name,
            treatment,
            summary,
        })
    }
}

/// When a scheduled patient is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appointment {
    /// A slot of the receiving side's calendar.
    Slot(Uuid),
    /// A time agreed outside the calendar.
    At(OffsetDateTime),
}

/// A step on a referral, checked: each action with exactly what it needs. `note` is the
/// optional remark of actions that do not require a reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Submit {
        note: Option<String>,
    },
    Accept {
        note: Option<String>,
    },
    Reject {
        reason: String,
    },
    Redirect {
        to: Uuid,
        department: Option<Uuid>,
        reason: String,
    },
    Schedule {
        when: Appointment,
        note: Option<String>,
    },
    Arrive {
        note: Option<String>,
    },
    Complete {
        outcome: ReferralOutcome,
        note: Option<String>,
    },
    Cancel {
        reason: String,
    },
}

impl Step {
    pub fn action(&self) -> Action {
        match self {
            Step::Submit { .. } => Action::Submit,
            Step::Accept { .. } => Action::Accept,
            Step::Reject { .. } => Action::Reject,
            Step::Redirect { .. } => Action::Redirect,
            Step::Schedule { .. } => Action::Schedule,
            Step::Arrive { .. } => Action::Arrive,
            Step::Complete { .. } => Action::Complete,
            Step::Cancel { .. } => Action::Cancel,
        }
    }

    /// The reason or remark the step carries (history, notifications).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Step::Reject { reason } | Step::Redirect { reason, .. } | Step::Cancel { reason } => {
                Some(reason)
            }
            Step::Submit { note }
            | Step::Accept { note }
            | Step::Schedule { note, .. }
            | Step::Arrive { note }
            | Step::Complete { note, .. } => note.as_deref(),
        }
    }
}

impl StepDraft {
    /// The action asked for (checked before anything else: it decides who may ask).
    pub fn action(&self) -> Result<Action, ValidationError> {
        Action::parse("action", &self.action)
    }

    /// The checked step, or every error at once. Fields that the action does not use are
    /// still checked when given.
    pub fn parse(&self) -> Result<Step, ValidationErrors> {
        let d = self;
        let action = self.action()?;
        let mut errs = ValidationErrors::default();
        let reason = errs
            .check(opt_text("reason", d.reason.as_ref(), 1000))
            .flatten();
        if action.needs_reason() && reason.is_none() {
            errs.push(ValidationError::new("reason", Reason::Required));
        }
        let new_to = errs
            .check(opt_id("to_institution_id", d.to_institution_id.as_ref()))
            .flatten();
        let department = errs
            .check(opt_id("to_department_id", d.to_department_id.as_ref()))
            .flatten();
        let slot_id = errs.check(opt_id("slot_id", d.slot_id.as_ref())).flatten();
        let at = match d
            .appointment_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => errs.check(parse_local_time("appointment_at", s)),
            None => None,
        };
        if action == Action::Redirect && new_to.is_none() {
            errs.push(ValidationError::new("to_institution_id", Reason::Required));
        }
        let when = slot_id.map(Appointment::Slot).or(at.map(Appointment::At));
        if action == Action::Schedule && when.is_none() {
            errs.push(ValidationError::new("appointment_at", Reason::Required));
        }
        let outcome = if action == Action::Complete {
            match d.outcome.clone().unwrap_or_default().parse() {
                Ok(o) => Some(o),
                Err(e) => {
                    errs.0.extend(e.0);
                    None
                }
            }
        } else {
            None
        };
        errs.into_result()?;
        let missing = || ValidationErrors::from(ValidationError::new("action", Reason::Required));
        let required = |r: Option<String>| r.ok_or_else(missing);
        Ok(match action {
            Action::Submit => Step::Submit { note: reason },
            Action::Accept => Step::Accept { note: reason },
            Action::Reject => Step::Reject {
                reason: required(reason)?,
            },
            Action::Redirect => Step::Redirect {
                to: new_to.ok_or_else(missing)?,
                department,
                reason: required(reason)?,
            },
            Action::Schedule => Step::Schedule {
                when: when.ok_or_else(missing)?,
                note: reason,
            },
            Action::Arrive => Step::Arrive { note: reason },
            Action::Complete => Step::Complete {
                outcome: outcome.ok_or_else(missing)?,
                note: reason,
            },
            Action::Cancel => Step::Cancel {
                reason: required(reason)?,
            },
        })
    }
}

// ---------------------------------------------------------------- rules

/// Tier order: village below township below county.
pub fn rank(t: Tier) -> u8 {
    match t {
        Tier::Village => 0,
        Tier::Township => 1,
        Tier::County => 2,
    }
}

/// Whether a referral of `direction` from a `from` institution may go to a `to` one.
pub fn goes_the_right_way(direction: Direction, from: Tier, to: Tier) -> bool {
    match direction {
        Direction::Up => rank(to) > rank(from),
        Direction::Down => rank(to) < rank(from),
    }
}

/// An institution as a referral's target rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub id: Uuid,
    pub tier: Tier,
    pub name: &'a str,
}

/// The target of a new referral: another institution, of a higher tier for an up-referral and
/// a lower one for a down-referral. Errors name `to_institution_id`.
pub fn check_target(
    direction: Direction,
    from: Place<'_>,
    to: Place<'_>,
) -> Result<(), ValidationError> {
    if to.id == from.id {
        return Err(ValidationError::new(
            "to_institution_id",
            Reason::Other(crate::msg!("referral.cannot_refer_own_institution")),
        ));
    }
    if goes_the_right_way(direction, from.tier, to.tier) {
        return Ok(());
    }
    let up = direction == Direction::Up;
    Err(ValidationError::new(
        "to_institution_id",
        Reason::Other(if up {
            crate::msg!("referral.up_goes_higher", name = to.name, tier = to.tier)
        } else {
            crate::msg!("referral.down_goes_lower", name = to.name, tier = to.tier)
        }),
    ))
}

/// What a step is decided on: the referral as it stands and what the app loaded for the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepFacts {
    pub status: Status,
    pub direction: Direction,
    /// The referring institution.
    pub from: Uuid,
    /// The institution the referral is addressed to now.
    pub to: Uuid,
    pub appointment_at: Option<OffsetDateTime>,
    /// Redirect: the tiers the new target is judged by.
    pub redirect: Option<RedirectFacts>,
}

/// The institutions of a redirection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectFacts {
    pub from_tier: Tier,
    pub to: Uuid,
    pub to_tier: Tier,
}

/// Why a step is refused on its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRefusal {
    /// The state does not allow the action.
    Transition(TransitionError),
    /// A field of the step breaks a rule.
    Invalid(ValidationError),
}

/// What a step does, decided: the states, and what follows from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDecision {
    pub action: Action,
    pub from: Status,
    pub to: Status,
    /// Accepting a referral that already has an appointment schedules it at once: the history
    /// shows the acceptance, then the booking.
    pub accepted_then_scheduled: bool,
    /// Submission opens the resident's record to the receiving side (and records the plan's
    /// medications).
    pub opens_access: bool,
    /// A redirection moves the record access and the booking to the new target.
    pub moves_target: bool,
    /// The referral ends: the receiving side's access ends.
    pub ends_access: bool,
    /// The booked slot returns to the calendar.
    pub releases_slot: bool,
    /// Cancelling drops the open care tasks.
    pub drops_tasks: bool,
    /// Accepting a down-referral turns the plan's follow-ups into care tasks.
    pub creates_follow_ups: bool,
    /// Arrival: the receiving institution now cares for the resident.
    pub adds_care_link: bool,
    /// Which side is told: the receiving side (its department's staff) or the referring
    /// doctor (and, for a redirection, the new target too).
    pub tell: Side,
}

impl StepDecision {
    /// The state the first history line ends in.
    pub fn first_to(&self) -> Status {
        if self.accepted_then_scheduled {
            Status::Accepted
        } else {
            self.to
        }
    }
}

/// Decides a step on its facts, taken by the `side` the actor stands on (`Either`: both) at
/// `now`: the state must allow it, a redirection goes to another institution of the
/// referral's direction, an appointment time lies in the future.
pub fn decide_step(
    f: &StepFacts,
    step: &Step,
    side: Side,
    now: OffsetDateTime,
) -> Result<StepDecision, StepRefusal> {
    let action = step.action();
    let mut to = f.status.next(action).map_err(StepRefusal::Transition)?;
    match step {
        Step::Redirect { .. } => {
            let ok = f.redirect.is_some_and(|r| {
                r.to != f.to
                    && r.to != f.from
                    && goes_the_right_way(f.direction, r.from_tier, r.to_tier)
            });
            if !ok {
                return Err(StepRefusal::Invalid(ValidationError::new(
                    "to_institution_id",
                    Reason::Other(crate::msg!(
                        "referral.redirect_another_institution_referral"
                    )),
                )));
            }
        }
        Step::Schedule {
            when: Appointment::At(t),
            ..
        } if *t <= now => {
            return Err(StepRefusal::Invalid(ValidationError::new(
                "appointment_at",
                Reason::Other(crate::msg!("referral.appointment_future")),
            )));
        }
        _ => {}
    }
    let accepted_then_scheduled = action == Action::Accept && f.appointment_at.is_some();
    if accepted_then_scheduled {
        to = Status::Scheduled;
    }
    let tell = if action.side() == Side::Referring
        || (action == Action::Cancel && side == Side::Referring)
    {
        Side::Receiving
    } else {
        Side::Referring
    };
    Ok(StepDecision {
        action,
        from: f.status,
        to,
        accepted_then_scheduled,
        opens_access: f.status == Status::Draft && to == Status::Submitted,
        moves_target: action == Action::Redirect,
        ends_access: !to.is_open(),
        releases_slot: !to.holds_slot() && action != Action::Redirect,
        drops_tasks: action == Action::Cancel,
        creates_follow_ups: f.direction == Direction::Down && action == Action::Accept,
        adds_care_link: action == Action::Arrive,
        tell,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn up_draft() -> ReferralDraft {
        ReferralDraft {
            direction: "up".into(),
            person_id: uuid(1).to_string(),
            to_institution_id: uuid(2).to_string(),
            reason: " 血压控制不佳 ".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_referral_draft_parses_into_a_command() {
        let mut d = up_draft();
        d.needs = Some(" ct ".into());
        d.diagnosis_code = Some("I10".into());
        d.item_ids = vec![
            uuid(9).to_string(),
            "".into(),
            uuid(3).to_string(),
            uuid(9).to_string(),
        ];
        let c = d.parse().unwrap();
        assert_eq!(c.direction, Direction::Up);
        assert_eq!(c.urgency, Urgency::Routine);
        assert_eq!(c.reason, "血压控制不佳");
        assert_eq!(c.needs, Some(ResourceKind::Ct));
        assert_eq!(c.item_ids, vec![uuid(3), uuid(9)]);
        assert_eq!(c.status(), Status::Draft);
        assert!(c.plan.is_none());
    }

    #[test]
    fn every_error_of_a_referral_draft_names_its_field() {
        let d = ReferralDraft {
            direction: "down".into(),
            urgency: "soon".into(),
            to_department_id: Some("x".into()),
            item_ids: vec![uuid(1).to_string(), "".into(), "".into(), "nope".into()],
            submit: true,
            ..Default::default()
        };
        let fields: Vec<String> = d
            .parse()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "urgency",
                "person_id",
                "to_institution_id",
                "to_department_id",
                "reason",
                "item_ids[3]",
                "plan.discharge_summary"
            ]
        );
    }

    #[test]
    fn plan_errors_name_the_line() {
        let p = PlanDraft {
            follow_ups: "+3 复查血压\n2026-02-30 复诊\n+0 太早\n明天".into(),
            medications: "x".repeat(201),
            ..Default::default()
        };
        let fields: Vec<String> = p
            .parse()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "plan.discharge_summary",
                "plan.medications[0]",
                "plan.follow_ups[1]",
                "plan.follow_ups[2]",
                "plan.follow_ups[3]"
            ]
        );
        let ok = PlanDraft {
            discharge_summary: "出院".into(),
            follow_ups: "+3 复查血压".into(),
            ..Default::default()
        }
        .parse()
        .unwrap();
        let day = time::macros::date!(2026 - 01 - 01);
        assert_eq!(
            ok.follow_ups[0].due_on(day),
            time::macros::date!(2026 - 01 - 04)
        );
        let none = PlanDraft {
            discharge_summary: "出院".into(),
            ..Default::default()
        };
        assert_eq!(none.parse().unwrap_err().0[0].field, "plan.follow_ups");
    }

    #[test]
    fn step_drafts_parse_per_action() {
        let d = |action: &str| StepDraft {
            action: action.into(),
            ..Default::default()
        };
        assert_eq!(d("accept").parse().unwrap(), Step::Accept { note: None });
        let e = d("reject").parse().unwrap_err();
        assert_eq!(e.0[0].field, "reason");
        let e = d("redirect").parse().unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["reason", "to_institution_id"]);
        assert_eq!(
            d("schedule").parse().unwrap_err().0[0].field,
            "appointment_at"
        );
        let e = d("complete").parse().unwrap_err();
        assert_eq!(e.0[0].field, "outcome.summary");
        let s = StepDraft {
            slot_id: Some(uuid(5).to_string()),
            appointment_at: Some("2026-12-01T09:30".into()),
            ..d("schedule")
        };
        assert_eq!(
            s.parse().unwrap(),
            Step::Schedule {
                when: Appointment::Slot(uuid(5)),
                note: None
            }
        );
        let at = StepDraft {
            appointment_at: Some("2026-12-01 09:30".into()),
            ..d("schedule")
        };
        assert_eq!(
            at.parse().unwrap(),
            Step::Schedule {
                when: Appointment::At(time::macros::datetime!(2026-12-01 01:30 UTC)),
                note: None
            }
        );
        assert_eq!(d("fly").action().unwrap_err().field, "action");
    }

    fn facts(status: Status) -> StepFacts {
        StepFacts {
            status,
            direction: Direction::Up,
            from: uuid(1),
            to: uuid(2),
            appointment_at: None,
            redirect: None,
        }
    }

    #[test]
    fn steps_are_decided_on_their_facts() {
        let now = time::macros::datetime!(2026-12-01 00:00 UTC);
        let accept = Step::Accept { note: None };
        let d = decide_step(&facts(Status::Submitted), &accept, Side::Receiving, now).unwrap();
        assert_eq!(
            (d.to, d.accepted_then_scheduled, d.tell),
            (Status::Accepted, false, Side::Referring)
        );
        let booked = StepFacts {
            appointment_at: Some(now),
            ..facts(Status::Submitted)
        };
        let d = decide_step(&booked, &accept, Side::Receiving, now).unwrap();
        assert_eq!((d.first_to(), d.to), (Status::Accepted, Status::Scheduled));
        assert!(matches!(
            decide_step(&facts(Status::Draft), &accept, Side::Receiving, now),
            Err(StepRefusal::Transition(_))
        ));
        let past = Step::Schedule {
            when: Appointment::At(now),
            note: None,
        };
        assert!(matches!(
            decide_step(&facts(Status::Accepted), &past, Side::Receiving, now),
            Err(StepRefusal::Invalid(e)) if e.field == "appointment_at"
        ));
        let redirect = |to: Uuid, tier: Tier| {
            let f = StepFacts {
                redirect: Some(RedirectFacts {
                    from_tier: Tier::Village,
                    to,
                    to_tier: tier,
                }),
                ..facts(Status::Submitted)
            };
            let s = Step::Redirect {
                to,
                department: None,
                reason: "满床".into(),
            };
            decide_step(&f, &s, Side::Receiving, now)
        };
        assert!(redirect(uuid(3), Tier::County).unwrap().moves_target);
        assert!(redirect(uuid(2), Tier::County).is_err());
        assert!(redirect(uuid(3), Tier::Village).is_err());
        let cancel = Step::Cancel {
            reason: "不去了".into(),
        };
        let d = decide_step(&facts(Status::Submitted), &cancel, Side::Referring, now).unwrap();
        assert_eq!(d.tell, Side::Receiving);
        assert!(d.ends_access && d.releases_slot && d.drops_tasks);
        let d = decide_step(&facts(Status::Submitted), &cancel, Side::Either, now).unwrap();
        assert_eq!(d.tell, Side::Referring);
        let submit = Step::Submit { note: None };
        let d = decide_step(&facts(Status::Draft), &submit, Side::Referring, now).unwrap();
        assert!(d.opens_access && d.tell == Side::Receiving);
    }

    #[test]
    fn targets_go_the_referrals_way() {
        let v = Place {
            id: uuid(1),
            tier: Tier::Village,
            name: "村卫生室",
        };
        let c = Place {
            id: uuid(2),
            tier: Tier::County,
            name: "县医院",
        };
        assert!(check_target(Direction::Up, v, c).is_ok());
        assert!(check_target(Direction::Down, v, c).is_err());
        assert!(check_target(Direction::Up, v, v).is_err());
    }
}
