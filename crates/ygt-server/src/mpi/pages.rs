//! Pages of the master patient index: search, registration, the person, the review queue.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::mpi::{MergeDraft, PersonDetail, ResidentDraft, SplitDraft, TaskDetail};
use ygt_app::view::{Found, RegistrationView, Revealed};
use ygt_app::ygt_store::mpi::HistoryEntry;
use ygt_app::ygt_store::org::{Institution, InstitutionFilter};
use ygt_domain::access::Permission;
use ygt_domain::ident::Sex;

use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, local, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/residents", residents)
        .get("/residents/new", resident_new)
        .post("/residents", resident_create)
        .get("/residents/{id}", resident_page)
        .post("/residents/{id}/reveal", resident_reveal)
        .get("/residents/{id}/merge", resident_merge_form)
        .get("/registrations/{id}/unmerge", registration_unmerge_form)
        .post("/residents/{id}/merge", resident_merge)
        .post("/registrations/{id}/unmerge", registration_unmerge)
        .get("/mpi/review", review)
        .post("/mpi/tasks/{id}/link", task_link)
        .post("/mpi/tasks/{id}/not-same", task_not_same)
}

fn sex_label(code: &str, t: Lang) -> String {
    Sex::parse("sex", code)
        .map(|s| t.label(s).to_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- search

#[derive(Template)]
#[template(path = "residents.html")]
struct ResidentsPage {
    t: Lang,
    nav: Nav,
    q: String,
    people: Vec<FoundRow>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
    open_tasks: i64,
}

/// One resident found, as the list shows it: enough to tell two 王丽 apart.
struct FoundRow {
    f: Found,
    sex: String,
    /// Birth date and age today.
    born: String,
    /// The village or street of the address.
    place: String,
}

const RESIDENTS_PAGE: i64 = 50;

async fn residents(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let text = q.text("q");
    let n = q.int("page")?.unwrap_or(1).max(1);
    let (found, total) = s
        .app
        .search_residents_page(&ctx, &text, (n - 1) * RESIDENTS_PAGE, RESIDENTS_PAGE)
        .await?;
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .date();
    let people = found
        .into_iter()
        .map(|f| FoundRow {
            sex: sex_label(&f.person.sex, t),
            born: f
                .person
                .birth_date
                .map(|d| format!("{d} ({})", age_label(d, today, t)))
                .unwrap_or_default(),
            place: f
                .person
                .address
                .as_deref()
                .map(village_of)
                .unwrap_or_default(),
            f,
        })
        .collect();
    let link = |p: i64| {
        let qs: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &text)
            .append_pair("page", &p.to_string())
            .finish();
        format!("/residents?{qs}")
    };
    render_status(
        &ResidentsPage {
            t,
            nav: page.nav("residents"),
            prev: (n > 1).then(|| link(n - 1)),
            next: (n * RESIDENTS_PAGE < total).then(|| link(n + 1)),
            q: text,
            people,
            total,
            page: n,
            open_tasks: s.app.count_open_tasks().await.unwrap_or(0),
        },
        StatusCode::OK,
    )
}

/// Age in whole years on `today`.
fn age_label(birth: time::Date, today: time::Date, t: Lang) -> String {
    let mut years = today.year() - birth.year();
    if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    match t {
        Lang::Zh => format!("{}岁", years.max(0)),
        Lang::En => format!("{} y", years.max(0)),
    }
}

/// The township and village of an address (「朱巷乡东叶村」 of 「安徽省临江市云溪县朱巷乡东叶村二组37号」):
/// what tells neighbours from strangers. An address without a village keeps its street.
fn village_of(address: &str) -> String {
    let end = ["村", "社区"]
        .iter()
        .filter_map(|m| address.find(m).map(|i| i + m.len()))
        .min()
        .unwrap_or(address.len());
    let part = address.get(..end).unwrap_or(address);
    let start = part
        .find("县")
        .map(|i| i + "县".len())
        .filter(|i| *i < part.len())
        .unwrap_or(0);
    part.get(start..).unwrap_or(part).to_owned()
}

// ---------------------------------------------------------------- registration

#[derive(Template)]
#[template(path = "resident_new.html")]
struct ResidentNew {
    t: Lang,
    nav: Nav,
    form: FormState,
    institutions: Vec<Institution>,
    sexes: &'static [Sex],
    ethnicities: &'static [ygt_domain::ident::Ethnicity],
}

async fn registration_form(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let (all, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    // Registering is done at an institution in the user's patient-data scope.
    let institutions = match ctx.principal() {
        Some(p) if !p.can(Permission::CommunityWide) => all
            .into_iter()
            .filter(|i| p.covers_patients(i.id))
            .collect(),
        _ => all,
    };
    render_status(
        &ResidentNew {
            t,
            nav: page.nav("residents"),
            form,
            institutions,
            sexes: &[Sex::Male, Sex::Female, Sex::Unstated],
            ethnicities: ygt_domain::ident::Ethnicity::ALL,
        },
        status,
    )
}

async fn resident_new(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    s.app
        .require(
            &ctx,
            Permission::PatientWrite,
            ygt_app::access::Event::new("resident.register_form", "registration", None),
        )
        .await?;
    registration_form(&s, &ctx, t, &page, FormState::default(), StatusCode::OK).await
}

fn resident_draft(f: &FormData) -> ResidentDraft {
    ResidentDraft {
        institution_id: f.text("institution_id"),
        record_id: f.opt("record_id"),
        name: f.text("name"),
        sex: f.opt("sex"),
        birth_date: f.opt("birth_date"),
        id_number: f.opt("id_number"),
        phone: f.opt("phone"),
        address: f.opt("address"),
        insurance_number: f.opt("insurance_number"),
        health_card_number: f.opt("health_card_number"),
        division_code: f.opt("division_code"),
        village_group: f.opt("village_group"),
        household_number: f.opt("household_number"),
        ethnicity: f.opt("ethnicity"),
        nationality: f.opt("nationality"),
        // The desk sees a doubtful ID number, sex or birth date before saving.
        as_typed: Some(f.opt("as_typed").is_some()),
    }
}

async fn resident_create(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s.app.register_resident(&ctx, &resident_draft(&form)).await {
        Ok(r) => Ok(Redirect::to(&format!(
            "/residents/{}?registered={}",
            r.person_id, r.outcome
        ))
        .into_response()),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            registration_form(&s, &ctx, t, &page, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------- the person

#[derive(Template)]
#[template(path = "resident.html")]
struct ResidentPage {
    t: Lang,
    nav: Nav,
    d: PersonDetail,
    sex: String,
    birth: String,
    id_number: String,
    phone: String,
    /// Full numbers, after the audited reveal.
    revealed: Option<Revealed>,
    /// The viewer decides identities (merge, split).
    steward: bool,
    rule: &'static str,
    message: Option<String>,
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "—".into())
}

impl ResidentPage {
    fn ethnicity(&self) -> Option<&'static str> {
        self.d
            .person
            .ethnicity
            .as_deref()
            .and_then(|c| ygt_domain::ident::Ethnicity::parse("ethnicity", c).ok())
            .map(|e| e.label(self.t.is_en()))
    }

    /// A registration's ID number: in full after the reveal, masked otherwise.
    fn reg_id(&self, r: &RegistrationView) -> String {
        match &self.revealed {
            Some(rv) => dash(
                rv.registrations
                    .iter()
                    .find(|x| x.id == r.id)
                    .and_then(|x| x.id_number.clone()),
            ),
            None => dash(r.id_number.as_ref()),
        }
    }

    fn when(&self, t: &time::OffsetDateTime) -> String {
        local(*t)
    }

    /// What happened to the person, in the reader's language.
    fn history_action(&self, h: &HistoryEntry) -> &'static str {
        let key = match h.action.as_str() {
            "created" => "history.created",
            "linked" => "history.linked",
            "updated" => "history.updated",
            "merged" => "history.merged",
            "moved_out" => "history.moved_out",
            "unmerged" => "history.unmerged",
            _ => "history.changed",
        };
        self.t.t(key)
    }

    /// Who did it: a person's name, or the index itself.
    fn history_actor<'a>(&self, h: &'a HistoryEntry) -> &'a str {
        match h.actor.as_str() {
            "system" => self.t.t("history.system"),
            name => name,
        }
    }
}

fn is_steward(ctx: &ygt_app::Ctx) -> bool {
    ctx.principal()
        .is_some_and(|p| p.can(Permission::MpiSteward))
}

async fn person_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    id: uuid::Uuid,
    reveal: bool,
    message: Option<String>,
) -> Result<Response, WebError> {
    let (d, revealed) = if reveal {
        let (d, r) = s.app.reveal_person(ctx, id).await?;
        (d, Some(r))
    } else {
        (s.app.person_detail(ctx, id, "treatment").await?, None)
    };
    let p = &d.person;
    let (id_number, phone) = match &revealed {
        Some(r) => (dash(r.id_number.as_ref()), dash(r.phone.as_ref())),
        None => (dash(p.id_number.as_ref()), dash(p.phone.as_ref())),
    };
    render_status(
        &ResidentPage {
            t,
            nav: page.nav("residents"),
            sex: sex_label(&p.sex, t),
            birth: dash(p.birth_date),
            id_number,
            phone,
            revealed,
            steward: is_steward(ctx),
            rule: t.t("mpi.golden_rule"),
            message,
            d,
        },
        StatusCode::OK,
    )
}

async fn resident_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let message = q.get("registered").map(|o| match o {
        "linked" => t.t("resident.outcome_linked").to_owned(),
        "review" => t.t("resident.outcome_review").to_owned(),
        "updated" | "unchanged" => t.t("resident.outcome_updated").to_owned(),
        _ => t.t("resident.outcome_new").to_owned(),
    });
    person_view(&s, &ctx, t, &page, id, false, message).await
}

async fn resident_reveal(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    person_view(&s, &ctx, t, &page, id, true, None).await
}

// ---------------------------------------------------------------- merge and split

/// The confirmation page of a steward's merge or split: who, into whom, the reason.
#[derive(Template)]
#[template(path = "resident_merge.html")]
struct MergePage {
    t: Lang,
    nav: Nav,
    /// The person merged away, or the one a registration is split from.
    d: PersonDetail,
    /// The registration split off (a split), or none (a merge).
    split: Option<RegistrationView>,
    form: FormState,
}

/// What the confirmation page confirms: merging a person away, or splitting a registration off.
enum Decision {
    Merge(uuid::Uuid),
    Split(Box<RegistrationView>),
}

async fn merge_page(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    what: Decision,
    (form, status): (FormState, StatusCode),
) -> Result<Response, WebError> {
    let (person, split) = match what {
        Decision::Merge(p) => (p, None),
        Decision::Split(r) => (r.person_id, Some(*r)),
    };
    s.app
        .require(
            ctx,
            Permission::MpiSteward,
            ygt_app::access::Event::new("mpi.merge_form", "resident", Some(person.to_string())),
        )
        .await?;
    let d = s.app.person_detail(ctx, person, "identity").await?;
    render_status(
        &MergePage {
            t,
            nav: page.nav("residents"),
            d,
            split,
            form,
        },
        status,
    )
}

async fn resident_merge_form(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    merge_page(
        &s,
        &ctx,
        t,
        &page,
        Decision::Merge(id),
        (FormState::default(), StatusCode::OK),
    )
    .await
}

async fn resident_merge(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = MergeDraft {
        into: form.text("into"),
        reason: form.text("reason"),
        confirm: form.get("confirm").is_some(),
    };
    match s.app.merge_persons(&ctx, id, &d).await {
        Ok(()) => Ok(Redirect::to(&format!("/residents/{}", d.into.trim())).into_response()),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            merge_page(
                &s,
                &ctx,
                t,
                &page,
                Decision::Merge(id),
                (state, StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await
        }
    }
}

async fn split_registration(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    id: uuid::Uuid,
) -> Result<RegistrationView, WebError> {
    s.app
        .require(
            ctx,
            Permission::MpiSteward,
            ygt_app::access::Event::new("mpi.unmerge_form", "registration", Some(id.to_string())),
        )
        .await?;
    Ok(s.app.registration_view(ctx, id).await?)
}

async fn registration_unmerge_form(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let r = split_registration(&s, &ctx, id).await?;
    merge_page(
        &s,
        &ctx,
        t,
        &page,
        Decision::Split(Box::new(r)),
        (FormState::default(), StatusCode::OK),
    )
    .await
}

async fn registration_unmerge(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = SplitDraft {
        reason: form.text("reason"),
        confirm: form.get("confirm").is_some(),
    };
    match s.app.unmerge(&ctx, id, &d).await {
        Ok(person) => Ok(Redirect::to(&format!("/residents/{person}")).into_response()),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let r = split_registration(&s, &ctx, id).await?;
            merge_page(
                &s,
                &ctx,
                t,
                &page,
                Decision::Split(Box::new(r)),
                (state, StatusCode::UNPROCESSABLE_ENTITY),
            )
            .await
        }
    }
}

// ---------------------------------------------------------------- review

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    t: Lang,
    nav: Nav,
    tasks: Vec<TaskDetail>,
}

impl ReviewPage {
    fn masked_id(&self, r: &RegistrationView) -> String {
        dash(r.id_number.as_ref())
    }

    /// (field, level, weight) rows of a task's explanation.
    fn fields(&self, k: &TaskDetail) -> Vec<(String, String, String)> {
        k.explanation["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        let field = f["field"].as_str().unwrap_or("");
                        let level = f["level"].as_str().unwrap_or("");
                        (
                            field_label(field, self.t).to_owned(),
                            level_sentence(field, level, self.t),
                            format!("{:+.1}", f["weight"].as_f64().unwrap_or(0.0)),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn total(&self, k: &TaskDetail) -> String {
        format!("{:+.1}", k.task.weight)
    }

    fn guard(&self, k: &TaskDetail) -> String {
        match (k.explanation["guard"].as_str(), self.t) {
            (None, _) => String::new(),
            (Some("household"), t) => t.t("mpi.guard_household").to_owned(),
            (Some(g), _) => g.to_owned(),
        }
    }
}

/// A compared field as the reader calls it.
fn field_label(field: &str, t: Lang) -> &'static str {
    t.t(match field {
        "prior" => "mpi.field_prior",
        "id_number" => "mpi.field_id_number",
        "name" => "mpi.field_name",
        "birth_date" => "mpi.field_birth_date",
        "sex" => "mpi.field_sex",
        "phone" => "mpi.field_phone",
        "address" => "mpi.field_address",
        "other_ids" => "mpi.field_other_ids",
        _ => "mpi.field_other",
    })
}

/// How two registrations compare on a field, as a sentence.
fn level_sentence(field: &str, level: &str, t: Lang) -> String {
    let key = match (field, level) {
        ("prior", _) => "mpi.level_prior",
        ("id_number", "exact") => "mpi.level_id_number_exact",
        ("id_number", "legacy") => "mpi.level_id_number_legacy",
        ("id_number", "typo") => "mpi.level_id_number_typo",
        ("id_number", "transposed") => "mpi.level_id_number_transposed",
        ("name", "homophone") => "mpi.level_name_homophone",
        ("name", "missing_char") => "mpi.level_name_missing_char",
        ("name", "one_char") => "mpi.level_name_one_char",
        ("name", "similar") => "mpi.level_name_similar",
        ("name", "fuzzy") => "mpi.level_name_fuzzy",
        ("name", "missing_part") => "mpi.level_name_missing_part",
        ("birth_date", "typo") => "mpi.level_birth_date_typo",
        ("birth_date", "swapped") => "mpi.level_birth_date_swapped",
        ("birth_date", "year") => "mpi.level_birth_date_year",
        ("address", "similar") => "mpi.level_address_similar",
        ("address", "partial") => "mpi.level_address_partial",
        ("other_ids", "near") => "mpi.level_other_ids_near",
        (_, "exact" | "same") => "mpi.level_any_exact_same",
        (_, "different") => "mpi.level_any_different",
        (_, "missing") => "mpi.level_any_missing",
        _ => "mpi.level_other",
    };
    t.t(key).to_owned()
}

async fn review(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let tasks = s.app.review_queue(&ctx, 50).await?;
    render_status(
        &ReviewPage {
            t,
            nav: page.nav("residents"),
            tasks,
        },
        StatusCode::OK,
    )
}

async fn task_link(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.confirm_match(&ctx, id).await?;
    Ok(Redirect::to("/mpi/review").into_response())
}

async fn task_not_same(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.reject_match(&ctx, id).await?;
    Ok(Redirect::to("/mpi/review").into_response())
}
