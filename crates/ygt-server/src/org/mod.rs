//! Organisations: institutions (机构) and their departments, staff, and medical communities
//! (医共体): their pages and their JSON API.

mod api;
mod communities;
mod institutions;
mod staff;

use crate::Routes;

/// Every route of the capability: pages, then the JSON API.
pub fn routes(r: Routes) -> Routes {
    let r = institutions::routes(r);
    let r = staff::routes(r);
    let r = communities::routes(r);
    api::routes(r)
}
