//! The demo county's calendars and two-way referrals (ygt_synth::referrals), on both backends:
//! every state in both directions, bookings and reserved quotas, the plans' care tasks,
//! statistics that agree with the database, worklists of the walk-through accounts, and
//! determinism by seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use time::{Duration, OffsetDateTime, UtcOffset, Weekday};
use ygt_app::access::Principal;
use ygt_app::referral::WorklistQuery;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::referral::ReferralFilter;
use ygt_app::{Actor, App, Ctx};
use ygt_domain::referral::{ResourceKind, SlotAvailability, Status};
use ygt_synth::referrals::generate_referrals;
use ygt_synth::{DEMO_PASSWORD, Scale, generate, generate_residents};
use ygt_testkit::{TestDb, both_backends};

const SEED: u64 = 20_261_124;

async fn open(db: &TestDb) -> App {
    App::new(Store::open(&db.url).await.unwrap())
}

fn beijing() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).unwrap()
}

async fn signed_in(app: &App, name: &str) -> Ctx {
    let signed = app
        .sign_in(&Ctx::anonymous("t".into(), None), name, DEMO_PASSWORD, None)
        .await
        .unwrap();
    let p: Principal = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap()
        .principal;
    Ctx {
        actor: Actor::User(Box::new(p)),
        request_id: "t".into(),
        client_addr: None,
    }
}

async fn county(db: &TestDb, residents: usize) -> (App, ygt_synth::referrals::ReferralSummary) {
    let app = open(db).await;
    generate(&app, SEED, Scale::Small, &|_, _| {})
        .await
        .unwrap();
    generate_residents(&app, SEED, residents, &|_, _| {})
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let summary = generate_referrals(&app, SEED, Scale::Small, &|done, total| {
        assert!(done <= total, "{done} > {total}");
    })
    .await
    .unwrap();
    eprintln!(
        "{} referrals ({} skipped) and {} slots in {:.1} s",
        summary.referrals,
        summary.skipped,
        summary.slots,
        started.elapsed().as_secs_f64()
    );
    (app, summary)
}

async fn demo_referrals(db: TestDb) {
    let (app, summary) = county(&db, 2_000).await;
    let sys = Ctx::system();
    let store = app.store();
    let all = store
        .referrals(&ReferralFilter::default(), 10_000)
        .await
        .unwrap();
    assert_eq!(all.len(), summary.referrals);
    assert_eq!(
        summary.skipped, 0,
        "every planned referral found a resident"
    );
    assert!(
        (60..=120).contains(&all.len()),
        "{} referrals in the small demo",
        all.len()
    );

    // Every state, each a few times, and both directions.
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_direction: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &all {
        *by_status.entry(r.status.code()).or_default() += 1;
        *by_direction.entry(r.direction.code()).or_default() += 1;
    }
    for s in Status::ALL {
        let n = by_status.get(s.code()).copied().unwrap_or(0);
        assert!(n >= 3, "{s}: {n} of {by_status:?}");
    }
    assert!(by_direction["up"] >= 40, "{by_direction:?}");
    assert!(by_direction["down"] >= 20, "{by_direction:?}");
    let summed: i64 = summary.by_state.values().sum();
    assert_eq!(summed, all.len() as i64);
    for ((d, s), n) in &summary.by_state {
        assert_eq!(
            all.iter()
                .filter(|r| r.direction.code() == d && r.status.code() == s)
                .count() as i64,
            *n,
            "{d} {s}"
        );
    }
    // Both directions in the states of the loop.
    for s in [
        "submitted",
        "accepted",
        "completed",
        "rejected",
        "cancelled",
    ] {
        for d in ["up", "down"] {
            assert!(
                all.iter()
                    .any(|r| r.status.code() == s && r.direction.code() == d),
                "no {d} referral is {s}"
            );
        }
    }

    // Realistic content: ICD-10 diagnoses and reasons; rejections, redirections and
    // cancellations say why; completed ones carry the outcome; down-referrals the plan.
    for r in &all {
        assert!(r.diagnosis_code.is_some() && r.diagnosis_name.is_some());
        assert!(!r.reason.is_empty());
        if matches!(r.status.code(), "rejected" | "redirected" | "cancelled") {
            assert!(r.status_note.is_some(), "{} {}", r.number, r.status);
        }
        if r.status.code() == "completed" {
            assert!(r.outcome.is_some(), "{}", r.number);
        }
        if r.direction.code() == "down" {
            let plan: ygt_app::referral::Plan =
                serde_json::from_str(r.plan.as_deref().unwrap()).unwrap();
            assert!(!plan.follow_ups.is_empty() && !plan.medications.is_empty());
        }
        // The slip number carries the (local) date the referral was written.
        let day = r.created_at.to_offset(beijing()).date();
        let stamp = format!(
            "ZZ{:04}{:02}{:02}-",
            day.year(),
            u8::from(day.month()),
            day.day()
        );
        assert!(
            r.number.starts_with(&stamp),
            "{} {}",
            r.number,
            r.created_at
        );
    }
    let numbers: BTreeSet<&str> = all.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers.len(), all.len());
    // The demo has a past: referrals written weeks ago, in more than one month.
    let now = OffsetDateTime::now_utc();
    assert!(all.iter().any(|r| now - r.created_at > Duration::days(20)));
    assert!(all.iter().all(|r| r.created_at <= now));

    // Down-referrals that were accepted handed their follow-ups over as care tasks, due after
    // the acceptance as the plan says.
    let accepted_down: Vec<_> = all
        .iter()
        .filter(|r| r.direction.code() == "down" && r.accepted_at.is_some())
        .collect();
    assert!(accepted_down.len() >= 8, "{}", accepted_down.len());
    for r in &accepted_down {
        let tasks = store.care_tasks(&[], false, Some(r.id), 100).await.unwrap();
        assert!(!tasks.is_empty(), "{} has no care tasks", r.number);
        let accepted = r.accepted_at.unwrap().to_offset(beijing()).date();
        for t in &tasks {
            let days = (t.due_on - accepted).whole_days();
            assert!(
                (6..=91).contains(&days),
                "{}: due {days} days after",
                r.number
            );
            assert_eq!(t.institution_id, r.to_institution_id);
        }
        if r.status.code() == "completed" {
            assert!(tasks.iter().any(|t| t.done_at.is_some()), "{}", r.number);
        }
    }

    // Calendars: CT, MRI, ultrasound, two specialist clinics (with their specialist), wards;
    // clinic hours in Beijing time; bookings and reserved free slots.
    let resources = app.booking_resources(&sys, None, None).await.unwrap();
    assert_eq!(resources.len(), summary.calendars);
    let kinds: BTreeSet<&str> = resources.iter().map(|r| r.kind.code()).collect();
    for k in ResourceKind::ALL {
        assert!(kinds.contains(k.code()), "no {k} calendar: {kinds:?}");
    }
    let clinics: Vec<_> = resources
        .iter()
        .filter(|r| r.kind.code() == "specialist_clinic")
        .collect();
    assert_eq!(clinics.len(), 2);
    assert!(clinics.iter().all(|c| c.staff_id.is_some()));
    assert_eq!(
        resources.iter().filter(|r| r.kind.code() == "bed").count(),
        3
    );
    let (mut booked, mut reserved_free, mut slots) = (0, 0, 0);
    for res in &resources {
        let all_slots = store
            .slots(
                res.id,
                now - Duration::days(1),
                now + Duration::days(30),
                false,
            )
            .await
            .unwrap();
        slots += all_slots.len();
        booked += all_slots.iter().filter(|s| s.referral_id.is_some()).count();
        for s in &all_slots {
            let t = s.starts_at.to_offset(beijing());
            let minutes = u16::from(t.hour()) * 60 + u16::from(t.minute());
            if res.kind.code() == "bed" {
                assert_eq!(minutes, 10 * 60);
            } else {
                assert!(
                    !matches!(t.weekday(), Weekday::Saturday | Weekday::Sunday),
                    "{} {t}",
                    res.name
                );
                let end = s.ends_at.to_offset(beijing());
                let end_min = u16::from(end.hour()) * 60 + u16::from(end.minute());
                let morning = (8 * 60..=11 * 60 + 30).contains(&minutes) && end_min <= 11 * 60 + 30;
                let afternoon = (14 * 60..=17 * 60).contains(&minutes) && end_min <= 17 * 60;
                assert!(morning || afternoon, "{} {t}–{end}", res.name);
            }
        }
        reserved_free += app
            .free_slots(&sys, res.id, 21)
            .await
            .unwrap()
            .iter()
            .filter(|(_, a)| *a == SlotAvailability::Reserved)
            .count();
    }
    assert_eq!(slots as u64, summary.slots);
    assert!(booked >= 5, "{booked} booked slots");
    assert!(reserved_free > 100, "{reserved_free} reserved free slots");
    // The scheduled referrals that booked a slot hold it; the booking is a real future time.
    for r in all.iter().filter(|r| r.status.code() == "scheduled") {
        let at = r
            .appointment_at
            .expect("a scheduled referral has an appointment");
        assert!(at > now, "{} {at}", r.number);
    }

    // Statistics count every referral that is not a draft.
    let stats = app
        .referral_stats(&sys, now - Duration::days(400), now + Duration::days(1))
        .await
        .unwrap();
    let not_drafts = all.iter().filter(|r| r.status.code() != "draft").count() as i64;
    assert_eq!(stats.total, not_drafts);
    assert_eq!(stats.rows.iter().map(|r| r.count).sum::<i64>(), not_drafts);
    assert!(
        stats
            .rows
            .iter()
            .any(|r| r.median_hours_to_acceptance.unwrap_or(0.0) > 0.1),
        "acceptance takes time"
    );

    // Overdue: a handful, on both sides.
    assert!(summary.overdue >= 4, "{} overdue", summary.overdue);

    // The walk-through accounts see work as soon as the demo starts.
    let list = |l: &str| WorklistQuery {
        list: l.into(),
        ..Default::default()
    };
    let village = signed_in(&app, "village").await;
    let out = app.worklist(&village, &list("outgoing")).await.unwrap();
    let statuses: BTreeSet<&str> = out.referrals.iter().map(|r| r.status.code()).collect();
    for s in ["draft", "submitted", "scheduled", "completed"] {
        assert!(
            statuses.contains(s),
            "village outgoing lacks {s}: {statuses:?}"
        );
    }
    let handover = app.worklist(&village, &list("handover")).await.unwrap();
    assert!(
        handover.referrals.len() >= 2,
        "{}",
        handover.referrals.len()
    );
    assert!(
        handover.referrals.iter().all(|r| r.to_staff_id.is_some()),
        "down-referrals to the village are addressed to its family doctor"
    );
    assert!(!app.care_task_list(&village, true).await.unwrap().is_empty());
    assert!(!app.inbox(&village, true).await.unwrap().is_empty());
    let doctor = signed_in(&app, "doctor").await;
    let incoming = app.worklist(&doctor, &list("incoming")).await.unwrap();
    let statuses: BTreeSet<&str> = incoming.referrals.iter().map(|r| r.status.code()).collect();
    for s in ["submitted", "accepted", "scheduled", "arrived"] {
        assert!(
            statuses.contains(s),
            "doctor incoming lacks {s}: {statuses:?}"
        );
    }
    let outgoing = app.worklist(&doctor, &list("outgoing")).await.unwrap();
    assert!(
        outgoing
            .referrals
            .iter()
            .any(|r| r.direction.code() == "down")
    );
    let coordinator = signed_in(&app, "referral").await;
    let overdue = app.worklist(&coordinator, &list("overdue")).await.unwrap();
    assert!(!overdue.referrals.is_empty());
    let counts = app.worklist_counts(&coordinator).await.unwrap();
    assert!(counts.incoming_waiting >= 3, "{counts:?}");
    let town = signed_in(&app, "township.doctor").await;
    assert!(
        !app.worklist(&town, &list("all"))
            .await
            .unwrap()
            .referrals
            .is_empty()
    );

    // Every count on the home page is the length of the list its link opens; an up-referral
    // waiting and a down-referral waiting for handover are never counted twice.
    for name in [
        "village",
        "township.doctor",
        "doctor",
        "referral",
        "steward",
    ] {
        let who = signed_in(&app, name).await;
        let c = app.worklist_counts(&who).await.unwrap();
        let mut seen = BTreeSet::new();
        for (list, mut q) in App::counted_lists() {
            q.limit = Some(200);
            let rows = app.worklist(&who, &q).await.unwrap().referrals;
            let n = match list {
                "outgoing" => c.outgoing_open,
                "incoming" => c.incoming_waiting,
                "overdue" => c.overdue,
                "drafts" => c.drafts,
                "returned" => c.returned,
                _ => c.handover,
            };
            assert_eq!(rows.len() as i64, n, "{name}: {list}");
            if list != "overdue" {
                for r in rows {
                    assert!(seen.insert(r.id), "{name}: {} counted twice", r.id);
                }
            }
        }
        // 「全部」 shows no one else's drafts, also to community-wide roles (who could not open
        // them).
        let own = who.principal().unwrap().patient_scope.clone();
        let all = WorklistQuery {
            list: "all".into(),
            limit: Some(200),
            ..Default::default()
        };
        for r in app.worklist(&who, &all).await.unwrap().referrals {
            assert!(
                r.status.code() != "draft" || own.contains(&r.from_institution_id),
                "{name} sees a draft of {}",
                r.from_institution_name
            );
        }
    }

    // Every slip number a message quotes is the number of its referral.
    for name in ["village", "doctor", "referral", "township.doctor"] {
        let who = signed_in(&app, name).await;
        for n in app.inbox(&who, false).await.unwrap() {
            let Some(rid) = n.referral_id else { continue };
            let r = app.store().referral(rid).await.unwrap().unwrap();
            let text = n.message.clone().unwrap_or_default();
            let quoted: Vec<&str> = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("ZZ") && w.len() > 10)
                .collect();
            for q in quoted {
                assert_eq!(q, r.number, "{name}: {text}");
            }
        }
    }

    // Referral messages go to those who act on referrals, not to the county hospital's
    // administrators, auditors, finance or pharmacy staff.
    for name in [
        "admin",
        "hospital.admin",
        "auditor",
        "finance",
        "pharmacist",
    ] {
        let who = signed_in(&app, name).await;
        assert!(
            app.inbox(&who, false).await.unwrap().is_empty(),
            "{name} was sent referral messages"
        );
    }
    let doctor = signed_in(&app, "doctor").await;
    assert!(!app.inbox(&doctor, false).await.unwrap().is_empty());

    // The generator signed out everywhere it signed in; the audit chain is intact.
    let report = app.verify_audit_chain().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
}
both_backends!(demo_referrals, demo_referrals);

/// What the referrals of a county say, without ids and times.
async fn fingerprint() -> Vec<String> {
    let db = TestDb::sqlite();
    let (app, _) = county(&db, 400).await;
    let all = app
        .store()
        .referrals(&ReferralFilter::default(), 10_000)
        .await
        .unwrap();
    let mut rows: Vec<String> = all
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}|{}|{}|{}|{:?}|{:?}",
                r.direction,
                r.status,
                r.urgency,
                r.person_name,
                r.from_institution_name,
                r.to_institution_name,
                r.diagnosis_code,
                r.to_staff_name
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_by_seed() {
    let (a, b) = tokio::join!(fingerprint(), fingerprint());
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, same referrals");
}
