//! ygt-domain: the types and rules of a county medical community. No IO.
//!
//! Parse, don't validate: a value of these types that exists is valid.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod audit;
pub mod audit_codes;
pub mod chronic;
pub mod clinical;
pub mod codes;
pub mod error;
pub mod ident;
pub mod justification;
pub mod masked;
pub mod message;
pub mod org;
pub mod password;
pub mod referral;
pub mod signin;

pub use error::{Reason, ValidationError, ValidationErrors};
