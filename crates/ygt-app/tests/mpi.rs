//! The master patient index use cases, each scenario on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use uuid::Uuid;
use ygt_app::mpi::ResidentDraft;
use ygt_app::ygt_store::Store;
use ygt_app::{App, AppError, Ctx};
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

struct County {
    app: App,
    ctx: Ctx,
    hospital: Uuid,
    town: Uuid,
    village: Uuid,
}

async fn county(db: &TestDb) -> County {
    let app = App::new(Store::open(&db.url).await.unwrap());
    let ctx = Ctx::system();
    let mk = |name: &str, kind: &str, parent: Option<Uuid>, div: &str| InstitutionDraft {
        name: name.into(),
        kind: kind.into(),
        parent_id: parent.map(|p| p.to_string()),
        division_code: div.into(),
        ..Default::default()
    };
    let hospital = app
        .create_institution(
            &ctx,
            &mk("云溪县人民医院", "county_general_hospital", None, "341890"),
        )
        .await
        .unwrap()
        .id;
    let town = app
        .create_institution(
            &ctx,
            &mk(
                "柳河镇卫生院",
                "township_health_centre",
                Some(hospital),
                "341890100",
            ),
        )
        .await
        .unwrap()
        .id;
    let village = app
        .create_institution(
            &ctx,
            &mk(
                "柳河镇张庄村卫生室",
                "village_clinic",
                Some(town),
                "341890100200",
            ),
        )
        .await
        .unwrap()
        .id;
    County {
        app,
        ctx,
        hospital,
        town,
        village,
    }
}

fn merge_into(into: Uuid) -> ygt_app::mpi::MergeDraft {
    ygt_app::mpi::MergeDraft {
        into: into.to_string(),
        reason: "核对身份证件后确认为同一居民".into(),
        confirm: true,
    }
}

fn split_reason() -> ygt_app::mpi::SplitDraft {
    ygt_app::mpi::SplitDraft {
        reason: "身份证号不同，确认不是同一居民".into(),
        confirm: true,
    }
}

fn draft(
    inst: Uuid,
    name: &str,
    id: Option<&str>,
    birth: Option<&str>,
    phone: Option<&str>,
    address: Option<&str>,
) -> ResidentDraft {
    ResidentDraft {
        institution_id: inst.to_string(),
        name: name.into(),
        id_number: id.map(str::to_owned),
        birth_date: birth.map(str::to_owned),
        phone: phone.map(str::to_owned),
        address: address.map(str::to_owned),
        ..Default::default()
    }
}

/// Three registrations of one resident at village, township and county, each a little
/// different, become one person with three registrations.
async fn one_resident_three_institutions(db: TestDb) {
    let c = county(&db).await;
    let a = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "王秀英",
                Some("341890195507120029"),
                Some("1955-07-12"),
                Some("13955012345"),
                Some("安徽省临江市云溪县柳河镇张庄村三组15号"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(a.outcome, "new");
    let b = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.town,
                "王秀瑛",
                Some("341890195507120029"),
                None,
                Some("13955012345"),
                Some("柳河镇张庄村"),
            ),
        )
        .await
        .unwrap();
    assert_eq!(b.outcome, "linked", "homophone, same ID number");
    assert_eq!(b.person_id, a.person_id);
    let d = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.hospital,
                "王秀英",
                Some("341890550712002"),
                Some("1955-07-12"),
                Some("13800001111"),
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        d.person_id, a.person_id,
        "legacy 15-digit ID number of the same person"
    );
    let detail = c
        .app
        .person_detail(&c.ctx, a.person_id, "treatment")
        .await
        .unwrap();
    assert_eq!(detail.registrations.len(), 3);
    assert_eq!(detail.person.registrations, 3);
    assert_eq!(
        detail.person.name, "王秀英",
        "the spelling most registrations agree on"
    );
    let golden = c.app.store().person(a.person_id).await.unwrap().unwrap();
    assert_eq!(golden.id_number.as_deref(), Some("341890195507120029"));
    assert_eq!(
        detail.person.id_number.as_ref().map(|m| m.as_str()),
        Some("3418**********0029"),
        "masked by the use case"
    );
    assert_eq!(detail.person.sex, "2");
    assert_eq!(
        golden.phone.as_deref(),
        Some("13800001111"),
        "the most recent phone"
    );
    assert_eq!(
        detail.person.phone.as_ref().map(|m| m.as_str()),
        Some("138****1111")
    );

    // Search by characters, pinyin, ID number, phone.
    for q in ["王秀", "wangxiuying", "341890195507120029", "13955012345"] {
        let found = c.app.search_residents(&c.ctx, q, 10).await.unwrap();
        assert_eq!(found.len(), 1, "{q}");
        assert_eq!(found[0].person.id, a.person_id, "{q}");
    }
}
both_backends!(
    one_resident_three_institutions,
    one_resident_three_institutions
);

/// A search forgives what people get wrong at the desk: pinyin initials, a homophone, one
/// mistyped or two swapped digits of the ID number; and it pages with a total instead of
/// stopping silently.
async fn search_forgives_and_pages(db: TestDb) {
    let c = county(&db).await;
    let id = ygt_testkit::id_number("34189019800304002");
    let chen = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "陈海燕",
                Some(&id),
                None,
                None,
                Some("柳河镇张庄村"),
            ),
        )
        .await
        .unwrap()
        .person_id;
    let finds = |q: &'static str| {
        let c = &c;
        async move {
            c.app
                .search_residents(&c.ctx, q, 10)
                .await
                .unwrap()
                .iter()
                .any(|f| f.person.id == chen)
        }
    };
    for q in ["chy", "CHY", "陈海燕", "陈海艳", "chenhaiyan", "海燕"] {
        assert!(finds(q).await, "{q} finds 陈海燕");
    }
    for q in ["lhy", "陈海"] {
        let _ = finds(q).await; // partial searches may or may not; they never fail
    }
    assert!(!finds("wxy").await);
    // Registrations stored before initials were kept get them at start-up.
    let mut tx = c.app.store().begin().await.unwrap();
    tx.execute(ygt_app::ygt_store::Sql::new(
        "UPDATE registrations SET name_initials = ''",
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(!finds("chy").await);
    assert_eq!(c.app.ensure_search_initials().await.unwrap(), 1);
    assert!(finds("chy").await);
    assert_eq!(c.app.ensure_search_initials().await.unwrap(), 0);
    // One digit mistyped (check digit now wrong), two adjacent digits swapped, check digit.
    let typo = format!("{}9{}", &id[..10], &id[11..]);
    let swapped = format!("{}{}{}{}", &id[..12], &id[13..14], &id[12..13], &id[14..]);
    let check = format!("{}{}", &id[..17], if &id[17..] == "0" { "1" } else { "0" });
    for q in [&typo, &swapped, &check] {
        assert_ne!(q, &id);
        let found = c.app.search_residents(&c.ctx, q, 10).await.unwrap();
        assert!(found.iter().any(|f| f.person.id == chen), "{q} finds {id}");
    }
    // Two digits apart from each other wrong: another resident's number.
    let far = format!("{}7{}7{}", &id[..3], &id[4..12], &id[13..]);
    let found = c.app.search_residents(&c.ctx, &far, 10).await.unwrap();
    assert!(found.iter().all(|f| f.person.id != chen), "{far}");

    // Sixty residents named 王丽: pages of 25 with the total, each once.
    for i in 0..60 {
        let body = format!("3418901990{:02}{:02}00{}", 1 + i / 28, 1 + i % 28, i % 10);
        c.app
            .register_resident(
                &c.ctx,
                &draft(
                    c.town,
                    "王丽",
                    Some(&ygt_testkit::id_number(&body)),
                    None,
                    None,
                    Some(&format!("柳河镇王庄村{i}号")),
                ),
            )
            .await
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    for page in 0..3 {
        let (found, total) = c
            .app
            .search_residents_page(&c.ctx, "王丽", page * 25, 25)
            .await
            .unwrap();
        assert_eq!(total, 60);
        assert_eq!(found.len(), if page < 2 { 25 } else { 10 });
        for f in &found {
            assert!(seen.insert(f.person.id));
            assert_eq!(f.registered_at, vec!["柳河镇卫生院".to_owned()]);
        }
    }
    assert_eq!(seen.len(), 60);
}
both_backends!(search_forgives_and_pages, search_forgives_and_pages);

/// Twins share address, phone and birth date but not names and ID numbers: two persons.
/// A parent and a child sharing phone and address: two persons.
async fn households_stay_apart(db: TestDb) {
    let c = county(&db).await;
    let addr = Some("安徽省临江市云溪县柳河镇张庄村三组15号");
    let t1 = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "李子涵",
                Some("34189020180315001X"),
                Some("2018-03-15"),
                Some("13955012345"),
                addr,
            ),
        )
        .await
        .unwrap();
    let t2 = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "李子轩",
                Some("341890201803150036"),
                Some("2018-03-15"),
                Some("13955012345"),
                addr,
            ),
        )
        .await
        .unwrap();
    assert_ne!(t1.person_id, t2.person_id);
    let parent = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "李建国",
                None,
                Some("1985-06-01"),
                Some("13955012345"),
                addr,
            ),
        )
        .await
        .unwrap();
    assert_ne!(parent.person_id, t1.person_id);
    assert_ne!(parent.person_id, t2.person_id);
}
both_backends!(households_stay_apart, households_stay_apart);

/// An invalid ID number is kept as typed, flagged, and never used as an identifier.
async fn invalid_id_numbers_are_kept_but_not_trusted(db: TestDb) {
    let c = county(&db).await;
    let r = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.town,
                "张三",
                Some("341890195507120021"),
                Some("1955-07-12"),
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert!(!r.id_number_valid);
    let d = c
        .app
        .person_detail(&c.ctx, r.person_id, "treatment")
        .await
        .unwrap();
    let raw = c.app.store().registrations_of(r.person_id).await.unwrap();
    assert_eq!(raw[0].id_number_raw.as_deref(), Some("341890195507120021"));
    assert_eq!(raw[0].id_number, None);
    assert!(!d.registrations[0].id_number_valid);
    assert_eq!(
        d.registrations[0].id_number.as_ref().map(|m| m.as_str()),
        Some("34****"),
        "an invalid number is masked too"
    );
    assert_eq!(d.person.id_number, None);
    // Bad fields are refused with their names, nothing stored.
    let err = c
        .app
        .register_resident(
            &c.ctx,
            &draft(c.town, "", None, Some("2099-01-01"), Some("12345"), None),
        )
        .await
        .unwrap_err();
    match err {
        AppError::Invalid(e) => {
            let fields: Vec<&str> = e.0.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(fields, vec!["name", "birth_date", "phone"]);
        }
        other => panic!("{other:?}"),
    }
}
both_backends!(
    invalid_id_numbers_are_kept_but_not_trusted,
    invalid_id_numbers_are_kept_but_not_trusted
);

/// Ten registrations of one resident at once: each belongs to exactly one person, and they
/// all end up in the same one.
async fn concurrent_registrations_find_each_other(db: TestDb) {
    let c = county(&db).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let app = c.app.clone();
        let d = draft(
            if i % 2 == 0 { c.town } else { c.village },
            "赵丽",
            Some("341890198202020047"),
            Some("1982-02-02"),
            Some("13955099999"),
            None,
        );
        tasks.push(tokio::spawn(async move {
            app.register_resident(&Ctx::system(), &d).await.unwrap()
        }));
    }
    let mut persons = std::collections::BTreeSet::new();
    for t in tasks {
        persons.insert(t.await.unwrap().person_id);
    }
    assert_eq!(persons.len(), 1, "{persons:?}");
    let p = persons.into_iter().next().unwrap();
    assert_eq!(
        c.app
            .person_detail(&c.ctx, p, "treatment")
            .await
            .unwrap()
            .registrations
            .len(),
        10
    );
}
both_backends!(
    concurrent_registrations_find_each_other,
    concurrent_registrations_find_each_other
);

/// Merge, unmerge (remembered, so merging back is refused), and review decisions.
async fn merge_unmerge_and_review(db: TestDb) {
    let c = county(&db).await;
    let a = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.town,
                "孙桂兰",
                Some("341890194811110023"),
                None,
                None,
                None,
            ),
        )
        .await
        .unwrap();
    let b = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.hospital,
                "孙桂芝",
                Some("341890194811120045"),
                None,
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert_ne!(a.person_id, b.person_id);
    c.app
        .merge_persons(&c.ctx, b.person_id, &merge_into(a.person_id))
        .await
        .unwrap();
    let merged = c
        .app
        .person_detail(&c.ctx, a.person_id, "treatment")
        .await
        .unwrap();
    assert_eq!(merged.registrations.len(), 2);
    let old = c.app.store().person(b.person_id).await.unwrap().unwrap();
    assert!(!old.active);
    assert_eq!(old.merged_into, Some(a.person_id));
    assert!(merged.history.iter().any(|h| h.action == "merged"));

    let split = c
        .app
        .unmerge(&c.ctx, b.registration_id, &split_reason())
        .await
        .unwrap();
    let back = c
        .app
        .person_detail(&c.ctx, split, "treatment")
        .await
        .unwrap();
    assert_eq!(back.registrations.len(), 1);
    assert_eq!(
        c.app
            .person_detail(&c.ctx, a.person_id, "treatment")
            .await
            .unwrap()
            .registrations
            .len(),
        1
    );
    let err = c
        .app
        .merge_persons(&c.ctx, split, &merge_into(a.person_id))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Conflict { .. }),
        "the split is remembered: {err:?}"
    );

    // A task decided "same person" moves the registration; "not the same" is remembered.
    let x = c
        .app
        .register_resident(
            &c.ctx,
            &draft(c.village, "周明", None, Some("1970-01-01"), None, None),
        )
        .await
        .unwrap();
    let y = c
        .app
        .register_resident(
            &c.ctx,
            &draft(c.town, "周铭", None, Some("1970-01-01"), None, None),
        )
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let (t1, t2) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = c.app.store().begin().await.unwrap();
    tx.insert_task(t1, y.registration_id, x.person_id, 4.0, "{}", now)
        .await
        .unwrap();
    tx.insert_task(t2, b.registration_id, a.person_id, 1.0, "{}", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(c.app.review_queue(&c.ctx, 10).await.unwrap().len() >= 2);
    assert_eq!(c.app.confirm_match(&c.ctx, t1).await.unwrap(), x.person_id);
    assert_eq!(
        c.app
            .person_detail(&c.ctx, x.person_id, "treatment")
            .await
            .unwrap()
            .registrations
            .len(),
        2
    );
    assert!(
        matches!(
            c.app.confirm_match(&c.ctx, t1).await,
            Err(AppError::Conflict { .. })
        ),
        "decided once"
    );
    let err = c.app.confirm_match(&c.ctx, t2).await.unwrap_err();
    assert!(
        matches!(err, AppError::Conflict { .. }),
        "not-same memory blocks the link: {err:?}"
    );
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(merge_unmerge_and_review, merge_unmerge_and_review);

/// Bulk loading an initial index: linked by the batch engine in one transaction; refused once
/// the index has persons; later registrations match against what was loaded.
async fn bulk_load_then_match(db: TestDb) {
    let c = county(&db).await;
    let mut drafts = vec![
        draft(
            c.village,
            "王秀英",
            Some("341890195507120029"),
            Some("1955-07-12"),
            Some("13955012345"),
            None,
        ),
        draft(
            c.town,
            "王秀瑛",
            Some("341890195507120029"),
            None,
            Some("13955012345"),
            Some("柳河镇张庄村"),
        ),
        draft(
            c.hospital,
            "李子涵",
            Some("34189020180315001X"),
            Some("2018-03-15"),
            None,
            None,
        ),
        draft(
            c.town,
            "李子轩",
            Some("341890201803150036"),
            Some("2018-03-15"),
            None,
            None,
        ),
        draft(c.town, "", None, None, None, None),
    ];
    drafts.push(draft(
        c.hospital,
        "赵丽",
        Some("341890198202020047"),
        Some("1982-02-02"),
        None,
        None,
    ));
    let report = c
        .app
        .bulk_load_residents(&c.ctx, &drafts, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.registrations, 5);
    assert_eq!(report.persons, 4, "王秀英 twice, two twins, 赵丽");
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, 4);
    let found = c
        .app
        .search_residents(&c.ctx, "341890195507120029", 5)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].person.registrations, 2);
    let again = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.hospital,
                "王秀英",
                Some("341890195507120029"),
                None,
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, "linked");
    assert_eq!(again.person_id, found[0].person.id);
    // The blocking index is derived data: present after loading, rebuilt on demand, and
    // matching works the same from the rebuilt index.
    assert_eq!(c.app.ensure_blocking_index().await.unwrap(), 0);
    assert_eq!(c.app.rebuild_blocking_index().await.unwrap(), 6);
    let third = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "赵莉",
                Some("341890198202020047"),
                Some("1982-02-02"),
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(third.outcome, "linked");
    let err = c
        .app
        .bulk_load_residents(&c.ctx, &drafts, &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict { .. }));
    assert!(c.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(bulk_load_then_match, bulk_load_then_match);

/// Address division, group, household, ethnicity and nationality: checked, kept on the
/// registration, derived onto the person.
async fn resident_details(db: TestDb) {
    let c = county(&db).await;
    let mut d = draft(
        c.village,
        "马玉梅",
        Some("341890195507120029"),
        None,
        None,
        Some("柳河镇张庄村"),
    );
    d.division_code = Some("34189010".into());
    d.ethnicity = Some("火星族".into());
    d.nationality = Some("china".into());
    let err = c.app.register_resident(&c.ctx, &d).await.unwrap_err();
    match err {
        AppError::Invalid(e) => {
            let fields: Vec<&str> = e.0.iter().map(|x| x.field.as_str()).collect();
            assert_eq!(fields, vec!["division_code", "ethnicity", "nationality"]);
        }
        other => panic!("{other:?}"),
    }
    d.division_code = Some("341890100200".into());
    d.ethnicity = Some("回族".into());
    d.nationality = Some("chn".into());
    d.village_group = Some("3组".into());
    d.household_number = Some("3418901002000315".into());
    let r = c.app.register_resident(&c.ctx, &d).await.unwrap();
    let p = c
        .app
        .person_detail(&c.ctx, r.person_id, "treatment")
        .await
        .unwrap();
    assert_eq!(p.person.ethnicity.as_deref(), Some("03"));
    assert_eq!(p.person.nationality.as_deref(), Some("CHN"));
    assert_eq!(p.person.division_code.as_deref(), Some("341890100200"));
    assert_eq!(p.person.village_group.as_deref(), Some("3组"));
    assert_eq!(
        p.registrations[0].household_number.as_deref(),
        Some("3418901002000315")
    );
}
both_backends!(resident_details, resident_details);

/// The same patient number sent again (HL7 ADT^A08, a FHIR Patient update): the registration
/// is updated in place, not registered twice; the golden record and search follow.
async fn same_patient_number_updates_the_registration(db: TestDb) {
    let c = county(&db).await;
    let mut d = draft(
        c.town,
        "王建军",
        Some("341890197803150010"),
        None,
        Some("13905551234"),
        Some("柳河镇"),
    );
    d.record_id = Some("ZY-1".into());
    let first = c.app.register_resident(&c.ctx, &d).await.unwrap();
    assert_eq!(first.outcome, "new");
    let again = c.app.register_resident(&c.ctx, &d).await.unwrap();
    assert_eq!(again.outcome, "unchanged");
    assert_eq!(again.registration_id, first.registration_id);
    d.phone = Some("13905559999".into());
    d.address = Some("柳河镇张庄村 5 号".into());
    let upd = c.app.register_resident(&c.ctx, &d).await.unwrap();
    assert_eq!(upd.outcome, "updated");
    assert_eq!(upd.person_id, first.person_id);
    let p = c
        .app
        .person_detail(&c.ctx, first.person_id, "treatment")
        .await
        .unwrap();
    assert_eq!(p.registrations.len(), 1);
    assert_eq!(
        c.app
            .store()
            .person(first.person_id)
            .await
            .unwrap()
            .unwrap()
            .phone
            .as_deref(),
        Some("13905559999")
    );
    assert!(p.history.iter().any(|h| h.action == "updated"));
    let found = c
        .app
        .search_residents(&c.ctx, "13905559999", 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Matching still finds the resident through the new keys from another institution.
    let mut elsewhere = d.clone();
    elsewhere.institution_id = c.village.to_string();
    elsewhere.record_id = Some("V-9".into());
    let linked = c.app.register_resident(&c.ctx, &elsewhere).await.unwrap();
    assert_eq!(linked.outcome, "linked");
    assert_eq!(linked.person_id, first.person_id);
}
both_backends!(
    same_patient_number_updates_the_registration,
    same_patient_number_updates_the_registration
);

/// Two persons fit a new registration; the one whose valid ID number, name and birth date
/// all agree with it is the resident: linked at once, the other left to a steward.
async fn the_certain_candidate_is_linked(db: TestDb) {
    let c = county(&db).await;
    let id = "341890195507120029";
    let a = c
        .app
        .register_resident(
            &c.ctx,
            &draft(
                c.village,
                "王秀英",
                Some(id),
                None,
                Some("13955012345"),
                None,
            ),
        )
        .await
        .unwrap();
    let b = c
        .app
        .register_resident(
            &c.ctx,
            &draft(c.town, "王秀瑛", Some(id), None, Some("13955012345"), None),
        )
        .await
        .unwrap();
    assert_eq!(a.person_id, b.person_id, "{b:?}");
    let split = c
        .app
        .unmerge(&c.ctx, b.registration_id, &split_reason())
        .await
        .unwrap();
    let tasks_before = c.app.count_open_tasks().await.unwrap();
    let again = c
        .app
        .register_resident(
            &c.ctx,
            &draft(c.hospital, "王秀英", Some(id), None, None, None),
        )
        .await
        .unwrap();
    assert_eq!(again.person_id, a.person_id, "{again:?}");
    assert_ne!(again.person_id, split);
    assert!(
        c.app.count_open_tasks().await.unwrap() > tasks_before,
        "the other waits"
    );
}
both_backends!(
    the_certain_candidate_is_linked,
    the_certain_candidate_is_linked
);

/// Names that hide invisible or formatting characters (a zero-width joiner, a word joiner, a
/// soft hyphen, a Hangul filler) are refused wherever a person's name is parsed: residents,
/// staff and accounts; nothing is stored.
async fn invisible_characters_in_names_are_refused(db: TestDb) {
    let c = county(&db).await;
    for name in [
        "王\u{200D}秀英",
        "王秀英\u{2060}",
        "王\u{00AD}秀英",
        "\u{3164}",
        "王\u{FEFF}秀英",
    ] {
        match c
            .app
            .register_resident(
                &c.ctx,
                &draft(c.village, name, None, Some("1955-07-12"), None, None),
            )
            .await
        {
            Err(AppError::Invalid(e)) => {
                let v =
                    e.0.iter()
                        .find(|v| v.field == "name")
                        .expect("the name is named");
                assert!(
                    v.reason
                        .message()
                        .to_string()
                        .starts_with("common.name_invisible"),
                    "{name:?}: {v:?}"
                );
            }
            other => panic!("{name:?}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        db.row_counts(&["registrations", "persons"]).await,
        vec![0, 0]
    );
    let staff = ygt_domain::org::StaffDraft {
        name: "李\u{200B}医生".into(),
        sex: "1".into(),
        title: "attending_physician".into(),
        institution_id: c.town.to_string(),
        ..Default::default()
    };
    match c.app.create_staff(&c.ctx, &staff).await {
        Err(AppError::Invalid(e)) => assert!(e.0.iter().any(|v| v.field == "name")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let account = ygt_app::account::AccountDraft {
        username: "doc.zw".into(),
        display_name: "张\u{200C}三".into(),
        institution_id: Some(c.hospital.to_string()),
        roles: vec!["doctor".into()],
        ..Default::default()
    };
    match c.app.create_account(&c.ctx, &account).await {
        Err(AppError::Invalid(e)) => assert!(e.0.iter().any(|v| v.field == "display_name")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(db.row_counts(&["staff", "users"]).await, vec![0, 0]);
    // The same names without the hidden characters are fine.
    c.app
        .register_resident(
            &c.ctx,
            &draft(c.village, "王秀英", None, Some("1955-07-12"), None, None),
        )
        .await
        .unwrap();
}
both_backends!(
    invisible_characters_in_names_are_refused,
    invisible_characters_in_names_are_refused
);
