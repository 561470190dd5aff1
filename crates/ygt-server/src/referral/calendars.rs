//! Booking calendars (号源) of an institution and the referral settings.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::referral::ReferralSettings;
use ygt_app::ygt_store::org::{Institution, InstitutionFilter};
use ygt_app::ygt_store::referral::{Resource, RuleRow};
use ygt_domain::org::Tier;
use ygt_domain::referral::{ResourceKind, Urgency};

use super::api::{CalendarBody, make_calendar};
use super::pages::urgency_label;
use crate::door::error::WebError;
use crate::door::extract::{FormData, QueryData, ReqCtx};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, PageInfo, render_status};
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.get("/calendars", calendars_page)
        .post("/calendars", calendar_create)
        .get("/admin/referral-settings", settings_page)
        .post("/admin/referral-settings", settings_save)
}

// ---------------------------------------------------------------- calendars

#[derive(Template)]
#[template(path = "calendars.html")]
struct CalendarsPage {
    t: Lang,
    nav: Nav,
    form: FormState,
    rows: Vec<(Resource, i64, i64)>,
    institutions: Vec<Institution>,
    kinds: &'static [ResourceKind],
}

impl CalendarsPage {}

async fn calendars_view(
    s: &AppState,
    ctx: &ygt_app::Ctx,
    t: Lang,
    page: &PageInfo,
    form: FormState,
    status: StatusCode,
) -> Result<Response, WebError> {
    let rows = s.app.calendar_overview(ctx).await?;
    let (institutions, _) = s
        .app
        .list_institutions(
            ctx,
            &InstitutionFilter {
                tier: Some(Tier::County),
                limit: Some(200),
                ..Default::default()
            },
        )
        .await?;
    render_status(
        &CalendarsPage {
            t,
            nav: page.nav("referrals"),
            form,
            rows,
            institutions,
            kinds: ResourceKind::ALL,
        },
        status,
    )
}

async fn calendars_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
) -> Result<Response, WebError> {
    let form = FormState::from_pairs(vec![
        ("release_hours".into(), "24".into()),
        ("minutes".into(), "30".into()),
        ("per_day".into(), "8".into()),
        ("reserved_per_day".into(), "3".into()),
        ("days".into(), "14".into()),
    ]);
    calendars_view(&s, &ctx, t, &page, form, StatusCode::OK).await
}

async fn calendar_create(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    f: FormData,
) -> Result<Response, WebError> {
    let num = |k: &str| -> Result<i64, WebError> { Ok(f.int(k)?.unwrap_or(0)) };
    let body = (|| -> Result<CalendarBody, WebError> {
        Ok(CalendarBody {
            institution_id: f.text("institution_id"),
            department_id: f.opt("department_id"),
            kind: f.text("kind"),
            name: f.text("name"),
            location: f.text("location"),
            staff_id: f.opt("staff_id"),
            release_hours: num("release_hours")?,
            first_start: f.text("first_start"),
            minutes: num("minutes")?,
            per_day: num("per_day")?,
            reserved_per_day: num("reserved_per_day")?,
            days: num("days")?,
            weekends: f.text("weekends") == "on",
        })
    })();
    let result = match body {
        Ok(b) => make_calendar(&s, &ctx, &b).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/calendars").into_response()),
        Err(WebError(e)) => {
            let mut form = FormState::from_pairs(f.0.clone());
            form.absorb(e, t)?;
            calendars_view(&s, &ctx, t, &page, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------- settings

#[derive(Template)]
#[template(path = "referral_settings.html")]
struct SettingsPage {
    t: Lang,
    nav: Nav,
    form: FormState,
    rules: Vec<RuleRow>,
    saved: bool,
}

impl SettingsPage {
    fn urg(&self, c: &str) -> &'static str {
        urgency_label(self.t, c)
    }
}

async fn settings_page(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    QueryData(q): QueryData,
) -> Result<Response, WebError> {
    let st = s.app.referral_settings(&ctx).await?;
    let form = FormState::from_pairs(vec![
        ("township".into(), st.township.clone()),
        ("village".into(), st.village.clone()),
    ]);
    render_status(
        &SettingsPage {
            t,
            nav: page.nav("referrals"),
            form,
            rules: st.rules,
            saved: q.text("saved") == "1",
        },
        StatusCode::OK,
    )
}

async fn settings_save(
    State(s): State<AppState>,
    t: Lang,
    page: PageInfo,
    ReqCtx(ctx): ReqCtx,
    f: FormData,
) -> Result<Response, WebError> {
    let mut rules = Vec::new();
    for u in Urgency::ALL {
        let k = |x: &str| format!("{}.{x}", u.code());
        rules.push(RuleRow {
            urgency: u.code().into(),
            accept_minutes: f.int(&k("accept_minutes"))?.unwrap_or(0),
            arrive_minutes: f.int(&k("arrive_minutes"))?.unwrap_or(0),
            grace_minutes: f.int(&k("grace_minutes"))?.unwrap_or(0),
            complete_minutes: f.int(&k("complete_minutes"))?.unwrap_or(0),
        });
    }
    let st = ReferralSettings {
        township: f.text("township"),
        village: f.text("village"),
        rules: rules.clone(),
    };
    match s.app.set_referral_settings(&ctx, &st).await {
        Ok(()) => Ok(Redirect::to("/admin/referral-settings?saved=1").into_response()),
        Err(e) => {
            let mut form = FormState::from_pairs(f.0.clone());
            form.absorb(e, t)?;
            render_status(
                &SettingsPage {
                    t,
                    nav: page.nav("referrals"),
                    form,
                    rules,
                    saved: false,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}
