//! The synthetic county, written through the use cases: its shape on both backends, refusal to
//! write into a non-empty database, and determinism by seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::org::{InstitutionFilter, StaffFilter};
use ygt_app::{App, Ctx};
use ygt_domain::ident::IdNumber;
use ygt_domain::org::{AllianceForm, InstitutionType, Tier};
use ygt_synth::{GenerateError, Scale, generate};
use ygt_testkit::{TestDb, both_backends};

const SEED: u64 = 20_260_101;

async fn open(db: &TestDb) -> App {
    App::new(Store::open(&db.url).await.unwrap())
}

fn everything() -> InstitutionFilter {
    InstitutionFilter {
        include_inactive: true,
        ..Default::default()
    }
}

fn all_staff() -> StaffFilter {
    StaffFilter {
        include_inactive: true,
        ..Default::default()
    }
}

/// Row counts of every registry table (through the use cases).
async fn counts(app: &App, ctx: &Ctx) -> (i64, i64, usize, i64) {
    let (_, institutions) = app.list_institutions(ctx, &everything()).await.unwrap();
    let (_, staff) = app.list_staff(ctx, &all_staff()).await.unwrap();
    let communities = app.list_communities(ctx, true).await.unwrap().len();
    let beds = app.overview(ctx).await.unwrap().beds;
    (institutions, staff, communities, beds)
}

async fn small_county(db: TestDb) {
    let app = open(&db).await;
    let ctx = Ctx::system();
    let progress_calls = std::sync::atomic::AtomicU64::new(0);
    let summary = generate(&app, SEED, Scale::Small, &|done, total| {
        assert!(done <= total, "{done} > {total}");
        progress_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .await
    .unwrap();
    assert!(progress_calls.into_inner() > 0);

    // 51 institutions: 3 at county level, 8 township centres, 40 village clinics.
    let (insts, total) = app.list_institutions(&ctx, &everything()).await.unwrap();
    assert_eq!(total, 51);
    assert_eq!(insts.len(), 51);
    assert_eq!(summary.institutions, 51);
    assert!(insts.iter().all(|i| i.active));
    let mut by_kind: HashMap<InstitutionType, usize> = HashMap::new();
    for i in &insts {
        *by_kind.entry(i.kind).or_default() += 1;
    }
    assert_eq!(by_kind.len(), 5, "{by_kind:?}");
    assert_eq!(by_kind[&InstitutionType::CountyGeneralHospital], 1);
    assert_eq!(by_kind[&InstitutionType::TcmHospital], 1);
    assert_eq!(by_kind[&InstitutionType::MchHospital], 1);
    assert_eq!(by_kind[&InstitutionType::TownshipHealthCentre], 8);
    assert_eq!(by_kind[&InstitutionType::VillageClinic], 40);
    let names: BTreeSet<&str> = insts.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names.len(), 51, "institution names are unique");

    let by_id: HashMap<Uuid, _> = insts.iter().map(|i| (i.id, i)).collect();
    let hospital = insts
        .iter()
        .find(|i| i.kind == InstitutionType::CountyGeneralHospital)
        .unwrap();
    assert_eq!((hospital.tier, hospital.parent_id), (Tier::County, None));
    for i in &insts {
        match i.kind {
            InstitutionType::VillageClinic => {
                assert_eq!(i.tier, Tier::Village);
                let parent = by_id[&i.parent_id.expect("a village clinic has a parent")];
                assert_eq!(
                    parent.kind,
                    InstitutionType::TownshipHealthCentre,
                    "{}",
                    i.name
                );
            }
            InstitutionType::TownshipHealthCentre => {
                assert_eq!(i.tier, Tier::Township);
                assert_eq!(i.parent_id, Some(hospital.id), "{}", i.name);
                assert!(
                    i.aliases.iter().any(|a| a.contains("分院")),
                    "{} has no 分院 alias: {:?}",
                    i.name,
                    i.aliases
                );
                assert_eq!(i.children_count, 5, "{}", i.name);
            }
            _ => {
                assert_eq!(i.tier, Tier::County);
                assert_eq!(i.parent_id, None, "{}", i.name);
            }
        }
    }
    assert_eq!(hospital.children_count, 8);

    // About 300 staff, each with a valid ID number that agrees with the recorded sex.
    let (staff, staff_total) = app.list_staff(&ctx, &all_staff()).await.unwrap();
    assert!(
        (250..=400).contains(&staff_total),
        "{staff_total} staff in the small county"
    );
    assert_eq!(staff.len(), summary.staff);
    assert_eq!(usize::try_from(staff_total).unwrap(), summary.staff);
    let mut id_numbers = BTreeSet::new();
    for s in &staff {
        let raw = s
            .id_number
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no ID number", s.name));
        let id = IdNumber::parse("id_number", raw)
            .unwrap_or_else(|e| panic!("{} has an invalid ID number {raw}: {e}", s.name));
        assert_eq!(id.as_str(), raw, "stored in canonical form");
        assert_eq!(
            id.sex(),
            s.sex,
            "{}: sex differs from the ID number",
            s.name
        );
        assert!(id_numbers.insert(raw.to_owned()), "duplicate ID number");
        assert!(by_id.contains_key(&s.institution_id));
        assert!(s.active);
    }

    // One county medical community, led by the county hospital, with all 51 as members.
    let communities = app.list_communities(&ctx, true).await.unwrap();
    assert_eq!(communities.len(), 1);
    assert_eq!(summary.communities, 1);
    let c = &communities[0];
    assert_eq!(c.form, AllianceForm::CountyCommunity);
    assert_eq!(c.lead_institution_id, Some(hospital.id));
    assert_eq!(c.member_count, 51);
    let detail = app.community_detail(&ctx, c.id).await.unwrap();
    assert_eq!(detail.lead.as_ref().map(|l| l.id), Some(hospital.id));
    let members: BTreeSet<Uuid> = detail.members.iter().map(|m| m.id).collect();
    let all: BTreeSet<Uuid> = insts.iter().map(|i| i.id).collect();
    assert_eq!(members, all);

    let o = app.overview(&ctx).await.unwrap();
    assert_eq!(
        (o.communities, o.county, o.township, o.village, o.staff),
        (1, 3, 8, 40, staff_total)
    );
    assert!(o.beds > 0);

    // A second run refuses to write into the now non-empty database, and adds nothing.
    let before = counts(&app, &ctx).await;
    let r = generate(&app, SEED, Scale::Small, &|_, _| {}).await;
    assert!(matches!(r, Err(GenerateError::NotEmpty)), "{r:?}");
    let r = generate(&app, SEED + 1, Scale::County, &|_, _| {}).await;
    assert!(matches!(r, Err(GenerateError::NotEmpty)), "{r:?}");
    assert_eq!(counts(&app, &ctx).await, before);
}
both_backends!(small_county, small_county);

/// Everything a generated county says about its institutions and staff, by name, in order.
async fn snapshot(seed: u64) -> (Vec<String>, Vec<String>, Vec<String>) {
    let db = TestDb::sqlite();
    let app = open(&db).await;
    let ctx = Ctx::system();
    generate(&app, seed, Scale::Small, &|_, _| {})
        .await
        .unwrap();
    let (insts, _) = app.list_institutions(&ctx, &everything()).await.unwrap();
    let (staff, _) = app.list_staff(&ctx, &all_staff()).await.unwrap();
    let mut institution_names: Vec<String> = insts.iter().map(|i| i.name.clone()).collect();
    institution_names.sort();
    let mut staff_names: Vec<String> = staff.iter().map(|s| s.name.clone()).collect();
    staff_names.sort();
    // Every generated field but the ids and timestamps, to catch drift beyond the names.
    let mut staff_rows: Vec<String> = staff
        .iter()
        .map(|s| {
            format!(
                "{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}",
                s.name,
                s.sex,
                s.title.code(),
                s.institution_name,
                s.department_name,
                s.licence_number,
                s.id_number,
                s.phone
            )
        })
        .collect();
    staff_rows.sort();
    (institution_names, staff_names, staff_rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn deterministic_by_seed() {
    let (a, b, c) = tokio::join!(snapshot(SEED), snapshot(SEED), snapshot(SEED + 1));
    assert_eq!(a.0.len(), 51);
    assert_eq!(a.0, b.0, "same seed, same institution names");
    assert_eq!(a.1, b.1, "same seed, same staff names");
    assert_eq!(a.2, b.2, "same seed, same staff");
    assert_ne!(a.1, c.1, "another seed, other staff names");
}
