//! The home page, the language switch and the search over everything: pages that compose
//! several capabilities (a top-level module: the door never imports it).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use ygt_app::org::SearchResults;
use ygt_app::ygt_store::org::{Community, Overview};

use crate::door::error::WebError;
use crate::door::extract::{QueryData, ReqCtx};
use crate::door::i18n::{LANG_COOKIE, Lang};
use crate::door::layout::{Nav, PageInfo, render, safe_next, see_other};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/", home)
        .get("/lang/{code}", switch_lang)
        .get("/search", search)
}

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
    fn late(&self, d: &time::Date) -> bool {
        *d < self.today
    }
    fn due_label(&self, d: &time::Date) -> String {
        if *d == self.today {
            self.t.t("home.today").to_owned()
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
