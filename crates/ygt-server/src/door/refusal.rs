//! The refusal of a resident's page: the 403 page of a resident outside the user's scope
//! offers the break-glass form to those who hold `patient.break_glass` (the error mapping
//! renders it; posting the form is handled by `admin::break_glass`).

use askama::Template;
use axum::http::Method;
use uuid::Uuid;
use ygt_domain::access::Permission;

use crate::AppState;
use crate::door::auth::Auth;
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, Nav, safe_next};
use ygt_domain::msg;

/// The resident a page of people is about: `/residents/{id}` and the pages below it.
pub fn resident_of_page(method: &Method, path: &str) -> Option<Uuid> {
    if method != Method::GET {
        return None;
    }
    let rest = path.strip_prefix("/residents/")?;
    let (id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, tail),
        None => (rest, ""),
    };
    if !matches!(tail, "" | "record") {
        return None;
    }
    Uuid::parse_str(id).ok()
}

/// Whether the refused user may break the glass from the refusal page.
pub fn offers_break_glass(auth: Option<&Auth>) -> bool {
    auth.is_some_and(|a| {
        a.principal.user_id.is_some()
            && a.principal.can(Permission::BreakGlass)
            && a.principal.can(Permission::PatientRead)
    })
}

/// The break-glass form: durations (minutes, label) and the one chosen.
pub struct BreakGlassForm {
    pub choices: Vec<(i64, String)>,
    pub selected: i64,
}

#[derive(Template)]
#[template(path = "resident_forbidden.html")]
pub struct ResidentForbiddenPage<'a> {
    t: Lang,
    nav: Nav,
    message: &'a str,
    details: &'a [String],
    resident_id: Uuid,
    next: String,
    form: FormState,
    break_glass: Option<BreakGlassForm>,
}

fn duration_label(minutes: i64, t: Lang) -> String {
    let m = match minutes % 60 {
        0 => msg!("break_glass.n_hours", n = minutes / 60),
        _ => msg!("break_glass.n_minutes", n = minutes),
    };
    t.render(&m)
}

fn break_glass_form(s: &AppState, t: Lang, form: &FormState) -> BreakGlassForm {
    let choices: Vec<(i64, String)> = s
        .app
        .break_glass_choices()
        .into_iter()
        .map(|m| (m, duration_label(m, t)))
        .collect();
    let max = choices.last().map(|c| c.0).unwrap_or(60);
    // An hour unless asked otherwise (or less when the maximum is shorter).
    let selected = form
        .v("minutes")
        .parse::<i64>()
        .ok()
        .filter(|m| choices.iter().any(|c| c.0 == *m))
        .unwrap_or_else(|| max.min(60));
    BreakGlassForm { choices, selected }
}

/// The 403 page of a resident (with the break-glass form when `offer`).
#[allow(clippy::too_many_arguments)]
pub fn page<'a>(
    s: &AppState,
    t: Lang,
    nav: Nav,
    message: &'a str,
    details: &'a [String],
    resident_id: Uuid,
    next: &str,
    form: FormState,
    offer: bool,
) -> ResidentForbiddenPage<'a> {
    let break_glass = offer.then(|| break_glass_form(s, t, &form));
    ResidentForbiddenPage {
        t,
        nav,
        message,
        details,
        resident_id,
        next: safe_next(Some(next)),
        form,
        break_glass,
    }
}

/// The HTML of the 403 page of a resident (with the break-glass form when `offer`).
#[allow(clippy::too_many_arguments)]
pub fn render_resident_forbidden(
    s: &AppState,
    t: Lang,
    nav: Nav,
    message: &str,
    details: &[String],
    resident_id: Uuid,
    next: &str,
    offer: bool,
) -> Result<String, askama::Error> {
    page(
        s,
        t,
        nav,
        message,
        details,
        resident_id,
        next,
        FormState::default(),
        offer,
    )
    .render()
}
