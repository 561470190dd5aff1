//! The page layout every page shares: the header (the signed-in user, the main menu), what a
//! handler knows of the request, form state, rendering, safe return addresses and the error
//! page.

use askama::Template;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ygt_app::AppError;
use ygt_domain::msg;

use crate::door::error::{WebError, describe};
use crate::door::extract::FormData;
use crate::door::i18n::Lang;

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
    auth: Option<crate::door::auth::Auth>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageInfo {
            uri: parts.uri.clone(),
            auth: parts.extensions.get::<crate::door::auth::Auth>().cloned(),
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
    pub fn new(uri: &Uri, section: &'static str, auth: Option<&crate::door::auth::Auth>) -> Nav {
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

    pub fn set(&mut self, k: &str, v: impl Into<String>) {
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

pub fn render<T: Template>(t: &T) -> Result<Response, WebError> {
    render_status(t, StatusCode::OK)
}

pub fn render_status<T: Template>(t: &T, status: StatusCode) -> Result<Response, WebError> {
    match t.render() {
        Ok(html) => Ok((status, Html(html)).into_response()),
        Err(e) => Err(WebError(AppError::conflict(
            None,
            msg!("common.page_could_rendered", e = e.to_string()),
        ))),
    }
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A `next` address to return to: only a path of this site (`/…`), never another host
/// (`//host`, `/\host`), a scheme (`https:`, `javascript:`), whitespace, control or non-ASCII
/// characters (which could split the Location header); anything else is `/`.
pub fn safe_next(n: Option<&str>) -> String {
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

pub fn version_of(form: &FormData) -> Result<Option<i64>, WebError> {
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

/// China Standard Time (UTC+8), in which people read every time.
pub const CST: time::UtcOffset = time::macros::offset!(+8);

/// A time as people read it: `2026-03-01 14:05` (China Standard Time).
pub fn local(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(CST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
