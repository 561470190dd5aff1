//! Administration and the own account: sign-in, accounts, role permissions, API tokens, the
//! audit log, the review of privileged access and break-glass access, with their JSON API.

mod account;
mod accounts;
mod api;
mod audit;
mod break_glass;
mod review;

use crate::Routes;

/// Every route of the capability: pages, then the JSON API.
pub fn routes(r: Routes) -> Routes {
    let r = account::routes(r);
    let r = accounts::routes(r);
    let r = review::routes(r);
    let r = audit::routes(r);
    let r = break_glass::routes(r);
    api::routes(r)
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
