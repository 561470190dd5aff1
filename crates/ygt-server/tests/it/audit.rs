//! Issue 13 §6 and §7: the audit page people can use. Labels instead of codes in the reader's
//! language, search by a resident's name or ID number, an actor's name, an institution's
//! name; no error page for what is typed; a resident's access history.

use reqwest::StatusCode;
use ygt_app::ygt_store::access::AuditFilter;
use ygt_domain::access::Role;
use ygt_domain::audit_codes::AuditAction;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;
use crate::door::{resident, two_institutions};

const WANG_1: &str = "341890198002020026";
const WANG_2: &str = "341890198103030047";
const LI: &str = "341890197004040018";

async fn get(c: &reqwest::Client, s: &TestServer, path: &str) -> (StatusCode, String) {
    let r = c.get(s.url(path)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The table's body as text a reader sees (tags and their attributes left out).
fn tbody_text(html: &str) -> String {
    let body = html
        .split("<tbody>")
        .nth(1)
        .and_then(|b| b.split("</tbody>").next())
        .unwrap_or_default();
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text of the note beside a field.
fn note<'a>(html: &'a str, field: &str) -> &'a str {
    let marker = format!("id=\"note-{field}\">");
    html.split(&marker)
        .nth(1)
        .and_then(|n| n.split("</span>").next())
        .unwrap_or_else(|| panic!("no note beside {field}: {html}"))
}

fn rows(html: &str) -> usize {
    html.matches("<tr data-seq=").count()
}

async fn audit_page_by_names(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, town) = two_institutions(&s).await;
    let wang1 = resident(&s, town, "王丽", WANG_1).await;
    let wang2 = resident(&s, town, "王丽", WANG_2).await;
    let li = resident(&s, hospital, "李强", LI).await;
    assert_ne!(wang1, wang2);
    let doctor = s.client_as("doc.wang", &[Role::Doctor], Some(town)).await;
    for p in [wang1, wang2] {
        let (st, _) = get(&doctor, &s, &format!("/residents/{p}")).await;
        assert_eq!(st, StatusCode::OK);
    }
    let hdoc = s.client_as("doc.li", &[Role::Doctor], Some(hospital)).await;
    let (st, _) = get(&hdoc, &s, &format!("/residents/{li}")).await;
    assert_eq!(st, StatusCode::OK);
    let auditor = s.client_as("aud", &[Role::Auditor], Some(hospital)).await;

    // A name: every resident of that name, named with their masked numbers.
    let (st, html) = get(&auditor, &s, "/audit?resident_id=%E7%8E%8B%E4%B8%BD").await;
    assert_eq!(st, StatusCode::OK);
    let n = note(&html, "resident_id");
    assert!(n.contains("姓名“王丽”匹配 2 位居民"), "{n}");
    assert!(
        !html.contains(WANG_1) && !html.contains(WANG_2),
        "no full numbers"
    );
    assert!(n.contains("3418") && n.contains('*'), "masked numbers: {n}");
    let text = tbody_text(&html);
    assert!(text.contains("调阅居民信息") && text.contains("测试doc.wang"));
    assert!(text.contains("柳河镇卫生院") && text.contains("依据：本机构"));
    assert!(!text.contains("李强"), "only the residents of that name");
    assert!(html.contains("data-action=\"resident.read\""));
    for a in AuditAction::ALL {
        assert!(
            !text.contains(a.code()),
            "no code {} in the Chinese table: {text}",
            a.code()
        );
    }
    // The look-up is audited under each resident found.
    let (lookups, _) = s
        .app
        .store()
        .search_audit(&AuditFilter {
            action: Some("audit.resident_lookup".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut found: Vec<_> = lookups.iter().filter_map(|r| r.resident_id).collect();
    found.sort();
    let mut expected = vec![wang1, wang2];
    expected.sort();
    assert_eq!(found, expected);

    // A full ID number: that resident only, the number masked in the note.
    let (st, html) = get(&auditor, &s, &format!("/audit?resident_id={WANG_2}")).await;
    assert_eq!(st, StatusCode::OK);
    let n = note(&html, "resident_id");
    assert!(
        n.contains("身份证号匹配 1 位居民") && !n.contains(WANG_2),
        "{n}"
    );
    assert!(html.contains(&format!("href=\"/audit/residents/{wang2}\"")));
    assert!(rows(&html) >= 1);
    assert!(!html.contains(&format!("/audit/residents/{wang1}\"")));

    // An actor's name or user name; an institution's name.
    for q in ["%E6%B5%8B%E8%AF%95doc.wang", "doc.wang"] {
        let (st, html) = get(&auditor, &s, &format!("/audit?user_id={q}")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(note(&html, "user_id").contains("匹配 1 个账号"));
        let text = tbody_text(&html);
        assert!(rows(&html) >= 2 && !text.contains("测试doc.li"), "{text}");
    }
    let (st, html) = get(
        &auditor,
        &s,
        "/audit?institution_id=%E4%BA%91%E6%BA%AA%E5%8E%BF%E4%BA%BA%E6%B0%91%E5%8C%BB%E9%99%A2",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(note(&html, "institution_id").contains("匹配 1 家机构"));
    let text = tbody_text(&html);
    assert!(
        text.contains("李强") && text.contains("测试doc.li"),
        "{text}"
    );
    assert!(
        !text.contains("测试doc.wang柳河镇卫生院"),
        "no actor of the town: {text}"
    );

    // Nothing matches, or cannot be read: a message beside the field, never an error page.
    let (st, html) = get(
        &auditor,
        &s,
        "/audit?resident_id=%E5%BC%A0%E6%97%A0%E5%BF%8C",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(note(&html, "resident_id").contains("没有与“张无忌”匹配的记录"));
    assert_eq!(rows(&html), 0);
    assert!(html.contains("共 0"));
    for q in [
        "user_id=nobody.here",
        "institution_id=%E4%B8%8D%E5%AD%98%E5%9C%A8",
        "from=yesterday",
        "outcome=maybe",
        "page=x&to=2026-13-40",
    ] {
        let (st, html) = get(&auditor, &s, &format!("/audit?{q}")).await;
        assert_eq!(st, StatusCode::OK, "{q}");
        assert!(html.contains("field-error"), "{q}: a note beside the field");
    }

    // Links by id and by action prefix keep working; English labels in English.
    let (st, html) = get(&auditor, &s, &format!("/audit?resident_id={li}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(tbody_text(&html).contains("李强"));
    assert!(html.contains(&format!("href=\"/audit/residents/{li}\"")));
    let (st, html) = get(&auditor, &s, "/audit?action=access.grant").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("<option value=\"access.grant\" selected>"));
    assert!(tbody_text(&html).contains("建立访问关系"));
    let (_, html) = get(&auditor, &s, "/audit?action=auth.&lang=en").await;
    assert!(html.contains("Sign-in (all)"));
    let (_, html) = get(&auditor, &s, "/audit?lang=en").await;
    let text = tbody_text(&html);
    assert!(
        text.contains("Read a resident") && text.contains("Allowed"),
        "{text}"
    );

    // The export keeps the codes and adds labels.
    let (st, csv) = get(
        &auditor,
        &s,
        "/audit/export.csv?resident_id=%E7%8E%8B%E4%B8%BD",
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(csv.contains("action_label") && csv.contains("\"resident.read\",\"调阅居民信息\""));
    assert!(!csv.contains("李强"));

    // Only auditors.
    for path in [
        "/audit?resident_id=%E7%8E%8B%E4%B8%BD".to_owned(),
        format!("/audit/residents/{wang1}"),
    ] {
        let (st, _) = get(&doctor, &s, &path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
    }
}
both_backends!(audit_page_by_names, audit_page_by_names);

/// A resident's access history: who opened the record, from where, on what ground, when
/// (local time to the minute), paged with a total; the resident page links auditors to it.
async fn resident_access_history(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (_, town) = two_institutions(&s).await;
    let wang = resident(&s, town, "王丽", WANG_1).await;
    let doctor = s.client_as("doc.wang", &[Role::Doctor], Some(town)).await;
    for _ in 0..3 {
        let (st, _) = get(&doctor, &s, &format!("/residents/{wang}")).await;
        assert_eq!(st, StatusCode::OK);
    }
    let auditor = s
        .client_as("aud", &[Role::Auditor, Role::Doctor], Some(town))
        .await;
    let (_, page) = get(&auditor, &s, &format!("/residents/{wang}")).await;
    assert!(page.contains(&format!("href=\"/audit/residents/{wang}\"")));
    let (st, html) = get(&auditor, &s, &format!("/audit/residents/{wang}")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("居民访问记录") && html.contains("id=\"history-resident\">王丽<"));
    assert!(!html.contains(WANG_1), "the number masked");
    let text = tbody_text(&html);
    assert_eq!(text.matches("测试doc.wang").count(), 3, "{text}");
    assert!(text.contains("调阅居民信息") && text.contains("依据：本机构"));
    assert!(text.contains("柳河镇卫生院") && text.contains("登记居民"));
    assert!(text.contains("系统") && !text.contains("system"), "{text}");
    assert!(text.contains("结果：新建；身份证号有效：是"), "{text}");
    let local =
        time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
    let day = format!(
        "{:04}-{:02}-{:02} ",
        local.year(),
        u8::from(local.month()),
        local.day()
    );
    assert!(text.contains(&day), "local dates: {text}");
    assert!(html.contains("共 "));
    for a in AuditAction::ALL {
        assert!(!text.contains(a.code()), "no code {}", a.code());
    }
    // A person merged into the resident: its events are the resident's history too.
    let sys = ygt_app::Ctx::system();
    let twin = s
        .app
        .register_resident(
            &sys,
            &ygt_app::mpi::ResidentDraft {
                institution_id: town.to_string(),
                name: "王丽".into(),
                phone: Some("13900001111".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    assert_ne!(twin, wang);
    let (st, _) = get(&doctor, &s, &format!("/residents/{twin}")).await;
    assert_eq!(st, StatusCode::OK);
    s.app
        .merge_persons(
            &sys,
            twin,
            &ygt_app::mpi::MergeDraft {
                into: wang.to_string(),
                reason: "同一居民重复登记，合并档案".into(),
                confirm: true,
            },
        )
        .await
        .unwrap();
    let (_, html) = get(&auditor, &s, &format!("/audit/residents/{wang}")).await;
    let text = tbody_text(&html);
    assert_eq!(text.matches("测试doc.wang").count(), 4, "{text}");
    assert!(text.contains("合并居民"), "{text}");
    let (st, _) = get(&auditor, &s, &format!("/audit/residents/{wang}?page=2")).await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = get(
        &auditor,
        &s,
        &format!("/audit/residents/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
both_backends!(resident_access_history, resident_access_history);
