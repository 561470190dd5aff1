//! The master patient index (居民主索引): residents (search, register, their page), merges and
//! their undoing, and the review of possible duplicates: pages and JSON API. FHIR Patient is
//! served with the record (`record::fhir`): FHIR writes register the resident and record the
//! items of one submission together.

pub mod api;
mod pages;

use crate::Routes;

/// Every route of the capability: pages, then the JSON API.
pub fn routes(r: Routes) -> Routes {
    let r = pages::routes(r);
    api::routes(r)
}
