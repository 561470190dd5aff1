//! Pages for people: server-rendered, Chinese first, usable without JavaScript; htmx adds
//! search-as-you-type and dependent selects.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use uuid::Uuid;
use ygt_app::AppError;
use ygt_app::org::{CommunityDetail, InstitutionDetail, SearchResults, TreeNode};
use ygt_app::ygt_store::org::{
    Community, Department, Institution, InstitutionFilter, Overview, Staff, StaffFilter,
};
use ygt_domain::ident::Sex;
use ygt_domain::org::{
    AllianceForm, CommunityDraft, DepartmentDraft, InstitutionDraft, InstitutionType,
    ProfessionalTitle, ServiceKind, StaffDraft, Tier,
};

use crate::error::{WebError, describe};
use crate::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::i18n::{LANG_COOKIE, Lang};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/", home)
        .get("/lang/{code}", switch_lang)
        .get("/search", search)
        .get("/institutions", institutions)
        .get("/institutions/new", institution_new)
        .post("/institutions", institution_create)
        .get("/institutions/{id}", institution_page)
        .post("/institutions/{id}", institution_update)
        .get("/institutions/{id}/edit", institution_edit)
        .post("/institutions/{id}/deactivate", institution_deactivate)
        .post("/institutions/{id}/activate", institution_activate)
        .get("/institutions/{id}/departments/new", department_new)
        .post("/institutions/{id}/departments", department_create)
        .get("/departments/{id}/edit", department_edit)
        .post("/departments/{id}", department_update)
        .post("/departments/{id}/deactivate", department_deactivate)
        .post("/departments/{id}/activate", department_activate)
        .get("/staff", staff_list)
        .get("/staff/new", staff_new)
        .get("/staff/department-options", department_options)
        .post("/staff", staff_create)
        .get("/staff/{id}", staff_page)
        .post("/staff/{id}", staff_update)
        .get("/staff/{id}/edit", staff_edit)
        .post("/staff/{id}/deactivate", staff_deactivate)
        .post("/staff/{id}/activate", staff_activate)
        .post("/staff/{id}/reveal", staff_reveal)
        .get("/communities", communities)
        .get("/communities/new", community_new)
        .post("/communities", community_create)
        .get("/communities/{id}", community_page)
        .post("/communities/{id}", community_update)
        .get("/communities/{id}/edit", community_edit)
        .post("/communities/{id}/deactivate", community_deactivate)
        .post("/communities/{id}/activate", community_activate)
        .post("/communities/{id}/members", community_add_member)
        .post(
            "/communities/{id}/members/{institution_id}/remove",
            community_remove_member,
        )
}

// ---------------------------------------------------------------- shared pieces

/// The signed-in user as the layout shows them.
pub struct NavUser {
    pub display_name: String,
    pub accounts: bool,
    pub roles: bool,
    pub tokens: bool,
    pub audit: bool,
    pub residents: bool,
    pub referrals: bool,
}

/// A link of the main menu: where it goes, its label's key, the section it marks current.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub section: &'static str,
    pub id: &'static str,
}

/// Links shown in the header before the rest go under 「更多」: the header stays one line on a
/// 1024-pixel tablet.
const NAV_SHOWN: usize = 5;

impl NavUser {
    /// The main menu in the order of the user's work: clinical users start with residents,
    /// referrals and care tasks; others with the registry and administration.
    pub fn links(&self) -> Vec<NavLink> {
        let link = |href, label, section, id| NavLink {
            href,
            label,
            section,
            id,
        };
        let mut v = vec![link("/", "nav.home", "home", "nav-home")];
        let clinical = [
            (
                self.residents,
                link("/residents", "nav.residents", "residents", "nav-residents"),
            ),
            (
                self.referrals,
                link("/referrals", "nav.referrals", "referrals", "nav-referrals"),
            ),
            (
                self.residents,
                link("/tasks", "nav.tasks", "tasks", "nav-tasks"),
            ),
        ];
        let registry = [
            (
                true,
                link(
                    "/institutions",
                    "nav.institutions",
                    "institutions",
                    "nav-institutions",
                ),
            ),
            (
                true,
                link(
                    "/communities",
                    "nav.communities",
                    "communities",
                    "nav-communities",
                ),
            ),
            (true, link("/staff", "nav.staff", "staff", "nav-staff")),
        ];
        let admin = [
            (
                self.audit,
                link("/audit", "nav.audit", "audit", "nav-audit"),
            ),
            (
                self.accounts,
                link(
                    "/admin/accounts",
                    "nav.accounts",
                    "accounts",
                    "nav-accounts",
                ),
            ),
            (
                self.roles,
                link("/admin/roles", "nav.roles", "roles", "nav-roles"),
            ),
            (
                self.tokens,
                link("/admin/tokens", "nav.tokens", "tokens", "nav-tokens"),
            ),
            (true, link("/api/docs", "nav.api", "api", "nav-api")),
        ];
        let groups = if self.residents || self.referrals {
            [clinical, registry]
        } else {
            [registry, clinical]
        };
        for (shown, l) in groups.into_iter().flatten().chain(admin) {
            if shown {
                v.push(l);
            }
        }
        v
    }
}

impl Nav {
    /// The main menu: (shown in the header, under 「更多」).
    pub fn menu(&self) -> (Vec<NavLink>, Vec<NavLink>) {
        let mut all = self.user.as_ref().map(NavUser::links).unwrap_or_default();
        let rest = all.split_off(NAV_SHOWN.min(all.len()));
        (all, rest)
    }
    /// Whether the current page is one of the links under 「更多」.
    pub fn in_more(&self) -> bool {
        self.menu().1.iter().any(|l| l.section == self.section)
    }
}

/// What a page handler knows of the request: the URL and who is signed in.
pub struct PageInfo {
    uri: Uri,
    auth: Option<crate::auth::Auth>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageInfo {
            uri: parts.uri.clone(),
            auth: parts.extensions.get::<crate::auth::Auth>().cloned(),
        })
    }
}

impl PageInfo {
    pub fn nav(&self, section: &'static str) -> Nav {
        Nav::new(&self.uri, section, self.auth.as_ref())
    }
}

/// What the layout needs: the current section, the search text, the current URL, the user.
pub struct Nav {
    pub section: &'static str,
    pub q: String,
    path: String,
    pub csrf: String,
    pub user: Option<NavUser>,
}

impl Nav {
    pub fn new(uri: &Uri, section: &'static str, auth: Option<&crate::auth::Auth>) -> Nav {
        use ygt_domain::access::Permission as P;
        let mut q = String::new();
        let mut kept: Vec<(String, String)> = Vec::new();
        if let Some(query) = uri.query() {
            for (k, v) in form_urlencoded::parse(query.as_bytes()) {
                if k == "q" {
                    q = v.to_string();
                }
                if k != "lang" {
                    kept.push((k.into_owned(), v.into_owned()));
                }
            }
        }
        let mut path = uri.path().to_owned();
        if !kept.is_empty() {
            let enc: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(kept)
                .finish();
            path.push('?');
            path.push_str(&enc);
        }
        Nav {
            section,
            q: if section == "search" {
                q
            } else {
                String::new()
            },
            path,
            csrf: auth.and_then(|a| a.csrf.clone()).unwrap_or_default(),
            user: auth.map(|a| {
                let p = &a.principal;
                NavUser {
                    display_name: p.display_name.clone(),
                    accounts: p.can(P::AccountManage) || p.can(P::AccountManageAll),
                    roles: p.can(P::RoleManage),
                    tokens: p.can(P::TokenManage),
                    audit: p.can(P::AuditRead),
                    residents: p.can(P::PatientRead),
                    referrals: p.can(P::PatientRead) || p.can(P::ReferralManage),
                }
            }),
        }
    }

    pub fn lang_switch_href(&self, t: &Lang) -> String {
        let other = if t.is_en() { "zh" } else { "en" };
        let next: String = form_urlencoded::byte_serialize(self.path.as_bytes()).collect();
        format!("/lang/{other}?next={next}")
    }
}

/// Values and errors of a form being edited.
#[derive(Default)]
pub struct FormState {
    values: Vec<(String, String)>,
    pub errors: Vec<(String, String)>,
}

impl FormState {
    pub fn from_pairs(values: Vec<(String, String)>) -> Self {
        FormState {
            values,
            errors: Vec::new(),
        }
    }

    fn set(&mut self, k: &str, v: impl Into<String>) {
        self.values.push((k.to_owned(), v.into()));
    }

    pub fn v(&self, k: &str) -> &str {
        self.values
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn has(&self, k: &str, v: &str) -> bool {
        self.values.iter().any(|(key, val)| key == k && val == v)
    }

    fn matches(field: &str, k: &str) -> bool {
        field == k
            || field
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    }

    pub fn err(&self, k: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| Self::matches(f, k))
            .map(|(_, m)| m.as_str())
    }

    pub fn has_err(&self, k: &str) -> bool {
        self.err(k).is_some()
    }

    /// Turns a use-case error into messages on the form; errors that are not about input
    /// (not found, internal) are passed on.
    pub fn absorb(&mut self, e: AppError, lang: Lang) -> Result<(), WebError> {
        match &e {
            AppError::Invalid(_)
            | AppError::Duplicate { .. }
            | AppError::Conflict { .. }
            | AppError::Stale => {
                let (message, field, details) = describe(&e, lang);
                if details.is_empty() {
                    self.errors
                        .push((field.unwrap_or_else(|| "form".into()), message));
                } else {
                    for (f, m) in details {
                        let label = field_label(&f, lang);
                        let sep = if lang.is_en() { ": " } else { "：" };
                        self.errors.push((f, format!("{label}{sep}{m}")));
                    }
                }
                Ok(())
            }
            _ => Err(WebError(e)),
        }
    }
}

/// The label people see for a form field (`aliases[2]` is labelled as `aliases`).
fn field_label(field: &str, lang: Lang) -> String {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    let key = match base {
        "name" => "field.name",
        "aliases" => "field.aliases",
        "kind" => "field.kind",
        "tier" => "field.tier",
        "parent_id" => "field.parent",
        "uscc" => "field.uscc",
        "division_code" => "field.division_code",
        "address" => "field.address",
        "phone" => "field.phone",
        "services" => "field.services",
        "sex" => "field.sex",
        "title" => "field.title",
        "institution_id" => "staff.institution",
        "department_id" => "staff.department",
        "licence_number" => "field.licence_number",
        "id_number" => "field.id_number",
        "form" => "community.form",
        "lead_institution_id" => "community.lead",
        "description" => "field.description",
        "beds" => "department.beds",
        "code" => "department.code",
        "birth_date" => "resident.birth_date",
        "record_id" => "resident.record_id",
        "insurance_number" => "resident.insurance_number",
        "current_password" => "auth.current_password",
        "new_password" => "auth.new_password",
        "new_password_again" => "auth.new_password_again",
        "username" => "auth.username",
        "display_name" => "field.person_name",
        "roles" => "auth.roles",
        "permissions" => "auth.permissions",
        "valid_days" => "auth.valid_days",
        "systolic" => "field.systolic",
        "diastolic" => "field.diastolic",
        "glucose" => "field.glucose",
        "note" => "field.note",
        _ => return base.to_owned(),
    };
    lang.t(key).to_owned()
}

fn render<T: Template>(t: &T) -> Result<Response, WebError> {
    render_status(t, StatusCode::OK)
}

pub(crate) fn render_status<T: Template>(t: &T, status: StatusCode) -> Result<Response, WebError> {
    match t.render() {
        Ok(html) => Ok((status, Html(html)).into_response()),
        Err(e) => Err(WebError(AppError::Conflict {
            field: None,
            zh: format!("页面渲染失败：{e}"),
            en: format!("the page could not be rendered: {e}"),
        })),
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A `next` address to return to: only a path of this site (`/…`), never another host
/// (`//host`, `/\host`), a scheme (`https:`, `javascript:`), whitespace, control or non-ASCII
/// characters (which could split the Location header); anything else is `/`.
pub(crate) fn safe_next(n: Option<&str>) -> String {
    match n {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2048
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn version_of(form: &FormData) -> Result<Option<i64>, WebError> {
    form.int("version")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: Lang,
    nav: Nav,
    message: &'a str,
    details: &'a [String],
}

pub fn render_error_page(
    lang: Lang,
    nav: Nav,
    message: &str,
    details: &[String],
) -> Result<String, askama::Error> {
    ErrorPage {
        t: lang,
        nav,
        message,
        details,
    }
    .render()
}

// ---------------------------------------------------------------- home, language, search

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    t: Lang,
    nav: Nav,
    o: Overview,
    communities: Vec<Community>,
    /// The user's referral worklists (for those who take part in referrals).
    counts: Option<ygt_app::referral::WorklistCounts>,
    /// Care tasks due today or earlier, earliest first (a few).
    due_tasks: Vec<ygt_app::ygt_store::referral::CareTask>,
    /// Referrals addressed here waiting for acceptance, oldest change first (a few).
    incoming: Vec<ygt_app::ygt_store::referral::Referral>,
    today: time::Date,
}

/// Rows of each of the home page's short lists.
const HOME_ROWS: i64 = 5;

impl HomePage {
    fn l(&self, zh: &'static str, en: &'static str) -> &'static str {
        if self.t.is_en() { en } else { zh }
    }
    fn late(&self, d: &time::Date) -> bool {
        *d < self.today
    }
    fn due_label(&self, d: &time::Date) -> String {
        if *d == self.today {
            self.l("今天", "today").to_owned()
        } else {
            format!("{:02}-{:02}", u8::from(d.month()), d.day())
        }
    }
    /// Care tasks are shown to those who may read residents' records.
    fn tasks_shown(&self) -> bool {
        self.nav.user.as_ref().is_some_and(|u| u.residents)
    }
    fn has_work(&self) -> bool {
        self.counts.as_ref().is_some_and(|c| {
            c.tasks_overdue
                + c.tasks_today
                + c.incoming_waiting
                + c.drafts
                + c.returned
                + c.handover
                > 0
        })
    }
}

async fn home(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let o = s.app.overview(&ctx).await?;
    let communities = s.app.list_communities(&ctx, false).await?;
    let nav = uri.nav("home");
    let counts = if nav.user.as_ref().is_some_and(|u| u.referrals) {
        Some(s.app.worklist_counts(&ctx).await?)
    } else {
        None
    };
    let (due_tasks, incoming) = match &counts {
        Some(c) => todays_work(&s, &ctx, c).await?,
        None => Default::default(),
    };
    render(&HomePage {
        t,
        nav,
        o,
        communities,
        counts,
        due_tasks,
        incoming,
        today: ygt_app::local_today(time::OffsetDateTime::now_utc()),
    })
}

/// The first rows of the home page's lists of the user's own work, read only when there are any.
async fn todays_work(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    c: &ygt_app::referral::WorklistCounts,
) -> Result<
    (
        Vec<ygt_app::ygt_store::referral::CareTask>,
        Vec<ygt_app::ygt_store::referral::Referral>,
    ),
    WebError,
> {
    let tasks = if c.tasks_overdue + c.tasks_today > 0 {
        let q = ygt_app::referral::TaskQuery {
            due: Some("now".into()),
            limit: Some(HOME_ROWS),
            ..Default::default()
        };
        s.app.care_task_page(ctx, &q).await?.0
    } else {
        Vec::new()
    };
    let incoming = match ygt_app::App::counted_lists()
        .into_iter()
        .find(|(n, _)| *n == "incoming")
    {
        Some((_, mut q)) if c.incoming_waiting > 0 => {
            q.limit = Some(HOME_ROWS);
            s.app.worklist(ctx, &q).await?.referrals
        }
        _ => Vec::new(),
    };
    Ok((tasks, incoming))
}

async fn switch_lang(Path(code): Path<String>, QueryData(q): QueryData) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let next = safe_next(q.get("next"));
    let mut r = see_other(&next);
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    t: Lang,
    nav: Nav,
    q: String,
    r: SearchResults,
}

async fn search(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let text = q.text("q");
    let r = s.app.search(&ctx, &text, 50).await?;
    render(&SearchPage {
        t,
        nav: uri.nav("search"),
        q: text,
        r,
    })
}

// ---------------------------------------------------------------- institutions

#[derive(Template)]
#[template(path = "institutions.html")]
struct InstitutionsPage {
    t: Lang,
    nav: Nav,
    tiers: &'static [Tier],
    tier: String,
    tree: Vec<TreeNode>,
    flat: Vec<Institution>,
}

async fn institutions(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let tier = match q.opt("tier") {
        Some(v) => Some(Tier::parse("tier", &v)?),
        None => None,
    };
    let (tree, flat) = match tier {
        None => (s.app.institution_tree(&ctx).await?, Vec::new()),
        Some(tier) => {
            let (items, _) = s
                .app
                .list_institutions(
                    &ctx,
                    &InstitutionFilter {
                        tier: Some(tier),
                        ..Default::default()
                    },
                )
                .await?;
            (Vec::new(), items)
        }
    };
    render(&InstitutionsPage {
        t,
        nav: uri.nav("institutions"),
        tiers: Tier::ALL,
        tier: tier.map(|x| x.code().to_owned()).unwrap_or_default(),
        tree,
        flat,
    })
}

#[derive(Template)]
#[template(path = "institution.html")]
struct InstitutionPage {
    t: Lang,
    nav: Nav,
    d: InstitutionDetail,
}

async fn institution_page(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.institution_detail(&ctx, id).await?;
    render(&InstitutionPage {
        t,
        nav: uri.nav("institutions"),
        d,
    })
}

#[derive(Template)]
#[template(path = "institution_form.html")]
struct InstitutionForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    cancel: String,
    form: FormState,
    kinds: &'static [InstitutionType],
    tiers: &'static [Tier],
    services: &'static [ServiceKind],
    parents: Vec<Institution>,
}

impl InstitutionForm {
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
        let (all, _) = s
            .app
            .list_institutions(ctx, &InstitutionFilter::default())
            .await?;
        let parents = all
            .into_iter()
            .filter(|i| i.tier != Tier::Village)
            .collect();
        Ok(InstitutionForm {
            t,
            nav: uri.nav("institutions"),
            heading,
            action,
            cancel,
            form,
            kinds: InstitutionType::ALL,
            tiers: Tier::ALL,
            services: ServiceKind::ALL,
            parents,
        })
    }
}

fn institution_draft(f: &FormData) -> InstitutionDraft {
    InstitutionDraft {
        name: f.text("name"),
        aliases: f
            .text("aliases")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        kind: f.text("kind"),
        tier: f.opt("tier"),
        parent_id: f.opt("parent_id"),
        uscc: f.opt("uscc"),
        division_code: f.text("division_code"),
        address: f.opt("address"),
        phone: f.opt("phone"),
        services: f.all("services"),
    }
}

fn institution_form_state(i: &Institution) -> FormState {
    let mut f = FormState::default();
    f.set("name", i.name.clone());
    f.set("aliases", i.aliases.join("\n"));
    f.set("kind", i.kind.code());
    f.set("tier", i.tier.code());
    f.set(
        "parent_id",
        i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
    );
    f.set("uscc", i.uscc.clone().unwrap_or_default());
    f.set("division_code", i.division_code.clone());
    f.set("address", i.address.clone().unwrap_or_default());
    f.set("phone", i.phone.clone().unwrap_or_default());
    for sv in &i.services {
        f.set("services", sv.code());
    }
    f.set("version", i.version.to_string());
    f
}

async fn institution_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let mut form = FormState::default();
    if let Some(p) = q.opt("parent_id") {
        let pid = parse_id("parent_id", &p)?;
        let parent = s.app.institution(&ctx, pid).await?;
        form.set("parent_id", p);
        form.set("division_code", parent.division_code.clone());
        let kind = match parent.tier {
            Tier::County => InstitutionType::TownshipHealthCentre,
            _ => InstitutionType::VillageClinic,
        };
        form.set("kind", kind.code());
    }
    let page = InstitutionForm::new(
        &s,
        &ctx,
        t,
        &uri,
        t.t("action.new_institution").to_owned(),
        "/institutions".into(),
        "/institutions".into(),
        form,
    )
    .await?;
    render(&page)
}

async fn institution_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s
        .app
        .create_institution(&ctx, &institution_draft(&form))
        .await
    {
        Ok(i) => Ok(see_other(&format!("/institutions/{}", i.id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = InstitutionForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.new_institution").to_owned(),
                "/institutions".into(),
                "/institutions".into(),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn institution_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let i = s.app.institution(&ctx, id).await?;
    let page = InstitutionForm::new(
        &s,
        &ctx,
        t,
        &uri,
        format!("{} · {}", t.t("action.edit"), i.name),
        format!("/institutions/{id}"),
        format!("/institutions/{id}"),
        institution_form_state(&i),
    )
    .await?;
    render(&page)
}

async fn institution_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let version = version_of(&form)?;
    match s
        .app
        .update_institution(&ctx, id, &institution_draft(&form), version)
        .await
    {
        Ok(_) => Ok(see_other(&format!("/institutions/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = InstitutionForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.edit").to_owned(),
                format!("/institutions/{id}"),
                format!("/institutions/{id}"),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn institution_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.deactivate_institution(&ctx, id).await?;
    Ok(see_other(&format!("/institutions/{id}")))
}

async fn institution_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.reactivate_institution(&ctx, id).await?;
    Ok(see_other(&format!("/institutions/{id}")))
}

// ---------------------------------------------------------------- departments

#[derive(Template)]
#[template(path = "department_form.html")]
struct DepartmentForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    form: FormState,
    institution: Institution,
    department: Option<Department>,
}

fn department_draft(f: &FormData) -> Result<DepartmentDraft, WebError> {
    Ok(DepartmentDraft {
        name: f.text("name"),
        code: f.opt("code"),
        beds: f.int("beds")?,
        phone: f.opt("phone"),
    })
}

async fn department_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let institution = s.app.institution(&ctx, id).await?;
    render(&DepartmentForm {
        t,
        nav: uri.nav("institutions"),
        heading: t.t("action.new_department").to_owned(),
        action: format!("/institutions/{id}/departments"),
        form: FormState::default(),
        institution,
        department: None,
    })
}

async fn department_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match department_draft(&form) {
        Ok(d) => s.app.create_department(&ctx, id, &d).await,
        Err(WebError(e)) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/institutions/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let institution = s.app.institution(&ctx, id).await?;
            render_status(
                &DepartmentForm {
                    t,
                    nav: uri.nav("institutions"),
                    heading: t.t("action.new_department").to_owned(),
                    action: format!("/institutions/{id}/departments"),
                    form: state,
                    institution,
                    department: None,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn department_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let dep = s.app.department(&ctx, id).await?;
    let institution = s.app.institution(&ctx, dep.institution_id).await?;
    let mut form = FormState::default();
    form.set("name", dep.name.clone());
    form.set("code", dep.code.clone().unwrap_or_default());
    form.set("beds", dep.beds.to_string());
    form.set("phone", dep.phone.clone().unwrap_or_default());
    form.set("version", dep.version.to_string());
    render(&DepartmentForm {
        t,
        nav: uri.nav("institutions"),
        heading: format!("{} · {}", t.t("action.edit"), dep.name),
        action: format!("/departments/{id}"),
        form,
        institution,
        department: Some(dep),
    })
}

async fn department_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let dep = s.app.department(&ctx, id).await?;
    let result = match (department_draft(&form), version_of(&form)) {
        (Ok(d), Ok(v)) => s.app.update_department(&ctx, id, &d, v).await,
        (Err(WebError(e)), _) | (_, Err(WebError(e))) => Err(e),
    };
    match result {
        Ok(d) => Ok(see_other(&format!("/institutions/{}", d.institution_id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let institution = s.app.institution(&ctx, dep.institution_id).await?;
            render_status(
                &DepartmentForm {
                    t,
                    nav: uri.nav("institutions"),
                    heading: format!("{} · {}", t.t("action.edit"), dep.name),
                    action: format!("/departments/{id}"),
                    form: state,
                    institution,
                    department: Some(dep),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn department_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.set_department_active(&ctx, id, false).await?;
    Ok(see_other(&format!("/institutions/{}", d.institution_id)))
}

async fn department_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let d = s.app.set_department_active(&ctx, id, true).await?;
    Ok(see_other(&format!("/institutions/{}", d.institution_id)))
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

// ---------------------------------------------------------------- communities

#[derive(Template)]
#[template(path = "communities.html")]
struct CommunitiesPage {
    t: Lang,
    nav: Nav,
    communities: Vec<Community>,
}

async fn communities(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let communities = s.app.list_communities(&ctx, true).await?;
    render(&CommunitiesPage {
        t,
        nav: uri.nav("communities"),
        communities,
    })
}

#[derive(Template)]
#[template(path = "community.html")]
struct CommunityPage {
    t: Lang,
    nav: Nav,
    d: CommunityDetail,
    candidates: Vec<Institution>,
    form: FormState,
}

impl CommunityPage {
    fn is_lead(&self, id: &Uuid) -> bool {
        self.d.community.lead_institution_id.as_ref() == Some(id)
    }
}

async fn community_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    uri: &PageInfo,
    id: Uuid,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let d = s.app.community_detail(ctx, id).await?;
    let (all, _) = s
        .app
        .list_institutions(ctx, &InstitutionFilter::default())
        .await?;
    let candidates = all
        .into_iter()
        .filter(|i| !d.members.iter().any(|m| m.id == i.id))
        .collect();
    render_status(
        &CommunityPage {
            t,
            nav: uri.nav("communities"),
            d,
            candidates,
            form,
        },
        status,
    )
}

async fn community_page(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    community_view(&s, &ctx, t, &uri, id, FormState::default(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "community_form.html")]
struct CommunityForm {
    t: Lang,
    nav: Nav,
    heading: String,
    action: String,
    cancel: String,
    form: FormState,
    forms: &'static [AllianceForm],
    institutions: Vec<Institution>,
}

impl CommunityForm {
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
        Ok(CommunityForm {
            t,
            nav: uri.nav("communities"),
            heading,
            action,
            cancel,
            form,
            forms: AllianceForm::ALL,
            institutions,
        })
    }
}

fn community_draft(f: &FormData) -> CommunityDraft {
    CommunityDraft {
        name: f.text("name"),
        form: f.text("form"),
        lead_institution_id: f.opt("lead_institution_id"),
        division_code: f.opt("division_code"),
        description: f.opt("description"),
    }
}

async fn community_new(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let page = CommunityForm::new(
        &s,
        &ctx,
        t,
        &uri,
        t.t("action.new_community").to_owned(),
        "/communities".into(),
        "/communities".into(),
        FormState::default(),
    )
    .await?;
    render(&page)
}

async fn community_create(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    form: FormData,
) -> Result<Response, WebError> {
    match s.app.create_community(&ctx, &community_draft(&form)).await {
        Ok(c) => Ok(see_other(&format!("/communities/{}", c.id))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = CommunityForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.new_community").to_owned(),
                "/communities".into(),
                "/communities".into(),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn community_edit(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let c = s.app.community(&ctx, id).await?;
    let mut form = FormState::default();
    form.set("name", c.name.clone());
    form.set("form", c.form.code());
    form.set(
        "lead_institution_id",
        c.lead_institution_id
            .map(|x| x.to_string())
            .unwrap_or_default(),
    );
    form.set("division_code", c.division_code.clone().unwrap_or_default());
    form.set("description", c.description.clone().unwrap_or_default());
    form.set("version", c.version.to_string());
    let page = CommunityForm::new(
        &s,
        &ctx,
        t,
        &uri,
        format!("{} · {}", t.t("action.edit"), c.name),
        format!("/communities/{id}"),
        format!("/communities/{id}"),
        form,
    )
    .await?;
    render(&page)
}

async fn community_update(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match version_of(&form) {
        Ok(v) => {
            s.app
                .update_community(&ctx, id, &community_draft(&form), v)
                .await
        }
        Err(WebError(e)) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::from_pairs(form.0);
            state.absorb(e, t)?;
            let page = CommunityForm::new(
                &s,
                &ctx,
                t,
                &uri,
                t.t("action.edit").to_owned(),
                format!("/communities/{id}"),
                format!("/communities/{id}"),
                state,
            )
            .await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn community_deactivate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_community_active(&ctx, id, false).await?;
    Ok(see_other(&format!("/communities/{id}")))
}

async fn community_activate(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app.set_community_active(&ctx, id, true).await?;
    Ok(see_other(&format!("/communities/{id}")))
}

async fn community_add_member(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let result = match form.opt("institution_id") {
        None => Err(AppError::invalid(
            "institution_id",
            ygt_domain::Reason::Required,
        )),
        Some(v) => match parse_id("institution_id", &v) {
            Ok(iid) => s.app.add_community_member(&ctx, id, iid).await.map(|_| ()),
            Err(WebError(e)) => Err(e),
        },
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            community_view(
                &s,
                &ctx,
                t,
                &uri,
                id,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn community_remove_member(
    State(s): State<AppState>,
    t: Lang,
    uri: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path((id, iid)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let iid = parse_id("institution_id", &iid)?;
    match s.app.remove_community_member(&ctx, id, iid).await {
        Ok(_) => Ok(see_other(&format!("/communities/{id}"))),
        Err(e) => {
            let mut state = FormState::default();
            state.absorb(e, t)?;
            community_view(
                &s,
                &ctx,
                t,
                &uri,
                id,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
