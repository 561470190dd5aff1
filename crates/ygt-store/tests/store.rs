//! The store's scenario suite: every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use time::OffsetDateTime;
use uuid::Uuid;
use ygt_domain::org::{
    CommunityDraft, DepartmentDraft, InstitutionData, InstitutionDraft, StaffDraft, Tier,
};
use ygt_store::org::{InstitutionFilter, Registry, StaffFilter};
use ygt_store::{Backend, Sql, Store, StoreError};
use ygt_testkit::{TestDb, both_backends};

async fn open(db: &TestDb) -> Store {
    let s = Store::open(&db.url).await.expect("open");
    let expected = match db.backend {
        ygt_testkit::Backend::Sqlite => Backend::Sqlite,
        ygt_testkit::Backend::Postgres => Backend::Postgres,
    };
    assert_eq!(s.backend(), expected);
    s
}

fn county() -> InstitutionData {
    InstitutionDraft {
        name: "云溪县人民医院".into(),
        aliases: vec!["云溪县医共体总医院".into()],
        kind: "county_general_hospital".into(),
        division_code: "341890".into(),
        services: vec!["ct".into(), "mri".into(), "lab".into()],
        uscc: Some("91350100M000100Y43".into()),
        ..Default::default()
    }
    .parse()
    .unwrap()
}

fn township(name: &str, parent: Uuid) -> InstitutionData {
    InstitutionDraft {
        name: name.into(),
        aliases: vec![format!(
            "云溪县人民医院{}分院",
            name.trim_end_matches("卫生院")
        )],
        kind: "township_health_centre".into(),
        parent_id: Some(parent.to_string()),
        division_code: "341890100".into(),
        services: vec!["ecg".into()],
        ..Default::default()
    }
    .parse()
    .unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn migrations_are_idempotent(db: TestDb) {
    let s = open(&db).await;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
    let st = s.pool_stats();
    assert!(st.max >= 1);
}
both_backends!(migrations_are_idempotent, migrations_are_idempotent);

async fn institutions_round_trip(db: TestDb) {
    let s = open(&db).await;
    let hid = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    let tid = Uuid::now_v7();
    tx.insert_institution(tid, &township("柳河镇卫生院", hid), now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let h = s.institution(hid).await.unwrap().unwrap();
    assert_eq!(h.name, "云溪县人民医院");
    assert_eq!(h.aliases, vec!["云溪县医共体总医院".to_string()]);
    assert_eq!(h.tier, Tier::County);
    assert_eq!(h.services.len(), 3);
    assert_eq!(h.children_count, 1);
    assert_eq!(h.version, 1);
    assert_eq!(h.uscc.as_deref(), Some("91350100M000100Y43"));

    // Search by alias, case-insensitively and with LIKE wildcards taken literally.
    let by_alias = s
        .list_institutions(&InstitutionFilter {
            q: Some("柳河镇分院".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_alias.len(), 1);
    assert_eq!(by_alias[0].id, tid);
    let wildcard = s
        .list_institutions(&InstitutionFilter {
            q: Some("%".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        wildcard.is_empty(),
        "a % in the search text is not a wildcard"
    );

    // Filters and counts agree; county tier sorts first.
    let all = s
        .list_institutions(&InstitutionFilter::default())
        .await
        .unwrap();
    assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), vec![hid, tid]);
    let f = InstitutionFilter {
        tier: Some(Tier::Township),
        ..Default::default()
    };
    assert_eq!(s.count_institutions(&f).await.unwrap(), 1);
    let f = InstitutionFilter {
        parent_id: Some(hid),
        limit: Some(10),
        ..Default::default()
    };
    assert_eq!(s.list_institutions(&f).await.unwrap().len(), 1);
}
both_backends!(institutions_round_trip, institutions_round_trip);

async fn optimistic_concurrency_and_deactivation(db: TestDb) {
    let s = open(&db).await;
    let id = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(id, &county(), now()).await.unwrap();
    tx.commit().await.unwrap();

    let mut d = county();
    d.name = "云溪县第一人民医院".into();
    d.aliases = vec![];
    let mut tx = s.begin().await.unwrap();
    let v = tx.update_institution(id, &d, Some(1), now()).await.unwrap();
    assert_eq!(v, 2);
    tx.commit().await.unwrap();

    // A stale writer is refused and nothing changes.
    let mut tx = s.begin().await.unwrap();
    let err = tx.update_institution(id, &county(), Some(1), now()).await;
    assert!(matches!(
        err,
        Err(StoreError::VersionConflict { expected: 1 })
    ));
    drop(tx);
    let i = s.institution(id).await.unwrap().unwrap();
    assert_eq!(i.name, "云溪县第一人民医院");
    assert!(i.aliases.is_empty());

    // Unknown id.
    let mut tx = s.begin().await.unwrap();
    let err = tx
        .update_institution(Uuid::now_v7(), &county(), None, now())
        .await;
    assert!(matches!(err, Err(StoreError::NotFound)));
    drop(tx);

    // Deactivated, never deleted.
    let mut tx = s.begin().await.unwrap();
    tx.set_active(Registry::Institution, id, false, now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        s.list_institutions(&InstitutionFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    let with_inactive = s
        .list_institutions(&InstitutionFilter {
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(with_inactive.len(), 1);
    assert!(!with_inactive[0].active);
}
both_backends!(
    optimistic_concurrency_and_deactivation,
    optimistic_concurrency_and_deactivation
);

async fn constraints_and_rollback(db: TestDb) {
    let s = open(&db).await;
    let id = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(id, &county(), now()).await.unwrap();
    tx.commit().await.unwrap();

    // Same credit code twice.
    let mut tx = s.begin().await.unwrap();
    let err = tx
        .insert_institution(Uuid::now_v7(), &county(), now())
        .await;
    match err {
        Err(StoreError::Duplicate(what)) => assert!(what.contains("uscc"), "{what}"),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    drop(tx);

    // A parent that does not exist.
    let mut tx = s.begin().await.unwrap();
    let err = tx
        .insert_institution(
            Uuid::now_v7(),
            &township("石桥乡卫生院", Uuid::now_v7()),
            now(),
        )
        .await;
    assert!(matches!(err, Err(StoreError::BadReference(_))), "{err:?}");
    drop(tx);

    // A transaction dropped half-way leaves nothing behind.
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(Uuid::now_v7(), &township("白沙镇卫生院", id), now())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(
        s.count_institutions(&InstitutionFilter::default())
            .await
            .unwrap(),
        1
    );
}
both_backends!(constraints_and_rollback, constraints_and_rollback);

async fn departments_staff_and_communities(db: TestDb) {
    let s = open(&db).await;
    let hid = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    let dep = Uuid::now_v7();
    let dd = DepartmentDraft {
        name: "心血管内科".into(),
        code: Some("cardiology".into()),
        beds: Some(45),
        phone: None,
    }
    .parse()
    .unwrap();
    tx.insert_department(dep, hid, &dd, now()).await.unwrap();
    let err = tx.insert_department(Uuid::now_v7(), hid, &dd, now()).await;
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "{err:?}");
    tx.rollback().await.unwrap();

    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    tx.insert_department(dep, hid, &dd, now()).await.unwrap();
    let sid = Uuid::now_v7();
    let sd = StaffDraft {
        name: "张建国".into(),
        sex: "1".into(),
        title: "chief_physician".into(),
        institution_id: hid.to_string(),
        department_id: Some(dep.to_string()),
        licence_number: Some("110341970000001".into()),
        id_number: Some("11010519491231002X".into()),
        phone: Some("13800138000".into()),
    };
    let err = sd.parse();
    assert!(err.is_err(), "sex 1 contradicts the ID number (female)");
    let sd = StaffDraft {
        sex: "2".into(),
        ..sd
    }
    .parse()
    .unwrap();
    tx.insert_staff(sid, &sd, now()).await.unwrap();
    let cid = Uuid::now_v7();
    let cd = CommunityDraft {
        name: "云溪县县域医共体".into(),
        form: "county_community".into(),
        lead_institution_id: Some(hid.to_string()),
        division_code: Some("341890".into()),
        description: None,
    }
    .parse()
    .unwrap();
    tx.insert_community(cid, &cd, now()).await.unwrap();
    tx.add_member(cid, hid, now()).await.unwrap();
    tx.add_member(cid, hid, now()).await.unwrap();
    tx.commit().await.unwrap();

    let st = s.staff_member(sid).await.unwrap().unwrap();
    assert_eq!(st.institution_name, "云溪县人民医院");
    assert_eq!(st.department_name.as_deref(), Some("心血管内科"));
    let found = s
        .list_staff(&StaffFilter {
            q: Some("建国".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let h = s.institution(hid).await.unwrap().unwrap();
    assert_eq!((h.staff_count, h.beds), (1, 45));
    let deps = s.departments(hid, false).await.unwrap();
    assert_eq!(deps[0].staff_count, 1);

    let c = s.community(cid).await.unwrap().unwrap();
    assert_eq!(c.member_count, 1);
    assert_eq!(s.communities_of(hid).await.unwrap().len(), 1);
    let mut tx = s.begin().await.unwrap();
    assert!(tx.remove_member(cid, hid, now()).await.unwrap());
    assert!(!tx.remove_member(cid, hid, now()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(s.community(cid).await.unwrap().unwrap().member_count, 0);
    let mut tx = s.begin().await.unwrap();
    tx.add_member(cid, hid, now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.community(cid).await.unwrap().unwrap().member_count, 1);

    let o = s.overview().await.unwrap();
    assert_eq!((o.communities, o.county, o.staff, o.beds), (1, 1, 1, 45));
}
both_backends!(
    departments_staff_and_communities,
    departments_staff_and_communities
);

async fn concurrent_writers_do_not_lose_rows(db: TestDb) {
    let s = open(&db).await;
    let hid = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let d = DepartmentDraft {
                name: format!("科室{i}"),
                code: None,
                beds: Some(i),
                phone: None,
            }
            .parse()
            .unwrap();
            let mut tx = s.begin().await.unwrap();
            tx.insert_department(Uuid::now_v7(), hid, &d, now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.departments(hid, false).await.unwrap().len(), 16);
    let (n,): (i64,) = s
        .fetch_one(Sql::new("SELECT COUNT(*) FROM departments"))
        .await
        .unwrap();
    assert_eq!(n, 16);
}
both_backends!(
    concurrent_writers_do_not_lose_rows,
    concurrent_writers_do_not_lose_rows
);

#[tokio::test]
async fn bad_urls_are_refused_with_a_reason() {
    for url in ["mysql://x", "", "sqlite://"] {
        match Store::connect(url).await {
            Err(StoreError::BadUrl(m)) => assert!(!m.is_empty()),
            Err(e) => panic!("{url}: unexpected {e}"),
            Ok(_) => panic!("{url}: accepted"),
        }
    }
}

/// Files of documents: kept byte for byte (every byte value, on both backends), once per item
/// and hash, earlier files of a corrected document kept; an item that does not exist is refused.
async fn document_contents_round_trip(db: TestDb) {
    use ygt_store::document::NewContent;
    use ygt_store::record::NewItem;
    let s = open(&db).await;
    let hid = Uuid::now_v7();
    let item = Uuid::now_v7();
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    let it = NewItem {
        person_id: None,
        kind: "document".into(),
        institution_id: hid,
        source_system: "EMR".into(),
        source_id: "DS-1".into(),
        encounter_ref: None,
        occurred_at: now(),
        ended_at: None,
        status: "final".into(),
        code: None,
        code_system: None,
        title: "出院小结".into(),
        summary: None,
        department: None,
        doctor: None,
        abnormal: false,
        body: "{}".into(),
        patient_ref: "{}".into(),
        record_id: None,
        observations: Vec::new(),
    };
    tx.insert_item(item, &it, now()).await.unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let c = NewContent {
        content_type: "application/pdf",
        sha256: "aa",
        data: &data,
    };
    tx.insert_content(item, hid, c, now()).await.unwrap();
    tx.insert_content(item, hid, c, now()).await.unwrap();
    let second = b"%PDF-1.7 second".to_vec();
    tx.insert_content(
        item,
        hid,
        NewContent {
            content_type: "application/pdf",
            sha256: "bb",
            data: &second,
        },
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let got = s.document_content(item, "aa").await.unwrap().unwrap();
    assert_eq!(got.data, data);
    assert_eq!(got.size, 70_000);
    assert_eq!(got.content_type, "application/pdf");
    assert_eq!(got.institution_id, hid);
    assert!(
        !format!("{got:?}").contains("255"),
        "Debug leaves the bytes out"
    );
    assert_eq!(
        s.document_content(item, "bb").await.unwrap().unwrap().data,
        second
    );
    assert!(s.document_content(item, "cc").await.unwrap().is_none());
    assert_eq!(s.count_document_contents(item).await.unwrap(), 2);

    let mut tx = s.begin().await.unwrap();
    let err = tx
        .insert_content(Uuid::now_v7(), hid, c, now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BadReference(_)), "{err:?}");
}
both_backends!(document_contents_round_trip, document_contents_round_trip);

/// Every column of the schema that names a person (a `person_id`, `resident_id`, a
/// `*_person_id` or `merged_into`) has a declared merge handling in
/// `ygt_store::mpi::PERSON_REFERENCES`: a new capability that keys rows by person and forgets
/// to say what a merge does with them fails here, on both backends.
async fn every_person_column_has_a_merge_handler(db: TestDb) {
    let s = open(&db).await;
    let cols: Vec<(String, String)> = match s.backend() {
        Backend::Postgres => s
            .fetch_all(Sql::new(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() ORDER BY 1, 2",
            ))
            .await
            .unwrap(),
        Backend::Sqlite => s
            .fetch_all(Sql::new(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%' \
                 ORDER BY 1, 2",
            ))
            .await
            .unwrap(),
    };
    assert!(cols.len() > 100, "read the schema: {}", cols.len());
    let person_columns: Vec<(String, String)> = cols
        .into_iter()
        .filter(|(_, c)| {
            c == "person_id"
                || c == "resident_id"
                || c.ends_with("_person_id")
                || c == "merged_into"
        })
        .collect();
    let missing: Vec<&(String, String)> = person_columns
        .iter()
        .filter(|(t, c)| {
            !ygt_store::mpi::PERSON_REFERENCES
                .iter()
                .any(|(tt, cc, _)| tt == t && cc == c)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "person columns without a merge handler in PERSON_REFERENCES: {missing:?}"
    );
    for (t, c, _) in ygt_store::mpi::PERSON_REFERENCES {
        assert!(
            person_columns.iter().any(|(tt, cc)| tt == t && cc == c),
            "PERSON_REFERENCES names {t}.{c}, which the schema does not have"
        );
    }
}
both_backends!(
    every_person_column_has_a_merge_handler,
    every_person_column_has_a_merge_handler
);

/// The items of referral episodes: within an institution's window (ends included) or of the
/// plan's source, newest first, only the person's; and the care tasks of some referrals.
async fn episode_items_and_tasks(db: TestDb) {
    use time::Duration;
    use ygt_store::mpi::Golden;
    use ygt_store::record::NewItem;
    use ygt_store::referral::{NewCareTask, NewReferral};
    let s = open(&db).await;
    let (hid, tid) = (Uuid::now_v7(), Uuid::now_v7());
    let (person, other) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    let day = |d: i64| t0 + Duration::days(d);
    let mut tx = s.begin().await.unwrap();
    tx.insert_institution(hid, &county(), now()).await.unwrap();
    tx.insert_institution(tid, &township("柳河镇卫生院", hid), now())
        .await
        .unwrap();
    for p in [person, other] {
        let g = Golden {
            name: "王秀英".into(),
            sex: "2".into(),
            registrations: 1,
            ..Default::default()
        };
        tx.insert_person(p, &g, now()).await.unwrap();
    }
    let item = |who: Uuid, at: i64, inst: Uuid, system: &str, source: &str| NewItem {
        person_id: Some(who),
        kind: "encounter".into(),
        institution_id: inst,
        source_system: system.into(),
        source_id: source.into(),
        encounter_ref: None,
        occurred_at: day(at),
        ended_at: None,
        status: "final".into(),
        code: None,
        code_system: None,
        title: source.into(),
        summary: None,
        department: None,
        doctor: None,
        abnormal: false,
        body: "{}".into(),
        patient_ref: "{}".into(),
        record_id: None,
        observations: Vec::new(),
    };
    let mut ids = Vec::new();
    for it in [
        item(person, 5, hid, "HIS", "start"),
        item(person, 12, hid, "HIS", "stay"),
        item(person, 20, hid, "HIS", "end"),
        item(person, 21, hid, "HIS", "after"),
        item(person, 12, tid, "HIS", "elsewhere"),
        item(other, 12, hid, "HIS", "someone-else"),
        item(person, 30, hid, "ygt-referral-plan", "R-DOWN"),
        item(person, 31, hid, "ygt-referral-plan", "R-OTHER"),
    ] {
        let id = Uuid::now_v7();
        tx.insert_item(id, &it, now()).await.unwrap();
        ids.push(id);
    }
    let down = Uuid::now_v7();
    tx.insert_referral(&NewReferral {
        id: down,
        number: "ZZ20260101-0001".into(),
        direction: ygt_domain::referral::Direction::Down,
        status: ygt_domain::referral::Status::Accepted,
        urgency: ygt_domain::referral::Urgency::Routine,
        person_id: person,
        from_institution_id: hid,
        from_department_id: None,
        from_user_id: None,
        from_doctor: "钱主任".into(),
        to_institution_id: tid,
        to_department_id: None,
        to_staff_id: None,
        diagnosis_code: None,
        diagnosis_name: None,
        reason: "回乡镇康复".into(),
        criterion: None,
        summary: None,
        needs: None,
        plan: None,
        submitted_at: Some(day(29)),
        now: day(29),
    })
    .await
    .unwrap();
    let task = |title: &str, due: i64| NewCareTask {
        id: Uuid::now_v7(),
        referral_id: Some(down),
        person_id: person,
        institution_id: tid,
        staff_id: None,
        kind: ygt_domain::referral::TaskKind::FollowUp,
        title: title.into(),
        due_on: day(due).date(),
        note: None,
    };
    tx.insert_care_tasks(&[task("复查", 60), task("血压随访", 37)], now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let got = s
        .episode_items(
            person,
            &[(hid, day(5), day(20))],
            ("ygt-referral-plan", &["R-DOWN".to_owned()]),
            100,
        )
        .await
        .unwrap();
    let titles: Vec<&str> = got.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["R-DOWN", "end", "stay", "start"]);
    assert_eq!(got[0].id, ids[6]);
    let none = s
        .episode_items(person, &[], ("ygt-referral-plan", &[]), 100)
        .await
        .unwrap();
    assert!(none.is_empty());

    let tasks = s.care_tasks_of_referrals(&[down]).await.unwrap();
    let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["血压随访", "复查"]);
    assert!(s.care_tasks_of_referrals(&[]).await.unwrap().is_empty());
    assert!(
        s.care_tasks_of_referrals(&[Uuid::now_v7()])
            .await
            .unwrap()
            .is_empty()
    );

    // Coded columns decode into their types; a code that no longer parses is corrupt data.
    let r = s.referral(down).await.unwrap().unwrap();
    assert_eq!(r.status, ygt_domain::referral::Status::Accepted);
    assert_eq!(r.needs, None);
    let mut tx = s.begin().await.unwrap();
    tx.execute(
        Sql::new("UPDATE referrals SET status = 'lost', needs = 'ct' WHERE id = ?").arg(down),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    match s.referral(down).await {
        Err(StoreError::Corrupt(column)) => assert_eq!(column, "status"),
        other => panic!("{other:?}"),
    }
}
both_backends!(episode_items_and_tasks, episode_items_and_tasks);
