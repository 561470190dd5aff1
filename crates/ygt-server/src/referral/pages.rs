//! Pages of two-way referral (双向转诊): worklists, the referral form with suggestions and a
//! slot picker, the referral with its actions and history, the printable slip with a QR code,
//! care tasks, the inbox, statistics, calendars and the settings of catalogues and overdue
//! rules. Every page calls the use cases in `ygt_app::referral`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;
use uuid::Uuid;
use ygt_app::AppError;
use ygt_app::referral::{
    PlanDraft, ReferralDraft, ReferralOutcome, ReferralView, StepDraft, Worklist, WorklistCounts,
    WorklistQuery,
};
use ygt_app::ygt_store::org::{Department, Institution, InstitutionFilter, Staff};
use ygt_app::ygt_store::record::{Item, TimelineFilter};
use ygt_app::ygt_store::referral::Referral;
use ygt_domain::msg;
use ygt_domain::org::Tier;
use ygt_domain::referral::{
    Action, Criterion, Direction, Overdue, ResourceKind, Status, Suggestion, Urgency,
};

use super::api::parse_needs;
use super::slot_grid::SlotGrid;
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::local;
use crate::door::layout::{FormState, Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/referrals", worklist_page)
        .get("/referrals/new", new_page)
        .post("/referrals", create_page)
        .get("/referrals/slots", slots_fragment)
        .get("/referrals/doctor-options", doctor_options)
        .get("/referrals/stats", super::work::stats_page)
        .get("/referrals/{id}", referral_page)
        .post("/referrals/{id}/step", step_page)
        .get("/referrals/{id}/slip", slip_page)
        .post("/residents/{id}/referral-suggestions/dismiss", dismiss_page)
}

pub(super) fn status_label(t: Lang, code: &str) -> &'static str {
    Status::parse("s", code).map_or("?", |s| s.label(t.is_en()))
}

pub(super) fn direction_label(t: Lang, code: &str) -> &'static str {
    Direction::parse("d", code).map_or("?", |s| s.label(t.is_en()))
}

pub(super) fn urgency_label(t: Lang, code: &str) -> &'static str {
    Urgency::parse("u", code).map_or("?", |s| s.label(t.is_en()))
}

pub(super) fn criterion_label(t: Lang, code: &str) -> &'static str {
    Criterion::parse("c", code).map_or("", |s| s.label(t.is_en()))
}

/// Messages of a use-case error for a page banner.
pub(super) fn error_text(e: &AppError, t: Lang) -> Option<String> {
    let mut f = FormState::default();
    f.absorb(clone_err(e), t).ok()?;
    Some(
        f.errors
            .iter()
            .map(|(_, m)| m.clone())
            .collect::<Vec<_>>()
            .join("；"),
    )
}

pub(super) fn clone_err(e: &AppError) -> AppError {
    match e {
        AppError::Invalid(v) => AppError::Invalid(v.clone()),
        AppError::Conflict { field, msg } => AppError::Conflict {
            field: field.clone(),
            msg: msg.clone(),
        },
        AppError::Stale => AppError::Stale,
        AppError::Duplicate { field } => AppError::Duplicate {
            field: field.clone(),
        },
        _ => AppError::NotFound("error"),
    }
}

// ---------------------------------------------------------------- worklist

#[derive(Template)]
#[template(path = "referrals.html")]
struct WorklistPage {
    t: Lang,
    nav: Nav,
    list: &'static str,
    counts: WorklistCounts,
    rows: Vec<(Referral, Option<Overdue>)>,
    /// Referrals in the list, all pages.
    total: i64,
    /// Only those whose status changed in the last this many days.
    days: Option<i64>,
    next: Option<String>,
    status: String,
    direction: String,
    statuses: &'static [Status],
}

impl WorklistPage {
    fn changed_within(&self, days: &i64) -> String {
        self.t
            .render(&msg!("referral.changed_within", days = *days))
    }
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn over(&self, o: &Option<Overdue>) -> &'static str {
        o.map_or("", |o| o.label(self.t.is_en()))
    }
    /// A choice of several statuses (from a count's link), labelled with their names.
    fn status_group(&self) -> Option<String> {
        self.status.contains(',').then(|| {
            let sep = if self.t.is_en() { ", " } else { "、" };
            self.status
                .split(',')
                .map(|c| status_label(self.t, c.trim()))
                .collect::<Vec<_>>()
                .join(sep)
        })
    }
    fn tab(&self, w: &Worklist) -> (&'static str, &'static str) {
        let name = match w {
            Worklist::Outgoing => self.t.t("referral.outgoing"),
            Worklist::Incoming => self.t.t("referral.incoming"),
            Worklist::Overdue => self.t.t("referral.overdue"),
            Worklist::Handover => self.t.t("referral.awaiting_handover_2"),
            Worklist::All => self.t.t("referral.all"),
        };
        (w.code(), name)
    }
    fn tabs(&self) -> [Worklist; 5] {
        Worklist::ALL
    }
    fn label_of(&self, s: &Status) -> &'static str {
        s.label(self.t.is_en())
    }
}

/// The link of a count on the home page and the worklist tabs: the list it counts, exactly.
pub fn count_href(name: &str) -> String {
    let Some((_, q)) = ygt_app::App::counted_lists()
        .into_iter()
        .find(|(n, _)| *n == name)
    else {
        return "/referrals".into();
    };
    let mut ser = form_urlencoded::Serializer::new(String::new());
    ser.append_pair("list", &q.list);
    if let Some(st) = &q.status {
        ser.append_pair("status", st);
    }
    if let Some(d) = &q.direction {
        ser.append_pair("direction", d);
    }
    if let Some(d) = q.days {
        ser.append_pair("days", &d.to_string());
    }
    format!("/referrals?{}", ser.finish())
}

async fn worklist_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let list = Worklist::parse(&q.text("list")).unwrap_or(Worklist::Outgoing);
    let query = WorklistQuery {
        list: list.code().into(),
        status: q.opt("status"),
        direction: q.opt("direction"),
        person_id: q.opt("person_id"),
        cursor: q.opt("cursor"),
        days: q.text("days").parse().ok(),
        ..Default::default()
    };
    let p = s.app.worklist(&ctx, &query).await?;
    let next = p.next.as_ref().map(|c| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("list", list.code());
        for k in ["status", "direction", "person_id", "days"] {
            if let Some(v) = q.opt(k) {
                ser.append_pair(k, &v);
            }
        }
        ser.append_pair("cursor", c);
        format!("/referrals?{}", ser.finish())
    });
    let counts = s.app.worklist_counts(&ctx).await?;
    render_status(
        &WorklistPage {
            t,
            nav: page.nav("referrals"),
            list: list.code(),
            counts,
            rows: p.referrals.into_iter().zip(p.overdue).collect(),
            total: p.total,
            days: query.days,
            next,
            status: q.text("status"),
            direction: q.text("direction"),
            statuses: Status::ALL,
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------- new referral

#[derive(Template)]
#[template(path = "referral_new.html")]
struct NewPage {
    t: Lang,
    nav: Nav,
    form: FormState,
    person: ygt_app::view::PersonView,
    direction: Direction,
    targets: Vec<Institution>,
    departments: Vec<Department>,
    /// Down-referrals: the doctors of the chosen institution (the family doctor to name).
    doctors: Vec<Staff>,
    suggestions: Vec<Suggestion>,
    items: Vec<Item>,
    urgencies: &'static [Urgency],
    kinds: &'static [ResourceKind],
    criteria: &'static [Criterion],
}

impl NewPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn sug(&self, s: &Suggestion) -> String {
        if self.t.is_en() {
            s.detail_en.clone()
        } else {
            s.detail_zh.clone()
        }
    }
    fn checked(&self, id: &Uuid) -> bool {
        self.form.has("item_ids", &id.to_string())
    }
    fn is_down(&self) -> bool {
        self.direction == Direction::Down
    }
}

async fn new_form(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let person_id = parse_id("person_id", form.v("person_id"))?;
    let direction = Direction::parse("direction", form.v("direction")).unwrap_or(Direction::Up);
    let record = s
        .app
        .patient_record(
            ctx,
            person_id,
            &TimelineFilter {
                kinds: vec![
                    "lab_report".into(),
                    "imaging_report".into(),
                    "ecg_report".into(),
                    "pathology_report".into(),
                    "document".into(),
                ],
                ..Default::default()
            },
            "referral",
        )
        .await?;
    let person = record.person;
    let mut items = record.timeline;
    items.truncate(15);
    let suggestions = s
        .app
        .referral_suggestions(
            ctx,
            person_id,
            &parse_needs(form.v("need_services")).unwrap_or_default(),
        )
        .await?;
    let own_tier = match ctx.principal().and_then(|p| p.institution_id) {
        Some(i) => s.app.institution(ctx, i).await.ok().map(|i| i.tier),
        None => None,
    };
    let rank = |t: Tier| match t {
        Tier::Village => 0,
        Tier::Township => 1,
        Tier::County => 2,
    };
    let (all, _) = s
        .app
        .list_institutions(
            ctx,
            &InstitutionFilter {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await?;
    let targets: Vec<Institution> = all
        .into_iter()
        .filter(|i| match own_tier {
            Some(o) => match direction {
                Direction::Up => rank(i.tier) > rank(o),
                Direction::Down => rank(i.tier) < rank(o),
            },
            None => true,
        })
        .collect();
    let chosen = form
        .v("to_institution_id")
        .parse::<Uuid>()
        .ok()
        .or(targets.first().map(|i| i.id));
    let mut departments = match chosen {
        Some(i) => s.app.departments(ctx, i).await.unwrap_or_default(),
        None => Vec::new(),
    };
    departments.retain(|d| ygt_domain::org::is_clinical_department(&d.name));
    let doctors = match (direction, chosen) {
        (Direction::Down, Some(i)) => s.app.referral_doctors(ctx, i).await.unwrap_or_default(),
        _ => Vec::new(),
    };
    render_status(
        &NewPage {
            t,
            nav: page.nav("referrals"),
            form,
            person,
            direction,
            targets,
            departments,
            doctors,
            suggestions,
            items,
            urgencies: Urgency::ALL,
            kinds: ResourceKind::ALL,
            criteria: Criterion::ALL,
        },
        status,
    )
}

async fn new_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    if q.text("person_id").is_empty() {
        return Ok(Redirect::to("/residents").into_response());
    }
    let mut pairs = q.0.clone();
    if q.text("direction").is_empty() {
        pairs.push(("direction".into(), "up".into()));
    }
    if q.text("direction") == "down" && q.text("to_institution_id").is_empty() {
        let person = parse_id("person_id", &q.text("person_id"))?;
        if let Some(d) = s.app.down_referral_defaults(&ctx, person).await? {
            pairs.extend(down_defaults(&d));
        }
    }
    new_form(
        &s,
        &ctx,
        t,
        &page,
        FormState::from_pairs(pairs),
        StatusCode::OK,
    )
    .await
}

/// The form's fields filled from the up-referral the resident came with.
fn down_defaults(d: &ygt_app::referral::DownDefaults) -> Vec<(String, String)> {
    let mut v = vec![
        ("to_institution_id".into(), d.to_institution_id.to_string()),
        ("up_number".into(), d.up_number.clone()),
        ("up_referral".into(), d.up_referral.to_string()),
    ];
    if let Some(s) = d.to_staff_id {
        v.push(("to_staff_id".into(), s.to_string()));
    }
    if let Some(c) = &d.diagnosis_code {
        v.push(("diagnosis_code".into(), c.clone()));
    }
    if let Some(n) = &d.diagnosis_name {
        v.push(("diagnosis_name".into(), n.clone()));
    }
    v
}

fn draft_from(f: &FormData) -> ReferralDraft {
    let direction = f.text("direction");
    ReferralDraft {
        direction: direction.clone(),
        person_id: f.text("person_id"),
        urgency: f.text("urgency"),
        from_department_id: f.opt("from_department_id"),
        to_institution_id: f.text("to_institution_id"),
        to_department_id: f.opt("to_department_id"),
        to_staff_id: f.opt("to_staff_id"),
        diagnosis_code: f.opt("diagnosis_code"),
        diagnosis_name: f.opt("diagnosis_name"),
        reason: f.text("reason"),
        criterion: f.opt("criterion"),
        summary: f.opt("summary"),
        needs: f.opt("needs"),
        slot_id: f.opt("slot_id"),
        item_ids: f.all("item_ids"),
        plan: (direction == "down").then(|| PlanDraft {
            discharge_summary: f.text("plan.discharge_summary"),
            medications: f.text("plan.medications"),
            follow_ups: f.text("plan.follow_ups"),
            warning_signs: f.text("plan.warning_signs"),
            rehab_goals: f.text("plan.rehab_goals"),
        }),
        submit: f.text("save") != "draft",
    }
}

async fn create_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    f: FormData,
) -> Result<Response, WebError> {
    let d = draft_from(&f);
    match s.app.create_referral(&ctx, &d).await {
        Ok(r) => Ok(Redirect::to(&format!("/referrals/{}", r.id)).into_response()),
        Err(e) => {
            let mut form = FormState::from_pairs(f.0.clone());
            form.absorb(e, t)?;
            new_form(&s, &ctx, t, &page, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "referral_slots.html")]
struct SlotsFragment {
    t: Lang,
    rows: Vec<SlotGrid>,
    selected: String,
}

impl SlotsFragment {}

#[derive(Template)]
#[template(path = "referral_doctor_options.html")]
struct DoctorOptions {
    t: Lang,
    selected: String,
    doctors: Vec<Staff>,
}

impl DoctorOptions {}

/// The options of the down-referral form's doctor select for the chosen institution.
async fn doctor_options(
    State(s): State<AppState>,
    t: Lang,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let doctors = match q.opt("to_institution_id") {
        Some(v) => {
            s.app
                .referral_doctors(&ctx, parse_id("to_institution_id", &v)?)
                .await?
        }
        None => Vec::new(),
    };
    render_status(
        &DoctorOptions {
            t,
            selected: q.opt("to_staff_id").unwrap_or_default(),
            doctors,
        },
        StatusCode::OK,
    )
}

/// The free slots of the target institution for a resource kind (an htmx fragment of the
/// referral form).
async fn slots_fragment(
    State(s): State<AppState>,
    t: Lang,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let inst = match q.opt("to_institution_id") {
        Some(i) => Some(parse_id("to_institution_id", &i)?),
        None => None,
    };
    let kind = q.opt("needs");
    let mut rows = Vec::new();
    if inst.is_some() && kind.is_some() {
        for r in s.app.booking_resources(&ctx, inst, kind.as_deref()).await? {
            let slots = s.app.free_slots(&ctx, r.id, 14).await?;
            rows.push(SlotGrid::new(r, slots, t.is_en()));
        }
    }
    render_status(
        &SlotsFragment {
            t,
            rows,
            selected: q.text("slot_id"),
        },
        StatusCode::OK,
    )
}

async fn dismiss_page(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    f: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app
        .dismiss_suggestion(&ctx, id, &f.text("criterion"), &f.text("reason"))
        .await?;
    let direction = if f.text("direction") == "down" {
        "down"
    } else {
        "up"
    };
    Ok(Redirect::to(&format!(
        "/referrals/new?person_id={id}&direction={direction}"
    ))
    .into_response())
}

// ---------------------------------------------------------------- one referral

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    t: Lang,
    nav: Nav,
    v: ReferralView,
    error: Option<String>,
    targets: Vec<Institution>,
    free: Vec<SlotGrid>,
}

impl ReferralPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn when_opt(&self, t: &Option<OffsetDateTime>) -> String {
        t.map(local).unwrap_or_default()
    }
    /// The booked time, when arrival now would be more than a quarter of an hour early.
    fn early(&self) -> Option<String> {
        self.v
            .referral
            .appointment_at
            .filter(|at| *at > OffsetDateTime::now_utc() + time::Duration::minutes(15))
            .map(|at| {
                let at = local(at);
                self.t.render(&msg!("referral.confirm_early", at = at))
            })
    }
    fn crit(&self, c: &str) -> &'static str {
        criterion_label(self.t, c)
    }
    fn action_name(&self, c: &str) -> &'static str {
        Action::parse("a", c).map_or("?", |a| a.label(self.t.is_en()))
    }
    fn can(&self, code: &str) -> bool {
        self.v.actions.iter().any(|a| a.code() == code)
    }
    fn over(&self) -> &'static str {
        self.v.overdue.map_or("", |o| o.label(self.t.is_en()))
    }
    fn age_sex(&self) -> String {
        let r = &self.v.referral;
        let sex = ygt_domain::ident::Sex::parse("sex", &r.person_sex)
            .map(|s| s.label(self.t.is_en()))
            .unwrap_or("");
        match r.person_birth_date {
            Some(b) => format!("{sex} · {b}"),
            None => sex.to_owned(),
        }
    }
}

/// Institutions a referral can be redirected to: of the tier of the one it is addressed to
/// (or, going up, above it), neither end of the referral, and — when the referral needs a
/// resource (CT, a bed…) — only those that offer it.
async fn redirect_targets(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    r: &Referral,
    all: Vec<Institution>,
) -> Result<Vec<Institution>, WebError> {
    let rank = |t: Tier| match t {
        Tier::Village => 0,
        Tier::Township => 1,
        Tier::County => 2,
    };
    let to_rank = all
        .iter()
        .find(|i| i.id == r.to_institution_id)
        .map(|i| rank(i.tier));
    let offering: Option<std::collections::HashSet<Uuid>> = match r.needs {
        Some(kind) => Some(
            s.app
                .booking_resources(ctx, None, Some(kind.code()))
                .await?
                .into_iter()
                .map(|x| x.institution_id)
                .collect(),
        ),
        _ => None,
    };
    let up = r.direction == Direction::Up;
    Ok(all
        .into_iter()
        .filter(|i| i.id != r.to_institution_id && i.id != r.from_institution_id)
        .filter(|i| match to_rank {
            Some(t) if up => rank(i.tier) >= t,
            Some(t) => rank(i.tier) == t,
            None => true,
        })
        .filter(|i| offering.as_ref().is_none_or(|o| o.contains(&i.id)))
        .collect())
}

async fn referral_view_page(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    id: Uuid,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let v = s.app.referral_view(ctx, id).await?;
    let mut targets = Vec::new();
    let mut free = Vec::new();
    if v.actions.contains(&Action::Redirect) {
        let (all, _) = s
            .app
            .list_institutions(
                ctx,
                &InstitutionFilter {
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await?;
        targets = redirect_targets(s, ctx, &v.referral, all).await?;
    }
    if v.actions.contains(&Action::Schedule) {
        let kind = v.referral.needs.map(ResourceKind::code);
        for r in s
            .app
            .booking_resources(ctx, Some(v.referral.to_institution_id), kind)
            .await?
        {
            let slots = s.app.free_slots(ctx, r.id, 14).await?;
            free.push(SlotGrid::new(r, slots, t.is_en()));
        }
    }
    render_status(
        &ReferralPage {
            t,
            nav: page.nav("referrals"),
            v,
            error,
            targets,
            free,
        },
        status,
    )
}

async fn referral_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    referral_view_page(&s, &ctx, t, &page, id, None, StatusCode::OK).await
}

async fn step_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    f: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let action = f.text("action");
    let d = StepDraft {
        action: action.clone(),
        version: f.int("version")?,
        reason: f.opt("reason"),
        to_institution_id: f.opt("to_institution_id"),
        to_department_id: f.opt("to_department_id"),
        slot_id: f.opt("slot_id"),
        appointment_at: f.opt("appointment_at"),
        outcome: (action == "complete").then(|| ReferralOutcome {
            diagnosis_code: f.opt("outcome.diagnosis_code"),
            diagnosis_name: f.opt("outcome.diagnosis_name"),
            treatment: f.text("outcome.treatment"),
            summary: f.text("outcome.summary"),
        }),
    };
    match s.app.referral_step(&ctx, id, &d).await {
        Ok(_) => Ok(Redirect::to(&format!("/referrals/{id}")).into_response()),
        Err(e) => match error_text(&e, t) {
            Some(msg) => {
                let status = match e {
                    AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::CONFLICT,
                };
                referral_view_page(&s, &ctx, t, &page, id, Some(msg), status).await
            }
            None => Err(WebError(e)),
        },
    }
}

// ---------------------------------------------------------------- slip

#[derive(Template)]
#[template(path = "referral_slip.html")]
struct SlipPage {
    t: Lang,
    nav: Nav,
    v: ReferralView,
    qr: String,
    /// What the QR code encodes: the address of the referral's page.
    qr_payload: String,
    id_number: String,
    printed_at: String,
}

impl SlipPage {
    fn when_opt(&self, t: &Option<OffsetDateTime>) -> String {
        t.map(local).unwrap_or_default()
    }
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn sex(&self) -> &'static str {
        ygt_domain::ident::Sex::parse("sex", &self.v.referral.person_sex)
            .map(|s| s.label(self.t.is_en()))
            .unwrap_or("")
    }
    /// What the patient brings, with what the booked kind of resource asks for.
    fn bring(&self) -> String {
        let kind = self.v.resource.as_ref().map(|r| r.kind);
        let mut out = self.t.t("referral.slip_id_card_social_security").to_owned();
        out.push_str(match kind {
            Some(ResourceKind::Ct) => self.t.t("referral.metal_objects_off_before_scan"),
            Some(ResourceKind::Mri) => self.t.t("referral.tell_staff_pacemaker_metal_implant"),
            Some(ResourceKind::Ultrasound) => self.t.t("referral.fast_before_abdominal_scan"),
            Some(ResourceKind::Bed) => self.t.t("referral.admission_deposit_personal_things"),
            _ => "",
        });
        out
    }
}

/// The address a slip's QR code opens: the referral's page on this site.
pub fn referral_url(public_url: &str, id: Uuid) -> String {
    format!("{}/referrals/{id}", public_url.trim_end_matches('/'))
}

/// The QR code of a text as inline SVG.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(140, 140)
            .quiet_zone(true)
            .build()
            .replacen("<?xml version=\"1.0\" standalone=\"yes\"?>", "", 1),
        Err(_) => String::new(),
    }
}

async fn slip_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let v = s.app.referral_view(&ctx, id).await?;
    let qr_payload = referral_url(&s.config.public_url, v.referral.id);
    let qr = qr_svg(&qr_payload);
    let id_number = v
        .person_id_number
        .as_ref()
        .map_or_else(|| "—".to_owned(), |m| m.to_string());
    render_status(
        &SlipPage {
            t,
            nav: page.nav("referrals"),
            v,
            qr,
            qr_payload,
            id_number,
            printed_at: local(OffsetDateTime::now_utc()),
        },
        StatusCode::OK,
    )
}
