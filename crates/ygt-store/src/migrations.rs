//! Migrations per backend, embedded in the binary.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::Backend;

/// (version, description, SQLite script, PostgreSQL script). Append only; never edit a released one.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "organisation registry",
        include_str!("../migrations/sqlite/0001_org.sql"),
        include_str!("../migrations/postgres/0001_org.sql"),
    ),
    (
        2,
        "identity, access control and audit log",
        include_str!("../migrations/sqlite/0002_access.sql"),
        include_str!("../migrations/postgres/0002_access.sql"),
    ),
    (
        3,
        "master patient index",
        include_str!("../migrations/sqlite/0003_mpi.sql"),
        include_str!("../migrations/postgres/0003_mpi.sql"),
    ),
    (
        4,
        "blocking keys as hashes",
        include_str!("../migrations/sqlite/0004_blocking_hashes.sql"),
        include_str!("../migrations/postgres/0004_blocking_hashes.sql"),
    ),
    (
        5,
        "shared health record",
        include_str!("../migrations/sqlite/0005_record.sql"),
        include_str!("../migrations/postgres/0005_record.sql"),
    ),
    (
        6,
        "resident details",
        include_str!("../migrations/sqlite/0006_resident_details.sql"),
        include_str!("../migrations/postgres/0006_resident_details.sql"),
    ),
    (
        8,
        "two-way referral",
        include_str!("../migrations/sqlite/0008_referral.sql"),
        include_str!("../migrations/postgres/0008_referral.sql"),
    ),
    (
        9,
        "document contents",
        include_str!("../migrations/sqlite/0009_document_content.sql"),
        include_str!("../migrations/postgres/0009_document_content.sql"),
    ),
    (
        12,
        "access grounds, source identity per institution, stewards",
        include_str!("../migrations/sqlite/0012_access_grounds.sql"),
        include_str!("../migrations/postgres/0012_access_grounds.sql"),
    ),
    (
        13,
        "sign-in throttling without lock-out, platform secrets",
        include_str!("../migrations/sqlite/0013_sign_in_throttle.sql"),
        include_str!("../migrations/postgres/0013_sign_in_throttle.sql"),
    ),
    (
        14,
        "search by pinyin initials",
        include_str!("../migrations/sqlite/0014_search_initials.sql"),
        include_str!("../migrations/postgres/0014_search_initials.sql"),
    ),
    (
        15,
        "location of booking resources",
        include_str!("../migrations/sqlite/0015_resource_location.sql"),
        include_str!("../migrations/postgres/0015_resource_location.sql"),
    ),
    (
        16,
        "notifications as catalogue messages",
        include_str!("../migrations/sqlite/0016_notification_messages.sql"),
        include_str!("../migrations/postgres/0016_notification_messages.sql"),
    ),
    (
        17,
        "audit inbox for read events",
        include_str!("../migrations/sqlite/0017_audit_inbox.sql"),
        include_str!("../migrations/postgres/0017_audit_inbox.sql"),
    ),
];

/// SQLite migrations that manage their own transaction (a table rebuild needs foreign keys off,
/// which SQLite cannot change inside a transaction).
const SQLITE_OWN_TRANSACTION: &[i64] = &[12];

pub(crate) fn migrator(backend: Backend) -> Migrator {
    let ms = MIGRATIONS
        .iter()
        .map(|(v, d, lite, pg)| {
            let sql: &'static str = match backend {
                Backend::Sqlite => lite,
                Backend::Postgres => pg,
            };
            Migration::new(
                *v,
                Cow::Borrowed(*d),
                MigrationType::Simple,
                sql.into_sql_str(),
                backend == Backend::Sqlite && SQLITE_OWN_TRANSACTION.contains(v),
            )
        })
        .collect();
    Migrator::with_migrations(ms)
}
