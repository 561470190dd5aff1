//! The way past a resident's refusal page in an emergency: posting the break-glass form of
//! the refusal page ([`crate::door::refusal`]) starts break-glass access and returns to the
//! page the user tried to open.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ygt_app::AppError;

use crate::door::error::{WebError, describe};
use crate::door::extract::{FormData, ReqCtx, parse_id};
use crate::door::i18n::Lang;
use crate::door::layout::{FormState, PageInfo, render_status, safe_next};
use crate::door::refusal::page;
use crate::{AppState, Routes};

pub fn routes(r: Routes) -> Routes {
    r.post("/residents/{id}/break-glass", start)
}

fn label(field: &str, t: Lang) -> &'static str {
    match field {
        "reason" => t.t("break_glass.reason"),
        "minutes" => t.t("break_glass.minutes"),
        _ => t.t("break_glass.resident"),
    }
}

/// Starts break-glass access from the refusal page, then returns to the page the user tried
/// to open (the survivor's page when the resident was merged into another).
async fn start(
    State(s): State<AppState>,
    t: Lang,
    page_info: PageInfo,
    ReqCtx(ctx): ReqCtx,
    Path(id): Path<String>,
    form: FormData,
) -> Result<Response, WebError> {
    let id = parse_id("id", &id)?;
    let own_page = format!("/residents/{id}");
    let next = match safe_next(form.get("next")) {
        n if n == "/" => own_page.clone(),
        n => n,
    };
    let result = match form.int("minutes") {
        Ok(minutes) => {
            s.app
                .break_glass_for(&ctx, id, &form.text("reason"), minutes)
                .await
        }
        Err(e) => Err(e.0),
    };
    let e = match result {
        Ok(g) if g.resident_id != id => {
            return Ok(Redirect::to(&format!("/residents/{}", g.resident_id)).into_response());
        }
        Ok(_) => return Ok(Redirect::to(&next).into_response()),
        Err(e @ AppError::Invalid(_)) => e,
        Err(e) => return Err(WebError(e)),
    };
    let mut state = FormState::from_pairs(form.0.clone());
    let (_, _, details) = describe(&e, t);
    let sep = if t.is_en() { ": " } else { "：" };
    for (f, m) in details {
        let l = label(&f, t);
        state.errors.push((f, format!("{l}{sep}{m}")));
    }
    let message = t.t("break_glass.out_of_scope");
    render_status(
        &page(
            &s,
            t,
            page_info.nav("residents"),
            message,
            &[],
            id,
            &next,
            state,
            true,
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}
