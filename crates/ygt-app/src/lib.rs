//! ygt-app: the use cases. Pages, the JSON API, FHIR, HL7 and the CLI all call these functions,
//! so validation, authorisation and audit happen in one place and cannot be bypassed by choosing
//! another door.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod account;
pub mod audit;
pub mod audit_seal;
pub mod audit_search;
pub mod episode;
pub mod grounds;
pub mod mpi;
pub mod org;
mod principals;
pub mod record;
pub mod referral;
pub mod signin;
pub mod submit;
pub mod view;

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::message::Message;
use ygt_domain::{Reason, ValidationError, ValidationErrors};
use ygt_store::{Store, StoreError};

pub use ygt_store;

/// Errors of the use-case layer. The server maps each variant once to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input was rejected; every error names its field.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already used by another record (field named).
    #[error("{field} is already used by another record")]
    Duplicate { field: String },
    /// The record was changed by someone else since it was read.
    #[error("the record was changed by someone else; reload and try again")]
    Stale,
    /// The request conflicts with the current state (a catalogue message, rendered by the door).
    #[error("{msg}")]
    Conflict { field: Option<String>, msg: Message },
    /// Nobody is signed in.
    #[error("sign-in required")]
    Unauthenticated,
    /// Signed in, but not allowed to do this (a catalogue message, rendered by the door).
    #[error("{msg}")]
    Forbidden { msg: Message },
    /// The account must change its initial password first.
    #[error("the password must be changed first")]
    PasswordChangeRequired,
    /// Wrong user name or password (deliberately not saying which).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failed sign-ins: the next attempt waits this many seconds (never a lock).
    #[error("too many failed attempts; try again in {seconds} s")]
    Throttled { seconds: u64 },
    /// The request (its body) is larger than allowed.
    #[error("{field} is larger than {max} bytes")]
    TooLarge { field: String, max: usize },
    /// The request body is not of a media type this door takes.
    #[error("{field} must be {expected}")]
    UnsupportedMediaType { field: String, expected: String },
    #[error("storage: {0}")]
    Store(#[source] StoreError),
}

impl AppError {
    pub fn invalid(field: &str, reason: Reason) -> Self {
        AppError::Invalid(ValidationError::new(field, reason).into())
    }

    /// A conflict with the current state, said beside `field` when it concerns one.
    pub fn conflict(field: Option<&str>, msg: Message) -> Self {
        AppError::Conflict {
            field: field.map(str::to_owned),
            msg,
        }
    }

    /// A refusal.
    pub fn forbidden(msg: Message) -> Self {
        AppError::Forbidden { msg }
    }

    /// A machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid",
            AppError::NotFound(_) => "not_found",
            AppError::Duplicate { .. } => "duplicate",
            AppError::Stale => "stale",
            AppError::Conflict { .. } => "conflict",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden { .. } => "forbidden",
            AppError::PasswordChangeRequired => "password_change_required",
            AppError::BadCredentials => "bad_credentials",
            AppError::Throttled { .. } => "throttled",
            AppError::TooLarge { .. } => "too_large",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::Store(_) => "internal",
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(e: ValidationErrors) -> Self {
        AppError::Invalid(e)
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        AppError::Invalid(e.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("record"),
            StoreError::VersionConflict { .. } => AppError::Stale,
            StoreError::Duplicate(what) => AppError::Duplicate {
                field: duplicate_field(&what).to_owned(),
            },
            other => AppError::Store(other),
        }
    }
}

/// Maps a unique-constraint description (PostgreSQL constraint name or SQLite message) to the
/// field a person would fix.
fn duplicate_field(what: &str) -> &'static str {
    if what.contains("uscc") {
        "uscc"
    } else if what.contains("licence") {
        "licence_number"
    } else if what.contains("id_number") {
        "id_number"
    } else if what.contains("alias") {
        "aliases"
    } else {
        "name"
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Who is acting, from where, and under which request id. Every use case takes one.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub request_id: String,
    pub client_addr: Option<String>,
}

/// The acting party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The platform itself (migrations, the demo generator, command-line tools run by an operator).
    System,
    /// Nobody signed in.
    Anonymous,
    /// A signed-in user or an API token.
    User(Box<access::Principal>),
}

impl Ctx {
    pub fn principal(&self) -> Option<&access::Principal> {
        match &self.actor {
            Actor::User(p) => Some(p),
            _ => None,
        }
    }

    pub fn anonymous(request_id: String, client_addr: Option<String>) -> Self {
        Ctx {
            actor: Actor::Anonymous,
            request_id,
            client_addr,
        }
    }

    pub fn system() -> Self {
        Ctx {
            actor: Actor::System,
            request_id: Uuid::now_v7().to_string(),
            client_addr: None,
        }
    }
}

/// Settings of sign-in, sessions and the audit log.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A session ends after this much inactivity.
    pub idle_timeout: time::Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub absolute_timeout: time::Duration,
    /// Growing delays after failed sign-ins of one account from browsers without its device
    /// cookie.
    pub account_throttle: ygt_domain::signin::Throttle,
    /// Growing delays after failed sign-ins from one client address (without a device cookie
    /// of the account tried).
    pub address_throttle: ygt_domain::signin::Throttle,
    /// Growing delays after failed sign-ins that carry one device cookie.
    pub device_throttle: ygt_domain::signin::Throttle,
    /// How long a device cookie stays valid (each sign-in issues a new one).
    pub device_valid_for: time::Duration,
    /// How long a break-glass grant lasts.
    pub break_glass_for: time::Duration,
    /// Hash of the audit chain: SHA-256 (default) or SM3.
    pub audit_alg: ygt_domain::audit::HashAlg,
    pub password_policy: ygt_domain::password::PasswordPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_timeout: time::Duration::minutes(30),
            absolute_timeout: time::Duration::hours(12),
            account_throttle: ygt_domain::signin::Throttle::ACCOUNT,
            address_throttle: ygt_domain::signin::Throttle::ADDRESS,
            device_throttle: ygt_domain::signin::Throttle::DEVICE,
            device_valid_for: time::Duration::days(180),
            break_glass_for: time::Duration::hours(4),
            audit_alg: ygt_domain::audit::HashAlg::Sha256,
            password_policy: ygt_domain::password::PasswordPolicy::default(),
        }
    }
}

/// The application: the store plus the rules.
#[derive(Clone)]
pub struct App {
    store: Store,
    settings: std::sync::Arc<Settings>,
    /// Registrations in the index as this process knows it (-1: not read yet).
    registrations_seen: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Live events for this process's connected clients (server-sent events).
    events: tokio::sync::broadcast::Sender<referral::LiveEvent>,
    /// The key that signs device cookies (read or made on first use).
    device_key: std::sync::Arc<tokio::sync::OnceCell<std::sync::Arc<Vec<u8>>>>,
    /// Sessions and tokens resolved before ([`principals`]).
    principals: std::sync::Arc<principals::Principals>,
}

impl App {
    pub fn new(store: Store) -> Self {
        App {
            store,
            settings: std::sync::Arc::new(Settings::default()),
            registrations_seen: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
            events: tokio::sync::broadcast::channel(256).0,
            device_key: Default::default(),
            principals: Default::default(),
        }
    }

    pub fn with_settings(store: Store, settings: Settings) -> Self {
        App {
            store,
            settings: std::sync::Arc::new(settings),
            registrations_seen: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1)),
            events: tokio::sync::broadcast::channel(256).0,
            device_key: Default::default(),
            principals: Default::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live events of this process: subscribe to hear them, or send one that arrived from
    /// another process (PostgreSQL LISTEN).
    pub fn events(&self) -> &tokio::sync::broadcast::Sender<referral::LiveEvent> {
        &self.events
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// Checks that the database answers.
    pub async fn health(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }
}

/// A new stable identifier (UUID v7: time-ordered, unique across sites).
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Today in China Standard Time (UTC+8), the day the county's staff live in.
pub fn local_today(now: time::OffsetDateTime) -> time::Date {
    now.to_offset(time::macros::offset!(+8)).date()
}
