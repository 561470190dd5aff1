//! The generation of principal data: what a signed-in user or API token may do is read from
//! users, roles, role permissions, sessions, tokens and the institution tree. Processes keep
//! principals in memory (`ygt_app::principals`) and must drop them as soon as any of these
//! change; the store counts such changes here.
//!
//! A transaction that changes principal data says so ([`Tx::principals_changed`]); once it
//! commits, the generation of this process grows. On PostgreSQL the transaction also notifies
//! channel `ygt_principals` (delivered at commit, never for a rollback; the payload names the
//! store that sent it), and every process that keeps principals listens on that channel and
//! grows its generation on each notification of another store. While its listening connection is down a process must not trust what it
//! keeps ([`Store::principals_generation`] is then None); it drops everything when the
//! connection is back. SQLite is served by one process per database file (in production),
//! so the process's own count is all there is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::{Backend, Pool, Result, Sql, Store, Tx};

/// The PostgreSQL channel of principal changes.
pub const PRINCIPALS_CHANNEL: &str = "ygt_principals";

/// The generation of principal data as this process knows it.
pub(crate) struct Watch {
    /// Names this store in its notifications: it hears its own, and has counted them already.
    id: String,
    generation: AtomicU64,
    /// PostgreSQL: whether the listener is connected (changes of others are heard).
    listening: AtomicBool,
    /// PostgreSQL: whether the listener was started.
    started: AtomicBool,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            id: uuid::Uuid::now_v7().simple().to_string(),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }
}

impl Watch {
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a transaction changed that processes keep in memory.
pub struct Marks {
    watch: Arc<Watch>,
    principals: bool,
}

impl Marks {
    pub(crate) fn new(watch: Arc<Watch>) -> Self {
        Marks {
            watch,
            principals: false,
        }
    }

    /// After the commit: this process forgets what the transaction changed.
    pub(crate) fn committed(&self) {
        if self.principals {
            self.watch.bump();
        }
    }
}

impl Store {
    /// The generation of principal data: it grows whenever a committed transaction changed
    /// users, roles, permissions, sessions, tokens or the institution tree (of any process, on
    /// PostgreSQL). None when changes of other processes could go unheard (PostgreSQL, while
    /// the listener is not connected): nothing may be kept then. The first call on PostgreSQL
    /// starts the listener.
    pub fn principals_generation(&self) -> Option<u64> {
        let w = &self.watch;
        if self.backend() == Backend::Postgres {
            if !w.started.swap(true, Ordering::SeqCst) {
                spawn_listener(self.clone());
            }
            if !w.listening.load(Ordering::SeqCst) {
                return None;
            }
        }
        Some(w.generation.load(Ordering::SeqCst))
    }
}

impl Tx {
    /// Marks this transaction as changing principal data (see the module): once committed,
    /// every process drops the principals it keeps.
    pub async fn principals_changed(&mut self) -> Result<()> {
        if self.marks().principals {
            return Ok(());
        }
        self.marks_mut().principals = true;
        if self.backend() == Backend::Postgres {
            let me = self.marks().watch.id.clone();
            self.execute(
                Sql::new("SELECT pg_notify(?, ?)")
                    .arg(PRINCIPALS_CHANNEL)
                    .arg(me),
            )
            .await?;
        }
        Ok(())
    }
}

/// Listens for the principal changes of every process; reconnects after a second when the
/// connection drops (everything kept is dropped meanwhile). Ends when the pool is closed.
fn spawn_listener(store: Store) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        store.watch.started.store(false, Ordering::SeqCst);
        return;
    };
    rt.spawn(async move {
        let w = store.watch.clone();
        let closed = || match &store.pool {
            Pool::Postgres(p) => p.is_closed(),
            Pool::Sqlite(p) => p.is_closed(),
        };
        while !closed() {
            match store.listen(PRINCIPALS_CHANNEL).await {
                Ok(Some(mut l)) => {
                    // What was kept before may have missed changes: drop it.
                    w.bump();
                    w.listening.store(true, Ordering::SeqCst);
                    // Changes of this store were counted at their commit.
                    while let Ok(Some(from)) = l.try_recv().await {
                        if from != w.id {
                            w.bump();
                        }
                    }
                    w.listening.store(false, Ordering::SeqCst);
                    w.bump();
                    if !closed() {
                        tracing::warn!("principal changes: connection lost; reconnecting");
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    if closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "cannot listen for principal changes; retrying");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
