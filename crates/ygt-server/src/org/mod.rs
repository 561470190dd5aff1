//! Organisations: institutions (机构) and their departments, staff, and medical communities
//! (医共体): their pages and their JSON API.

mod api;
mod communities;
mod institutions;
mod staff;

use crate::Routes;

/// The pages of the capability.
pub fn pages(r: Routes) -> Routes {
    let r = institutions::routes(r);
    let r = staff::routes(r);
    communities::routes(r)
}

/// The JSON API of the capability.
pub fn api(r: Routes) -> Routes {
    api::routes(r)
}
