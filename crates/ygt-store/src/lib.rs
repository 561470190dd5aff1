//! ygt-store: the one place where SQL lives.
//!
//! A [`Store`] is either an embedded SQLite database or a PostgreSQL server. All queries are
//! written once with the [`Sql`] builder in the portable subset of SQL both understand, and run
//! through the same methods; only the migrations differ per backend (native types on PostgreSQL:
//! UUID, TIMESTAMPTZ, DATE, BOOLEAN).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod access;
pub mod audit;
pub mod document;
mod migrations;
pub mod mpi;
pub mod org;
mod pgcopy;
pub mod record;
pub mod referral;
mod sql;
pub mod watch;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

pub use sql::{Arg, NullableCode, Sql};

tokio::task_local! {
    /// Statements sent to the database by the task running inside [`count_statements`].
    static STATEMENTS: std::cell::Cell<u64>;
}

/// Runs `f` and counts the statements it sends to the database (queries, `BEGIN`, `COMMIT`,
/// `ROLLBACK`, `COPY`), in this task only: work `f` spawns onto other tasks is not counted.
/// Outside such a scope counting costs one failed thread-local lookup per statement.
pub async fn count_statements<F: std::future::Future>(f: F) -> (F::Output, u64) {
    STATEMENTS
        .scope(std::cell::Cell::new(0), async move {
            let out = f.await;
            (out, STATEMENTS.with(std::cell::Cell::get))
        })
        .await
}

/// One more statement for the enclosing [`count_statements`], if any.
pub(crate) fn counted() {
    let _ = STATEMENTS.try_with(|c| c.set(c.get() + 1));
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; the string names the constraint or field.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The row was changed by someone else since it was read (optimistic concurrency).
    #[error("the record was changed by someone else (expected version {expected})")]
    VersionConflict { expected: i64 },
    /// A reference to a row that does not exist.
    #[error("a referenced record does not exist: {0}")]
    BadReference(String),
    #[error("the database URL is not valid: {0}")]
    BadUrl(String),
    /// Stored data that does not parse (should never happen; names the column).
    #[error("stored value of {0} is not valid")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A shared transaction failed as a whole (the first error, as text).
    #[error("the shared transaction failed: {0}")]
    Batch(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            // A stored value its row type does not accept (a code that no longer parses).
            sqlx::Error::ColumnDecode { index, .. } => StoreError::Corrupt(index.clone()),
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate(
                format!("{} {}", db.constraint().unwrap_or(""), db.message()),
            ),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::BadReference(
                format!("{} {}", db.constraint().unwrap_or(""), db.message()),
            ),
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A row type that decodes on both backends.
pub trait Row:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Row for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database of ygt. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// SQLite has one writer at a time: writers of this process wait their turn here, in
    /// order and woken at once, instead of polling the database lock (busy timeout).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The generation of principal data ([`watch`]).
    watch: std::sync::Arc<watch::Watch>,
}

/// Pool figures for monitoring.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

/// Copies the SQLite write-ahead log into the database file twice a second. PASSIVE never
/// blocks writers or readers; the log restarts from its beginning once it is fully copied, so
/// it stays small. Ends when the pool is closed or the runtime shuts down.
/// Pages of write-ahead log (4 KiB each) above which the checkpointer resets the log.
const WAL_RESET_PAGES: i64 = 8192;

/// The page cache of each SQLite connection, in KiB.
const SQLITE_CACHE_KIB: i64 = 8192;

fn spawn_checkpointer(pool: SqlitePool) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await
            {
                // Under steady writes a passive checkpoint never catches up with the log, which
                // then only grows: once it is large, restart it (a short wait for writers, every
                // few thousand pages instead of in every few dozen commits). The file is kept
                // (up to `journal_size_limit`) and written over: growing it again would make the
                // file system allocate and zero its blocks.
                Ok((_, log, _)) if log > WAL_RESET_PAGES => {
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&pool)
                        .await
                        && !pool.is_closed()
                    {
                        tracing::warn!(error = %e, "WAL reset failed");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if pool.is_closed() {
                        break;
                    }
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        }
    });
}

/// Keeps PostgreSQL's planner statistics fresh when the server runs without autovacuum (as
/// some installations do): without them a table that grew from empty keeps plans made for an
/// empty table, and registration slows from milliseconds to tens of milliseconds. Every ten
/// seconds, tables changed by more than autovacuum's own threshold (50 rows + 10 %) since
/// their last analysis are analysed. Does nothing when autovacuum is on.
fn spawn_statistics_keeper(pool: PgPool) {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    tokio::spawn(async move {
        let on: std::result::Result<(String,), _> =
            sqlx::query_as("SELECT current_setting('autovacuum')")
                .fetch_one(&pool)
                .await;
        if !matches!(on, Ok((ref v,)) if v == "off") {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            let stale: std::result::Result<Vec<(String,)>, _> = sqlx::query_as(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables \
                 WHERE n_mod_since_analyze > 50 + 0.1 * GREATEST(n_live_tup, 0)",
            )
            .fetch_all(&pool)
            .await;
            match stale {
                Ok(tables) => {
                    for (t,) in tables {
                        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {t}")))
                            .execute(&pool)
                            .await
                        {
                            tracing::warn!(error = %e, table = %t, "ANALYZE failed");
                        }
                    }
                }
                Err(e) => {
                    if pool.is_closed() {
                        break;
                    }
                    tracing::warn!(error = %e, "reading table statistics failed");
                }
            }
        }
    });
}

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> Result<Store> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(StoreError::BadUrl("sqlite URL has no path".into()));
            }
            let opts = SqliteConnectOptions::from_str(&format!("sqlite://{rest}"))
                .map_err(|e| StoreError::BadUrl(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Every commit reaches the disk before it is acknowledged (the WAL is synced on
                // commit), so an acknowledged HL7 message or form survives a power loss, not
                // only a killed process; group commit (MLLP, bulk imports) shares the fsync.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Checkpoints run in the background (below), not in whichever request's commit
                // happens to fill the log: that commit would wait for the database file's fsync.
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", "67108864")
                // 8 MiB of page cache per connection (the default 2 MiB makes every commit
                // read index pages back from the operating system).
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            spawn_checkpointer(pool.clone());
            Ok(Store {
                pool: Pool::Sqlite(pool),
                writer: Default::default(),
                watch: Default::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            spawn_statistics_keeper(pool.clone());
            Ok(Store {
                pool: Pool::Postgres(pool),
                writer: Default::default(),
                watch: Default::default(),
            })
        } else {
            Err(StoreError::BadUrl(
                "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
            ))
        }
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        let s = Store::connect(url).await?;
        s.migrate().await?;
        Ok(s)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<()> {
        let m = migrations::migrator(self.backend());
        match &self.pool {
            Pool::Sqlite(p) => m.run(p).await?,
            Pool::Postgres(p) => m.run(p).await?,
        }
        self.seed_role_permissions().await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        let _: (i64,) = self.fetch_one(Sql::new("SELECT CAST(1 AS BIGINT)")).await?;
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &self.pool {
            Pool::Sqlite(p) => PoolStats {
                size: p.size(),
                idle: p.num_idle(),
                max: p.options().get_max_connections(),
            },
            Pool::Postgres(p) => PoolStats {
                size: p.size(),
                idle: p.num_idle(),
                max: p.options().get_max_connections(),
            },
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => {
                // Leave a small log behind: copy it into the database file and truncate it.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await;
                p.close().await
            }
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Starts a transaction. Every write of ygt goes through one.
    pub async fn begin(&self) -> Result<Tx> {
        counted();
        Ok(match &self.pool {
            // IMMEDIATE takes the write lock at once: writers queue (busy timeout) instead of
            // failing when two transactions that read first both try to write.
            Pool::Sqlite(p) => {
                let turn = self.writer.clone().lock_owned().await;
                Tx::Sqlite(
                    p.begin_with("BEGIN IMMEDIATE").await?,
                    Some(turn),
                    watch::Marks::new(self.watch.clone()),
                )
            }
            Pool::Postgres(p) => {
                Tx::Postgres(p.begin().await?, watch::Marks::new(self.watch.clone()))
            }
        })
    }

    /// Starts a read-only transaction whose reads all see one consistent snapshot: on
    /// PostgreSQL `REPEATABLE READ READ ONLY`, on SQLite a deferred read transaction (in WAL
    /// mode its snapshot is taken at the first read and kept to the end). Takes no writer turn
    /// and blocks no writer.
    pub async fn snapshot(&self) -> Result<Tx> {
        counted();
        let marks = watch::Marks::new(self.watch.clone());
        Ok(match &self.pool {
            Pool::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN DEFERRED").await?, None, marks),
            Pool::Postgres(p) => Tx::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
                marks,
            ),
        })
    }

    /// Runs one statement in a transaction of its own (autocommit). On SQLite it waits for this
    /// process's writer turn, as [`Store::begin`] does, but holds it for that statement only.
    pub async fn execute_alone(&self, q: Sql) -> Result<u64> {
        match &self.pool {
            Pool::Sqlite(_) => {
                let _turn = self.writer.lock().await;
                self.conn().execute(q).await
            }
            Pool::Postgres(_) => self.conn().execute(q).await,
        }
    }

    fn conn(&self) -> Conn<'_> {
        match &self.pool {
            Pool::Sqlite(p) => Conn::SqlitePool(p),
            Pool::Postgres(p) => Conn::PgPool(p),
        }
    }

    pub async fn fetch_all<T: Row>(&self, q: Sql) -> Result<Vec<T>> {
        self.conn().fetch_all(q).await
    }

    pub async fn fetch_optional<T: Row>(&self, q: Sql) -> Result<Option<T>> {
        self.conn().fetch_optional(q).await
    }

    pub async fn fetch_one<T: Row>(&self, q: Sql) -> Result<T> {
        self.conn()
            .fetch_optional(q)
            .await?
            .ok_or(StoreError::NotFound)
    }
}

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    /// The transaction, this process's writer turn (released with it; None for a read-only
    /// snapshot), and what it changed that processes keep in memory.
    Sqlite(
        Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
        watch::Marks,
    ),
    Postgres(Transaction<'static, Postgres>, watch::Marks),
}

impl Tx {
    /// For a bulk write on SQLite: a page cache of `mib` MiB on this connection (the default
    /// is 2 MiB, which makes index inserts into a large table read the same pages over and
    /// over); `None` restores the default. Nothing on PostgreSQL (its cache is the server's).
    pub async fn bulk_cache(&mut self, mib: Option<u32>) -> Result<()> {
        if self.backend() == Backend::Sqlite {
            let kib = mib.map_or(SQLITE_CACHE_KIB, |m| i64::from(m) * 1024);
            self.execute(Sql::new(&format!("PRAGMA cache_size = -{kib}")))
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(..) => Backend::Postgres,
        }
    }

    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t, ..) => Conn::SqliteTx(t),
            Tx::Postgres(t, _) => Conn::PgTx(t),
        }
    }

    fn marks(&self) -> &watch::Marks {
        match self {
            Tx::Sqlite(_, _, m) | Tx::Postgres(_, m) => m,
        }
    }

    fn marks_mut(&mut self) -> &mut watch::Marks {
        match self {
            Tx::Sqlite(_, _, m) | Tx::Postgres(_, m) => m,
        }
    }

    /// Marks a point this transaction can roll back to (`SAVEPOINT`), so that several
    /// independent writes can share one commit and fail alone.
    pub async fn savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("SAVEPOINT ygt_part")).await?;
        Ok(())
    }

    /// Keeps what was written since [`Tx::savepoint`].
    pub async fn release_savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("RELEASE SAVEPOINT ygt_part")).await?;
        Ok(())
    }

    /// Undoes what was written since [`Tx::savepoint`]; the transaction goes on.
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.execute(Sql::new("ROLLBACK TO SAVEPOINT ygt_part"))
            .await?;
        self.execute(Sql::new("RELEASE SAVEPOINT ygt_part")).await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        counted();
        let marks = match self {
            Tx::Sqlite(t, _turn, m) => {
                t.commit().await?;
                m
            }
            Tx::Postgres(t, m) => {
                t.commit().await?;
                m
            }
        };
        marks.committed();
        Ok(())
    }

    pub async fn rollback(self) -> Result<()> {
        counted();
        match self {
            Tx::Sqlite(t, _turn, _) => t.rollback().await?,
            Tx::Postgres(t, _) => t.rollback().await?,
        }
        Ok(())
    }

    pub async fn fetch_all<T: Row>(&mut self, q: Sql) -> Result<Vec<T>> {
        self.conn().fetch_all(q).await
    }

    pub async fn fetch_optional<T: Row>(&mut self, q: Sql) -> Result<Option<T>> {
        self.conn().fetch_optional(q).await
    }

    pub async fn fetch_one<T: Row>(&mut self, q: Sql) -> Result<T> {
        self.conn()
            .fetch_optional(q)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Runs a statement; returns the number of rows it affected.
    pub async fn execute(&mut self, q: Sql) -> Result<u64> {
        self.conn().execute(q).await
    }
}

enum Conn<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteTx(&'a mut SqliteConnection),
    PgTx(&'a mut PgConnection),
}

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(v) => q.bind(v),
                Arg::I64(v) => q.bind(v),
                Arg::F64(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Uuid(v) => q.bind(v),
                Arg::Ts(v) => q.bind(v),
                Arg::Date(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
            };
        }
        q
    }};
}

macro_rules! dispatch_as {
    ($conn:expr, $q:expr, $T:ty, $method:ident) => {{
        counted();
        let (text, args) = $q.into_parts();
        match $conn {
            Conn::SqlitePool(p) => {
                bind_args!(
                    sqlx::query_as::<Sqlite, $T>(sqlx::AssertSqlSafe(text)),
                    args
                )
                .$method(p)
                .await
            }
            Conn::SqliteTx(c) => {
                bind_args!(
                    sqlx::query_as::<Sqlite, $T>(sqlx::AssertSqlSafe(text)),
                    args
                )
                .$method(&mut *c)
                .await
            }
            Conn::PgPool(p) => {
                bind_args!(
                    sqlx::query_as::<Postgres, $T>(sqlx::AssertSqlSafe(sql::to_postgres(&text))),
                    args
                )
                .$method(p)
                .await
            }
            Conn::PgTx(c) => {
                bind_args!(
                    sqlx::query_as::<Postgres, $T>(sqlx::AssertSqlSafe(sql::to_postgres(&text))),
                    args
                )
                .$method(&mut *c)
                .await
            }
        }
    }};
}

impl Conn<'_> {
    async fn fetch_all<T: Row>(self, q: Sql) -> Result<Vec<T>> {
        Ok(dispatch_as!(self, q, T, fetch_all)?)
    }

    async fn fetch_optional<T: Row>(self, q: Sql) -> Result<Option<T>> {
        Ok(dispatch_as!(self, q, T, fetch_optional)?)
    }

    async fn execute(self, q: Sql) -> Result<u64> {
        counted();
        let (text, args) = q.into_parts();
        Ok(match self {
            Conn::SqlitePool(p) => {
                bind_args!(sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(text)), args)
                    .execute(p)
                    .await?
                    .rows_affected()
            }
            Conn::SqliteTx(c) => bind_args!(sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(text)), args)
                .execute(&mut *c)
                .await?
                .rows_affected(),
            Conn::PgPool(p) => bind_args!(
                sqlx::query::<Postgres>(sqlx::AssertSqlSafe(sql::to_postgres(&text))),
                args
            )
            .execute(p)
            .await?
            .rows_affected(),
            Conn::PgTx(c) => bind_args!(
                sqlx::query::<Postgres>(sqlx::AssertSqlSafe(sql::to_postgres(&text))),
                args
            )
            .execute(&mut *c)
            .await?
            .rows_affected(),
        })
    }
}
