//! Property tests of the audit chain in `ygt_domain::audit`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use ygt_domain::audit::{
    AuditRecord, ChainProblem, ChainVerifier, GENESIS, HashAlg, Outcome, compute_hash, seal,
    truncate_to_micros,
};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z._]{1,12}",
        "\\PC{0,16}",
        "[张王李赵医院卫生]{1,6}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn opt_uuid() -> impl Strategy<Value = Option<Uuid>> {
    prop::option::of(any::<u128>().prop_map(Uuid::from_u128))
}

/// A record's content: everything but seq, prev_hash and hash.
fn content() -> impl Strategy<Value = AuditRecord> {
    (
        (
            any::<u128>(),
            0i64..4_000_000_000_000_000,
            opt_uuid(),
            text(),
            opt_uuid(),
            text(),
            text(),
        ),
        (
            opt_text(),
            opt_uuid(),
            opt_text(),
            prop::sample::select(Outcome::ALL),
            opt_text(),
            text(),
            opt_text(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (
                    id,
                    micros,
                    actor_user_id,
                    actor_name,
                    actor_institution_id,
                    action,
                    resource_type,
                ),
                (resource_id, resident_id, purpose, outcome, client_addr, request_id, detail, sm3),
            )| {
                let at = OffsetDateTime::UNIX_EPOCH + Duration::microseconds(micros);
                AuditRecord {
                    seq: 0,
                    id: Uuid::from_u128(id),
                    at: truncate_to_micros(at),
                    actor_user_id,
                    actor_name,
                    actor_institution_id,
                    action,
                    resource_type,
                    resource_id,
                    resident_id,
                    purpose,
                    outcome,
                    client_addr,
                    request_id,
                    detail,
                    alg: if sm3 { HashAlg::Sm3 } else { HashAlg::Sha256 },
                    prev_hash: String::new(),
                    hash: String::new(),
                }
            },
        )
}

/// Numbers, links and seals the records into a chain 1..=n.
fn link(mut records: Vec<AuditRecord>) -> Vec<AuditRecord> {
    let mut prev = GENESIS.to_owned();
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = i as i64 + 1;
        r.prev_hash = prev;
        seal(r);
        prev = r.hash.clone();
    }
    records
}

fn chain(max: usize) -> impl Strategy<Value = Vec<AuditRecord>> {
    prop::collection::vec(content(), 1..=max).prop_map(link)
}

fn head_of(c: &[AuditRecord]) -> Option<(i64, String)> {
    Some(
        c.last()
            .map_or((0, GENESIS.to_owned()), |r| (r.seq, r.hash.clone())),
    )
}

/// Verifies like a store would: every record in order, then the head. Returns the first error
/// `push` gave (if any) and what `finish` said after all records.
fn verify(
    c: &[AuditRecord],
    head: Option<(i64, String)>,
) -> (Option<ChainProblem>, Result<u64, ChainProblem>) {
    let mut v = ChainVerifier::new();
    let mut first = None;
    for r in c {
        if let Err(p) = v.push(r) {
            first.get_or_insert(p);
        }
    }
    (first, v.finish(head))
}

/// Changes one field (`field` 0..17, all but seq) of `r` to a different value.
fn modify(r: &mut AuditRecord, field: usize, variant: bool) {
    fn flip_opt_uuid(u: &mut Option<Uuid>, variant: bool) {
        *u = match *u {
            None => Some(Uuid::from_u128(7)),
            Some(_) if variant => None,
            Some(x) => Some(Uuid::from_u128(x.as_u128() ^ 1)),
        };
    }
    fn change_text(s: &mut String, variant: bool) {
        if variant && !s.is_empty() {
            s.pop();
        } else {
            s.push('x');
        }
    }
    fn change_opt_text(s: &mut Option<String>, variant: bool) {
        *s = match s.take() {
            None => Some(if variant { String::new() } else { "x".into() }),
            Some(_) if variant => None,
            Some(mut t) => {
                t.push('x');
                Some(t)
            }
        };
    }
    fn change_hex(s: &mut String) {
        let mut c: Vec<char> = s.chars().collect();
        c[0] = if c[0] == '0' { '1' } else { '0' };
        *s = c.into_iter().collect();
    }
    match field {
        0 => r.id = Uuid::from_u128(r.id.as_u128() ^ (1 << 100)),
        1 => {
            r.at += Duration::microseconds(if variant { 1 } else { -86_400_000_000 });
        }
        2 => flip_opt_uuid(&mut r.actor_user_id, variant),
        3 => change_text(&mut r.actor_name, variant),
        4 => flip_opt_uuid(&mut r.actor_institution_id, variant),
        5 => change_text(&mut r.action, variant),
        6 => change_text(&mut r.resource_type, variant),
        7 => change_opt_text(&mut r.resource_id, variant),
        8 => flip_opt_uuid(&mut r.resident_id, variant),
        9 => change_opt_text(&mut r.purpose, variant),
        10 => {
            let i = Outcome::ALL.iter().position(|o| *o == r.outcome).unwrap();
            r.outcome = Outcome::ALL[(i + if variant { 1 } else { 2 }) % Outcome::ALL.len()];
        }
        11 => change_opt_text(&mut r.client_addr, variant),
        12 => change_text(&mut r.request_id, variant),
        13 => change_opt_text(&mut r.detail, variant),
        14 => {
            r.alg = match r.alg {
                HashAlg::Sha256 => HashAlg::Sm3,
                HashAlg::Sm3 => HashAlg::Sha256,
            }
        }
        15 => change_hex(&mut r.prev_hash),
        _ => change_hex(&mut r.hash),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn untouched_chain_verifies(c in chain(50)) {
        let (first, result) = verify(&c, head_of(&c));
        prop_assert_eq!(first, None);
        prop_assert_eq!(result, Ok(c.len() as u64));
        for r in &c {
            prop_assert_eq!(compute_hash(r), r.hash.clone());
        }
    }

    #[test]
    fn any_single_field_change_is_modified_at_its_seq(
        c in chain(50),
        at in any::<prop::sample::Index>(),
        field in 0usize..17,
        variant in any::<bool>(),
    ) {
        let head = head_of(&c);
        let k = at.index(c.len());
        let mut t = c.clone();
        modify(&mut t[k], field, variant);
        prop_assume!(t[k] != c[k]);
        let expected = ChainProblem::Modified { seq: k as i64 + 1 };
        let (first, result) = verify(&t, head);
        prop_assert_eq!(first, Some(expected.clone()));
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn changed_seq_is_caught_at_the_first_affected_seq(
        c in chain(50),
        at in any::<prop::sample::Index>(),
        new_seq in -3i64..60,
    ) {
        let head = head_of(&c);
        let k = at.index(c.len()) as i64 + 1;
        prop_assume!(new_seq != k);
        let mut t = c.clone();
        t[k as usize - 1].seq = new_seq;
        t.sort_by_key(|r| r.seq); // stable, as the store reads them
        let (first, result) = verify(&t, head);
        let p = result.unwrap_err();
        prop_assert_eq!(p.seq(), k.min(new_seq), "{:?}", p);
        if let Some(f) = first {
            prop_assert_eq!(f, p);
        }
    }

    #[test]
    fn deleting_any_record_is_detected(c in chain(50), at in any::<prop::sample::Index>()) {
        let n = c.len() as i64;
        let head = head_of(&c);
        let i = at.index(c.len());
        let k = i as i64 + 1;
        let mut t = c.clone();
        t.remove(i);
        let (first, result) = verify(&t, head);
        if k == n {
            prop_assert_eq!(first, None);
            prop_assert_eq!(result, Err(ChainProblem::HeadMismatch { head_seq: n, last_seq: n - 1 }));
        } else {
            let expected = ChainProblem::Deleted { after_seq: k - 1, missing_from: k, missing_to: k };
            prop_assert_eq!(first, Some(expected.clone()));
            prop_assert_eq!(result, Err(expected));
        }
    }

    #[test]
    fn deleting_a_run_is_detected(
        c in chain(50),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let n = c.len() as i64;
        let (i, j) = {
            let (x, y) = (a.index(c.len()), b.index(c.len()));
            (x.min(y), x.max(y))
        };
        let mut t = c.clone();
        t.drain(i..=j);
        let (from, to) = (i as i64 + 1, j as i64 + 1);
        let (_, result) = verify(&t, head_of(&c));
        let expected = if to == n {
            ChainProblem::HeadMismatch { head_seq: n, last_seq: from - 1 }
        } else {
            ChainProblem::Deleted { after_seq: from - 1, missing_from: from, missing_to: to }
        };
        prop_assert_eq!(result, Err(expected));
    }

    #[test]
    fn swapping_adjacent_contents_is_detected_at_the_first(
        c in chain(50),
        at in any::<prop::sample::Index>(),
    ) {
        prop_assume!(c.len() >= 2);
        let i = at.index(c.len() - 1);
        let mut t = c.clone();
        t.swap(i, i + 1);
        // The rows keep their places (seq); everything else moved.
        t[i].seq = i as i64 + 1;
        t[i + 1].seq = i as i64 + 2;
        let expected = ChainProblem::Modified { seq: i as i64 + 1 };
        let (first, result) = verify(&t, head_of(&c));
        prop_assert_eq!(first, Some(expected.clone()));
        prop_assert_eq!(result, Err(expected));

        // Swapping only the seq numbers (then reading in seq order) is the same.
        let mut t = c.clone();
        t[i].seq += 1;
        t[i + 1].seq -= 1;
        t.sort_by_key(|r| r.seq);
        let (_, result) = verify(&t, head_of(&c));
        prop_assert_eq!(result, Err(ChainProblem::Modified { seq: i as i64 + 1 }));
    }

    #[test]
    fn inserting_with_renumbering_is_inserted(
        c in chain(30),
        at in any::<prop::sample::Index>(),
        extra in content(),
        reseal in any::<bool>(),
    ) {
        // A forged, well-sealed record at seq k chained to k-1; the originals from k on are
        // renumbered (and perhaps re-sealed, links untouched).
        let i = at.index(c.len());
        let k = i as i64 + 1;
        let mut x = extra;
        x.seq = k;
        x.prev_hash = if i == 0 { GENESIS.to_owned() } else { c[i - 1].hash.clone() };
        seal(&mut x);
        let mut t: Vec<AuditRecord> = c[..i].to_vec();
        t.push(x);
        for r in &c[i..] {
            let mut r = r.clone();
            r.seq += 1;
            if reseal {
                seal(&mut r);
            }
            t.push(r);
        }
        let head = head_of(&t);
        let (first, result) = verify(&t, head);
        prop_assert_eq!(first, Some(ChainProblem::Inserted { seq: k }));
        prop_assert_eq!(result, Err(ChainProblem::Inserted { seq: k }));
    }

    #[test]
    fn appending_past_the_head_is_inserted(c in chain(30), extra in content()) {
        let n = c.len() as i64;
        let head = head_of(&c);
        let mut x = extra;
        x.seq = n + 1;
        x.prev_hash = c[c.len() - 1].hash.clone();
        seal(&mut x);
        let mut t = c.clone();
        t.push(x);
        let (first, result) = verify(&t, head);
        prop_assert_eq!(first, None);
        prop_assert_eq!(result, Err(ChainProblem::Inserted { seq: n + 1 }));
    }

    #[test]
    fn canonical_hash_ignores_sub_microseconds(r in content(), nanos in 0i64..1000) {
        let mut a = r.clone();
        a.seq = 1;
        a.prev_hash = GENESIS.to_owned();
        let mut b = a.clone();
        b.at += Duration::nanoseconds(nanos);
        prop_assert_eq!(compute_hash(&a), compute_hash(&b));
    }
}
