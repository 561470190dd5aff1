//! JSON API of two-way referral: referrals and their steps, worklists and counts, suggestions,
//! calendars and slots, care tasks, the inbox, statistics, settings, and the live event
//! stream (server-sent events) that pages and clients listen to.

use std::convert::Infallible;
use std::time::Duration as StdDuration;
use ygt_domain::msg;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_app::referral::{ReferralDraft, ReferralSettings, StepDraft, WorklistQuery};
use ygt_domain::Reason;
use ygt_domain::org::ServiceKind;
use ygt_domain::referral::ResourceKind;

use crate::door::error::WebError;
use crate::door::extract::{JsonBody, Query, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::{AppState, Routes};

mod wire;
use wire::{
    CareTaskOut, CareTasksOut, CountsOut, CreatedOut, InboxOut, MarkedOut, NotificationOut,
    ReferralOut, ReferralViewOut, ResourceOut, ResourcesOut, SettingsOut, SlotOut, SlotsOut,
    StatsOut, SuggestionOut, SuggestionsOut, WorklistOut, WorklistRowOut,
};

pub fn routes(r: Routes) -> Routes {
    r.get("/api/v1/referrals", list)
        .post("/api/v1/referrals", create)
        .get("/api/v1/referrals/{id}", get_one)
        .post("/api/v1/referrals/{id}/steps", take_step)
        .get("/api/v1/referral-counts", counts)
        .get("/api/v1/referral-stats", stats)
        .get("/api/v1/referral-settings", get_settings)
        .put("/api/v1/referral-settings", put_settings)
        .get("/api/v1/residents/{id}/referral-suggestions", suggestions)
        .post(
            "/api/v1/residents/{id}/referral-suggestions/dismiss",
            dismiss,
        )
        .get("/api/v1/booking-resources", resources)
        .post("/api/v1/booking-resources", create_resource)
        .get("/api/v1/booking-resources/{id}/slots", slots)
        .get("/api/v1/care-tasks", tasks)
        .post("/api/v1/care-tasks/{id}/complete", complete_task)
        .get("/api/v1/inbox", inbox)
        .post("/api/v1/inbox/read", inbox_read)
        .get("/events", events)
}

async fn list(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<WorklistQuery>,
) -> Result<Response, WebError> {
    let page = s.app.worklist(&ctx, &q).await?;
    let referrals = page
        .referrals
        .iter()
        .zip(page.overdue.iter())
        .map(|(r, o)| WorklistRowOut {
            referral: ReferralOut::from(r),
            overdue: *o,
        })
        .collect();
    Ok(Json(WorklistOut {
        referrals,
        next: page.next,
    })
    .into_response())
}

async fn create(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(d): JsonBody<ReferralDraft>,
) -> Result<Response, WebError> {
    let r = s.app.create_referral(&ctx, &d).await?;
    Ok((StatusCode::CREATED, Json(ReferralOut::from(&r))).into_response())
}

async fn get_one(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let v = s.app.referral_view(&ctx, parse_id("id", &id)?).await?;
    Ok(Json(ReferralViewOut::from(&v)).into_response())
}

async fn take_step(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<StepDraft>,
) -> Result<Response, WebError> {
    let r = s.app.referral_step(&ctx, parse_id("id", &id)?, &d).await?;
    Ok(Json(ReferralOut::from(&r)).into_response())
}

async fn counts(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let c = s.app.worklist_counts(&ctx).await?;
    Ok(Json(CountsOut::from(&c)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct StatsQuery {
    /// First month, `YYYY-MM` (default: 11 months before this one).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: this month).
    pub to: Option<String>,
}

/// The half-open time range of whole months (Beijing time) a statistics query asks for.
pub(crate) fn month_range(q: &StatsQuery) -> Result<(OffsetDateTime, OffsetDateTime), WebError> {
    let cst = time::macros::offset!(+8);
    let now = OffsetDateTime::now_utc().to_offset(cst);
    let parse = |field: &str, s: &str| -> Result<time::Date, WebError> {
        let (y, m) = s.trim().split_once('-').ok_or_else(|| {
            WebError::from(ygt_domain::ValidationError::new(
                field,
                Reason::Format("month"),
            ))
        })?;
        let bad = || WebError::from(ygt_domain::ValidationError::new(field, Reason::Date));
        // Statistics reach from 1900 to 2999: times outside four-digit years have no
        // RFC 3339 form, which the store writes them in.
        let y: i32 = y
            .parse()
            .ok()
            .filter(|y| (1900..=2999).contains(y))
            .ok_or_else(bad)?;
        let m: u8 = m.parse().map_err(|_| bad())?;
        let m = time::Month::try_from(m).map_err(|_| bad())?;
        time::Date::from_calendar_date(y, m, 1).map_err(|_| bad())
    };
    let this = time::Date::from_calendar_date(now.year(), now.month(), 1).unwrap_or(now.date());
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse("to", s)?,
        None => this,
    };
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => parse("from", s)?,
        None => {
            let mut d = to;
            for _ in 0..11 {
                d = (d - Duration::days(1)).replace_day(1).unwrap_or(d);
            }
            d
        }
    };
    if from > to {
        return Err(WebError::from(ygt_domain::ValidationError::new(
            "from",
            Reason::Other(msg!("referral.first_month_after_last")),
        )));
    }
    let end = (to + Duration::days(32)).replace_day(1).unwrap_or(to);
    let at = |d: time::Date| {
        d.midnight()
            .assume_offset(cst)
            .to_offset(time::UtcOffset::UTC)
    };
    Ok((at(from), at(end)))
}

async fn stats(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<StatsQuery>,
) -> Result<Response, WebError> {
    let (since, until) = month_range(&q)?;
    let stats = s.app.referral_stats(&ctx, since, until).await?;
    Ok(Json(StatsOut::from(&stats)).into_response())
}

async fn get_settings(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let settings = s.app.referral_settings(&ctx).await?;
    Ok(Json(SettingsOut::from(&settings)).into_response())
}

async fn put_settings(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(b): JsonBody<ReferralSettings>,
) -> Result<Response, WebError> {
    s.app.set_referral_settings(&ctx, &b).await?;
    let settings = s.app.referral_settings(&ctx).await?;
    Ok(Json(SettingsOut::from(&settings)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SuggestQuery {
    /// Services the patient needs, comma-separated (ct, mri, dialysis, ...).
    needs: String,
}

pub(crate) fn parse_needs(s: &str) -> Result<Vec<ServiceKind>, WebError> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| ServiceKind::parse("needs", x).map_err(WebError::from))
        .collect()
}

async fn suggestions(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    Query(q): Query<SuggestQuery>,
) -> Result<Response, WebError> {
    let needs = parse_needs(&q.needs)?;
    let out = s
        .app
        .referral_suggestions(&ctx, parse_id("id", &id)?, &needs)
        .await?;
    let suggestions = out.iter().map(SuggestionOut::from).collect();
    Ok(Json(SuggestionsOut { suggestions }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DismissBody {
    criterion: String,
    reason: String,
}

async fn dismiss(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<DismissBody>,
) -> Result<Response, WebError> {
    s.app
        .dismiss_suggestion(&ctx, parse_id("id", &id)?, &b.criterion, &b.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResourceQuery {
    institution_id: Option<String>,
    kind: Option<String>,
}

async fn resources(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<ResourceQuery>,
) -> Result<Response, WebError> {
    let inst = match q.institution_id.as_deref().filter(|s| !s.is_empty()) {
        Some(i) => Some(parse_id("institution_id", i)?),
        None => None,
    };
    let v = s
        .app
        .booking_resources(&ctx, inst, q.kind.as_deref())
        .await?;
    let resources = v.iter().map(ResourceOut::from).collect();
    Ok(Json(ResourcesOut { resources }).into_response())
}

/// A new calendar: a resource and its slots.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalendarBody {
    pub institution_id: String,
    pub department_id: Option<String>,
    pub kind: String,
    pub name: String,
    /// Where it is (building, floor, room), printed on the slip.
    #[serde(default)]
    pub location: String,
    pub staff_id: Option<String>,
    /// Reserved slots become public this many hours before they start.
    pub release_hours: i64,
    /// First slot of the first day (RFC 3339, or `YYYY-MM-DDTHH:MM` Beijing time).
    pub first_start: String,
    pub minutes: i64,
    pub per_day: i64,
    pub reserved_per_day: i64,
    pub days: i64,
    #[serde(default)]
    pub weekends: bool,
}

pub(crate) async fn make_calendar(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    b: &CalendarBody,
) -> Result<Uuid, WebError> {
    let inst = parse_id("institution_id", b.institution_id.trim())?;
    let dep = match b
        .department_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => Some(parse_id("department_id", d)?),
        None => None,
    };
    let staff = match b
        .staff_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(d) => Some(parse_id("staff_id", d)?),
        None => None,
    };
    let kind = ResourceKind::parse("kind", &b.kind)?;
    let first = ygt_app::referral::parse_local_time("first_start", &b.first_start)?;
    Ok(s.app
        .create_calendar(
            ctx,
            inst,
            dep,
            kind,
            &b.name,
            &b.location,
            staff,
            b.release_hours,
            first,
            b.minutes,
            b.per_day,
            b.reserved_per_day,
            b.days,
            b.weekends,
        )
        .await?)
}

async fn create_resource(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    JsonBody(b): JsonBody<CalendarBody>,
) -> Result<Response, WebError> {
    let id = make_calendar(&s, &ctx, &b).await?;
    Ok((StatusCode::CREATED, Json(CreatedOut { id })).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SlotQuery {
    days: Option<i64>,
}

async fn slots(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    Query(q): Query<SlotQuery>,
) -> Result<Response, WebError> {
    let slots = s
        .app
        .free_slots(&ctx, parse_id("id", &id)?, q.days.unwrap_or(14))
        .await?
        .iter()
        .map(|(slot, a)| SlotOut::of(slot, Some(*a)))
        .collect();
    Ok(Json(SlotsOut { slots }).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskQuery {
    /// Only open tasks (default true).
    open: Option<bool>,
}

async fn tasks(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<TaskQuery>,
) -> Result<Response, WebError> {
    let v = s.app.care_task_list(&ctx, q.open.unwrap_or(true)).await?;
    let tasks = v.iter().map(CareTaskOut::from).collect();
    Ok(Json(CareTasksOut { tasks }).into_response())
}

async fn complete_task(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ygt_app::referral::TaskDone>,
) -> Result<Response, WebError> {
    let t = s
        .app
        .complete_care_task(&ctx, parse_id("id", &id)?, &b)
        .await?;
    Ok(Json(CareTaskOut::from(&t)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InboxQuery {
    unread: Option<bool>,
}

async fn inbox(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    Query(q): Query<InboxQuery>,
) -> Result<Response, WebError> {
    let v = s.app.inbox(&ctx, q.unread.unwrap_or(false)).await?;
    let notifications = v.iter().map(NotificationOut::from).collect();
    Ok(Json(InboxOut { notifications }).into_response())
}

async fn inbox_read(State(s): State<AppState>, ReqCtx(ctx): ReqCtx) -> Result<Response, WebError> {
    let n = s.app.mark_inbox_read(&ctx).await?;
    Ok(Json(MarkedOut { marked: n }).into_response())
}

/// Server-sent events for the signed-in user: `notification` events with the referral and
/// the title, as they are committed (by this process or, on PostgreSQL, by any process).
/// The stream ends with an `ended` event when its session ends: at once when this process
/// signs it out (sign-out, sign-out everywhere), otherwise (expiry, revocation, another
/// process) at the next check of the session, every [`crate::ServerConfig::session_check`].
async fn events(
    State(s): State<AppState>,
    ReqCtx(ctx): ReqCtx,
    auth: Option<axum::Extension<crate::door::auth::Auth>>,
) -> Result<Response, WebError> {
    let user = match ctx.principal().and_then(|p| p.user_id) {
        Some(u) => u,
        None => return Err(WebError(ygt_app::AppError::Unauthenticated)),
    };
    let session = match ctx.principal().map(|p| &p.via) {
        Some(ygt_app::access::Via::Session { session_id }) => *session_id,
        _ => return Err(WebError(ygt_app::AppError::Unauthenticated)),
    };
    let Some(token) = auth.and_then(|a| a.0.session_token.clone()) else {
        return Err(WebError(ygt_app::AppError::Unauthenticated));
    };
    let unread = s.app.unread_count(&ctx).await?;
    let first = SseEvent::default()
        .event("hello")
        .data(serde_json::json!({ "unread": unread }).to_string());
    let mut check = tokio::time::interval(s.config.session_check);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let st = LiveStream {
        _open: s.metrics.live_stream(),
        first: Some(first),
        rx: s.app.events().subscribe(),
        ended: s.ended.subscribe(),
        check,
        s: s.clone(),
        unread,
        ctx,
        token,
        session,
        user,
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        let e = st.next().await?;
        Some((Ok::<_, Infallible>(e), st))
    });
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(StdDuration::from_secs(20)))
        .into_response();
    // The connection is not kept for another request. A browser that drops the stream (its
    // page closed it or went away) then closes the connection at once; otherwise Chromium may
    // keep reading it for some seconds to reuse it (seen: about five, after a tab closed), and
    // it still counts against the six connections it opens to one server.
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    Ok(resp)
}

/// The state of one live event stream. It is dropped, and stops counting as open, when the
/// stream ends or as soon as the server sees the client's connection close.
struct LiveStream {
    _open: crate::door::metrics::LiveStreamGuard,
    first: Option<SseEvent>,
    rx: tokio::sync::broadcast::Receiver<ygt_app::referral::LiveEvent>,
    ended: tokio::sync::broadcast::Receiver<crate::SessionEnded>,
    check: tokio::time::Interval,
    s: AppState,
    unread: i64,
    ctx: ygt_app::Ctx,
    token: String,
    session: Uuid,
    user: Uuid,
    done: bool,
}

impl LiveStream {
    /// The next event to send; None ends the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        use tokio::sync::broadcast::error::RecvError;
        if self.done {
            return None;
        }
        if let Some(f) = self.first.take() {
            // The first tick of an interval is immediate; the session was just checked.
            self.check.tick().await;
            return Some(f);
        }
        let user = self.user;
        loop {
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(ev) if ev.users.contains(&user) => {
                        self.unread += 1;
                        let data = serde_json::json!({
                            "referral_id": ev.referral_id, "kind": ev.kind,
                            "title_zh": Lang::Zh.render(&ev.message),
                            "title_en": Lang::En.render(&ev.message),
                            "unread": self.unread,
                        });
                        return Some(SseEvent::default().event("notification").data(data.to_string()));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        // Missed some: tell the page the true count.
                        self.unread = self.s.app.unread_count(&self.ctx).await.unwrap_or(self.unread);
                        return Some(
                            SseEvent::default()
                                .event("hello")
                                .data(serde_json::json!({ "unread": self.unread }).to_string()),
                        );
                    }
                    Err(RecvError::Closed) => return None,
                },
                e = self.ended.recv() => match e {
                    Ok(crate::SessionEnded::Session(id)) if id == self.session => return self.end(),
                    Ok(crate::SessionEnded::User(u)) if u == user => return self.end(),
                    Ok(_) => continue,
                    // Missed some: look at the session itself.
                    Err(RecvError::Lagged(_)) => {
                        if !self.alive().await {
                            return self.end();
                        }
                    }
                    Err(RecvError::Closed) => return self.end(),
                },
                _ = self.check.tick() => {
                    if !self.alive().await {
                        return self.end();
                    }
                }
            }
        }
    }

    /// Whether the session still holds (an error counts as no: the page reconnects).
    async fn alive(&self) -> bool {
        self.s.app.session_alive(&self.token).await.unwrap_or(false)
    }

    /// The last event: the session ended (the page stops listening).
    fn end(&mut self) -> Option<SseEvent> {
        self.done = true;
        Some(SseEvent::default().event("ended").data("{}"))
    }
}
