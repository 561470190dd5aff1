//! Two-way referral (双向转诊): worklists, the referral and its steps, the printable slip, care
//! tasks, the inbox, statistics, booking calendars and slots, settings; the JSON API with the
//! live event stream; the FHIR resources ServiceRequest, Task, Appointment, Schedule and Slot.

mod api;
mod calendars;
pub mod fhir;
mod pages;
mod slot_grid;
mod work;

use crate::Routes;

pub use pages::count_href;

/// Every HTTP route of the capability: the JSON API, then the pages (FHIR is routed by
/// the top-level `fhir` module).
pub fn routes(r: Routes) -> Routes {
    let r = api::routes(r);
    let r = pages::routes(r);
    let r = work::routes(r);
    calendars::routes(r)
}
