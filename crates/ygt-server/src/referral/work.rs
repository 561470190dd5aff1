//! The own work of referrals: care tasks, the inbox of notices, and the statistics.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use time::OffsetDateTime;
use ygt_app::referral::{ReferralStats, TASK_PAGE, TaskQuery};
use ygt_app::ygt_store::referral::{CareTask, Notification};

use super::api::{StatsQuery, month_range};
use super::pages::{criterion_label, direction_label, status_label};
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::local;
use crate::door::layout::{Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/tasks", tasks_page)
        .post("/tasks/{id}/done", task_done)
        .get("/inbox", inbox_page)
        .post("/inbox/read", inbox_read)
}

// ---------------------------------------------------------------- tasks and inbox

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    t: Lang,
    nav: Nav,
    tasks: Vec<CareTask>,
    total: i64,
    all: bool,
    /// The due filter: "", "overdue", "today" or "now".
    due: String,
    offset: i64,
    today: time::Date,
}

impl TasksPage {
    fn when_opt(&self, t: &Option<OffsetDateTime>) -> String {
        t.map(local).unwrap_or_default()
    }
    fn late(&self, d: &time::Date) -> bool {
        *d < self.today
    }
    /// The filters offered, each (due, all, label), and whether it is the one shown.
    fn filters(&self) -> Vec<(String, &'static str, bool)> {
        [
            ("", false, self.t.t("referral.open")),
            ("overdue", false, self.t.t("referral.overdue_2")),
            ("today", false, self.t.t("referral.due_today")),
            ("now", false, self.t.t("referral.due_now")),
            ("", true, self.t.t("referral.include_done")),
        ]
        .into_iter()
        .map(|(d, a, label)| (tasks_href(d, a, 0), label, d == self.due && a == self.all))
        .collect()
    }
    fn prev(&self) -> Option<String> {
        (self.offset > 0).then(|| tasks_href(&self.due, self.all, (self.offset - TASK_PAGE).max(0)))
    }
    fn next(&self) -> Option<String> {
        (self.offset + TASK_PAGE < self.total)
            .then(|| tasks_href(&self.due, self.all, self.offset + TASK_PAGE))
    }
}

fn tasks_href(due: &str, all: bool, offset: i64) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    if !due.is_empty() {
        ser.append_pair("due", due);
    }
    if all {
        ser.append_pair("all", "1");
    }
    if offset > 0 {
        ser.append_pair("offset", &offset.to_string());
    }
    let q = ser.finish();
    if q.is_empty() {
        "/tasks".into()
    } else {
        format!("/tasks?{q}")
    }
}

async fn tasks_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let query = TaskQuery {
        all: q.text("all") == "1",
        due: q.opt("due"),
        offset: q.text("offset").parse::<i64>().unwrap_or(0).max(0),
        limit: None,
    };
    let (tasks, total) = s.app.care_task_page(&ctx, &query).await?;
    render_status(
        &TasksPage {
            t,
            nav: page.nav("tasks"),
            tasks,
            total,
            all: query.all,
            due: query.due.unwrap_or_default(),
            offset: query.offset,
            today: ygt_app::local_today(OffsetDateTime::now_utc()),
        },
        StatusCode::OK,
    )
}

async fn task_done(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    f: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let done = ygt_app::referral::TaskDone {
        note: f.opt("note"),
        systolic: f.opt("systolic"),
        diastolic: f.opt("diastolic"),
        glucose: f.opt("glucose"),
    };
    s.app.complete_care_task(&ctx, id, &done).await?;
    Ok(Redirect::to("/tasks").into_response())
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    t: Lang,
    nav: Nav,
    items: Vec<Notification>,
}

impl InboxPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn title(&self, n: &Notification) -> String {
        self.t
            .stored(n.message.as_deref(), &n.title_zh, &n.title_en)
    }
}

async fn inbox_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let items = s.app.inbox(&ctx, false).await?;
    render_status(
        &InboxPage {
            t,
            nav: page.nav("inbox"),
            items,
        },
        StatusCode::OK,
    )
}

async fn inbox_read(
    State(s): State<AppState>,
    headers: HeaderMap,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    s.app.mark_inbox_read(&ctx).await?;
    if headers.contains_key("hx-request") {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Redirect::to("/inbox").into_response())
}

// ---------------------------------------------------------------- statistics

#[derive(Template)]
#[template(path = "referral_stats.html")]
struct StatsPage {
    t: Lang,
    nav: Nav,
    s: ReferralStats,
    from: String,
    to: String,
}

impl StatsPage {
    fn dir(&self, c: &str) -> &'static str {
        direction_label(self.t, c)
    }
    fn status(&self, c: &str) -> &'static str {
        status_label(self.t, c)
    }
    fn reason(&self, c: &str) -> String {
        let l = criterion_label(self.t, c);
        if l.is_empty() {
            if c == "other" {
                self.t.t("referral.other").to_owned()
            } else {
                c.to_owned()
            }
        } else {
            l.to_owned()
        }
    }
    fn num(&self, v: &Option<f64>) -> String {
        v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into())
    }
    fn up_total(&self) -> i64 {
        self.s
            .rows
            .iter()
            .filter(|r| r.direction == "up")
            .map(|r| r.count)
            .sum()
    }
    fn down_total(&self) -> i64 {
        self.s
            .rows
            .iter()
            .filter(|r| r.direction == "down")
            .map(|r| r.count)
            .sum()
    }
}

pub(super) async fn stats_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let sq = StatsQuery {
        from: q.opt("from"),
        to: q.opt("to"),
    };
    let (since, until) = month_range(&sq)?;
    let stats = s.app.referral_stats(&ctx, since, until).await?;
    let cst = time::macros::offset!(+8);
    let ym = |t: OffsetDateTime| {
        let t = t.to_offset(cst);
        format!("{:04}-{:02}", t.year(), u8::from(t.month()))
    };
    render_status(
        &StatsPage {
            t,
            nav: page.nav("referrals"),
            s: stats,
            from: ym(since),
            to: ym(until - time::Duration::days(1)),
        },
        StatusCode::OK,
    )
}
