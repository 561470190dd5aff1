//! Test support for the ygt workspace, used only as a dev-dependency by
//! integration tests.
//!
//! * [`db`]: throwaway SQLite and PostgreSQL databases ([`TestDb`]) plus
//!   helpers to run one scenario on both backends ([`each_backend`],
//!   [`both_backends!`]).
//! * [`browser`]: a minimal W3C WebDriver client ([`Browser`], [`Element`])
//!   driving Debian's `chromedriver` + headless `chromium`.
//!
//! Setup failures panic: that is the right behaviour for a test helper.
//! Missing optional infrastructure (no PostgreSQL URL, no browser) makes the
//! constructors return `None` and print a "skipping ..." line, except when the
//! `CI` environment variable is set, where they panic instead so that CI never
//! silently skips these tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod db;

pub use browser::{Browser, BrowserError, CONTROL, Element, Window};
pub use db::{Backend, TestDb, each_backend, row_counts};

#[doc(hidden)]
pub mod __private {
    pub use pastey::paste;

    /// Runs `fut` to completion on a fresh multi-thread tokio runtime
    /// (used by [`both_backends!`](crate::both_backends)).
    pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("failed to build tokio runtime")
            .block_on(fut)
    }
}

/// True when the `CI` environment variable is set to a non-empty value.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Creates a fresh, uniquely named directory under the system temp dir.
pub fn fresh_temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create temp dir {}: {e}", dir.display()));
    dir
}

/// An 18-character resident ID number: `body` (17 digits) with its GB 11643 check character,
/// for test data that must be valid.
pub fn id_number(body: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let check = b"10X98765432"
        .get((sum % 11) as usize)
        .map_or('?', |b| char::from(*b));
    format!("{body}{check}")
}

#[cfg(test)]
mod id_tests {
    #[test]
    fn check_characters() {
        assert_eq!(super::id_number("34189019800101001"), "341890198001010010");
        assert_eq!(super::id_number("34189019500606006"), "341890195006060064");
        assert_eq!(super::id_number("34189020180315001"), "34189020180315001X");
    }
}
