//! The review of privileged access: grants of roles and permissions, and the break-glass
//! review queue.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::audit::{GrantKind, PrivilegeGrant};
use ygt_app::ygt_store::access::BreakGlass;

use super::fmt_time;
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/audit/grants", grants_page)
        .get("/audit/break-glass", break_glass_page)
        .post("/audit/break-glass/{id}/review", review_break_glass)
}

// ---------------------------------------------------------------- grants for review

/// Grants listed per page.
const GRANTS_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "audit_grants.html")]
struct GrantsPage {
    t: Lang,
    nav: Nav,
    grants: Vec<PrivilegeGrant>,
    total: i64,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

impl GrantsPage {
    fn when(&self, g: &PrivilegeGrant) -> String {
        fmt_time(g.at)
    }

    fn kind(&self, g: &PrivilegeGrant) -> &'static str {
        self.t.t(match g.kind {
            GrantKind::AccountRole => "audit.grant_account_role",
            GrantKind::RolePermission => "audit.grant_role_permission",
            GrantKind::Token => "audit.grant_token",
        })
    }

    /// The account, role or token that received the grant, in the reader's language.
    fn target(&self, g: &PrivilegeGrant) -> String {
        match (g.kind, g.role) {
            (GrantKind::RolePermission, Some(r)) => self.t.label(r).to_owned(),
            _ => g.target.clone(),
        }
    }

    fn target_link(&self, g: &PrivilegeGrant) -> Option<String> {
        match (g.kind, g.target_id) {
            (GrantKind::AccountRole, Some(id)) => Some(format!("/admin/accounts/{id}")),
            _ => None,
        }
    }

    fn permissions(&self, g: &PrivilegeGrant) -> String {
        let sep = if self.t.is_en() { ", " } else { "、" };
        g.permissions
            .iter()
            .map(|p| self.t.label(*p))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

async fn grants_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let n = q.int("page")?.unwrap_or(1).max(1);
    let (grants, total) = s
        .app
        .grant_review(&ctx, GRANTS_PAGE, (n - 1) * GRANTS_PAGE)
        .await?;
    let link = |p: i64| format!("/audit/grants?page={p}");
    render_status(
        &GrantsPage {
            t,
            nav: page.nav("audit"),
            grants,
            total,
            page: n,
            prev: (n > 1).then(|| link(n - 1)),
            next: (n * GRANTS_PAGE < total).then(|| link(n + 1)),
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    t: Lang,
    nav: Nav,
    items: Vec<BreakGlass>,
    names: ygt_app::ygt_store::access::AuditNames,
    all: bool,
}

impl BreakGlassPage {
    fn when(&self, t: &time::OffsetDateTime) -> String {
        fmt_time(*t)
    }

    /// An account's display name (its id when unknown).
    fn user(&self, id: &uuid::Uuid) -> String {
        self.names
            .users
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// An institution's name, if it is known.
    fn institution(&self, id: &Option<uuid::Uuid>) -> Option<String> {
        id.and_then(|i| self.names.institutions.get(&i).cloned())
    }

    /// A resident's name (the id when unknown).
    fn resident(&self, id: &uuid::Uuid) -> String {
        self.names
            .persons
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// A review's outcome in the reader's language.
    fn outcome(&self, code: &str) -> String {
        match code {
            "justified" => self.t.t("audit.justified").to_owned(),
            "unjustified" => self.t.t("audit.unjustified").to_owned(),
            other => other.to_owned(),
        }
    }
}

async fn break_glass_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let all = q.get("all") == Some("1");
    let items = s.app.break_glass_queue(&ctx, !all).await?;
    let names = s.app.break_glass_names(&ctx, &items).await?;
    render_status(
        &BreakGlassPage {
            t,
            nav: page.nav("audit"),
            items,
            names,
            all,
        },
        StatusCode::OK,
    )
}

async fn review_break_glass(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    s.app
        .review_break_glass(&ctx, id, &form.text("outcome"), form.get("note"))
        .await?;
    Ok(Redirect::to("/audit/break-glass").into_response())
}
