//! The organisation use cases (crates/ygt-app/src/org.rs), each scenario on SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use time::{Date, Month};
use uuid::Uuid;
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::org::{Institution, InstitutionFilter, StaffFilter};
use ygt_app::{App, AppError, Ctx};
use ygt_domain::ident::{IdNumber, Sex, Uscc};
use ygt_domain::org::{
    AllianceForm, CommunityDraft, DepartmentDraft, InstitutionDraft, InstitutionType, StaffDraft,
    Tier,
};
use ygt_domain::{Reason, ValidationErrors};
use ygt_testkit::{TestDb, both_backends};

// ------------------------------------------------------------------ helpers

const COUNTY_USCC: &str = "91350100M000100Y43";

async fn open(db: &TestDb) -> (App, Ctx) {
    let app = App::new(Store::open(&db.url).await.unwrap());
    (app, Ctx::system())
}

fn county_draft() -> InstitutionDraft {
    InstitutionDraft {
        name: "云溪县人民医院".into(),
        aliases: vec!["云溪县医共体总医院".into()],
        kind: "county_general_hospital".into(),
        division_code: "341890".into(),
        uscc: Some(COUNTY_USCC.into()),
        phone: Some("0563-2123456".into()),
        services: vec!["ct".into(), "lab".into()],
        ..Default::default()
    }
}

fn draft(name: &str, kind: &str, parent: Option<Uuid>, division: &str) -> InstitutionDraft {
    InstitutionDraft {
        name: name.into(),
        kind: kind.into(),
        parent_id: parent.map(|p| p.to_string()),
        division_code: division.into(),
        ..Default::default()
    }
}

fn township_draft(name: &str, parent: Uuid) -> InstitutionDraft {
    let short = name
        .trim_end_matches("卫生院")
        .trim_end_matches(['镇', '乡']);
    InstitutionDraft {
        aliases: vec![format!("云溪县人民医院{short}分院")],
        ..draft(name, "township_health_centre", Some(parent), "341890100")
    }
}

fn village_draft(name: &str, parent: Uuid) -> InstitutionDraft {
    draft(name, "village_clinic", Some(parent), "341890100200")
}

/// A valid USCC different from [`COUNTY_USCC`], made from its first 17 characters.
fn uscc(body17: &str) -> String {
    Uscc::from_body(body17).unwrap().as_str().to_owned()
}

/// A valid ID number; odd `seq` is male, even is female.
fn id_number(year: i32, seq: u16) -> String {
    let birth = Date::from_calendar_date(year, Month::March, 14).unwrap();
    IdNumber::from_parts("341890", birth, seq)
        .unwrap()
        .as_str()
        .to_owned()
}

fn staff_draft(name: &str, sex: &str, institution: Uuid, department: Option<Uuid>) -> StaffDraft {
    StaffDraft {
        name: name.into(),
        sex: sex.into(),
        title: "physician".into(),
        institution_id: institution.to_string(),
        department_id: department.map(|d| d.to_string()),
        ..Default::default()
    }
}

fn department_draft(name: &str, beds: i64) -> DepartmentDraft {
    DepartmentDraft {
        name: name.into(),
        beds: Some(beds),
        ..Default::default()
    }
}

fn community_draft(name: &str, lead: Option<Uuid>) -> CommunityDraft {
    CommunityDraft {
        name: name.into(),
        form: AllianceForm::CountyCommunity.code().into(),
        lead_institution_id: lead.map(|l| l.to_string()),
        division_code: Some("341890".into()),
        description: None,
    }
}

/// The validation errors of a refused call; panics on anything else.
fn invalid<T: Debug>(r: Result<T, AppError>) -> ValidationErrors {
    match r {
        Err(AppError::Invalid(e)) => e,
        other => panic!("expected AppError::Invalid, got {other:?}"),
    }
}

fn fields(e: &ValidationErrors) -> BTreeSet<String> {
    e.0.iter().map(|v| v.field.clone()).collect()
}

/// Asserts the call was refused as invalid with exactly one error, on `field`.
fn assert_invalid_field<T: Debug>(r: Result<T, AppError>, field: &str) -> ValidationErrors {
    let e = invalid(r);
    assert_eq!(e.0.len(), 1, "expected one error on {field}, got {e:?}");
    assert_eq!(e.0[0].field, field, "{e:?}");
    e
}

fn duplicate_field<T: Debug>(r: Result<T, AppError>) -> String {
    match r {
        Err(AppError::Duplicate { field }) => field,
        other => panic!("expected AppError::Duplicate, got {other:?}"),
    }
}

fn assert_stale<T: Debug>(r: Result<T, AppError>) {
    assert!(
        matches!(r, Err(AppError::Stale)),
        "expected AppError::Stale, got {r:?}"
    );
}

fn assert_conflict<T: Debug>(r: Result<T, AppError>) {
    match r {
        Err(AppError::Conflict { msg, .. }) => {
            assert!(!msg.code.is_empty(), "a catalogue message: {msg}");
        }
        other => panic!("expected AppError::Conflict, got {other:?}"),
    }
}

fn assert_not_found<T: Debug>(r: Result<T, AppError>) {
    assert!(
        matches!(r, Err(AppError::NotFound(_))),
        "expected AppError::NotFound, got {r:?}"
    );
}

fn all_institutions() -> InstitutionFilter {
    InstitutionFilter {
        include_inactive: true,
        ..Default::default()
    }
}

async fn institution_count(app: &App, ctx: &Ctx) -> i64 {
    app.list_institutions(ctx, &all_institutions())
        .await
        .unwrap()
        .1
}

fn ids(list: &[Institution]) -> Vec<Uuid> {
    list.iter().map(|i| i.id).collect()
}

/// County hospital, a township centre under it, a village clinic under the township.
async fn three_tiers(app: &App, ctx: &Ctx) -> (Institution, Institution, Institution) {
    let h = app.create_institution(ctx, &county_draft()).await.unwrap();
    let t = app
        .create_institution(ctx, &township_draft("柳河镇卫生院", h.id))
        .await
        .unwrap();
    let v = app
        .create_institution(ctx, &village_draft("柳河镇桃园村卫生室", t.id))
        .await
        .unwrap();
    (h, t, v)
}

// ------------------------------------------------------------------ institutions

async fn hierarchy_tree_and_detail(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, v) = three_tiers(&app, &ctx).await;
    assert_eq!((h.tier, h.parent_id, h.version), (Tier::County, None, 1));
    assert!(h.active);
    assert_eq!(h.aliases, vec!["云溪县医共体总医院".to_string()]);
    assert_eq!(h.uscc.as_deref(), Some(COUNTY_USCC));
    assert_eq!(h.phone.as_deref(), Some("0563-2123456"));
    assert_eq!((t.tier, t.parent_id), (Tier::Township, Some(h.id)));
    assert_eq!((v.tier, v.parent_id), (Tier::Village, Some(t.id)));
    assert_eq!(v.kind, InstitutionType::VillageClinic);

    // Two more county-level roots whose names sort before the county general hospital's.
    let tcm = app
        .create_institution(
            &ctx,
            &draft("云溪县中医医院", "tcm_hospital", None, "341890"),
        )
        .await
        .unwrap();
    let mch = app
        .create_institution(
            &ctx,
            &draft("A县妇幼保健院", "mch_hospital", None, "341890"),
        )
        .await
        .unwrap();

    let tree = app.institution_tree(&ctx).await.unwrap();
    let roots: Vec<Uuid> = tree.iter().map(|n| n.institution.id).collect();
    assert_eq!(
        roots,
        vec![h.id, tcm.id, mch.id],
        "county general hospital first, then TCM, then MCH"
    );
    assert_eq!(tree[0].children.len(), 1);
    let town = &tree[0].children[0];
    assert_eq!(town.institution.id, t.id);
    assert_eq!(town.children.len(), 1);
    assert_eq!(town.children[0].institution.id, v.id);
    assert!(town.children[0].children.is_empty());
    assert!(tree[1].children.is_empty() && tree[2].children.is_empty());

    // The township's page: parent, children, departments, staff, communities.
    let dep = app
        .create_department(&ctx, t.id, &department_draft("全科", 12))
        .await
        .unwrap();
    assert_eq!(
        (dep.institution_id, dep.beds, dep.staff_count),
        (t.id, 12, 0)
    );
    let doc = app
        .create_staff(&ctx, &staff_draft("王建国", "1", t.id, Some(dep.id)))
        .await
        .unwrap();
    assert_eq!(doc.department_name.as_deref(), Some("全科"));
    assert_eq!(doc.institution_name, "柳河镇卫生院");
    let c = app
        .create_community(&ctx, &community_draft("云溪县县域医共体", Some(h.id)))
        .await
        .unwrap();
    app.add_community_member(&ctx, c.id, t.id).await.unwrap();

    let d = app.institution_detail(&ctx, t.id).await.unwrap();
    assert_eq!(d.institution.id, t.id);
    assert_eq!(d.parent.as_ref().map(|p| p.id), Some(h.id));
    assert_eq!(ids(&d.children), vec![v.id]);
    assert_eq!(
        d.departments.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![dep.id]
    );
    assert_eq!(d.departments[0].staff_count, 1);
    assert_eq!(
        d.staff.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![doc.id]
    );
    assert_eq!(
        d.communities.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![c.id]
    );
    assert_eq!(
        (
            d.institution.children_count,
            d.institution.staff_count,
            d.institution.beds
        ),
        (1, 1, 12)
    );

    let d = app.institution_detail(&ctx, h.id).await.unwrap();
    assert!(d.parent.is_none());
    assert_eq!(ids(&d.children), vec![t.id]);
    assert!(d.departments.is_empty() && d.staff.is_empty());
    assert_eq!(d.communities.len(), 1);

    let d = app.institution_detail(&ctx, v.id).await.unwrap();
    assert_eq!(d.parent.as_ref().map(|p| p.id), Some(t.id));
    assert!(d.children.is_empty() && d.communities.is_empty());

    assert_not_found(app.institution_detail(&ctx, Uuid::now_v7()).await);
    assert_not_found(app.institution(&ctx, Uuid::now_v7()).await);
}
both_backends!(hierarchy_tree_and_detail, hierarchy_tree_and_detail);

async fn parent_rules(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, v) = three_tiers(&app, &ctx).await;
    let before = institution_count(&app, &ctx).await;
    assert_eq!(before, 3);

    // A village clinic must have a parent.
    let e = assert_invalid_field(
        app.create_institution(
            &ctx,
            &draft("孤村卫生室", "village_clinic", None, "341890100201"),
        )
        .await,
        "parent_id",
    );
    assert_eq!(e.0[0].reason.code(), "invalid");

    // ... and that parent must be a township, not the county hospital.
    let e = assert_invalid_field(
        app.create_institution(&ctx, &village_draft("直属村卫生室", h.id))
            .await,
        "parent_id",
    );
    assert!(
        e.0[0].reason.message_en() == "org.parent_tier ptier=county tier=village",
        "{e:?}"
    );

    // A township centre cannot report to a village clinic.
    let e = assert_invalid_field(
        app.create_institution(&ctx, &township_draft("青山乡卫生院", v.id))
            .await,
        "parent_id",
    );
    assert!(
        e.0[0].reason.message_en().contains("tier=township"),
        "{e:?}"
    );

    // ... nor to another township centre.
    assert_invalid_field(
        app.create_institution(&ctx, &township_draft("青山乡卫生院", t.id))
            .await,
        "parent_id",
    );

    // A county-tier institution reports to nobody.
    assert_invalid_field(
        app.create_institution(
            &ctx,
            &draft("云溪县中医医院", "tcm_hospital", Some(h.id), "341890"),
        )
        .await,
        "parent_id",
    );

    // A parent that does not exist.
    let e = assert_invalid_field(
        app.create_institution(&ctx, &village_draft("幽灵村卫生室", Uuid::now_v7()))
            .await,
        "parent_id",
    );
    assert_eq!(e.0[0].reason, Reason::NotFound);

    // A parent id that is not a UUID.
    let mut d = village_draft("乱码村卫生室", t.id);
    d.parent_id = Some("not-a-uuid".into());
    let e = assert_invalid_field(app.create_institution(&ctx, &d).await, "parent_id");
    assert_eq!(e.0[0].reason.code(), "format");

    // Nothing was half-written by any of the refused creates.
    assert_eq!(institution_count(&app, &ctx).await, before);

    // A deactivated parent is as good as a missing one.
    let t2 = app
        .create_institution(&ctx, &township_draft("青山乡卫生院", h.id))
        .await
        .unwrap();
    app.deactivate_institution(&ctx, t2.id).await.unwrap();
    let e = assert_invalid_field(
        app.create_institution(&ctx, &village_draft("青山乡竹园村卫生室", t2.id))
            .await,
        "parent_id",
    );
    assert_eq!(e.0[0].reason, Reason::NotFound);

    // Moving the village clinic under the county hospital by update is refused too, and the
    // stored clinic is unchanged.
    assert_invalid_field(
        app.update_institution(
            &ctx,
            v.id,
            &village_draft("柳河镇桃园村卫生室", h.id),
            Some(1),
        )
        .await,
        "parent_id",
    );
    let stored = app.institution(&ctx, v.id).await.unwrap();
    assert_eq!((stored.parent_id, stored.version), (Some(t.id), 1));
    assert_eq!(institution_count(&app, &ctx).await, before + 1);
}
both_backends!(parent_rules, parent_rules);

async fn no_parent_cycles(db: TestDb) {
    let (app, ctx) = open(&db).await;
    // A private hospital may be of any tier, so tier rules alone cannot prevent a cycle.
    let p = app
        .create_institution(
            &ctx,
            &draft("云溪仁爱医院", "private_hospital", None, "341890"),
        )
        .await
        .unwrap();
    assert_eq!(p.tier, Tier::County);
    let t = app
        .create_institution(&ctx, &township_draft("柳河镇卫生院", p.id))
        .await
        .unwrap();

    // p becomes a village-tier institution under t, which is under p: a cycle.
    let mut d = draft("云溪仁爱医院", "private_hospital", Some(t.id), "341890");
    d.tier = Some("village".into());
    // Refused: an institution with children keeps its tier (which also rules the cycle out).
    let e = assert_invalid_field(
        app.update_institution(&ctx, p.id, &d, Some(1)).await,
        "tier",
    );
    assert!(
        e.0[0]
            .reason
            .message_en()
            .starts_with("org.tier_has_children"),
        "{e:?}"
    );
    let stored = app.institution(&ctx, p.id).await.unwrap();
    assert_eq!(
        (stored.tier, stored.parent_id, stored.version),
        (Tier::County, None, 1)
    );

    // An institution cannot be its own parent either.
    let mut d = draft(
        "仁爱柳河门诊部",
        "private_hospital",
        Some(t.id),
        "341890100",
    );
    d.tier = Some("village".into());
    let x = app.create_institution(&ctx, &d).await.unwrap();
    let mut d = draft("仁爱柳河门诊部", "private_hospital", None, "341890100");
    d.tier = Some("township".into());
    d.parent_id = Some(p.id.to_string());
    let x = app
        .update_institution(&ctx, x.id, &d, Some(x.version))
        .await
        .unwrap();
    assert_eq!(
        (x.tier, x.parent_id, x.version),
        (Tier::Township, Some(p.id), 2)
    );
    let mut d = draft(
        "仁爱柳河门诊部",
        "private_hospital",
        Some(x.id),
        "341890100",
    );
    d.tier = Some("village".into());
    let e = assert_invalid_field(
        app.update_institution(&ctx, x.id, &d, Some(2)).await,
        "parent_id",
    );
    assert!(e.0[0].reason.message_en() == "org.parent_cycle", "{e:?}");
    assert_eq!(app.institution(&ctx, x.id).await.unwrap().version, 2);
}
both_backends!(no_parent_cycles, no_parent_cycles);

async fn institution_field_rules(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (_h, t, _v) = three_tiers(&app, &ctx).await;
    let before = institution_count(&app, &ctx).await;

    // A tier the kind does not allow.
    let mut d = village_draft("柳河镇杏花村卫生室", t.id);
    d.tier = Some("county".into());
    assert_invalid_field(app.create_institution(&ctx, &d).await, "tier");
    let mut d = draft(
        "云溪县第二人民医院",
        "county_general_hospital",
        None,
        "341890",
    );
    d.tier = Some("township".into());
    assert_invalid_field(app.create_institution(&ctx, &d).await, "tier");
    // An unknown tier code.
    let mut d = draft(
        "云溪县第二人民医院",
        "county_general_hospital",
        None,
        "341890",
    );
    d.tier = Some("province".into());
    let e = assert_invalid_field(app.create_institution(&ctx, &d).await, "tier");
    assert_eq!(e.0[0].reason.code(), "unknown_code");

    // Identifiers: division code, USCC (bad check character and bad shape), phone.
    for bad in ["34189", "3418900", "991890", "34189a"] {
        let d = draft("云溪县第二人民医院", "county_general_hospital", None, bad);
        assert_invalid_field(app.create_institution(&ctx, &d).await, "division_code");
    }
    for bad in [
        "91350100M000100Y44",
        "91350100M000100Y4",
        "91350100M000100YO3",
    ] {
        let mut d = draft(
            "云溪县第二人民医院",
            "county_general_hospital",
            None,
            "341890",
        );
        d.uscc = Some(bad.into());
        assert_invalid_field(app.create_institution(&ctx, &d).await, "uscc");
    }
    for bad in ["12345", "0563-0123", "23800001111"] {
        let mut d = draft(
            "云溪县第二人民医院",
            "county_general_hospital",
            None,
            "341890",
        );
        d.phone = Some(bad.into());
        assert_invalid_field(app.create_institution(&ctx, &d).await, "phone");
    }
    let mut d = draft("云溪县第二人民医院", "hospital", None, "341890");
    d.services = vec!["lab".into(), "xray".into()];
    let e = invalid(app.create_institution(&ctx, &d).await);
    assert_eq!(
        fields(&e),
        BTreeSet::from(["kind".to_string(), "services[1]".to_string()])
    );

    // Several errors at once are all reported.
    let d = InstitutionDraft {
        name: "   ".into(),
        aliases: vec![],
        kind: "village_clinic".into(),
        tier: None,
        parent_id: None,
        uscc: Some("123".into()),
        division_code: "12".into(),
        address: None,
        phone: Some("999".into()),
        services: vec![],
    };
    let e = invalid(app.create_institution(&ctx, &d).await);
    assert_eq!(
        fields(&e),
        ["name", "parent_id", "uscc", "division_code", "phone"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>(),
        "{e:?}"
    );
    assert_eq!(e.0.len(), 5, "{e:?}");
    for v in &e.0 {
        assert!(!v.reason.message().to_string().is_empty() && !v.reason.message_en().is_empty());
    }

    // The same rules on update, with the record left alone.
    let mut d = township_draft("柳河镇卫生院", t.parent_id.unwrap());
    d.division_code = "x".into();
    d.phone = Some("1".into());
    let e = invalid(app.update_institution(&ctx, t.id, &d, Some(1)).await);
    assert_eq!(
        fields(&e),
        BTreeSet::from(["division_code".to_string(), "phone".to_string()])
    );
    assert_eq!(app.institution(&ctx, t.id).await.unwrap().version, 1);

    assert_eq!(institution_count(&app, &ctx).await, before);
}
both_backends!(institution_field_rules, institution_field_rules);

async fn duplicates(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, _v) = three_tiers(&app, &ctx).await;
    let before = institution_count(&app, &ctx).await;

    // The same USCC on a second institution, also when typed in lower case.
    let mut d = draft(
        "云溪县第二人民医院",
        "county_general_hospital",
        None,
        "341890",
    );
    d.uscc = Some(COUNTY_USCC.into());
    assert_eq!(
        duplicate_field(app.create_institution(&ctx, &d).await),
        "uscc"
    );
    d.uscc = Some(COUNTY_USCC.to_lowercase());
    assert_eq!(
        duplicate_field(app.create_institution(&ctx, &d).await),
        "uscc"
    );
    assert_eq!(
        institution_count(&app, &ctx).await,
        before,
        "nothing half-written"
    );
    // ... or given to another institution by update.
    let mut d = township_draft("柳河镇卫生院", h.id);
    d.uscc = Some(COUNTY_USCC.into());
    assert_eq!(
        duplicate_field(app.update_institution(&ctx, t.id, &d, Some(1)).await),
        "uscc"
    );
    let stored = app.institution(&ctx, t.id).await.unwrap();
    assert_eq!((stored.uscc, stored.version), (None, 1));
    // A different, valid USCC is fine.
    d.uscc = Some(uscc("12341890MB0000001"));
    let t2 = app
        .update_institution(&ctx, t.id, &d, Some(1))
        .await
        .unwrap();
    assert_eq!(t2.uscc, d.uscc);

    // Staff licence numbers and ID numbers are unique.
    let mut s = staff_draft("张伟", "1", h.id, None);
    s.licence_number = Some("110341980000001".into());
    s.id_number = Some(id_number(1980, 11));
    app.create_staff(&ctx, &s).await.unwrap();
    let mut s2 = staff_draft("张伟", "1", t.id, None);
    s2.licence_number = Some("110341980000001".into());
    assert_eq!(
        duplicate_field(app.create_staff(&ctx, &s2).await),
        "licence_number"
    );
    let mut s3 = staff_draft("李娜", "2", t.id, None);
    s3.licence_number = Some("v34189000000001".into());
    app.create_staff(&ctx, &s3).await.unwrap();
    s2.licence_number = Some("V34189000000001".into());
    assert_eq!(
        duplicate_field(app.create_staff(&ctx, &s2).await),
        "licence_number",
        "licence numbers are compared upper-cased"
    );
    s2.licence_number = Some("110341980000002".into());
    s2.id_number = Some(id_number(1980, 11));
    assert_eq!(
        duplicate_field(app.create_staff(&ctx, &s2).await),
        "id_number"
    );
    let (_, staff_total) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                include_inactive: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(staff_total, 2);

    // Department names are unique within an institution, not across institutions.
    app.create_department(&ctx, h.id, &department_draft("内科", 40))
        .await
        .unwrap();
    let r = app
        .create_department(&ctx, h.id, &department_draft("内科", 10))
        .await;
    assert_eq!(duplicate_field(r), "name");
    app.create_department(&ctx, t.id, &department_draft("内科", 10))
        .await
        .unwrap();
    assert_eq!(app.departments(&ctx, h.id).await.unwrap().len(), 1);
    let surgery = app
        .create_department(&ctx, h.id, &department_draft("外科", 30))
        .await
        .unwrap();
    let r = app
        .update_department(&ctx, surgery.id, &department_draft("内科", 30), Some(1))
        .await;
    assert_eq!(duplicate_field(r), "name");
    assert_eq!(app.department(&ctx, surgery.id).await.unwrap().name, "外科");
}
both_backends!(duplicates, duplicates);

async fn optimistic_concurrency(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let h = app.create_institution(&ctx, &county_draft()).await.unwrap();
    assert_eq!(h.version, 1);

    // The right version: saved, version bumped, lists replaced.
    let mut d = county_draft();
    d.name = "云溪县第一人民医院".into();
    d.aliases = vec!["县一院".into()];
    d.services = vec!["mri".into()];
    let h2 = app
        .update_institution(&ctx, h.id, &d, Some(1))
        .await
        .unwrap();
    assert_eq!(h2.version, 2);
    assert_eq!(h2.name, "云溪县第一人民医院");
    assert_eq!(h2.aliases, vec!["县一院".to_string()]);
    assert_eq!(h2.services.len(), 1);

    // A stale version: refused, and the stored record is unchanged.
    let mut stale = county_draft();
    stale.name = "旧名字医院".into();
    let r = app.update_institution(&ctx, h.id, &stale, Some(1)).await;
    assert_stale(r);
    let stored = app.institution(&ctx, h.id).await.unwrap();
    assert_eq!(stored.name, "云溪县第一人民医院");
    assert_eq!(stored.aliases, vec!["县一院".to_string()]);
    assert_eq!(stored.services, h2.services);
    assert_eq!(stored.version, 2);
    assert_eq!(stored.updated_at, h2.updated_at);
    // A version from the future is stale too.
    let r = app.update_institution(&ctx, h.id, &stale, Some(9)).await;
    assert_stale(r);

    // Without a version the update is unconditional.
    let h3 = app.update_institution(&ctx, h.id, &d, None).await.unwrap();
    assert_eq!(h3.version, 3);

    // Unknown id.
    assert_not_found(app.update_institution(&ctx, Uuid::now_v7(), &d, None).await);

    // Departments, staff and communities follow the same rule.
    let dep = app
        .create_department(&ctx, h.id, &department_draft("内科", 40))
        .await
        .unwrap();
    let r = app
        .update_department(&ctx, dep.id, &department_draft("大内科", 40), Some(2))
        .await;
    assert_stale(r);
    let dep2 = app
        .update_department(&ctx, dep.id, &department_draft("大内科", 50), Some(1))
        .await
        .unwrap();
    assert_eq!(
        (dep2.name.as_str(), dep2.beds, dep2.version),
        ("大内科", 50, 2)
    );

    let s = app
        .create_staff(&ctx, &staff_draft("赵敏", "2", h.id, Some(dep.id)))
        .await
        .unwrap();
    let r = app
        .update_staff(&ctx, s.id, &staff_draft("赵敏敏", "2", h.id, None), Some(2))
        .await;
    assert_stale(r);
    assert_eq!(app.staff_member(&ctx, s.id).await.unwrap().name, "赵敏");
    let s2 = app
        .update_staff(&ctx, s.id, &staff_draft("赵敏敏", "2", h.id, None), Some(1))
        .await
        .unwrap();
    assert_eq!(
        (s2.name.as_str(), s2.department_id, s2.version),
        ("赵敏敏", None, 2)
    );

    let c = app
        .create_community(&ctx, &community_draft("云溪县县域医共体", Some(h.id)))
        .await
        .unwrap();
    let r = app
        .update_community(&ctx, c.id, &community_draft("新名字", Some(h.id)), Some(5))
        .await;
    assert_stale(r);
    assert_eq!(
        app.community(&ctx, c.id).await.unwrap().name,
        "云溪县县域医共体"
    );
    let c2 = app
        .update_community(&ctx, c.id, &community_draft("新名字", Some(h.id)), Some(1))
        .await
        .unwrap();
    assert_eq!((c2.name.as_str(), c2.version), ("新名字", 2));
}
both_backends!(optimistic_concurrency, optimistic_concurrency);

async fn deactivation_and_listing(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, v) = three_tiers(&app, &ctx).await;
    assert_eq!(h.children_count, 0, "counted when h was created");
    assert_eq!(app.institution(&ctx, h.id).await.unwrap().children_count, 1);

    // Refused while active institutions report to it.
    assert_conflict(app.deactivate_institution(&ctx, t.id).await);
    assert_conflict(app.deactivate_institution(&ctx, h.id).await);
    let stored = app.institution(&ctx, t.id).await.unwrap();
    assert!(stored.active);
    assert_eq!(stored.version, 1);

    // The leaf first, then upwards.
    let v2 = app.deactivate_institution(&ctx, v.id).await.unwrap();
    assert!(!v2.active);
    assert_eq!(v2.version, 2);
    assert_eq!(app.institution(&ctx, t.id).await.unwrap().children_count, 0);

    // Inactive institutions are not listed by default, nor in the tree or in search.
    let (list, total) = app
        .list_institutions(&ctx, &InstitutionFilter::default())
        .await
        .unwrap();
    assert_eq!((ids(&list), total), (vec![h.id, t.id], 2));
    let (list, total) = app
        .list_institutions(&ctx, &all_institutions())
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert!(list.iter().any(|i| i.id == v.id && !i.active));
    let tree = app.institution_tree(&ctx).await.unwrap();
    assert_eq!(tree.len(), 1);
    assert!(tree[0].children[0].children.is_empty());
    assert!(
        app.search(&ctx, "桃园村", 10)
            .await
            .unwrap()
            .institutions
            .is_empty()
    );

    let t2 = app.deactivate_institution(&ctx, t.id).await.unwrap();
    assert!(!t2.active);
    let h2 = app.deactivate_institution(&ctx, h.id).await.unwrap();
    assert!(!h2.active);
    let (list, total) = app
        .list_institutions(&ctx, &InstitutionFilter::default())
        .await
        .unwrap();
    assert!(list.is_empty());
    assert_eq!(total, 0);
    assert!(app.institution_tree(&ctx).await.unwrap().is_empty());
    // Deactivated, never deleted: still readable by id.
    assert!(!app.institution(&ctx, h.id).await.unwrap().active);

    // Reactivation, top down.
    let h3 = app.reactivate_institution(&ctx, h.id).await.unwrap();
    assert!(h3.active);
    assert_eq!(h3.version, 3);
    let t3 = app.reactivate_institution(&ctx, t.id).await.unwrap();
    assert!(t3.active);
    let (list, total) = app
        .list_institutions(&ctx, &InstitutionFilter::default())
        .await
        .unwrap();
    assert_eq!((ids(&list), total), (vec![h.id, t.id], 2));
    assert_eq!(app.institution(&ctx, h.id).await.unwrap().children_count, 1);

    assert_not_found(app.deactivate_institution(&ctx, Uuid::now_v7()).await);
    assert_not_found(app.reactivate_institution(&ctx, Uuid::now_v7()).await);

    // No new departments in a deactivated institution.
    assert_conflict(
        app.create_department(&ctx, v.id, &department_draft("诊室", 0))
            .await,
    );
    assert_not_found(
        app.create_department(&ctx, Uuid::now_v7(), &department_draft("诊室", 0))
            .await,
    );
}
both_backends!(deactivation_and_listing, deactivation_and_listing);

// ------------------------------------------------------------------ departments and staff

async fn staff_rules(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, v) = three_tiers(&app, &ctx).await;
    let internal = app
        .create_department(&ctx, h.id, &department_draft("内科", 40))
        .await
        .unwrap();
    let general = app
        .create_department(&ctx, t.id, &department_draft("全科", 8))
        .await
        .unwrap();

    // The department must belong to the staff member's institution.
    let e = assert_invalid_field(
        app.create_staff(&ctx, &staff_draft("周杰", "1", t.id, Some(internal.id)))
            .await,
        "department_id",
    );
    assert_eq!(e.0[0].reason.code(), "invalid");
    assert_invalid_field(
        app.create_staff(&ctx, &staff_draft("周杰", "1", t.id, Some(Uuid::now_v7())))
            .await,
        "department_id",
    );
    assert_invalid_field(
        app.create_staff(&ctx, &staff_draft("周杰", "1", Uuid::now_v7(), None))
            .await,
        "institution_id",
    );
    let (_, n) = app.list_staff(&ctx, &StaffFilter::default()).await.unwrap();
    assert_eq!(n, 0, "nothing half-written");

    let mut d = staff_draft("王秀英", "女", h.id, Some(internal.id));
    d.licence_number = Some("110341975000007".into());
    d.id_number = Some(id_number(1975, 20));
    d.phone = Some("+86 138 0013 8000".into());
    let wang = app.create_staff(&ctx, &d).await.unwrap();
    assert_eq!(wang.sex, Sex::Female);
    assert_eq!(wang.phone.as_deref(), Some("13800138000"));
    assert_eq!(wang.department_id, Some(internal.id));
    let li = app
        .create_staff(&ctx, &staff_draft("李秀兰", "2", t.id, Some(general.id)))
        .await
        .unwrap();
    let mut d = staff_draft("王建军", "1", v.id, None);
    d.title = "village_doctor".into();
    d.licence_number = Some("V34189000000042".into());
    let wang2 = app.create_staff(&ctx, &d).await.unwrap();

    // Moving a staff member to another institution's department is refused on update too.
    let r = app
        .update_staff(
            &ctx,
            li.id,
            &staff_draft("李秀兰", "2", t.id, Some(internal.id)),
            Some(1),
        )
        .await;
    assert_invalid_field(r, "department_id");
    assert_eq!(
        app.staff_member(&ctx, li.id).await.unwrap().department_id,
        Some(general.id)
    );

    // A department cannot be closed while staff work there.
    assert_conflict(app.set_department_active(&ctx, internal.id, false).await);
    assert!(app.department(&ctx, internal.id).await.unwrap().active);
    let empty = app
        .create_department(&ctx, h.id, &department_draft("外科", 30))
        .await
        .unwrap();
    let closed = app
        .set_department_active(&ctx, empty.id, false)
        .await
        .unwrap();
    assert!(!closed.active);
    assert_eq!(
        app.departments(&ctx, h.id)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![internal.id],
        "closed departments are not listed"
    );
    assert_eq!(app.institution(&ctx, h.id).await.unwrap().beds, 40);
    // Nobody can be placed in a closed department.
    assert_invalid_field(
        app.create_staff(&ctx, &staff_draft("孙丽", "2", h.id, Some(empty.id)))
            .await,
        "department_id",
    );
    // Once the staff member has left, the department can be closed.
    let gone = app.set_staff_active(&ctx, wang.id, false).await.unwrap();
    assert!(!gone.active);
    let closed = app
        .set_department_active(&ctx, internal.id, false)
        .await
        .unwrap();
    assert!(!closed.active);
    let reopened = app
        .set_department_active(&ctx, internal.id, true)
        .await
        .unwrap();
    assert!(reopened.active);

    // Search by part of the name; inactive staff only on request.
    let (found, n) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                q: Some("秀".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (found.iter().map(|s| s.id).collect::<Vec<_>>(), n),
        (vec![li.id], 1)
    );
    let (found, n) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                q: Some("王".into()),
                include_inactive: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut got: Vec<Uuid> = found.iter().map(|s| s.id).collect();
    got.sort();
    let mut want = vec![wang.id, wang2.id];
    want.sort();
    assert_eq!((got, n), (want, 2));
    let (found, _) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                q: Some("  王建军 ".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![wang2.id]
    );
    // ... and by licence number, in any case.
    let (found, _) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                q: Some("v341890000".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![wang2.id]
    );
    let (found, n) = app
        .list_staff(
            &ctx,
            &StaffFilter {
                q: Some("欧阳".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(found.is_empty());
    assert_eq!(n, 0);

    // The sex must match the one encoded in the ID number.
    let mut d = staff_draft("刘洋", "1", h.id, None);
    d.id_number = Some(id_number(1990, 22)); // even sequence: female
    let e = assert_invalid_field(app.create_staff(&ctx, &d).await, "sex");
    assert_eq!(e.0[0].reason.code(), "invalid");
    let mut d = staff_draft("刘洋", "2", h.id, None);
    d.id_number = Some(id_number(1990, 23)); // odd sequence: male
    assert_invalid_field(app.create_staff(&ctx, &d).await, "sex");
    d.sex = "1".into();
    let liu = app.create_staff(&ctx, &d).await.unwrap();
    assert_eq!(liu.sex, Sex::Male);
    // ... on update as well.
    let mut d2 = d.clone();
    d2.sex = "2".into();
    assert_invalid_field(app.update_staff(&ctx, liu.id, &d2, Some(1)).await, "sex");
    assert_eq!(app.staff_member(&ctx, liu.id).await.unwrap().sex, Sex::Male);

    // Several staff errors at once.
    let bad = StaffDraft {
        name: String::new(),
        sex: "x".into(),
        title: "surgeon".into(),
        institution_id: String::new(),
        department_id: Some("nope".into()),
        licence_number: Some("12".into()),
        id_number: Some("110105194912310021".into()),
        phone: Some("1".into()),
    };
    let e = invalid(app.create_staff(&ctx, &bad).await);
    assert_eq!(
        fields(&e),
        [
            "name",
            "sex",
            "title",
            "institution_id",
            "department_id",
            "licence_number",
            "id_number",
            "phone"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>(),
        "{e:?}"
    );

    assert_not_found(app.staff_member(&ctx, Uuid::now_v7()).await);
    assert_not_found(app.department(&ctx, Uuid::now_v7()).await);
    assert_not_found(app.departments(&ctx, Uuid::now_v7()).await);
}
both_backends!(staff_rules, staff_rules);

// ------------------------------------------------------------------ communities

async fn communities(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, v) = three_tiers(&app, &ctx).await;

    // Creating with a lead makes the lead a member.
    let c = app
        .create_community(&ctx, &community_draft("云溪县县域医共体", Some(h.id)))
        .await
        .unwrap();
    assert_eq!(c.form, AllianceForm::CountyCommunity);
    assert_eq!(c.lead_institution_id, Some(h.id));
    assert_eq!(c.member_count, 1);
    let cd = app.community_detail(&ctx, c.id).await.unwrap();
    assert_eq!(cd.lead.as_ref().map(|l| l.id), Some(h.id));
    assert_eq!(ids(&cd.members), vec![h.id]);

    // Adding members, twice is harmless.
    app.add_community_member(&ctx, c.id, t.id).await.unwrap();
    let cd = app.add_community_member(&ctx, c.id, v.id).await.unwrap();
    assert_eq!(ids(&cd.members), vec![h.id, t.id, v.id]);
    let cd = app.add_community_member(&ctx, c.id, t.id).await.unwrap();
    assert_eq!(cd.members.len(), 3);
    assert_eq!(cd.community.member_count, 3);
    assert_invalid_field(
        app.add_community_member(&ctx, c.id, Uuid::now_v7()).await,
        "institution_id",
    );
    assert_not_found(app.add_community_member(&ctx, Uuid::now_v7(), t.id).await);

    // Removing a member; it can come back.
    let cd = app.remove_community_member(&ctx, c.id, v.id).await.unwrap();
    assert_eq!(ids(&cd.members), vec![h.id, t.id]);
    assert!(
        app.institution_detail(&ctx, v.id)
            .await
            .unwrap()
            .communities
            .is_empty()
    );
    // Removing a non-member (again, or never a member).
    assert_not_found(app.remove_community_member(&ctx, c.id, v.id).await);
    assert_not_found(
        app.remove_community_member(&ctx, c.id, Uuid::now_v7())
            .await,
    );
    let cd = app.add_community_member(&ctx, c.id, v.id).await.unwrap();
    assert_eq!(ids(&cd.members), vec![h.id, t.id, v.id]);

    // The lead cannot leave.
    let r = app.remove_community_member(&ctx, c.id, h.id).await;
    match &r {
        Err(AppError::Conflict { field, .. }) => {
            assert_eq!(field.as_deref(), Some("institution_id"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(app.community(&ctx, c.id).await.unwrap().member_count, 3);

    // A lead that does not exist is refused on update and on create.
    assert_invalid_field(
        app.update_community(
            &ctx,
            c.id,
            &community_draft("改名", Some(Uuid::now_v7())),
            Some(1),
        )
        .await,
        "lead_institution_id",
    );
    let stored = app.community(&ctx, c.id).await.unwrap();
    assert_eq!(
        (
            stored.name.as_str(),
            stored.lead_institution_id,
            stored.version
        ),
        ("云溪县县域医共体", Some(h.id), 1)
    );
    assert_invalid_field(
        app.create_community(&ctx, &community_draft("另一个", Some(Uuid::now_v7())))
            .await,
        "lead_institution_id",
    );
    assert_eq!(app.list_communities(&ctx, true).await.unwrap().len(), 1);
    assert_not_found(
        app.update_community(&ctx, Uuid::now_v7(), &community_draft("x", None), None)
            .await,
    );
    let mut bad = community_draft("", None);
    bad.form = "empire".into();
    bad.division_code = Some("1".into());
    let e = invalid(app.create_community(&ctx, &bad).await);
    assert_eq!(
        fields(&e),
        ["name", "form", "division_code"]
            .into_iter()
            .map(String::from)
            .collect::<BTreeSet<_>>()
    );

    // A new lead joins if needed; the old lead may then leave.
    app.remove_community_member(&ctx, c.id, t.id).await.unwrap();
    let c2 = app
        .update_community(
            &ctx,
            c.id,
            &community_draft("云溪县县域医共体", Some(t.id)),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!(
        (c2.lead_institution_id, c2.version, c2.member_count),
        (Some(t.id), 2, 3)
    );
    let cd = app.remove_community_member(&ctx, c.id, h.id).await.unwrap();
    assert_eq!(ids(&cd.members), vec![t.id, v.id]);
    assert_conflict(app.remove_community_member(&ctx, c.id, t.id).await);

    // Deactivated communities are listed only on request.
    let off = app.set_community_active(&ctx, c.id, false).await.unwrap();
    assert!(!off.active);
    assert!(app.list_communities(&ctx, false).await.unwrap().is_empty());
    assert_eq!(app.list_communities(&ctx, true).await.unwrap().len(), 1);
    assert_not_found(app.community(&ctx, Uuid::now_v7()).await);
}
both_backends!(communities, communities);

// ------------------------------------------------------------------ search

async fn search(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, _v) = three_tiers(&app, &ctx).await;
    let mut d = staff_draft("陈志强", "1", t.id, None);
    d.licence_number = Some("110341970000321".into());
    let chen = app.create_staff(&ctx, &d).await.unwrap();
    app.create_staff(&ctx, &staff_draft("林芳", "2", h.id, None))
        .await
        .unwrap();

    // By alias.
    let r = app.search(&ctx, "柳河分院", 10).await.unwrap();
    assert_eq!(ids(&r.institutions), vec![t.id]);
    assert!(r.staff.is_empty());
    let r = app.search(&ctx, "医共体总医院", 10).await.unwrap();
    assert_eq!(ids(&r.institutions), vec![h.id]);
    // By name.
    let r = app.search(&ctx, "卫生室", 10).await.unwrap();
    assert_eq!(r.institutions.len(), 1);
    assert_eq!(r.institutions[0].kind, InstitutionType::VillageClinic);
    // Staff by name and by licence number.
    let r = app.search(&ctx, " 志强 ", 10).await.unwrap();
    assert_eq!(
        r.staff.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![chen.id]
    );
    assert!(r.institutions.is_empty());
    let r = app.search(&ctx, "0000321", 10).await.unwrap();
    assert_eq!(
        r.staff.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![chen.id]
    );
    // The limit applies.
    let r = app.search(&ctx, "柳河", 1).await.unwrap();
    assert_eq!(r.institutions.len(), 1);
    let r = app.search(&ctx, "柳河", 10).await.unwrap();
    assert_eq!(r.institutions.len(), 2);

    // Blank text finds nothing; LIKE wildcards are literal.
    for blank in ["", "   ", "\t\n"] {
        let r = app.search(&ctx, blank, 10).await.unwrap();
        assert!(r.institutions.is_empty() && r.staff.is_empty(), "{blank:?}");
    }
    for wild in ["%", "_", "%%"] {
        let r = app.search(&ctx, wild, 10).await.unwrap();
        assert!(r.institutions.is_empty() && r.staff.is_empty(), "{wild:?}");
    }
    let r = app.search(&ctx, "不存在的机构", 10).await.unwrap();
    assert!(r.institutions.is_empty() && r.staff.is_empty());
}
both_backends!(search, search);

async fn overview_counts(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let (h, t, _v) = three_tiers(&app, &ctx).await;
    app.create_department(&ctx, h.id, &department_draft("内科", 40))
        .await
        .unwrap();
    app.create_department(&ctx, t.id, &department_draft("全科", 6))
        .await
        .unwrap();
    app.create_staff(&ctx, &staff_draft("吴刚", "1", t.id, None))
        .await
        .unwrap();
    app.create_community(&ctx, &community_draft("云溪县县域医共体", Some(h.id)))
        .await
        .unwrap();
    let o = app.overview(&ctx).await.unwrap();
    assert_eq!(
        (
            o.communities,
            o.county,
            o.township,
            o.village,
            o.staff,
            o.beds
        ),
        (1, 1, 1, 1, 1, 46)
    );
    app.health().await.unwrap();
}
both_backends!(overview_counts, overview_counts);

// ------------------------------------------------------------------ concurrent writers

/// Twelve requests create township centres at the same time: every one must succeed. On SQLite
/// the writers have to queue for the write lock (busy timeout) rather than fail with "database is
/// locked", which is what a DEFERRED transaction that reads before it writes does.
async fn concurrent_writes(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let h = app.create_institution(&ctx, &county_draft()).await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (app, ctx) = (app.clone(), ctx.clone());
            tokio::spawn(async move {
                app.create_institution(&ctx, &township_draft(&format!("第{i}镇卫生院"), h.id))
                    .await
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 12 writes failed: {failures:?}",
        failures.len()
    );
    assert_eq!(institution_count(&app, &ctx).await, 13);
    assert_eq!(
        app.institution(&ctx, h.id).await.unwrap().children_count,
        12
    );
}
both_backends!(concurrent_writes, concurrent_writes);

// ------------------------------------------------------------------ regressions

/// Reactivating below an inactive parent, changing the tier of an institution with children,
/// deactivating a community's lead: all refused.
async fn hierarchy_stays_consistent(db: TestDb) {
    let (app, ctx) = open(&db).await;
    let h = app.create_institution(&ctx, &county_draft()).await.unwrap();
    let t = app
        .create_institution(&ctx, &township_draft("柳河镇卫生院", h.id))
        .await
        .unwrap();
    let v = app
        .create_institution(&ctx, &village_draft("柳河镇张庄村卫生室", t.id))
        .await
        .unwrap();
    app.deactivate_institution(&ctx, v.id).await.unwrap();
    app.deactivate_institution(&ctx, t.id).await.unwrap();
    let err = app.reactivate_institution(&ctx, v.id).await.unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict { field: Some(f), .. } if f == "parent_id"),
        "{err:?}"
    );
    app.reactivate_institution(&ctx, t.id).await.unwrap();
    app.reactivate_institution(&ctx, v.id).await.unwrap();

    let t2 = app
        .create_institution(&ctx, &township_draft("石桥乡卫生院", h.id))
        .await
        .unwrap();
    let mut to_village = draft("柳河镇卫生院", "other", Some(t2.id), "341890100");
    to_village.tier = Some("village".into());
    let err = app
        .update_institution(&ctx, t.id, &to_village, None)
        .await
        .unwrap_err();
    match err {
        AppError::Invalid(e) => assert_eq!(e.first().unwrap().field, "tier"),
        other => panic!("{other:?}"),
    }

    app.create_community(
        &ctx,
        &CommunityDraft {
            name: "云溪县县域医共体".into(),
            form: "county_community".into(),
            lead_institution_id: Some(h.id.to_string()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.deactivate_institution(&ctx, t2.id).await.unwrap();
    app.deactivate_institution(&ctx, v.id).await.unwrap();
    app.deactivate_institution(&ctx, t.id).await.unwrap();
    let err = app.deactivate_institution(&ctx, h.id).await.unwrap_err();
    assert!(
        matches!(err, AppError::Conflict { .. }),
        "the lead of a community stays active"
    );
}
both_backends!(hierarchy_stays_consistent, hierarchy_stays_consistent);
