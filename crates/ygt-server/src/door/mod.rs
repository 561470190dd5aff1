//! The shared door: what every capability uses to meet a request, and that never imports a
//! capability. Sessions, API tokens and CSRF ([`auth`]), the one mapping of errors to HTTP
//! ([`error`]: a page, a JSON problem or a FHIR OperationOutcome, and the refusal page of a
//! resident with its break-glass offer, [`refusal`]), extractors ([`extract`]), languages and
//! the message catalogue ([`i18n`]), the page layout ([`layout`]), the JSON API's paging and
//! concurrency ([`api`]), FHIR plumbing ([`fhir`]), static files ([`assets`]), metrics
//! ([`metrics`]) and trusted proxies ([`proxy`]).
//!
//! The rule, checked by the tests below: no file of the door names a capability module
//! (`org`, `mpi`, `record`, `referral`, `admin`) nor the top-level modules that compose them
//! (`home`, `fhir`, `openapi`) through `crate::`; and a capability names another only through
//! an edge listed, with its reason, in `ALLOWED`.

pub mod api;
pub mod assets;
pub mod auth;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod i18n;
pub mod layout;
pub mod metrics;
pub mod proxy;
pub mod refusal;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The capability modules, and the top-level modules that compose them.
    const CAPABILITIES: [&str; 5] = ["org", "mpi", "record", "referral", "admin"];
    const COMPOSERS: [&str; 3] = ["home", "fhir", "openapi"];

    /// The imports allowed between capabilities, each with its reason. Keep it short: a piece
    /// two capabilities need belongs in the door.
    const ALLOWED: [(&str, &str, &str); 2] = [
        (
            "record",
            "mpi",
            "the record's JSON API shows the resident as the MPI's API does (mpi::api::PersonOut)",
        ),
        (
            "referral",
            "record",
            "a referral's JSON shows its attached items as the record's API does (record::api::ItemOut)",
        ),
    ];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The top-level modules a source names through `crate::`, alone or in a `{…}` group.
    fn crate_modules(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, _) in src.match_indices("crate::") {
            let rest = &src[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|n| n.trim())
                    .collect(),
                None => vec![rest],
            };
            for n in names {
                let name: String = n
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
        out
    }

    fn src_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    #[test]
    fn the_door_never_imports_a_capability() {
        let mut files = Vec::new();
        rust_files(&src_dir().join("door"), &mut files);
        assert!(files.len() >= 10, "the door's files are not where expected");
        let mut bad = Vec::new();
        for f in &files {
            let src = std::fs::read_to_string(f).unwrap();
            for m in crate_modules(&src) {
                if CAPABILITIES.contains(&m.as_str()) || COMPOSERS.contains(&m.as_str()) {
                    bad.push(format!("{} names crate::{m}", f.display()));
                }
            }
        }
        assert!(bad.is_empty(), "the door imports a capability: {bad:#?}");
    }

    #[test]
    fn capabilities_import_each_other_only_where_allowed() {
        let mut bad = Vec::new();
        for cap in CAPABILITIES {
            let mut files = Vec::new();
            rust_files(&src_dir().join(cap), &mut files);
            assert!(!files.is_empty(), "no files for the capability {cap}");
            for f in &files {
                let src = std::fs::read_to_string(f).unwrap();
                for m in crate_modules(&src) {
                    let other = CAPABILITIES.contains(&m.as_str()) && m != cap;
                    let composer = COMPOSERS.contains(&m.as_str());
                    let allowed = ALLOWED.iter().any(|(a, b, _)| *a == cap && *b == m);
                    if (other && !allowed) || composer {
                        bad.push(format!("{} names crate::{m}", f.display()));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "a capability imports another one (move the shared piece into the door, or list the edge in ALLOWED with its reason): {bad:#?}"
        );
    }

    #[test]
    fn the_scan_sees_grouped_and_plain_imports() {
        // Built from pieces, so that this file does not name a capability itself.
        let src = format!(
            "use {c}::{{AppState, org}};\nuse {c}::mpi::api::X;",
            c = "crate"
        );
        let m = crate_modules(&src);
        assert_eq!(m, ["AppState", "org", "mpi"]);
    }
}
