//! The pages of staff: the list, a member's page, the forms.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;
use ygt_app::ygt_store::org::{Department, Institution, InstitutionFilter, Staff, StaffFilter};
use ygt_domain::ident::Sex;
use ygt_domain::org::{ProfessionalTitle, StaffDraft};

use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, render, render_status, see_other, version_of};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/staff", staff_list)
        .get("/staff/new", staff_new)
        .get("/staff/department-options", department_options)
        .post("/staff", staff_create)
        .get("/staff/{id}", staff_page)
        .post("/staff/{id}", staff_update)
        .get("/staff/{id}/edit", staff_edit)
        .post("/staff/{id}/deactivate", staff_deactivate)
        .post("/staff/{id}/activate", staff_activate)
        .post("/staff/{id}/reveal", staff_reveal)
}

// ---------------------------------------------------------------- staff

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "staff_list.html")]
struct StaffListPage {
    t: Lang,
    nav: Nav,
    q: String,
    title: String,
    titles: &'static [ProfessionalTitle],
    staff: Vec<Staff>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

async fn staff_list(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let text = q.text("q");
    let title = match q.opt("title") {
        Some(v) => Some(ProfessionalTitle::parse("title", &v)?),
        None => None,
    };
    let institution_id = match q.opt("institution_id") {
        Some(v) => Some(parse_id("institution_id", &v)?),
        None => None,
    };
    let page = q.int("page")?.unwrap_or(1).max(1);
    let f = StaffFilter {
        q: Some(text.clone()).filter(|x| !x.trim().is_empty()),
        title,
        institution_id,
        limit: Some(PAGE_SIZE),
        offset: (page - 1) * PAGE_SIZE,
        ..Default::default()
    };
    let (staff, total) = s.app.list_staff(&ctx, &f).await?;
    let link = |p: i64| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if !text.is_empty() {
            ser.append_pair("q", &text);
        }
        if let Some(tt) = title {
            ser.append_pair("title", tt.code());
        }
        if let Some(i) = institution_id {
            ser.append_pair("institution_id", &i.to_string());
        }
        ser.append_pair("page", &p.to_string());
        format!("/staff?{}", ser.finish())
    };
    render(&StaffListPage {
        t,
        nav: uri.nav("staff"),
        title: title.map(|x| x.code().to_owned()).unwrap_or_default(),
        titles: ProfessionalTitle::ALL,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page * PAGE_SIZE < total).then(|| link(page + 1)),
        q: text,
        staff,
        total,
        page,
    })
}

#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    t: Lang,
    nav: Nav,
    s: Staff,
    id_masked: String,
    phone_masked: String,
    revealed: bool,
}

fn mask_id(v: Option<&str>) -> String {
    match v {
        Some(v) => ygt_domain::ident::IdNumber::parse("id_number", v)
            .map(|i| i.masked())
            .unwrap_or_else(|_| "******".into()),
        None => "—".into(),
    }
}

fn mask_phone(v: Option<&str>) -> String {
    match v {
        Some(v) => ygt_domain::ident::Phone::parse("phone", v)
            .map(|p| p.masked())
            .unwrap_or_else(|_| "******".into()),
        None => "—".into(),
    }
}

async fn staff_page(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let st = s.app.staff_member(&ctx, id).await?;
    render(&StaffPage {
        t,
        nav: uri.nav("staff"),
        id_masked: mask_id(st.id_number.as_deref()),
        phone_masked: mask_phone(st.phone.as_deref()),
        revealed: false,
        s: st,
    })
}

#[derive(Template)]
#[template(path = "staff_form.html")]
struct StaffForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    cancel: String,
    form: FormState,
    sexes: &'static [Sex],
    titles: &'static [ProfessionalTitle],
    institutions: Vec<Institution>,
    departments: Vec<Department>,
}

#[derive(Template)]
#[template(path = "department_options.html")]
struct DepartmentOptions {
    t: Lang,
    form: FormState,
    departments: Vec<Department>,
}

impl StaffForm {
    #[allow(clippy::too_many_arguments)]
    async fn new(
        s: &AppState,
        ctx: &ygt_app::Ctx,
        t: Lang,
        uri: &PageInfo,
        heading: String,
        action: String,
        cancel: String,
        form: FormState,
    ) -> Result<Self, WebError> {
        let (institutions, _) = s
            .app
            .list_institutions(ctx, &InstitutionFilter::default())
            .await?;
        let departments = match Uuid::parse_str(form.v("institution_id")) {
            Ok(i) => s.app.departments(ctx, i).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        Ok(StaffForm {
            t,
            nav: uri.nav("staff"),
            heading,
            action,
            cancel,
            form,
            sexes: &[Sex::Male, Sex::Female, Sex::Unstated],
            titles: ProfessionalTitle::ALL,
            institutions,
            departments,
        })
    }
}

fn staff_draft(f: &FormData) -> StaffDraft {
    StaffDraft {
        name: f.text("name"),
        sex: f.text("sex"),
        title: f.text("title"),
        institution_id: f.text("institution_id"),
        department_id: f.opt("department_id"),
        licence_number: f.opt("licence_number"),
        id_number: f.opt("id_number"),
        phone: f.opt("phone"),
    }
}

async fn department_options(
    State(s): State<AppState>,
    t: Lang,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let mut departments = match q
        .opt("institution_id")
        .or_else(|| q.opt("to_institution_id"))
    {
        Some(v) => {
            s.app
                .departments(&ctx, parse_id("institution_id", &v)?)
                .await?
        }
        None => Vec::new(),
    };
    // A referral's form offers only departments that see patients.
    if q.text("clinical") == "1" {
        departments.retain(|d| ygt_domain::org::is_clinical_department(&d.name));
    }
    render(&DepartmentOptions {
        t,
        form: FormState::default(),
        departments,
    })
}

async fn staff_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let mut form = FormState::default();
    let mut cancel = "/staff".to_owned();
    if let Some(i) = q.opt("institution_id") {
        let id = parse_id("institution_id", &i)?;
        s.app.institution(&ctx, id).await?;
        cancel = format!("/institutions/{id}");
        form.set("institution_id", i);
    }
    let page = StaffForm::new(
        &s,
        &ctx,
        t,
        &uri,
        t.t("action.new_staff").to_owned(),
        "/staff".into(),
        cancel,
        form,
    )
    .await?;
    render(&page)
}

async fn staff_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s.app.create_staff(&ctx, &staff_draft(&form)).await {
        Ok(st) => Ok(see_other(&format!("/staff/{}", st.id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = StaffForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.new_staff").to_owned(),
                "/staff".into(),
                "/staff".into(),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn staff_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    // The form shows the full numbers: only for those who may change them (audited).
    let st = s.app.reveal_staff(&ctx, id).await?;
    let mut form = FormState::default();
    form.set("name", st.name.clone());
    form.set("sex", st.sex.code());
    form.set("title", st.title.code());
    form.set("institution_id", st.institution_id.to_string());
    form.set(
        "department_id",
        st.department_id.map(|d| d.to_string()).unwrap_or_default(),
    );
    form.set(
        "licence_number",
        st.licence_number.clone().unwrap_or_default(),
    );
    form.set("id_number", st.id_number.clone().unwrap_or_default());
    form.set("phone", st.phone.clone().unwrap_or_default());
    form.set("version", st.version.to_string());
    let page = StaffForm::new(
        &s,
        &ctx,
        t,
        &uri,
        format!("{} · {}", t.t("action.edit"), st.name),
        format!("/staff/{id}"),
        format!("/staff/{id}"),
        form,
    )
    .await?;
    render(&page)
}

async fn staff_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match version_of(&form) {
        Ok(v) => s.app.update_staff(&ctx, id, &staff_draft(&form), v).await,
        Err(WebError(e)) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/staff/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = StaffForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.edit").to_owned(),
                format!("/staff/{id}"),
                format!("/staff/{id}"),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn staff_reveal(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let st = s.app.reveal_staff(&ctx, id).await?;
    render(&StaffPage {
        t,
        nav: uri.nav("staff"),
        id_masked: st.id_number.clone().unwrap_or_else(|| "—".into()),
        phone_masked: st.phone.clone().unwrap_or_else(|| "—".into()),
        revealed: true,
        s: st,
    })
}

async fn staff_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_staff_active(&ctx, id, false).await?;
    Ok(see_other(&format!("/staff/{id}")))
}

async fn staff_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_staff_active(&ctx, id, true).await?;
    Ok(see_other(&format!("/staff/{id}")))
}
