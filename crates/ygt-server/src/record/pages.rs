//! Pages of the shared health record: the patient 360 page (健康档案调阅), one item, the
//! unmatched queue.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use time::{Duration, OffsetDateTime};
use ygt_app::episode::Episode;
use ygt_app::record::{PatientRecord, RecognisedResult, fmt_num, parse_cursor};
use ygt_app::ygt_store::record::{Item, ItemVersion, Observation, Problem, TimelineFilter};
use ygt_domain::chronic::is_chronic;
use ygt_domain::clinical::{ItemKind, ItemStatus};

use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{CST, Nav, PageInfo, local, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/residents/{id}/record", record_page)
        .get("/records/items/{id}", item_page)
        .get("/records/unmatched", unmatched_page)
        .post("/records/unmatched/{id}/assign", unmatched_assign)
}

fn kind_label(kind: ItemKind, t: Lang) -> &'static str {
    kind.label(t.is_en())
}

// ---------------------------------------------------------------- trend charts

/// Control thresholds drawn on each chart (national rules: < 140/90 mmHg, fasting glucose
/// < 7.0 mmol/L, HbA1c < 7 %).
fn thresholds(key: &str) -> &'static [f64] {
    match key {
        "bp" => &[140.0, 90.0],
        "glu" => &[7.0],
        "hba1c" => &[7.0],
        _ => &[],
    }
}

// ---------------------------------------------------------------- 360 page

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    t: Lang,
    nav: Nav,
    r: PatientRecord,
    /// The masked ID number, if the resident has one.
    id_number: Option<String>,
    chronic: Vec<Problem>,
    acute: Vec<Problem>,
    episodes: Vec<Episode>,
    charts: Vec<(String, String)>,
    recognised: Vec<RecognisedResult>,
    kinds: Vec<(&'static str, &'static str, i64, bool)>,
    filter_query: String,
    from: String,
    to: String,
    is_fragment: bool,
}

#[derive(Template)]
#[template(path = "record_rows.html")]
struct RecordRows {
    t: Lang,
    r: PatientRecord,
    filter_query: String,
    is_fragment: bool,
}

impl RecordPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    /// The day, local: `2026-12-07`.
    fn day(&self, t: &OffsetDateTime) -> String {
        t.to_offset(time::macros::offset!(+8)).date().to_string()
    }
    fn kind(&self, kind: &ItemKind) -> &'static str {
        kind_label(*kind, self.t)
    }
    fn tasks_done(&self, e: &Episode) -> usize {
        e.tasks.iter().filter(|k| k.done_at.is_some()).count()
    }
    /// The timeline query of an episode's stay: from arrival to completion.
    fn stay_query(&self, e: &Episode) -> String {
        let Some(u) = &e.up else {
            return String::new();
        };
        let from = u.arrived_at.map(|t| self.day(&t)).unwrap_or_default();
        let to = u.closed_at.map(|t| self.day(&t)).unwrap_or_default();
        format!("from={from}&to={to}")
    }
}

impl RecordRows {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn kind(&self, kind: &ItemKind) -> &'static str {
        kind_label(*kind, self.t)
    }
}

fn parse_day(field: &str, s: &str) -> Result<Option<OffsetDateTime>, WebError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let d = time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        WebError(ygt_app::AppError::invalid(
            field,
            ygt_domain::Reason::Format("date"),
        ))
    })?;
    Ok(Some(d.midnight().assume_offset(CST)))
}

async fn record_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    headers: HeaderMap,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let kinds: Vec<String> = q
        .all("kind")
        .into_iter()
        .filter(|k| ItemKind::parse("kind", k).is_ok())
        .collect();
    let from = q.text("from");
    let to = q.text("to");
    let before = match q.get("before") {
        Some(c) if !c.is_empty() => Some(parse_cursor(c).ok_or_else(|| {
            WebError(ygt_app::AppError::invalid(
                "before",
                ygt_domain::Reason::Format("cursor"),
            ))
        })?),
        _ => None,
    };
    let filter = TimelineFilter {
        kinds: kinds.clone(),
        institution: None,
        from: parse_day("from", &from)?,
        to: parse_day("to", &to)?.map(|d| d + Duration::days(1)),
        before,
        code: None,
    };
    let r = s.app.patient_record(&ctx, id, &filter, "treatment").await?;
    let mut fq: Vec<String> = kinds.iter().map(|k| format!("kind={k}")).collect();
    if !from.is_empty() {
        fq.push(format!("from={from}"));
    }
    if !to.is_empty() {
        fq.push(format!("to={to}"));
    }
    let filter_query = fq.join("&");
    if before.is_some() && headers.contains_key("hx-request") {
        // The next page of the timeline, appended by htmx.
        return render_status(
            &RecordRows {
                t,
                r,
                filter_query,
                is_fragment: true,
            },
            StatusCode::OK,
        );
    }
    let recognised = s.app.recognised_results(&ctx, id).await?;
    let charts = r
        .trends
        .iter()
        .map(|tr| {
            let title = format!("{}（{}）", tr.title, tr.unit);
            (title, super::chart::trend_svg(tr, thresholds(tr.key)))
        })
        .collect();
    let kinds = ItemKind::ALL
        .iter()
        .map(|k| {
            (
                k.code(),
                k.label(t.is_en()),
                r.counts.get(k.code()).copied().unwrap_or(0),
                filter.kinds.iter().any(|x| x == k.code()),
            )
        })
        .collect();
    let id_number = r.person.id_number.as_ref().map(ToString::to_string);
    let (chronic, acute) = r
        .problems
        .iter()
        .cloned()
        .partition(|p| is_chronic(&p.code));
    let episodes = s.app.referral_episodes(&ctx, id).await?;
    render_status(
        &RecordPage {
            t,
            nav: page.nav("residents"),
            r,
            id_number,
            chronic,
            acute,
            episodes,
            charts,
            recognised,
            kinds,
            filter_query,
            from,
            to,
            is_fragment: false,
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------- one item

#[derive(Template)]
#[template(path = "record_item.html")]
struct ItemPage {
    t: Lang,
    nav: Nav,
    item: Item,
    body: ygt_app::record::Body,
    obs: Vec<Observation>,
    versions: Vec<ItemVersion>,
}

impl ItemPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    /// An item's state in the reader's language (an unknown code as it is).
    fn item_status<'a>(&self, code: &'a str) -> &'a str {
        ygt_domain::clinical::ItemStatus::parse("status", code)
            .map_or(code, |s| s.label(self.t.is_en()))
    }
    fn kind(&self, kind: &ItemKind) -> &'static str {
        kind_label(*kind, self.t)
    }
    fn value(&self, o: &Observation) -> String {
        o.value_num
            .map(fmt_num)
            .or_else(|| o.value_text.clone())
            .unwrap_or_default()
    }
    fn size(&self, bytes: &u64) -> String {
        ygt_app::record::size_text(usize::try_from(*bytes).unwrap_or(usize::MAX))
    }
    fn arrow(&self, o: &Observation) -> &'static str {
        match o.abnormal.as_deref() {
            Some("H" | "HH") => "↑",
            Some("L" | "LL") => "↓",
            Some("A") => "*",
            _ => "",
        }
    }
}

async fn item_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let (item, obs, versions) = s.app.record_item(&ctx, id).await?;
    let body = serde_json::from_str(&item.body).unwrap_or_default();
    render_status(
        &ItemPage {
            t,
            nav: page.nav("residents"),
            item,
            body,
            obs,
            versions,
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------- unmatched queue

#[derive(Template)]
#[template(path = "unmatched.html")]
struct UnmatchedPage {
    t: Lang,
    nav: Nav,
    /// (item, who the sender said: name, masked ID number, patient number)
    items: Vec<(Item, String, String, String)>,
    error: Option<String>,
}

impl UnmatchedPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        local(*t)
    }
    fn kind(&self, kind: &ItemKind) -> &'static str {
        kind_label(*kind, self.t)
    }
}

async fn unmatched_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let items = s
        .app
        .unmatched_items(ctx, 200)
        .await?
        .into_iter()
        .map(|u| {
            let p = u.sent_as;
            let name = p.name.unwrap_or_else(|| "—".into());
            let idn = p
                .id_number
                .map_or_else(|| "—".to_owned(), |m| m.to_string());
            let rec = p.record_id.unwrap_or_else(|| "—".into());
            (u.item, name, idn, rec)
        })
        .collect();
    render_status(
        &UnmatchedPage {
            t,
            nav: page.nav("residents"),
            items,
            error,
        },
        status,
    )
}

async fn unmatched_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    unmatched_view(&s, &ctx, t, &page, None, StatusCode::OK).await
}

async fn unmatched_assign(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    f: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let person = f.text("person_id");
    let person = match uuid::Uuid::parse_str(person.trim()) {
        Ok(p) => p,
        Err(_) => {
            let msg = t.t("record.person_id_hint").to_owned();
            return unmatched_view(
                &s,
                &ctx,
                t,
                &page,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match s.app.assign_unmatched(&ctx, id, person).await {
        Ok(()) => Ok(Redirect::to(&format!("/residents/{person}/record")).into_response()),
        Err(ygt_app::AppError::Invalid(e)) => {
            let msg =
                e.0.iter()
                    .map(|x| format!("{}: {}", x.field, t.reason(&x.reason)))
                    .collect::<Vec<_>>()
                    .join("; ");
            unmatched_view(
                &s,
                &ctx,
                t,
                &page,
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(WebError(e)),
    }
}
