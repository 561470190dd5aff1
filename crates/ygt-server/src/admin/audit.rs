//! The audit log for people: `/audit` searches it by names (a resident's name or ID number,
//! an actor's name, an institution's name) as well as ids, shows labels instead of codes in
//! the reader's language, names instead of ids and local times; `/audit/residents/{id}` is a
//! resident's access history; `/audit/export.csv` the search as CSV.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ygt_app::audit::{AUDIT_PAGE_MAX, audit_csv};
use ygt_app::audit_search::{AuditQuery, AuditResult, AuditRow, FieldNote};
use ygt_app::view::PersonView;
use ygt_domain::audit::Outcome;
use ygt_domain::audit_codes::{ActionGroup, describe_detail, resource_label};
use ygt_domain::message::Message;
use ygt_domain::msg;

use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, local, render_status};
use crate::{AppState, Routes};

/// Events per page.
const AUDIT_PAGE: i64 = 100;

pub fn routes(r: Routes) -> Routes {
    r.get("/audit", audit_page)
        .get("/audit/export.csv", audit_export)
        .get("/audit/residents/{id}", history_page)
}

/// One event as the table shows it.
pub struct RowView {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub actor_id: Option<String>,
    pub institution: Option<String>,
    pub action_code: String,
    pub action: String,
    pub denied: bool,
    pub outcome: &'static str,
    pub resident: Option<(String, String)>,
    pub resource: String,
    pub resource_id: String,
    pub detail: String,
}

impl RowView {
    fn of(row: &AuditRow, result: &AuditResult, t: Lang) -> Self {
        let r = &row.record;
        let en = t.is_en();
        let names = &result.names;
        let name_of = |id: uuid::Uuid| {
            names
                .institutions
                .get(&id)
                .or_else(|| names.users.get(&id))
                .or_else(|| names.persons.get(&id))
                .cloned()
        };
        RowView {
            seq: r.seq,
            time: local(r.at),
            actor: actor_label(row, t),
            actor_id: r.actor_user_id.map(|u| u.to_string()),
            institution: row.institution.clone(),
            action_code: r.action.clone(),
            action: ygt_domain::audit_codes::action_label(&r.action, en),
            denied: r.outcome != Outcome::Allowed,
            outcome: t.label(r.outcome),
            resident: r.resident_id.map(|p| {
                let name = row.resident.clone().unwrap_or_else(|| p.to_string());
                (p.to_string(), name)
            }),
            resource: resource_label(&r.resource_type, en),
            resource_id: r.resource_id.clone().unwrap_or_default(),
            detail: r
                .detail
                .as_deref()
                .map(|d| describe_detail(d, en, &name_of))
                .unwrap_or_default(),
        }
    }

    fn all(result: &AuditResult, t: Lang) -> Vec<RowView> {
        result
            .rows
            .iter()
            .map(|r| RowView::of(r, result, t))
            .collect()
    }
}

/// Who acted: an account's display name, else the system, nobody signed in, or an API token.
fn actor_label(row: &AuditRow, t: Lang) -> String {
    if row.record.actor_user_id.is_some() {
        return row.actor.clone();
    }
    match row.actor.as_str() {
        "system" => t.t("audit.actor_system").to_owned(),
        "anonymous" => t.t("audit.actor_anonymous").to_owned(),
        name => match name.strip_prefix("token:") {
            Some(token) => format!("{}{token}", t.t("audit.actor_token")),
            None => name.to_owned(),
        },
    }
}

/// A note beside a field: (is it a problem, text).
fn note_text(n: &FieldNote, t: Lang) -> (bool, String) {
    let sep = t.t("common.list_separator");
    match n {
        FieldNote::Residents {
            text,
            by_id_number,
            found,
            capped,
        } => {
            let who: Vec<String> = found
                .iter()
                .map(|m| match &m.id_number {
                    Some(id) => t.render(&msg!("audit.note_resident", name = &m.name, id = id)),
                    None => m.name.clone(),
                })
                .collect();
            let more = if *capped {
                t.t("audit.note_capped")
            } else {
                ""
            };
            let code = match by_id_number {
                true => "audit.note_id_number_matches",
                false => "audit.note_name_matches",
            };
            let m = Message::new(code)
                .with("text", text)
                .with("n", found.len())
                .with("who", who.join(sep))
                .with("more", more);
            (false, t.render(&m))
        }
        FieldNote::Users { text, found } => {
            let m = msg!(
                "audit.note_users",
                text = text,
                n = found.len(),
                who = found.join(sep)
            );
            (false, t.render(&m))
        }
        FieldNote::Institutions { text, found } => {
            let m = msg!(
                "audit.note_institutions",
                text = text,
                n = found.len(),
                who = found.join(sep)
            );
            (false, t.render(&m))
        }
        FieldNote::NoMatch { text } => (true, t.render(&msg!("audit.note_no_match", text = text))),
        FieldNote::Invalid(e) => (true, t.reason(&e.reason)),
    }
}

/// The action select: each group (its prefix) and its actions; a value typed by hand (a
/// prefix from a link) is kept as an option of its own.
type ActionOptions = Vec<(String, Vec<(String, String)>)>;

fn action_options(t: Lang, current: &str) -> (Option<String>, ActionOptions) {
    let en = t.is_en();
    let groups: ActionOptions = ActionGroup::ALL
        .iter()
        .map(|g| {
            let all = t.render(&msg!("audit.action_group_all", group = g.label(en)));
            let mut v = vec![(g.code().to_owned(), all)];
            v.extend(
                g.actions()
                    .map(|a| (a.code().to_owned(), a.label(en).to_owned())),
            );
            (g.label(en).to_owned(), v)
        })
        .collect();
    let known = current.is_empty()
        || groups
            .iter()
            .any(|(_, v)| v.iter().any(|(code, _)| code == current));
    ((!known).then(|| current.to_owned()), groups)
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    t: Lang,
    nav: Nav,
    form: FormState,
    rows: Vec<RowView>,
    notes: Vec<(&'static str, bool, String)>,
    custom_action: Option<String>,
    action_groups: ActionOptions,
    total: i64,
    export: String,
    prev: Option<String>,
    next: Option<String>,
    /// The resident's history page, when the search is about one resident.
    history: Option<String>,
}

impl AuditPage {
    fn note(&self, field: &str) -> Option<&(&'static str, bool, String)> {
        self.notes.iter().find(|(f, _, _)| *f == field)
    }

    fn outcomes(&self) -> Vec<(&'static str, &'static str)> {
        Outcome::ALL
            .iter()
            .map(|o| (o.code(), self.t.label(*o)))
            .collect()
    }
}

/// The form's field of a field of the query (the resident, user and institution fields keep
/// the names of the links that carry ids: `/audit?resident_id=…`).
fn form_field(f: &'static str) -> &'static str {
    match f {
        "resident" => "resident_id",
        "user" => "user_id",
        "institution" => "institution_id",
        other => other,
    }
}

fn query_of(q: &FormData, page_size: i64) -> AuditQuery {
    let text = |k: &str| q.opt(k).unwrap_or_default();
    AuditQuery {
        resident: text("resident_id"),
        user: text("user_id"),
        institution: text("institution_id"),
        action: text("action"),
        outcome: text("outcome"),
        from: text("from"),
        to: text("to"),
        page: q
            .opt("page")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(1),
        page_size,
    }
}

/// `/audit?…` with the same filters on another page.
fn page_link(q: &FormData, page: i64) -> String {
    let mut kept: Vec<(String, String)> =
        q.0.iter()
            .filter(|(k, _)| k != "page" && k != "lang")
            .cloned()
            .collect();
    kept.push(("page".into(), page.to_string()));
    let s: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept.iter())
        .finish();
    format!("/audit?{s}")
}

/// Previous and next page links of a result.
fn pager(r: &AuditResult, link: impl Fn(i64) -> String) -> (Option<String>, Option<String>) {
    let page = r.offset / r.limit.max(1) + 1;
    let prev = (page > 1).then(|| link(page - 1));
    let next = (r.offset + r.limit < r.total).then(|| link(page + 1));
    (prev, next)
}

async fn audit_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let result = s.app.audit_page(&ctx, &query_of(&q, AUDIT_PAGE)).await?;
    let notes = result
        .notes
        .iter()
        .map(|(f, n)| {
            let (bad, text) = note_text(n, t);
            (form_field(f), bad, text)
        })
        .collect();
    let history = match (result.note("resident"), q.opt("resident_id")) {
        (Some(FieldNote::Residents { found, .. }), _) if found.len() == 1 => {
            found.first().map(|m| format!("/audit/residents/{}", m.id))
        }
        (None, Some(v)) => uuid::Uuid::parse_str(v.trim())
            .ok()
            .map(|id| format!("/audit/residents/{id}")),
        _ => None,
    };
    let (prev, next) = pager(&result, |p| page_link(&q, p));
    let (custom_action, action_groups) =
        action_options(t, q.opt("action").unwrap_or_default().trim());
    let export = page_link(&q, 1).replacen("/audit?", "/audit/export.csv?", 1);
    render_status(
        &AuditPage {
            t,
            nav: page.nav("audit"),
            form: FormState::from_pairs(q.0.clone()),
            rows: RowView::all(&result, t),
            notes,
            custom_action,
            action_groups,
            total: result.total,
            export,
            prev,
            next,
            history,
        },
        StatusCode::OK,
    )
}

async fn audit_export(
    State(s): State<AppState>,
    t: Lang,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let mut query = query_of(&q, AUDIT_PAGE_MAX);
    query.page = 1;
    let result = s.app.audit_page(&ctx, &query).await?;
    let records: Vec<_> = result.rows.into_iter().map(|r| r.record).collect();
    let mut body = String::from("\u{feff}");
    body.push_str(&audit_csv(&records, t.is_en()));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"ygt-audit.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "audit_resident.html")]
struct HistoryPage {
    t: Lang,
    nav: Nav,
    resident: PersonView,
    rows: Vec<RowView>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

async fn history_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let n = query_of(&q, AUDIT_PAGE).page.max(1);
    let h = s.app.resident_history(&ctx, id, n, AUDIT_PAGE).await?;
    let (prev, next) = pager(&h.result, |p| format!("/audit/residents/{id}?page={p}"));
    render_status(
        &HistoryPage {
            t,
            nav: page.nav("audit"),
            rows: RowView::all(&h.result, t),
            total: h.result.total,
            page: n,
            resident: h.resident,
            prev,
            next,
        },
        StatusCode::OK,
    )
}
