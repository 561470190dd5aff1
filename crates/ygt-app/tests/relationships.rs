//! Access that holds (issue 12): each way an outsider tried to create a relationship to a
//! resident, tried again through the use cases on SQLite and on PostgreSQL. A village doctor
//! of the first township (V), a doctor of another township (T2), an institution administrator
//! and a steward act on 张三, a resident the county hospital registered with his ID card.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;

use uuid::Uuid;
use ygt_app::account::AccountDraft;
use ygt_app::mpi::{MergeDraft, ResidentDraft, SplitDraft};
use ygt_app::record::{ItemDraft, PatientRef, ResultDraft};
use ygt_app::referral::ReferralDraft;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::access::AuditFilter;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_app::{Actor, App, AppError, Ctx};
use ygt_domain::access::Ground;
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

const PASSWORD: &str = "Demo-Kite#58";
const ID: &str = "341890195507120029";
const NAME: &str = "张三";
const ADDRESS: &str = "柳河镇张庄村3组12号";

struct World {
    app: App,
    sys: Ctx,
    hospital: Uuid,
    town2: Uuid,
    village: Uuid,
    /// 张三, registered at the county hospital with his ID number.
    victim: Uuid,
    /// The village doctor (柳河镇东村卫生室).
    vdoc: Ctx,
    /// A doctor of another township (石桥镇卫生院).
    tdoc: Ctx,
    steward: Ctx,
}

async fn institution(
    app: &App,
    sys: &Ctx,
    name: &str,
    kind: &str,
    parent: Option<Uuid>,
    div: &str,
) -> Uuid {
    app.create_institution(
        sys,
        &InstitutionDraft {
            name: name.into(),
            kind: kind.into(),
            parent_id: parent.map(|p| p.to_string()),
            division_code: div.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn user(app: &App, sys: &Ctx, name: &str, institution: Uuid, role: &str) -> Ctx {
    app.create_account(
        sys,
        &AccountDraft {
            username: name.into(),
            display_name: format!("测试{name}"),
            institution_id: Some(institution.to_string()),
            roles: vec![role.into()],
            password: Some(PASSWORD.into()),
            must_change_password: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let signed = app
        .sign_in(
            &Ctx::anonymous("t".into(), Some("10.0.0.9".into())),
            name,
            PASSWORD,
            None,
        )
        .await
        .unwrap();
    let info = app
        .session_principal(&signed.session_token)
        .await
        .unwrap()
        .unwrap();
    Ctx {
        actor: Actor::User(Box::new(info.principal)),
        request_id: "t".into(),
        client_addr: Some("10.0.0.9".into()),
    }
}

fn resident(inst: Uuid, name: &str, id: Option<&str>, birth: &str, address: &str) -> ResidentDraft {
    ResidentDraft {
        institution_id: inst.to_string(),
        name: name.into(),
        sex: Some("1".into()),
        birth_date: Some(birth.into()),
        id_number: id.map(str::to_owned),
        address: Some(address.into()),
        phone: Some("13955012345".into()),
        ..Default::default()
    }
}

async fn world(db: &TestDb) -> World {
    let app = App::new(Store::open(&db.url).await.unwrap());
    let sys = Ctx::system();
    let hospital = institution(
        &app,
        &sys,
        "云溪县人民医院",
        "county_general_hospital",
        None,
        "341890",
    )
    .await;
    let town = institution(
        &app,
        &sys,
        "柳河镇卫生院",
        "township_health_centre",
        Some(hospital),
        "341890100",
    )
    .await;
    let town2 = institution(
        &app,
        &sys,
        "石桥镇卫生院",
        "township_health_centre",
        Some(hospital),
        "341890101",
    )
    .await;
    let village = institution(
        &app,
        &sys,
        "柳河镇东村卫生室",
        "village_clinic",
        Some(town),
        "341890100200",
    )
    .await;
    let hdoc = user(&app, &sys, "hdoc", hospital, "doctor").await;
    let victim = app
        .register_resident(
            &hdoc,
            &resident(hospital, NAME, Some(ID), "1955-07-12", ADDRESS),
        )
        .await
        .unwrap()
        .person_id;
    World {
        vdoc: user(&app, &sys, "vdoc", village, "village_doctor").await,
        tdoc: user(&app, &sys, "tdoc", town2, "doctor").await,
        steward: user(&app, &sys, "steward", hospital, "mpi_steward").await,
        app,
        sys,
        hospital,
        town2,
        village,
        victim,
    }
}

fn forbidden<T: Debug>(r: Result<T, AppError>) -> String {
    match r {
        Err(AppError::Forbidden { msg }) => msg.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn fields<T: Debug>(r: Result<T, AppError>) -> Vec<String> {
    match r {
        Err(AppError::Invalid(e)) => e.0.iter().map(|x| x.field.clone()).collect(),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

async fn can_read(w: &World, ctx: &Ctx, person: Uuid) -> bool {
    match w
        .app
        .patient_record(ctx, person, &TimelineFilter::default(), "treatment")
        .await
    {
        Ok(_) => true,
        Err(AppError::Forbidden { .. }) => false,
        Err(e) => panic!("{e:?}"),
    }
}

/// The grounds a person holds now: (institution, ground code).
async fn grounds(w: &World, person: Uuid) -> Vec<(Option<Uuid>, String)> {
    let mut g: Vec<(Option<Uuid>, String)> = w
        .app
        .store()
        .care_links(person, time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.institution_id, l.kind))
        .collect();
    g.sort();
    g
}

// ------------------------------------------------------------------ registering a copy

/// A copy of an out-of-scope resident registered at one's own clinic is linked but opens
/// nothing; with the ID number read from the card it opens.
async fn a_copy_opens_nothing(db: TestDb) {
    let w = world(&db).await;
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
    let copy = w
        .app
        .register_resident(
            &w.vdoc,
            &resident(w.village, NAME, None, "1955-07-12", ADDRESS),
        )
        .await
        .unwrap();
    assert_eq!(
        copy.person_id, w.victim,
        "the index links the copy: {copy:?}"
    );
    let why = forbidden(w.app.person_detail(&w.vdoc, w.victim, "treatment").await);
    assert_eq!(why, "access.unverified_registration");
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
    assert!(
        grounds(&w, w.victim)
            .await
            .contains(&(Some(w.village), Ground::Unverified.code().to_owned()))
    );
    // The copy's address does not replace the resident's.
    let golden = w.app.store().person(w.victim).await.unwrap().unwrap();
    assert_eq!(golden.address.as_deref(), Some(ADDRESS));

    // Another number than the resident's: linked by resemblance at most, never opening.
    let other_id = w
        .app
        .register_resident(
            &w.tdoc,
            &resident(
                w.town2,
                NAME,
                Some("341890195507120037"),
                "1955-07-12",
                ADDRESS,
            ),
        )
        .await
        .unwrap();
    assert!(!can_read(&w, &w.tdoc, w.victim).await || other_id.person_id != w.victim);
    assert!(!can_read(&w, &w.tdoc, w.victim).await);

    // The ID card in hand: the number matches the person's, the record opens.
    let carded = w
        .app
        .register_resident(
            &w.vdoc,
            &resident(w.village, NAME, Some(ID), "1955-07-12", ADDRESS),
        )
        .await
        .unwrap();
    assert_eq!(carded.person_id, w.victim);
    assert!(can_read(&w, &w.vdoc, w.victim).await);
    // The new relationship is listed for the auditor: ground, institution, who.
    let (events, _) = w
        .app
        .store()
        .search_audit(&AuditFilter {
            action: Some("access.grant".into()),
            resident_id: Some(w.victim),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.actor_name == "vdoc"
            && e.detail.as_deref().is_some_and(
                |d| d.contains("ground=registered") && d.contains(&w.village.to_string())
            )),
        "{events:?}"
    );
}
both_backends!(a_copy_opens_nothing, a_copy_opens_nothing);

// ------------------------------------------------------------------ merge and split

/// A throwaway resident merged into an out-of-scope person: only stewards merge, with a
/// reason and a confirmation; the merged-in registration opens nothing, changes nothing of the
/// identity, and a split takes only its own grounds.
async fn merge_and_split_hold(db: TestDb) {
    let w = world(&db).await;
    let throwaway = w
        .app
        .register_resident(
            &w.vdoc,
            &resident(w.village, "张小三", None, "1990-01-01", "柳河镇东村1号"),
        )
        .await
        .unwrap();
    assert_ne!(throwaway.person_id, w.victim);
    assert!(
        can_read(&w, &w.vdoc, throwaway.person_id).await,
        "its own resident"
    );
    let merge = MergeDraft {
        into: w.victim.to_string(),
        reason: "同一居民的两份档案，电话一致".into(),
        confirm: true,
    };
    // Neither the doctor nor an institution administrator merges.
    forbidden(
        w.app
            .merge_persons(&w.vdoc, throwaway.person_id, &merge)
            .await,
    );
    let admin = user(&w.app, &w.sys, "tadmin", w.village, "institution_admin").await;
    forbidden(
        w.app
            .merge_persons(&admin, throwaway.person_id, &merge)
            .await,
    );
    // A steward needs a reason of real words and a confirmation.
    let lazy = MergeDraft {
        reason: "..........".into(),
        confirm: false,
        ..merge.clone()
    };
    assert_eq!(
        fields(
            w.app
                .merge_persons(&w.steward, throwaway.person_id, &lazy)
                .await
        ),
        ["reason", "confirm"]
    );
    w.app
        .merge_persons(&w.steward, throwaway.person_id, &merge)
        .await
        .unwrap();
    // The throwaway's registration is the resident's now, but proves nothing.
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
    let golden = w.app.store().person(w.victim).await.unwrap().unwrap();
    assert_eq!(
        golden.address.as_deref(),
        Some(ADDRESS),
        "the identity stays"
    );
    assert_eq!(golden.name, NAME);
    let g = grounds(&w, w.victim).await;
    assert!(
        g.contains(&(Some(w.hospital), "registered".to_owned())),
        "{g:?}"
    );
    assert!(
        g.contains(&(Some(w.village), "registered_unverified".to_owned())),
        "{g:?}"
    );
    assert!(
        !g.contains(&(Some(w.village), "registered".to_owned())),
        "{g:?}"
    );

    // Split back: the split-off person has its own registration's ground only.
    let split = w
        .app
        .unmerge(
            &w.steward,
            throwaway.registration_id,
            &SplitDraft {
                reason: "核对后不是同一居民，出生日期不同".into(),
                confirm: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        grounds(&w, split).await,
        [(Some(w.village), "registered".to_owned())]
    );
    let g = grounds(&w, w.victim).await;
    assert!(!g.iter().any(|(i, _)| *i == Some(w.village)), "{g:?}");
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
    assert!(can_read(&w, &w.vdoc, split).await);
    assert!(w.app.verify_audit_chain().await.unwrap().problem.is_none());
}
both_backends!(merge_and_split_hold, merge_and_split_hold);

/// A merge moves everything keyed by the retired person: its referrals and their care links go
/// with it; no registration ground moves without its registration.
async fn a_merge_moves_the_referrals(db: TestDb) {
    let w = world(&db).await;
    let other = w
        .app
        .register_resident(
            &w.vdoc,
            &ResidentDraft {
                phone: Some("13900000009".into()),
                ..resident(
                    w.village,
                    "李四",
                    Some("341890196808080016"),
                    "1968-08-08",
                    "柳河镇东村9号",
                )
            },
        )
        .await
        .unwrap();
    assert_ne!(other.person_id, w.victim);
    let r = w
        .app
        .create_referral(
            &w.vdoc,
            &ReferralDraft {
                direction: "up".into(),
                person_id: other.person_id.to_string(),
                urgency: "routine".into(),
                to_institution_id: w.hospital.to_string(),
                diagnosis_code: Some("I10".into()),
                reason: "血压控制不佳，需上级医院调整用药".into(),
                submit: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.app
        .merge_persons(
            &w.steward,
            other.person_id,
            &MergeDraft {
                into: w.victim.to_string(),
                reason: "核对身份证件后确认为同一居民".into(),
                confirm: true,
            },
        )
        .await
        .unwrap();
    let moved = w.app.store().referral(r.id).await.unwrap().unwrap();
    assert_eq!(moved.person_id, w.victim);
    let g = grounds(&w, w.victim).await;
    assert!(
        g.contains(&(Some(w.hospital), "referral".to_owned())),
        "{g:?}"
    );
    assert!(grounds(&w, other.person_id).await.is_empty());
}
both_backends!(a_merge_moves_the_referrals, a_merge_moves_the_referrals);

// ------------------------------------------------------------------ clinical items

fn lab(inst: Uuid, source_id: &str, patient: PatientRef, value: &str) -> ItemDraft {
    ItemDraft {
        kind: "lab_report".into(),
        institution_id: inst.to_string(),
        source_system: "LIS".into(),
        source_id: source_id.into(),
        occurred_at: "2026-11-01T08:00:00+08:00".into(),
        title: Some("空腹血糖".into()),
        patient,
        results: vec![ResultDraft {
            code: "GLU".into(),
            name: Some("葡萄糖".into()),
            value: value.into(),
            unit: Some("mmol/L".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The source identity of an item includes its sender: another institution's item of the
/// same (system, id) is another item, and recording data opens nothing.
async fn an_item_belongs_to_its_sender(db: TestDb) {
    let w = world(&db).await;
    let by_id = PatientRef {
        id_number: Some(ID.into()),
        ..Default::default()
    };
    let first = w
        .app
        .record_drafts(
            &w.sys,
            &[lab(w.hospital, "R-1", by_id.clone(), "5.1")],
            "test",
        )
        .await
        .unwrap();
    assert_eq!(first[0].person_id, Some(w.victim));
    // Another township posts the same source identity for its own throwaway patient.
    let own = w
        .app
        .register_resident(
            &w.tdoc,
            &resident(
                w.town2,
                "王五",
                Some("341890199001010011"),
                "1990-01-01",
                "石桥镇",
            ),
        )
        .await
        .unwrap();
    let theirs = w
        .app
        .record_drafts(
            &w.tdoc,
            &[lab(
                w.town2,
                "R-1",
                PatientRef {
                    person_id: Some(own.person_id.to_string()),
                    ..Default::default()
                },
                "9.9",
            )],
            "test",
        )
        .await
        .unwrap();
    assert_eq!(theirs[0].outcome, "created");
    assert_ne!(theirs[0].item_id, first[0].item_id);
    let kept = w.app.store().item(first[0].item_id).await.unwrap().unwrap();
    assert_eq!(kept.person_id, Some(w.victim), "the hospital's item stays");
    assert_eq!(kept.version, 1);
    // Sending a result for the resident by his ID number files it, and opens nothing.
    w.app
        .record_drafts(&w.tdoc, &[lab(w.town2, "R-2", by_id, "6.0")], "test")
        .await
        .unwrap();
    assert!(!can_read(&w, &w.tdoc, w.victim).await);
    assert!(
        !grounds(&w, w.victim)
            .await
            .iter()
            .any(|(i, _)| *i == Some(w.town2))
    );
}
both_backends!(an_item_belongs_to_its_sender, an_item_belongs_to_its_sender);

// ------------------------------------------------------------------ search

/// Search finds residents in scope; outside it only the full ID number with the name finds
/// one, masked and marked; every resident returned is in the audit.
async fn search_is_scoped(db: TestDb) {
    let w = world(&db).await;
    let own = w
        .app
        .register_resident(
            &w.vdoc,
            &resident(
                w.village,
                "张四",
                Some("341890196001010015"),
                "1960-01-01",
                "柳河镇东村2号",
            ),
        )
        .await
        .unwrap();
    for q in ["张", "zhangsan", "zhang", "13955012345", ID] {
        let found = w.app.search_residents(&w.vdoc, q, 50).await.unwrap();
        assert!(
            found.iter().all(|f| f.person.id != w.victim),
            "{q}: an outsider was found"
        );
    }
    let own_found = w.app.search_residents(&w.vdoc, "张", 50).await.unwrap();
    assert_eq!(own_found.len(), 1);
    assert_eq!(own_found[0].person.id, own.person_id);
    assert!(own_found[0].in_scope);
    // The full ID number with the name: found, masked, out of scope, and still closed.
    let found = w
        .app
        .search_residents(&w.vdoc, &format!("{ID} {NAME}"), 50)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].person.id, w.victim);
    assert!(!found[0].in_scope);
    assert_eq!(
        found[0].person.id_number.as_ref().map(|m| m.as_str()),
        Some("3418**********0029")
    );
    // Only what the searcher typed and what the number implies: no address, phone or places.
    assert_eq!(found[0].person.address, None);
    assert!(found[0].person.phone.is_none() && found[0].registered_at.is_empty());
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
    // One digit off, or the name's initials, outside the scope: nobody.
    let typo = format!("{}{}", &ID[..17], if &ID[17..] == "1" { "2" } else { "1" });
    for q in [format!("{typo} {NAME}"), typo.clone(), "zs".to_owned()] {
        let found = w.app.search_residents(&w.vdoc, &q, 50).await.unwrap();
        assert!(found.iter().all(|f| f.person.id != w.victim), "{q}");
    }
    // A wrong name with the number finds nobody.
    assert!(
        w.app
            .search_residents(&w.vdoc, &format!("{ID} 李四"), 50)
            .await
            .unwrap()
            .is_empty()
    );
    // The community-wide steward finds everyone by name.
    let all = w.app.search_residents(&w.steward, "张", 50).await.unwrap();
    assert_eq!(all.len(), 2);
    // The resident's access history shows who found him.
    let (events, _) = w
        .app
        .store()
        .search_audit(&AuditFilter {
            action: Some("resident.search".into()),
            resident_id: Some(w.victim),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.actor_name == "vdoc"), "{events:?}");
}
both_backends!(search_is_scoped, search_is_scoped);

/// Nobody creates a relationship by hand: the direct link use case is the operator's.
async fn links_are_not_made_by_hand(db: TestDb) {
    let w = world(&db).await;
    forbidden(
        w.app
            .link_resident(
                &w.vdoc,
                w.victim,
                Some(w.village),
                None,
                "registered",
                None,
                None,
            )
            .await,
    );
    assert!(!can_read(&w, &w.vdoc, w.victim).await);
}
both_backends!(links_are_not_made_by_hand, links_are_not_made_by_hand);

// ------------------------------------------------------------------ integration tokens

/// A lab system's token (the integration set) writes for its institution and reads back what
/// it sent, and nothing else: not the resident's record, not another institution's items, not
/// the residents by search; and its writes create no relationship.
async fn an_integration_token_reads_back_only_its_own(db: TestDb) {
    let w = world(&db).await;
    let made = w
        .app
        .create_token(
            &w.sys,
            "柳河LIS",
            w.town2,
            &["integration".into()],
            Some(30),
        )
        .await
        .unwrap();
    let lis = Ctx {
        actor: Actor::User(Box::new(
            w.app.token_principal(&made.secret).await.unwrap().unwrap(),
        )),
        request_id: "t".into(),
        client_addr: None,
    };
    let by_id = PatientRef {
        id_number: Some(ID.into()),
        ..Default::default()
    };
    let sent = w
        .app
        .record_drafts(&lis, &[lab(w.town2, "T2-1", by_id.clone(), "5.5")], "test")
        .await
        .unwrap();
    assert_eq!(sent[0].person_id, Some(w.victim));
    let hospitals = w
        .app
        .record_drafts(&w.sys, &[lab(w.hospital, "H-1", by_id, "5.0")], "test")
        .await
        .unwrap();
    // Its own item: yes. The hospital's item of the same resident, the record: no.
    let (item, _, _) = w.app.record_item(&lis, sent[0].item_id).await.unwrap();
    assert_eq!(item.source_id, "T2-1");
    forbidden(w.app.record_item(&lis, hospitals[0].item_id).await);
    assert!(!can_read(&w, &lis, w.victim).await);
    forbidden(w.app.search_residents(&lis, NAME, 10).await);
    assert!(
        !grounds(&w, w.victim)
            .await
            .iter()
            .any(|(i, _)| *i == Some(w.town2))
    );
}
both_backends!(
    an_integration_token_reads_back_only_its_own,
    an_integration_token_reads_back_only_its_own
);

// ------------------------------------------------------------------ decided on the locked row

/// A redirect and an acceptance race: the acceptance is decided on the referral as locked in
/// its transaction, so once the redirect committed the former receiver cannot accept a
/// referral that is now another institution's.
async fn a_former_receiver_cannot_accept_after_a_redirect(db: TestDb) {
    let w = world(&db).await;
    let coord = user(&w.app, &w.sys, "coord", w.hospital, "referral_coordinator").await;
    let names = [
        "赵一鸣",
        "钱二丫",
        "孙三妹",
        "周四海",
        "吴五洲",
        "郑六合",
        "冯七星",
        "陈八斗",
    ];
    for (i, name) in names.iter().enumerate() {
        let p = w
            .app
            .register_resident(
                &w.vdoc,
                &ResidentDraft {
                    phone: Some(format!("1390000100{i}")),
                    ..resident(
                        w.village,
                        name,
                        None,
                        &format!("{}-0{}-1{i}", 1940 + i * 3, 1 + i),
                        "柳河镇东村",
                    )
                },
            )
            .await
            .unwrap();
        let r = w
            .app
            .create_referral(
                &w.vdoc,
                &ReferralDraft {
                    direction: "up".into(),
                    person_id: p.person_id.to_string(),
                    urgency: "routine".into(),
                    to_institution_id: w.hospital.to_string(),
                    diagnosis_code: Some("I10".into()),
                    reason: "血压控制不佳，需上级医院调整用药".into(),
                    submit: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let accept = ygt_app::referral::StepDraft {
            action: "accept".into(),
            ..Default::default()
        };
        let redirect = ygt_app::referral::StepDraft {
            action: "redirect".into(),
            reason: Some("本院床位已满，改派石桥镇卫生院".into()),
            to_institution_id: Some(w.town2.to_string()),
            ..Default::default()
        };
        // Redirect first, the acceptance right behind it (read before, locked after).
        let (redirected, accepted) = tokio::join!(
            w.app.referral_step(&coord, r.id, &redirect),
            w.app.referral_step(&coord, r.id, &accept)
        );
        let now = w.app.store().referral(r.id).await.unwrap().unwrap();
        if now.status == ygt_domain::referral::Status::Accepted {
            assert_eq!(
                now.to_institution_id, w.hospital,
                "round {i}: accepted by a receiver it no longer had ({redirected:?} {accepted:?})"
            );
        }
        assert!(redirected.is_ok() || accepted.is_ok(), "round {i}");
    }
}
both_backends!(
    a_former_receiver_cannot_accept_after_a_redirect,
    a_former_receiver_cannot_accept_after_a_redirect
);

/// A community-wide reader (a steward of 石桥镇卫生院) finds every 王丽 of the community, those
/// its own institution cares for first.
async fn own_residents_first(db: TestDb) {
    let w = world(&db).await;
    let steward2 = user(&w.app, &w.sys, "steward2", w.town2, "mpi_steward").await;
    let wang = |inst: Uuid, birth: &str, address: &str, phone: &str| ResidentDraft {
        phone: Some(phone.into()),
        sex: Some("2".into()),
        ..resident(inst, "王丽", None, birth, address)
    };
    let elsewhere = w
        .app
        .register_resident(
            &w.sys,
            &wang(w.village, "1971-03-02", "柳河镇东村3组", "13700000001"),
        )
        .await
        .unwrap()
        .person_id;
    let own = w
        .app
        .register_resident(
            &w.sys,
            &wang(w.town2, "1988-11-20", "石桥镇南街12号", "13800000002"),
        )
        .await
        .unwrap()
        .person_id;
    assert_ne!(elsewhere, own);
    let (found, total) = w
        .app
        .search_residents_page(&steward2, "王丽", 0, 10)
        .await
        .unwrap();
    let ids: Vec<Uuid> = found.iter().map(|f| f.person.id).collect();
    assert_eq!((ids, total), (vec![own, elsewhere], 2));
}
both_backends!(own_residents_first, own_residents_first);
