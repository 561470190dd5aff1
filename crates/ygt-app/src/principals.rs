//! Principals kept in memory: resolving a session or an API token reads the session, the
//! account, its roles, their permissions and the institution tree; a request that finds
//! them here reads nothing.
//!
//! Each kept principal carries the generation of principal data it was read under
//! (`Store::principals_generation`, see `ygt_store::watch`); any committed change of users,
//! roles, permissions, sessions, tokens or the institution tree, in this process or (on
//! PostgreSQL) another, makes every kept principal stale at once. Expiry (idle and absolute)
//! is checked on every request; a session that looks idle here is read again, since another
//! process may have seen it active. At most [`MAX_KEPT`] sessions and as many tokens are
//! kept; beyond that, stale ones are dropped, and when none is stale, all.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::access::Principal;
use crate::account::SessionInfo;

/// The most sessions (and, apart, tokens) kept.
pub const MAX_KEPT: usize = 10_000;

/// A kept session.
#[derive(Clone)]
pub(crate) struct KeptSession {
    pub generation: u64,
    pub info: SessionInfo,
    pub expires_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

/// A kept API token.
#[derive(Clone)]
pub(crate) struct KeptToken {
    pub generation: u64,
    pub principal: Principal,
    pub expires_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

trait Generation {
    fn generation(&self) -> u64;
}

impl Generation for KeptSession {
    fn generation(&self) -> u64 {
        self.generation
    }
}

impl Generation for KeptToken {
    fn generation(&self) -> u64 {
        self.generation
    }
}

/// Sessions and tokens by the hash of their secret.
#[derive(Default)]
pub(crate) struct Principals {
    sessions: Mutex<HashMap<String, KeptSession>>,
    tokens: Mutex<HashMap<String, KeptToken>>,
}

fn get<T: Generation + Clone>(
    m: &Mutex<HashMap<String, T>>,
    hash: &str,
    generation: u64,
) -> Option<T> {
    let mut m = m.lock().ok()?;
    match m.get(hash) {
        Some(k) if k.generation() == generation => Some(k.clone()),
        Some(_) => {
            m.remove(hash);
            None
        }
        None => None,
    }
}

fn put<T: Generation>(m: &Mutex<HashMap<String, T>>, hash: String, kept: T) {
    let Ok(mut m) = m.lock() else {
        return;
    };
    if m.len() >= MAX_KEPT && !m.contains_key(&hash) {
        let generation = kept.generation();
        m.retain(|_, k| k.generation() == generation);
        if m.len() >= MAX_KEPT {
            m.clear();
        }
    }
    m.insert(hash, kept);
}

impl Principals {
    /// The session kept under `hash`, if it was read under generation `generation`.
    pub fn session(&self, hash: &str, generation: u64) -> Option<KeptSession> {
        get(&self.sessions, hash, generation)
    }

    pub fn keep_session(&self, hash: String, kept: KeptSession) {
        put(&self.sessions, hash, kept);
    }

    /// The token kept under `hash`, if it was read under generation `generation`.
    pub fn token(&self, hash: &str, generation: u64) -> Option<KeptToken> {
        get(&self.tokens, hash, generation)
    }

    pub fn keep_token(&self, hash: String, kept: KeptToken) {
        put(&self.tokens, hash, kept);
    }
}
