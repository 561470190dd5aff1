//! The shared health record (居民健康档案): the 360° record of a resident, one item and its
//! versions, unmatched items, trend charts, the JSON API of clinical items, the FHIR resources
//! of the record (with Patient and Bundle) and the HL7 v2 MLLP ingest.

pub(crate) mod api;
mod chart;
pub mod fhir;
pub mod hl7;
mod mllp_guard;
mod pages;

use crate::Routes;

/// Every HTTP route of the capability: pages, then the JSON API (FHIR is routed by
/// the top-level `fhir` module; the MLLP listener is started by `ygt serve`).
pub fn routes(r: Routes) -> Routes {
    let r = pages::routes(r);
    api::routes(r)
}
