//! The access matrix: every role × every route × (own institution, subordinate village, other
//! institution; resident linked by referral, not linked, or registered here by resemblance only),
//! asserting allow or deny, on SQLite and PostgreSQL. Every response is scanned for unmasked ID
//! and mobile numbers. The route list comes from the router itself: a new route without a
//! decision here fails the test.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;
use ygt_app::Ctx as AppCtx;
use ygt_app::account::AccountDraft;
use ygt_app::ygt_store::org::{InstitutionFilter, StaffFilter};
use ygt_domain::access::{Permission as P, Role, default_permissions};
use ygt_domain::org::Tier;
use ygt_testkit::TestDb;

use crate::{PASSWORD, TestServer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// The route names no institution or resident.
    Nowhere,
    /// The actor's own institution (a township centre).
    Own,
    /// A village clinic under the actor's institution.
    Sub,
    /// Another township centre.
    Other,
    /// A resident linked to the actor's institution by a referral.
    Linked,
    /// A resident with no link to the actor.
    NotLinked,
    /// A resident registered elsewhere with the ID card, then at the actor's institution by
    /// name, sex, birth date, address and phone alone: linked by the index, never opened.
    Unverified,
}

/// Who may use a route.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Public,
    AnyUser,
    Perm(P),
    /// `local` over the institution in question, or `all` anywhere.
    Scoped(P, P),
    /// Token creation: token.manage, and the institution in scope or account.manage_all.
    TokenCreate,
    /// Reading a resident's data: patient.read and (community-wide or linked).
    Resident,
    /// Full identifiers of a resident: patient.reveal on top of [`Rule::Resident`].
    Reveal,
    /// A patient permission over an institution in the actor's patient-data scope.
    PatientScoped(P),
    /// Correcting a stored item: reading it ([`Rule::Resident`]) and writing for its
    /// institution (the linked resident's item is at the actor's own institution).
    ResidentWrite,
    /// Any of these permissions.
    AnyOf(&'static [P]),
    /// Reading a referral: patient.read or referral.manage, and the actor's institution is a
    /// side of it (or the role is community-wide).
    ReferralRead,
    /// A step on a referral: patient.write or referral.manage, and the actor's institution is
    /// a side of it.
    ReferralAct,
    /// Nobody signed in or holding an API token: only the configured metrics token.
    MetricsToken,
}

fn rule(method: &str, path: &str) -> Option<Rule> {
    use Rule::*;
    let write = Scoped(P::RegistryWrite, P::RegistryWriteAll);
    Some(match (method, path) {
        (_, "/healthz" | "/login" | "/lang/{code}" | "/static/{*path}" | "/fhir/metadata") => {
            Public
        }
        ("GET", "/fhir/{rtype}" | "/fhir/{rtype}/{id}" | "/fhir/Binary/{id}") => Resident,
        ("PUT", "/fhir/{rtype}/{id}") => ResidentWrite,
        ("POST", "/fhir" | "/fhir/{rtype}") => PatientScoped(P::PatientWrite),
        // Only the configured metrics token (no session, no API token) reads the metrics.
        (_, "/metrics") => MetricsToken,
        (_, "/api/openapi.json" | "/api/docs" | "/api/v1/me") => AnyUser,
        (_, "/logout" | "/account" | "/account/password" | "/account/sign-out-everywhere") => {
            AnyUser
        }
        ("GET", "/institutions/new" | "/staff/new" | "/communities/new") => Perm(P::RegistryRead),
        ("GET", "/staff/{id}/edit") => write,
        ("GET", p) if p.ends_with("/edit") || p.ends_with("/departments/new") => {
            Perm(P::RegistryRead)
        }
        ("GET", p) if p.starts_with("/admin/accounts") => {
            Scoped(P::AccountManage, P::AccountManageAll)
        }
        ("POST", p) if p.starts_with("/admin/accounts") => {
            Scoped(P::AccountManage, P::AccountManageAll)
        }
        (_, p) if p.starts_with("/admin/roles") => Perm(P::RoleManage),
        ("GET", "/admin/tokens") => Perm(P::TokenManage),
        ("POST", "/admin/tokens") => TokenCreate,
        ("POST", "/admin/tokens/{id}/revoke") => Scoped(P::TokenManage, P::AccountManageAll),
        (_, "/audit" | "/audit/export.csv" | "/api/v1/audit" | "/audit/residents/{id}") => {
            Perm(P::AuditRead)
        }
        (_, p) if p.starts_with("/audit/break-glass") => Perm(P::AuditReview),
        ("GET", "/audit/grants") => Perm(P::AuditReview),
        ("GET", "/api/v1/residents/{id}/access" | "/residents/{id}" | "/api/v1/residents/{id}") => {
            Resident
        }
        ("POST", "/residents/{id}/reveal") => Reveal,
        (
            "GET",
            "/residents/{id}/record"
            | "/api/v1/residents/{id}/record"
            | "/api/v1/patients/{id}/recognised-results"
            | "/records/items/{id}"
            | "/api/v1/clinical-items/{id}",
        ) => Resident,
        ("POST", "/api/v1/clinical-items") => PatientScoped(P::PatientWrite),
        ("GET", "/records/unmatched" | "/api/v1/unmatched-items") => Perm(P::PatientWrite),
        ("POST", "/records/unmatched/{id}/assign" | "/api/v1/unmatched-items/{id}/assign") => {
            PatientScoped(P::PatientWrite)
        }
        ("GET", "/residents" | "/api/v1/residents") => Perm(P::PatientRead),
        ("POST", "/residents" | "/api/v1/residents") => PatientScoped(P::PatientWrite),
        ("GET", "/residents/new") => Perm(P::PatientWrite),
        // Identity decisions are the patient-index stewards' (community-wide by default).
        (_, p)
            if p.contains("/merge")
                || p.contains("/unmerge")
                || p.starts_with("/mpi/")
                || p.starts_with("/api/v1/mpi/") =>
        {
            Perm(P::MpiSteward)
        }
        ("POST", "/api/v1/residents/{id}/break-glass" | "/residents/{id}/break-glass") => {
            Perm(P::BreakGlass)
        }
        (
            _,
            "/api/v1/residents/{id}/referral-suggestions"
            | "/api/v1/residents/{id}/referral-suggestions/dismiss"
            | "/residents/{id}/referral-suggestions/dismiss",
        ) => Resident,
        ("GET", "/referrals" | "/api/v1/referrals" | "/api/v1/referral-counts") => {
            AnyOf(&[P::PatientRead, P::ReferralManage])
        }
        ("POST", "/referrals" | "/api/v1/referrals") => {
            AnyOf(&[P::PatientWrite, P::ReferralManage])
        }
        ("GET", "/referrals/stats" | "/api/v1/referral-stats") => {
            AnyOf(&[P::IndicatorRead, P::ReferralManage, P::CommunityWide])
        }
        ("GET", "/referrals/{id}" | "/referrals/{id}/slip" | "/api/v1/referrals/{id}") => {
            ReferralRead
        }
        ("POST", "/referrals/{id}/step" | "/api/v1/referrals/{id}/steps") => ReferralAct,
        ("GET", "/tasks" | "/api/v1/care-tasks") => Perm(P::PatientRead),
        ("POST", "/tasks/{id}/done" | "/api/v1/care-tasks/{id}/complete") => {
            PatientScoped(P::PatientWrite)
        }
        (
            _,
            "/referrals/new"
            | "/referrals/slots"
            | "/inbox"
            | "/inbox/read"
            | "/api/v1/inbox"
            | "/api/v1/inbox/read"
            | "/events"
            | "/api/v1/booking-resources/{id}/slots",
        ) => AnyUser,
        ("GET", "/calendars" | "/api/v1/booking-resources") => AnyUser,
        ("POST", "/calendars" | "/api/v1/booking-resources") => write,
        ("GET", "/admin/referral-settings" | "/api/v1/referral-settings") => Perm(P::RegistryRead),
        (_, "/admin/referral-settings" | "/api/v1/referral-settings") => Perm(P::RegistryWriteAll),
        ("GET", _) => Perm(P::RegistryRead),
        (_, p) if p.contains("communities") => Perm(P::RegistryWriteAll),
        (_, p)
            if p.contains("institutions") || p.contains("departments") || p.contains("staff") =>
        {
            write
        }
        _ => return None,
    })
}

fn wheres(method: &str, path: &str) -> Vec<Where> {
    use Where::*;
    if method == "GET"
        && matches!(
            path,
            "/institutions"
                | "/api/v1/institutions"
                | "/staff"
                | "/api/v1/staff"
                | "/admin/accounts"
                | "/admin/tokens"
        )
    {
        // Lists: what they show is filtered by scope; nothing to refuse.
        return vec![Nowhere];
    }
    let inst = [
        "/institutions/{id}",
        "/api/v1/institutions/{id}",
        "/departments/{id}",
        "/api/v1/departments/{id}",
        "/staff/{id}",
        "/api/v1/staff/{id}",
        "/admin/accounts/{id}",
        "/admin/tokens/{id}",
    ];
    if matches!(
        (method, path),
        ("POST", "/api/v1/clinical-items")
            | ("POST", "/fhir")
            | ("POST", "/fhir/{rtype}")
            | ("POST", "/records/unmatched/{id}/assign")
            | ("POST", "/api/v1/unmatched-items/{id}/assign")
    ) {
        return vec![Own, Sub, Other];
    }
    if matches!(path, "/records/unmatched" | "/api/v1/unmatched-items") {
        return vec![Nowhere];
    }
    if matches!(path, "/residents" | "/api/v1/residents") {
        return if method == "POST" {
            vec![Own, Sub, Other]
        } else {
            vec![Nowhere]
        };
    }
    if path.contains("/merge") || path.contains("/unmerge") || path.contains("/mpi/") {
        return vec![Nowhere];
    }
    if path.starts_with("/referrals/{id}")
        || path.starts_with("/api/v1/referrals/{id}")
        || path.starts_with("/tasks/{id}")
        || path.starts_with("/api/v1/care-tasks/{id}")
    {
        return vec![Own, Other];
    }
    if method == "POST" && matches!(path, "/calendars" | "/api/v1/booking-resources") {
        return vec![Own, Sub, Other];
    }
    if path.starts_with("/api/v1/residents/")
        || path.starts_with("/residents/{id}")
        || path.starts_with("/api/v1/patients/")
    {
        vec![Linked, NotLinked, Unverified]
    } else if path.starts_with("/api/v1/clinical-items/")
        || path.starts_with("/records/items/")
        || path.starts_with("/fhir/{rtype}")
        || path.starts_with("/fhir/Binary/")
    {
        vec![Linked, NotLinked]
    } else if inst.iter().any(|p| path.starts_with(p))
        || matches!(
            path,
            "/institutions"
                | "/api/v1/institutions"
                | "/staff"
                | "/api/v1/staff"
                | "/admin/accounts"
                | "/admin/tokens"
        )
    {
        vec![Own, Sub, Other]
    } else {
        vec![Nowhere]
    }
}

fn expected(r: Rule, role: Role, w: Where) -> bool {
    let perms: BTreeSet<P> = default_permissions(role).iter().copied().collect();
    let has = |p: P| perms.contains(&p);
    let in_scope = matches!(w, Where::Own | Where::Sub | Where::Nowhere);
    match r {
        Rule::Public | Rule::AnyUser => true,
        Rule::Perm(p) => has(p),
        Rule::Scoped(local, all) => has(all) || (has(local) && in_scope),
        Rule::TokenCreate => has(P::TokenManage) && (has(P::AccountManageAll) || in_scope),
        Rule::Resident => has(P::PatientRead) && (has(P::CommunityWide) || w == Where::Linked),
        Rule::Reveal => {
            has(P::PatientReveal)
                && has(P::PatientRead)
                && (has(P::CommunityWide) || w == Where::Linked)
        }
        Rule::PatientScoped(p) => has(p) && in_scope,
        Rule::ResidentWrite => has(P::PatientRead) && has(P::PatientWrite) && w == Where::Linked,
        Rule::AnyOf(ps) => ps.iter().any(|p| has(*p)),
        Rule::ReferralRead => {
            (has(P::PatientRead) || has(P::ReferralManage))
                && (w == Where::Own || has(P::CommunityWide))
        }
        Rule::ReferralAct => (has(P::PatientWrite) || has(P::ReferralManage)) && w == Where::Own,
        Rule::MetricsToken => false,
    }
}

struct Fixture {
    own: Uuid,
    sub: Uuid,
    other: Uuid,
    community: Uuid,
    departments: [Uuid; 3],
    staff: [Uuid; 3],
    accounts: [Uuid; 3],
    tokens: [Uuid; 3],
    break_glass: Uuid,
    linked: Uuid,
    not_linked: Uuid,
    unverified: Uuid,
    merge_source: Uuid,
    unmerge_registration: Uuid,
    task: Uuid,
    /// Clinical items of the linked and the not-linked resident.
    items: [Uuid; 2],
    /// Unmatched items at own, sub and other.
    unmatched: [Uuid; 3],
    /// A referral from the own institution's village to it, and one between others.
    referrals: [Uuid; 2],
    /// Care tasks at own and at other.
    care_tasks: [Uuid; 2],
    /// Documents with a PDF of the linked and the not-linked resident.
    documents: [Uuid; 2],
}

impl Fixture {
    fn idx(w: Where) -> usize {
        match w {
            Where::Sub => 1,
            Where::Other => 2,
            _ => 0,
        }
    }

    fn institution(&self, w: Where) -> Uuid {
        [self.own, self.sub, self.other][Self::idx(w)]
    }

    fn path(&self, template: &str, w: Where) -> String {
        let i = Self::idx(w);
        let id = if template.starts_with("/departments")
            || template.starts_with("/api/v1/departments")
        {
            self.departments[i]
        } else if template.starts_with("/staff/") || template.starts_with("/api/v1/staff/") {
            self.staff[i]
        } else if template.starts_with("/admin/accounts/") {
            self.accounts[i]
        } else if template.starts_with("/admin/tokens/") {
            self.tokens[i]
        } else if template.starts_with("/audit/break-glass/") {
            self.break_glass
        } else if template.contains("communities/{id}") {
            self.community
        } else if template.contains("/merge") {
            self.merge_source
        } else if template.contains("/unmerge") {
            self.unmerge_registration
        } else if template.contains("/mpi/tasks/") {
            self.task
        } else if template.starts_with("/fhir/Binary/") {
            self.documents[usize::from(w != Where::Linked)]
        } else if template.starts_with("/records/items/")
            || template.starts_with("/api/v1/clinical-items/")
            || template == "/fhir/{rtype}/{id}"
        {
            self.items[usize::from(w != Where::Linked)]
        } else if template.starts_with("/referrals/{id}")
            || template.starts_with("/api/v1/referrals/{id}")
        {
            self.referrals[usize::from(w != Where::Own)]
        } else if template.starts_with("/tasks/{id}")
            || template.starts_with("/api/v1/care-tasks/{id}")
        {
            self.care_tasks[usize::from(w != Where::Own)]
        } else if template.contains("/assign") {
            // One unmatched item per institution: its second assignment is a conflict, never
            // a 403 for an allowed actor.
            self.unmatched[i]
        } else if template.starts_with("/api/v1/residents/")
            || template.starts_with("/residents/")
            || template.starts_with("/api/v1/patients/")
        {
            match w {
                Where::Linked => self.linked,
                Where::Unverified => self.unverified,
                _ => self.not_linked,
            }
        } else {
            self.institution(w)
        };
        if template == "/fhir/{rtype}" {
            return match w {
                Where::Linked => format!("/fhir/DiagnosticReport?patient={}", self.linked),
                Where::NotLinked => format!("/fhir/DiagnosticReport?patient={}", self.not_linked),
                _ => "/fhir/Observation".to_owned(),
            };
        }
        template
            .replace("{rtype}", "DiagnosticReport")
            .replace("{id}", &id.to_string())
            .replace("{institution_id}", &self.other.to_string())
            .replace("{code}", "en")
            .replace("{role}", "finance")
            .replace("{*path}", "app.css")
    }
}

async fn build_fixture(s: &TestServer) -> Fixture {
    let ctx = AppCtx::system();
    let app = &s.app;
    let (towns, _) = app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                tier: Some(Tier::Township),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let own = towns[0].id;
    let other = towns[1].id;
    let (villages, _) = app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                parent_id: Some(own),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sub = villages[0].id;
    let insts = [own, sub, other];
    let mut departments = [Uuid::nil(); 3];
    let mut staff = [Uuid::nil(); 3];
    let mut accounts = [Uuid::nil(); 3];
    let mut tokens = [Uuid::nil(); 3];
    for (i, inst) in insts.iter().enumerate() {
        departments[i] = app.departments(&ctx, *inst).await.unwrap()[0].id;
        let (st, _) = app
            .list_staff(
                &ctx,
                &StaffFilter {
                    institution_id: Some(*inst),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        staff[i] = st[0].id;
        accounts[i] = app
            .create_account(
                &ctx,
                &AccountDraft {
                    username: format!("victim{i}"),
                    display_name: format!("被管理账号{i}"),
                    institution_id: Some(inst.to_string()),
                    roles: vec!["nurse".into()],
                    password: Some(PASSWORD.into()),
                    must_change_password: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .user
            .id;
        tokens[i] = app
            .create_token(
                &ctx,
                &format!("lis{i}"),
                *inst,
                &["registry.read".into()],
                None,
            )
            .await
            .unwrap()
            .token
            .id;
    }
    let community = app.list_communities(&ctx, false).await.unwrap()[0].id;
    let register = |inst: Uuid, name: &str, id: &str| {
        let d = ygt_app::mpi::ResidentDraft {
            institution_id: inst.to_string(),
            name: name.into(),
            id_number: Some(id.into()),
            ..Default::default()
        };
        let app = app.clone();
        async move { app.register_resident(&AppCtx::system(), &d).await.unwrap() }
    };
    let linked = register(own, "张建华", "341890198001010010")
        .await
        .person_id;
    let not_linked = register(other, "李秀兰", "341890197502020028")
        .await
        .person_id;
    // Registered at another centre with the ID card, then copied at the actor's own centre.
    let copy = |inst: Uuid, id: Option<&str>| ygt_app::mpi::ResidentDraft {
        institution_id: inst.to_string(),
        name: "孙桂英".into(),
        sex: Some("2".into()),
        birth_date: Some("1950-06-06".into()),
        id_number: id.map(str::to_owned),
        address: Some("云溪县青石镇上湾村三组12号".into()),
        phone: Some("13955016060".into()),
        ..Default::default()
    };
    let unverified = app
        .register_resident(&ctx, &copy(other, Some("341890195006060064")))
        .await
        .unwrap()
        .person_id;
    let linked_copy = app.register_resident(&ctx, &copy(own, None)).await.unwrap();
    assert_eq!(
        linked_copy.person_id, unverified,
        "the index links the copy"
    );
    let merge_source = register(own, "王五", "341890196003030032").await.person_id;
    register(own, "赵六", "341890199004040041").await;
    let unmerge_registration = register(sub, "赵六", "341890199004040041")
        .await
        .registration_id;
    let qian = register(own, "钱七", "341890198505050059")
        .await
        .registration_id;
    let task = Uuid::now_v7();
    let mut tx = app.store().begin().await.unwrap();
    tx.insert_task(
        task,
        qian,
        linked,
        3.0,
        "{}",
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A break-glass grant to review, by a demo doctor.
    let doctor = ygt_app::Ctx {
        actor: ygt_app::Actor::User(Box::new(
            app.session_principal(
                &app.sign_in(&ctx, "doctor", PASSWORD, None)
                    .await
                    .unwrap()
                    .session_token,
            )
            .await
            .unwrap()
            .unwrap()
            .principal,
        )),
        ..AppCtx::system()
    };
    let break_glass = app
        .break_glass(&doctor, not_linked, "急诊昏迷患者，需查看既往史")
        .await
        .unwrap()
        .id;
    let item = |inst: Uuid, patient: ygt_app::record::PatientRef, source: &str| {
        let d = ygt_app::record::ItemDraft {
            kind: "lab_report".into(),
            institution_id: inst.to_string(),
            source_system: "LIS".into(),
            source_id: source.into(),
            patient,
            occurred_at: "2026-11-01 08:00".into(),
            results: vec![ygt_app::record::ResultDraft {
                code: "GLU".into(),
                value: "6.1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let app = app.clone();
        async move {
            app.record_drafts(&AppCtx::system(), &[d], "test")
                .await
                .unwrap()[0]
                .item_id
        }
    };
    let of = |p: Uuid| ygt_app::record::PatientRef {
        person_id: Some(p.to_string()),
        ..Default::default()
    };
    let nobody = || ygt_app::record::PatientRef {
        name: Some("无名氏".into()),
        ..Default::default()
    };
    let items = [
        item(own, of(linked), "L-1").await,
        item(other, of(not_linked), "L-2").await,
    ];
    let unmatched = [
        item(own, nobody(), "U-0").await,
        item(sub, nobody(), "U-1").await,
        item(other, nobody(), "U-2").await,
    ];
    // Referrals and care tasks, written straight into the store (no principal needed).
    let (counties, _) = app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                tier: Some(Tier::County),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut tx = app.store().begin().await.unwrap();
    let mut referrals = [Uuid::nil(); 2];
    for (i, (from, to, person)) in [(sub, own, linked), (other, counties[0].id, not_linked)]
        .into_iter()
        .enumerate()
    {
        referrals[i] = Uuid::now_v7();
        tx.insert_referral(&ygt_app::ygt_store::referral::NewReferral {
            id: referrals[i],
            number: format!("ZZMATRIX-{i}"),
            direction: ygt_domain::referral::Direction::Up,
            status: ygt_domain::referral::Status::Submitted,
            urgency: ygt_domain::referral::Urgency::Routine,
            person_id: person,
            from_institution_id: from,
            from_department_id: None,
            from_user_id: None,
            from_doctor: "矩阵医生".into(),
            to_institution_id: to,
            to_department_id: None,
            to_staff_id: None,
            diagnosis_code: None,
            diagnosis_name: None,
            reason: "矩阵转诊".into(),
            criterion: None,
            summary: None,
            needs: None,
            plan: None,
            submitted_at: Some(now),
            now,
        })
        .await
        .unwrap();
    }
    let mut care_tasks = [Uuid::nil(); 2];
    for (i, (inst, person)) in [(own, linked), (other, not_linked)].into_iter().enumerate() {
        care_tasks[i] = Uuid::now_v7();
        tx.insert_care_tasks(
            &[ygt_app::ygt_store::referral::NewCareTask {
                id: care_tasks[i],
                referral_id: None,
                person_id: person,
                institution_id: inst,
                staff_id: None,
                kind: ygt_domain::referral::TaskKind::FollowUp,
                title: "矩阵随访".into(),
                due_on: now.date(),
                note: None,
            }],
            now,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let document = |inst: Uuid, patient: ygt_app::record::PatientRef, source: &str| {
        let d = ygt_app::record::ItemDraft {
            kind: "document".into(),
            institution_id: inst.to_string(),
            source_system: "EMR".into(),
            source_id: source.into(),
            patient,
            occurred_at: "2026-11-01 10:00".into(),
            document_type: Some("discharge_summary".into()),
            pdf: Some(
                ygt_domain::clinical::Pdf::parse("pdf", b"%PDF-1.4\n%%EOF\n".to_vec()).unwrap(),
            ),
            ..Default::default()
        };
        let app = app.clone();
        async move {
            app.record_drafts(&AppCtx::system(), &[d], "test")
                .await
                .unwrap()[0]
                .item_id
        }
    };
    let documents = [
        document(own, of(linked), "D-1").await,
        document(other, of(not_linked), "D-2").await,
    ];
    Fixture {
        referrals,
        care_tasks,
        items,
        documents,
        unmatched,
        own,
        sub,
        other,
        community,
        departments,
        staff,
        accounts,
        tokens,
        break_glass,
        linked,
        not_linked,
        unverified,
        merge_source,
        unmerge_registration,
        task,
    }
}

/// A body that passes input checks, so that only the access decision can refuse it.
async fn body(
    s: &TestServer,
    fx: &Fixture,
    method: &str,
    template: &str,
    w: Where,
) -> Option<(bool, String)> {
    let ctx = AppCtx::system();
    let inst = fx.institution(w);
    let form = |pairs: Vec<(&str, String)>| {
        let enc: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Some((false, enc))
    };
    let institution_json = |i: &ygt_app::ygt_store::org::Institution| {
        json!({"name": i.name, "aliases": i.aliases, "kind": i.kind.code(), "tier": i.tier.code(),
            "parent_id": i.parent_id, "division_code": i.division_code,
            "services": i.services.iter().map(|x| x.code()).collect::<Vec<_>>()})
    };
    match (method, template) {
        ("POST", "/login") => form(vec![("username", "x".into()), ("password", "y".into())]),
        ("POST", "/institutions") => form(vec![
            ("name", "矩阵村卫生室".into()),
            ("kind", "village_clinic".into()),
            ("parent_id", inst.to_string()),
            ("division_code", "341890100201".into()),
        ]),
        ("POST", "/api/v1/institutions") => Some((
            true,
            json!({"name": "矩阵村卫生室", "kind": "village_clinic",
            "parent_id": inst, "division_code": "341890100201"})
            .to_string(),
        )),
        ("POST", "/institutions/{id}") => {
            let i = s.app.institution(&ctx, inst).await.unwrap();
            let mut pairs = vec![
                ("name", i.name.clone()),
                ("kind", i.kind.code().into()),
                ("tier", i.tier.code().into()),
                (
                    "parent_id",
                    i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
                ),
                ("division_code", i.division_code.clone()),
            ];
            for sv in &i.services {
                pairs.push(("services", sv.code().into()));
            }
            form(pairs)
        }
        ("PUT", "/api/v1/institutions/{id}") => {
            let i = s.app.institution(&ctx, inst).await.unwrap();
            Some((true, institution_json(&i).to_string()))
        }
        ("POST", "/institutions/{id}/departments") => {
            form(vec![("name", format!("矩阵科{}", Uuid::now_v7()))])
        }
        ("POST", "/api/v1/institutions/{id}/departments") => Some((
            true,
            json!({"name": format!("矩阵科{}", Uuid::now_v7())}).to_string(),
        )),
        ("POST", "/departments/{id}") => form(vec![("name", format!("矩阵科{}", Uuid::now_v7()))]),
        ("PUT", "/api/v1/departments/{id}") => Some((
            true,
            json!({"name": format!("矩阵科{}", Uuid::now_v7())}).to_string(),
        )),
        ("POST", "/staff")
        | ("POST", "/api/v1/staff")
        | ("POST", "/staff/{id}")
        | ("PUT", "/api/v1/staff/{id}") => {
            let d = json!({"name": "矩阵医生", "sex": "1", "title": "physician", "institution_id": inst});
            if method == "PUT" || template.starts_with("/api") {
                Some((true, d.to_string()))
            } else {
                form(vec![
                    ("name", "矩阵医生".into()),
                    ("sex", "1".into()),
                    ("title", "physician".into()),
                    ("institution_id", inst.to_string()),
                ])
            }
        }
        ("POST", "/communities") => form(vec![
            ("name", "矩阵联盟".into()),
            ("form", "specialist_alliance".into()),
        ]),
        ("POST", "/api/v1/communities") => Some((
            true,
            json!({"name": "矩阵联盟", "form": "specialist_alliance"}).to_string(),
        )),
        ("POST", "/communities/{id}") => {
            let c = s.app.community(&ctx, fx.community).await.unwrap();
            form(vec![
                ("name", c.name.clone()),
                ("form", c.form.code().into()),
                (
                    "lead_institution_id",
                    c.lead_institution_id
                        .map(|x| x.to_string())
                        .unwrap_or_default(),
                ),
            ])
        }
        ("PUT", "/api/v1/communities/{id}") => {
            let c = s.app.community(&ctx, fx.community).await.unwrap();
            Some((true, json!({"name": c.name, "form": c.form.code(), "lead_institution_id": c.lead_institution_id}).to_string()))
        }
        ("POST", "/communities/{id}/members") => {
            form(vec![("institution_id", fx.other.to_string())])
        }
        ("POST", "/api/v1/communities/{id}/members") => {
            Some((true, json!({"institution_id": fx.other}).to_string()))
        }
        ("POST", "/admin/accounts") => form(vec![
            (
                "username",
                format!("m{}", &Uuid::now_v7().simple().to_string()[20..]),
            ),
            ("display_name", "矩阵账号".into()),
            ("institution_id", inst.to_string()),
            ("roles", "nurse".into()),
        ]),
        ("POST", "/admin/accounts/{id}") => form(vec![
            ("display_name", "被管理账号".into()),
            ("institution_id", inst.to_string()),
            ("roles", "nurse".into()),
            ("active", "on".into()),
        ]),
        ("POST", "/admin/roles/{role}") => {
            let mut pairs = Vec::new();
            for p in default_permissions(Role::Finance) {
                pairs.push(("permissions", p.code().to_owned()));
            }
            form(pairs)
        }
        ("POST", "/admin/tokens") => form(vec![
            ("name", "矩阵令牌".into()),
            ("institution_id", inst.to_string()),
            ("permissions", "registry.read".into()),
        ]),
        ("POST", "/audit/break-glass/{id}/review") => form(vec![("outcome", "justified".into())]),
        ("POST", "/api/v1/residents/{id}/break-glass") => Some((
            true,
            json!({"reason": "急诊昏迷患者，需查看既往史"}).to_string(),
        )),
        // A reason that is no reason: holders of patient.break_glass get 422 (allowed) without a
        // grant, which would open the not-linked resident to the routes checked after this.
        ("POST", "/residents/{id}/break-glass") => form(vec![("reason", "..........".into())]),
        ("POST", "/residents") => form(vec![
            ("institution_id", inst.to_string()),
            ("name", "矩阵居民".into()),
        ]),
        ("POST", "/api/v1/residents") => Some((
            true,
            json!({"institution_id": inst, "name": "矩阵居民"}).to_string(),
        )),
        ("POST", "/residents/{id}/merge") => form(vec![
            ("into", fx.linked.to_string()),
            ("reason", "矩阵：核对身份证件后确认为同一居民".into()),
            ("confirm", "yes".into()),
        ]),
        ("POST", "/registrations/{id}/unmerge") => form(vec![
            ("reason", "矩阵：核对后确认不是同一居民".into()),
            ("confirm", "yes".into()),
        ]),
        ("POST", "/api/v1/registrations/{id}/unmerge") => Some((
            true,
            json!({"reason": "矩阵：核对后确认不是同一居民", "confirm": true}).to_string(),
        )),
        ("POST", "/api/v1/clinical-items") => Some((
            true,
            json!({"items": [{"kind": "measurement", "institution_id": inst, "source_system": "matrix",
                "source_id": Uuid::now_v7().to_string(), "patient": {"name": "矩阵居民"},
                "occurred_at": "2026-11-01 09:00", "results": [{"code": "SBP", "value": "128"}]}]})
            .to_string(),
        )),
        ("POST", "/records/unmatched/{id}/assign") => {
            form(vec![("person_id", fx.linked.to_string())])
        }
        ("POST", "/fhir/{rtype}" | "/fhir") => {
            let obs = json!({"resourceType": "Observation", "status": "final",
                "identifier": [{"system": "matrix", "value": Uuid::now_v7().to_string()}],
                "code": {"coding": [{"code": "SBP", "display": "收缩压"}]},
                "subject": {"display": "矩阵居民"}, "effectiveDateTime": "2026-11-01T09:00:00+08:00",
                "performer": [{"reference": format!("Organization/{inst}")}],
                "valueQuantity": {"value": 128, "unit": "mmHg"}});
            Some((
                true,
                if template == "/fhir" {
                    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                        {"request": {"method": "POST", "url": "Observation"}, "resource": obs}]})
                    .to_string()
                } else {
                    obs.to_string()
                },
            ))
        }
        ("PUT", "/fhir/{rtype}/{id}") => {
            let person = if w == Where::Linked {
                fx.linked
            } else {
                fx.not_linked
            };
            Some((
                true,
                json!({"resourceType": "DiagnosticReport", "status": "amended",
                    "category": [{"coding": [{"code": "LAB"}]}], "code": {"text": "血糖"},
                    "subject": {"reference": format!("Patient/{person}")},
                    "effectiveDateTime": "2026-11-01T08:00:00+08:00",
                    "contained": [{"resourceType": "Observation", "id": "r0", "status": "final",
                        "code": {"coding": [{"code": "GLU"}]}, "valueQuantity": {"value": 6.2}}],
                    "result": [{"reference": "#r0"}]})
                .to_string(),
            ))
        }
        ("POST", "/api/v1/unmatched-items/{id}/assign") => {
            Some((true, json!({"person_id": fx.linked}).to_string()))
        }
        ("POST", "/api/v1/residents/{id}/merge") => Some((
            true,
            json!({"into": fx.linked, "reason": "矩阵：核对身份证件后确认为同一居民", "confirm": true})
                .to_string(),
        )),
        ("POST", "/referrals/{id}/step") => form(vec![
            ("action", "cancel".into()),
            ("reason", "矩阵取消".into()),
        ]),
        ("POST", "/api/v1/referrals/{id}/steps") => Some((
            true,
            json!({"action": "cancel", "reason": "矩阵取消"}).to_string(),
        )),
        ("POST", "/api/v1/care-tasks/{id}/complete") => Some((true, json!({}).to_string())),
        ("POST", "/api/v1/residents/{id}/referral-suggestions/dismiss") => Some((
            true,
            json!({"criterion": "emergency_bp", "reason": "矩阵"}).to_string(),
        )),
        ("POST", "/residents/{id}/referral-suggestions/dismiss") => form(vec![
            ("criterion", "emergency_bp".into()),
            ("reason", "矩阵".into()),
        ]),
        ("POST", "/calendars") => form(vec![
            ("institution_id", inst.to_string()),
            ("kind", "ct".into()),
            ("name", "矩阵CT".into()),
            ("first_start", "2099-01-05T08:00".into()),
            ("minutes", "30".into()),
            ("per_day", "2".into()),
            ("reserved_per_day", "1".into()),
            ("release_hours", "24".into()),
            ("days", "1".into()),
        ]),
        ("POST", "/api/v1/booking-resources") => Some((
            true,
            json!({"institution_id": inst, "kind": "ct", "name": "矩阵CT", "first_start": "2099-01-05T08:00",
                "minutes": 30, "per_day": 2, "reserved_per_day": 1, "release_hours": 24, "days": 1})
            .to_string(),
        )),
        ("PUT", "/api/v1/referral-settings") | ("POST", "/admin/referral-settings") => {
            let st = s.app.referral_settings(&ctx).await.unwrap();
            if method == "PUT" {
                // The settings as the API's GET gives them, sent back unchanged.
                let rules: Vec<serde_json::Value> = st
                    .rules
                    .iter()
                    .map(|r| {
                        json!({"urgency": r.urgency, "accept_minutes": r.accept_minutes,
                            "arrive_minutes": r.arrive_minutes, "grace_minutes": r.grace_minutes,
                            "complete_minutes": r.complete_minutes})
                    })
                    .collect();
                let body = json!({"township": st.township, "village": st.village, "rules": rules});
                Some((true, body.to_string()))
            } else {
                let mut pairs = vec![("township", st.township.clone()), ("village", st.village.clone())];
                let keys: Vec<(String, String)> = st
                    .rules
                    .iter()
                    .flat_map(|r| {
                        [
                            (format!("{}.accept_minutes", r.urgency), r.accept_minutes.to_string()),
                            (format!("{}.arrive_minutes", r.urgency), r.arrive_minutes.to_string()),
                            (format!("{}.grace_minutes", r.urgency), r.grace_minutes.to_string()),
                            (format!("{}.complete_minutes", r.urgency), r.complete_minutes.to_string()),
                        ]
                    })
                    .collect();
                let enc: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.drain(..))
                    .extend_pairs(keys)
                    .finish();
                Some((false, enc))
            }
        }
        ("POST", "/account/password") => form(vec![
            ("current_password", "wrong".into()),
            ("new_password", "x".into()),
            ("new_password_again", "x".into()),
        ]),
        _ => None,
    }
}

/// Routes that end the actor's own session; run last, then sign in again.
fn ends_session(path: &str) -> bool {
    matches!(path, "/logout" | "/account/sign-out-everywhere")
}

async fn every_role_on_every_route(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let fx = build_fixture(&s).await;
    let mut routes = ygt_server::route_list();
    routes.sort_by_key(|r| ends_session(r.path));
    let mut missing = Vec::new();
    for r in &routes {
        if rule(r.method, r.path).is_none() {
            missing.push(format!("{} {}", r.method, r.path));
        }
    }
    assert!(
        missing.is_empty(),
        "routes without an access decision: {missing:?}"
    );

    let mut wrong = Vec::new();
    let mut leaks = Vec::new();
    // Institutions publish their contact numbers (a village clinic's is often a mobile).
    let (institutions, _) = s
        .app
        .list_institutions(
            &AppCtx::system(),
            &InstitutionFilter {
                include_inactive: true,
                limit: Some(10_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let public_phones: BTreeSet<String> =
        institutions.into_iter().filter_map(|i| i.phone).collect();
    let mut checked = 0;
    for role in Role::ALL {
        let name = format!("matrix.{}", role.code().replace('_', "-"));
        let mut client = s.client_as(&name, &[*role], Some(fx.own)).await;
        for r in &routes {
            let Some(rule) = rule(r.method, r.path) else {
                continue;
            };
            if matches!(rule, Rule::Public) {
                continue;
            }
            for w in wheres(r.method, r.path) {
                let url = s.url(&fx.path(r.path, w));
                let method = Method::from_bytes(r.method.as_bytes()).unwrap();
                let mut req = client.request(method, &url);
                if let Some((is_json, b)) = body(&s, &fx, r.method, r.path, w).await {
                    req = req
                        .header(
                            "content-type",
                            if is_json {
                                "application/json"
                            } else {
                                "application/x-www-form-urlencoded"
                            },
                        )
                        .body(b);
                } else if r.method != "GET" && r.path.starts_with("/api/") {
                    req = req.header("content-type", "application/json").body("{}");
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                // A live stream never ends: its headers are the answer.
                let streaming = resp
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                let text = if streaming {
                    String::new()
                } else {
                    resp.text().await.unwrap_or_default()
                };
                let revealing = r.path.ends_with("/reveal");
                if !revealing {
                    for n in unmasked_numbers(&text)
                        .into_iter()
                        .filter(|n| !public_phones.contains(n))
                    {
                        leaks.push(format!(
                            "{} {} {} {:?}: {n}",
                            role.code(),
                            r.method,
                            r.path,
                            w
                        ));
                    }
                }
                checked += 1;
                let allow = expected(rule, *role, w);
                let ok = if allow {
                    status != StatusCode::FORBIDDEN
                        && status != StatusCode::UNAUTHORIZED
                        && !status.is_server_error()
                } else {
                    status == StatusCode::FORBIDDEN
                };
                if !ok {
                    wrong.push(format!(
                        "{} {} {} {:?}: expected {}, got {status}",
                        role.code(),
                        r.method,
                        r.path,
                        w,
                        if allow { "allow" } else { "deny" }
                    ));
                }
                if ends_session(r.path) {
                    client = s.signed_in(&name).await;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} checks");
    assert!(
        wrong.is_empty(),
        "{} wrong decisions:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        leaks.is_empty(),
        "full ID or mobile numbers outside the audited reveal ({}):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// Full resident ID numbers (18 characters with a valid check character and date) and mobile
/// numbers (11 digits, 13x–19x) standing alone in a response, as an attacker would grep them.
fn unmasked_numbers(body: &str) -> Vec<String> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || (j == i + 17 && matches!(b[j], b'X' | b'x')))
        {
            j += 1;
        }
        let alone = j >= b.len() || !b[j].is_ascii_alphanumeric();
        let run = &body[i..j];
        if alone {
            let id = run.len() == 18
                && ygt_domain::ident::IdNumber::parse("id", run).is_ok_and(|n| !n.was_legacy());
            let mobile = run.len() == 11 && run.starts_with('1') && matches!(b[i + 1], b'3'..=b'9');
            if id || mobile {
                out.push(run.to_owned());
            }
        }
        i = j.max(i + 1);
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_number_scanner_finds_numbers_and_only_them() {
    assert_eq!(
        unmasked_numbers("{\"id\":\"341890198001010010\",\"p\":\"13955012345\"}"),
        ["13955012345", "341890198001010010"]
    );
    assert!(
        unmasked_numbers("3418**********0010 139****2345 a13955012345 hash9f13955012345ab")
            .is_empty()
    );
    assert!(unmasked_numbers("019a7c2e-1395-5012-3456-000000000000 12345678901").is_empty());
}

ygt_testkit::both_backends!(every_role_on_every_route, every_role_on_every_route);

/// Nobody signed in: pages send to the sign-in page, the API answers 401, public routes work.
#[tokio::test]
async fn anonymous_requests_are_refused() {
    let s = TestServer::start(TestDb::sqlite(), false).await;
    let c = crate::client();
    for r in ygt_server::route_list() {
        let path = r
            .path
            .replace("{id}", &Uuid::now_v7().to_string())
            .replace("{rtype}", "Observation")
            .replace("{institution_id}", &Uuid::now_v7().to_string())
            .replace("{code}", "en")
            .replace("{role}", "doctor")
            .replace("{*path}", "app.css");
        let method = Method::from_bytes(r.method.as_bytes()).unwrap();
        let status = c
            .request(method, s.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        match rule(r.method, r.path) {
            // A sign-in without the form's token is refused as an expired form.
            Some(Rule::Public) => assert!(
                status.is_success() || status.is_redirection() || status == StatusCode::FORBIDDEN,
                "{} {path}: {status}",
                r.method
            ),
            // The metrics token is not a sign-in: refused, not asked for.
            Some(Rule::MetricsToken) => {
                assert_eq!(status, StatusCode::FORBIDDEN, "{} {path}", r.method)
            }
            _ if r.method == "GET"
                && !r.path.starts_with("/api/")
                && !r.path.starts_with("/fhir") =>
            {
                assert_eq!(status, StatusCode::SEE_OTHER, "{} {path}", r.method)
            }
            _ => assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {path}", r.method),
        }
    }
}
