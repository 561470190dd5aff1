//! ygt-interop: the formats at ygt's borders. Every reader reports bad input with its line and
//! field and keeps going; nothing is silently dropped.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod clinical_csv;
pub mod hl7;
pub mod link_csv;
pub mod mllp;
