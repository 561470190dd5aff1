//! Run with YGT_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
//! to exercise PostgreSQL too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::{Connection, PgConnection, SqliteConnection};
use ygt_testkit::{Backend, TestDb, both_backends, each_backend};

#[test]
fn sqlite_db_lives_in_a_temp_dir_removed_on_drop() {
    let db = TestDb::sqlite();
    assert_eq!(db.backend, Backend::Sqlite);
    let path = db.sqlite_path().unwrap();
    assert!(path.is_file(), "{} missing", path.display());
    assert!(path.ends_with("ygt.db"));
    assert_eq!(db.url, format!("sqlite://{}", path.display()));
    let dir = db.dir().unwrap().to_owned();
    assert_eq!(path.parent(), Some(dir.as_path()));

    let other = TestDb::sqlite();
    assert_ne!(other.url, db.url);

    drop(db);
    assert!(!dir.exists(), "{} not removed", dir.display());
}

#[tokio::test]
async fn sqlite_url_is_usable_by_sqlx() {
    let db = TestDb::sqlite();
    let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("CREATE TABLE t (x INTEGER)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn postgres_db_exists_while_alive_and_is_dropped() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    assert_eq!(db.backend, Backend::Postgres);
    let name = db.pg_database().unwrap().to_owned();
    assert!(name.starts_with("ygt_t_"), "{name}");
    assert!(db.url.ends_with(&format!("/{name}")), "{}", db.url);

    let admin_url = std::env::var("YGT_TEST_DATABASE_URL").unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    assert!(database_exists(&mut admin, &name).await);

    // The URL points at the new database. Keep the connection open across
    // the drop: DROP DATABASE ... WITH (FORCE) must still succeed.
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(current, name);

    drop(db);
    assert!(
        !database_exists(&mut admin, &name).await,
        "{name} not dropped"
    );
    drop(conn);
    admin.close().await.unwrap();
}

/// A scenario that works on either backend.
async fn create_insert_select(db: TestDb) {
    let n: i64 = match db.backend {
        Backend::Sqlite => {
            let mut c = SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("CREATE TABLE t (x BIGINT)")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query("INSERT INTO t VALUES (1), (2)")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT SUM(x) FROM t")
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Postgres => {
            let mut c = PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("CREATE TABLE t (x BIGINT)")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query("INSERT INTO t VALUES (1), (2)")
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT SUM(x)::BIGINT FROM t")
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    };
    assert_eq!(n, 3, "on {}", db.backend);
}

both_backends!(scenario_runs, create_insert_select);

#[tokio::test]
async fn each_backend_runs_sqlite_then_postgres() {
    let seen = std::sync::Mutex::new(Vec::new());
    each_backend(|db| {
        seen.lock().unwrap().push(db.backend);
        create_insert_select(db)
    })
    .await;
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&Backend::Sqlite));
    let postgres_available = TestDb::postgres().await.is_some();
    if postgres_available {
        assert_eq!(seen, vec![Backend::Sqlite, Backend::Postgres]);
    } else {
        assert_eq!(seen, vec![Backend::Sqlite]);
    }
}
