//! The master patient index (居民主索引): residents (search, register, their page), merges and
//! their undoing, and the review of possible duplicates: pages and JSON API. FHIR Patient is
//! served with the record (`record::fhir`): FHIR writes register the resident and record the
//! items of one submission together.

pub mod api;
mod pages;

use crate::Routes;

/// The pages of the capability.
pub fn pages(r: Routes) -> Routes {
    pages::routes(r)
}

/// The JSON API of the capability.
pub fn api(r: Routes) -> Routes {
    api::routes(r)
}
