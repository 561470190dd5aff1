//! Throwaway test databases.
//!
//! ```ignore
//! use ygt_testkit::{TestDb, both_backends};
//!
//! async fn creates_patient(db: TestDb) {
//!     let store = ygt_store::Store::connect(&db.url).await.unwrap();
//!     // ...
//! }
//!
//! // Expands into the tests `creates_patient_sqlite` and `creates_patient_postgres`.
//! both_backends!(creates_patient, creates_patient);
//! ```

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::{fresh_temp_dir, under_ci};

/// Environment variable holding the URL of an administrative connection to a
/// PostgreSQL server, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_ENV: &str = "YGT_TEST_DATABASE_URL";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database engine a [`TestDb`] lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A fresh, empty database that is destroyed when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL of the database (`sqlite:///tmp/.../ygt.db` or
    /// `postgres://.../ygt_t_<hex>`).
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Directory holding the SQLite file; removed on drop.
    Dir(PathBuf),
    /// Database to drop through the admin URL.
    PgDatabase { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh temp dir containing an (empty) SQLite database file
    /// `ygt.db`; url `sqlite://<dir>/ygt.db`. The dir is removed on drop.
    pub fn sqlite() -> TestDb {
        let dir = fresh_temp_dir("ygt-testdb");
        let file = dir.join("ygt.db");
        // An empty file is a valid, empty SQLite database, so the URL works
        // whether or not the caller asks sqlx to create missing files.
        std::fs::File::create(&file)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", file.display()));
        TestDb {
            url: format!("sqlite://{}", file.display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// Creates a database `ygt_t_<random hex>` on the server named by
    /// `YGT_TEST_DATABASE_URL`; the database is dropped (`WITH (FORCE)`) on
    /// drop.
    ///
    /// If the variable is unset or the server is unreachable, returns `None`
    /// after printing "skipping PostgreSQL test: ..." — or panics when `CI` is
    /// set, since CI must not skip these tests.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = match std::env::var(POSTGRES_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => return skip_postgres(&format!("{POSTGRES_URL_ENV} is not set")),
        };
        let mut conn = match connect(&admin_url).await {
            Ok(conn) => conn,
            Err(e) => {
                return skip_postgres(&format!(
                    "cannot connect to {} ({POSTGRES_URL_ENV}): {e}",
                    redact(&admin_url)
                ));
            }
        };
        let name = format!("ygt_t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
        let _ = conn.close().await;
        Some(TestDb {
            url: with_database(&admin_url, &name),
            backend: Backend::Postgres,
            cleanup: Cleanup::PgDatabase { admin_url, name },
        })
    }

    /// The SQLite database file, for [`Backend::Sqlite`].
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.cleanup {
            Cleanup::Dir(dir) => Some(dir.join("ygt.db")),
            Cleanup::PgDatabase { .. } => None,
        }
    }

    /// The temp dir holding the SQLite file (removed on drop), for
    /// [`Backend::Sqlite`]. Tests may put other scratch files there.
    pub fn dir(&self) -> Option<&Path> {
        match &self.cleanup {
            Cleanup::Dir(dir) => Some(dir),
            Cleanup::PgDatabase { .. } => None,
        }
    }

    /// The PostgreSQL database name, for [`Backend::Postgres`].
    pub fn pg_database(&self) -> Option<&str> {
        match &self.cleanup {
            Cleanup::Dir(_) => None,
            Cleanup::PgDatabase { name, .. } => Some(name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                if let Err(e) = std::fs::remove_dir_all(dir)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    eprintln!("ygt-testkit: cannot remove {}: {e}", dir.display());
                }
            }
            Cleanup::PgDatabase { admin_url, name } => {
                let admin_url = admin_url.clone();
                let name = name.clone();
                // Drop is sync and may run inside a tokio runtime: do the
                // async work on a separate thread with its own runtime.
                let handle = std::thread::spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt,
                        Err(e) => {
                            eprintln!("ygt-testkit: cannot drop database {name}: runtime: {e}");
                            return;
                        }
                    };
                    rt.block_on(async {
                        let result = async {
                            let mut conn = connect(&admin_url).await?;
                            conn.execute(AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            )))
                            .await?;
                            conn.close().await
                        }
                        .await;
                        if let Err(e) = result {
                            eprintln!("ygt-testkit: cannot drop database {name}: {e}");
                        }
                    });
                });
                if handle.join().is_err() {
                    eprintln!("ygt-testkit: thread dropping the test database panicked");
                }
            }
        }
    }
}

async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(r) => r,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connecting timed out after {CONNECT_TIMEOUT:?}"),
        ))),
    }
}

fn skip_postgres(reason: &str) -> Option<TestDb> {
    if under_ci() {
        panic!("PostgreSQL tests must not be skipped under CI: {reason}");
    }
    eprintln!("skipping PostgreSQL test: {reason}");
    None
}

/// Replaces the database (path) part of a `postgres://` URL, keeping any
/// query string.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

/// Hides a password in a URL for messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl TestDb {
    /// The number of rows of each table (in order), for tests that assert that a refused
    /// request or file stored nothing, or exactly what it should have.
    pub async fn row_counts(&self, tables: &[&str]) -> Vec<i64> {
        row_counts(&self.url, tables).await
    }
}

/// The number of rows of each table of the database at `url` (`sqlite://…` or
/// `postgres://…`).
pub async fn row_counts(url: &str, tables: &[&str]) -> Vec<i64> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        assert!(
            !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "not a table name: {t:?}"
        );
    }
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        for t in tables {
            let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("counting {t}: {e}"));
            out.push(n);
        }
        let _ = conn.close().await;
    } else {
        let mut conn = connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", redact(url)));
        for t in tables {
            let (n,): (i64,) = sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("counting {t}: {e}"));
            out.push(n);
        }
        let _ = conn.close().await;
    }
    out
}

/// Runs `f` on a fresh SQLite database, then on a fresh PostgreSQL database
/// when one is available (see [`TestDb::postgres`]).
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    f(TestDb::sqlite()).await;
    if let Some(db) = TestDb::postgres().await {
        f(db).await;
    }
}

/// Defines two tests, `<name>_sqlite` and `<name>_postgres`, each running
/// `scenario(TestDb)` (an `async fn(TestDb)`) on a fresh database of that
/// backend. The PostgreSQL test passes without running the scenario when
/// PostgreSQL is not available outside CI (see [`TestDb::postgres`]).
///
/// Each test runs on its own multi-thread tokio runtime, so the calling crate
/// does not need tokio's `macros` feature.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $scenario:path $(,)?) => {
        $crate::__private::paste! {
            #[test]
            fn [<$name _sqlite>]() {
                $crate::__private::block_on(async {
                    $scenario($crate::TestDb::sqlite()).await;
                });
            }

            #[test]
            fn [<$name _postgres>]() {
                $crate::__private::block_on(async {
                    if let Some(db) = $crate::TestDb::postgres().await {
                        $scenario(db).await;
                    }
                });
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_in_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn redacts_password() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
