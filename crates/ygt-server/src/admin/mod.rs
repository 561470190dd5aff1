//! Administration and the own account: sign-in, accounts, role permissions, API tokens, the
//! audit log, the review of privileged access and break-glass access, with their JSON API.

mod account;
mod accounts;
mod api;
mod audit;
mod break_glass;
mod review;

use crate::Routes;

/// The pages of the capability (but the break-glass form's target, [`break_glass`]).
pub fn pages(r: Routes) -> Routes {
    let r = account::routes(r);
    let r = accounts::routes(r);
    let r = review::routes(r);
    audit::routes(r)
}

/// `POST /residents/{id}/break-glass`, the target of the refusal page's form.
pub fn break_glass(r: Routes) -> Routes {
    break_glass::routes(r)
}

/// The JSON API of identity and audit: `/api/v1/me`, `/api/v1/audit`.
pub fn identity_api(r: Routes) -> Routes {
    api::identity_routes(r)
}

/// The JSON API of access to a resident: the access check and break-glass.
pub fn access_api(r: Routes) -> Routes {
    api::access_routes(r)
}

fn fmt_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
