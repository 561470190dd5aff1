//! Server-rendered pages: what people see, forms with errors beside the fields.

use reqwest::StatusCode;
use ygt_app::ygt_store::org::{InstitutionFilter, StaffFilter};
use ygt_domain::org::Tier;
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

async fn get_html(c: &reqwest::Client, s: &TestServer, path: &str) -> (StatusCode, String) {
    let r = c.get(s.url(path)).send().await.unwrap();
    let status = r.status();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{path} is a page"
    );
    (status, r.text().await.unwrap())
}

async fn demo_pages(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let c = s.signed_in("admin").await;
    let (st, home) = get_html(&c, &s, "/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(home.contains("欢迎使用医共体平台"));
    assert!(home.contains(r#"<html lang="zh-CN">"#));
    assert!(
        home.contains(r#"data-stat="village">40<"#),
        "40 village clinics on the home page"
    );

    let (st, tree) = get_html(&c, &s, "/institutions").await;
    assert_eq!(st, StatusCode::OK);
    assert!(tree.contains("云溪县人民医院"));
    assert!(tree.contains("分院"), "aliases shown in the tree");
    assert!(tree.contains("卫生室"));

    let (_, en) = get_html(&c, &s, "/institutions?lang=en").await;
    assert!(en.contains("Institution tree"));
    assert!(en.contains(r#"<html lang="en">"#));

    let (_, list) = get_html(&c, &s, "/institutions?tier=village").await;
    assert_eq!(list.matches("卫生室</a>").count(), 40);

    let ctx = ygt_app::Ctx::system();
    let (towns, _) = s
        .app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                tier: Some(Tier::Township),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let town = &towns[0];
    let (st, page) = get_html(&c, &s, &format!("/institutions/{}", town.id)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(&town.name));
    assert!(page.matches("村卫生室</a>").count() + page.matches("卫生室</a>").count() > 0);
    assert!(page.contains("全科医学科"), "departments listed");

    let (staff, _) = s
        .app
        .list_staff(
            &ctx,
            &StaffFilter {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (st, sp) = get_html(&c, &s, &format!("/staff/{}", staff[0].id)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(sp.contains(&staff[0].name));
    let full_id = staff[0].id_number.clone().unwrap();
    assert!(
        !sp.contains(&full_id),
        "ID numbers are masked on the staff page"
    );
    // The full numbers on demand, for someone who maintains the record, and audited.
    let r = c
        .post(s.url(&format!("/staff/{}/reveal", staff[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains(&full_id));
    let (events, _) = s
        .app
        .store()
        .search_audit(&ygt_app::ygt_store::access::AuditFilter {
            action: Some("registry.staff.reveal".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].resource_id.as_deref(),
        Some(staff[0].id.to_string().as_str())
    );

    let (st, search) = get_html(&c, &s, "/search?q=%E5%88%86%E9%99%A2").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        search.contains("卫生院"),
        "search by alias finds township centres"
    );

    let (st, nf) = get_html(&c, &s, "/no/such/page").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(nf.contains("未找到"));
    let (st, bad) = get_html(&c, &s, "/institutions/xyz").await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("UUID"));

    for path in [
        "/communities",
        "/staff",
        "/staff?q=%E7%8E%8B&page=2",
        "/institutions/new",
        "/staff/new",
        "/communities/new",
    ] {
        let (st, _) = get_html(&c, &s, path).await;
        assert_eq!(st, StatusCode::OK, "{path}");
    }
}
both_backends!(demo_pages, demo_pages);

async fn forms_show_errors_and_store_nothing(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let c = s.admin().await;
    // An invalid form: the page comes back with the errors beside the fields.
    let r = c
        .post(s.url("/institutions"))
        .form(&[
            ("name", "新卫生院"),
            ("kind", "township_health_centre"),
            ("division_code", "12"),
            ("phone", "12345"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"data-field="division_code""#), "{html}");
    assert!(html.contains(r#"data-field="phone""#));
    assert!(
        html.contains(r#"value="新卫生院""#),
        "what was typed is kept"
    );
    let ctx = ygt_app::Ctx::system();
    let (_, n) = s
        .app
        .list_institutions(&ctx, &InstitutionFilter::default())
        .await
        .unwrap();
    assert_eq!(n, 0);

    // A valid form redirects to the new institution.
    let r = c
        .post(s.url("/institutions"))
        .form(&[
            ("name", "云溪县人民医院"),
            ("kind", "county_general_hospital"),
            ("division_code", "341890"),
            ("aliases", "云溪县医共体总医院\n县医院"),
            ("services", "ct"),
            ("services", "mri"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let (st, page) = get_html(&c, &s, &to).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("县医院"));
    assert!(page.contains("磁共振"));

    // Language switch sets a cookie and returns to the page.
    let r = c
        .get(s.url("/lang/en?next=/institutions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/institutions");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("ygt_lang=en")
    );
    let r = c
        .get(s.url("/lang/en?next=//evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/", "no open redirect");
}
both_backends!(
    forms_show_errors_and_store_nothing,
    forms_show_errors_and_store_nothing
);

/// Finding a resident: the list tells two 王丽 apart (place, age, where registered), says how
/// many there are and pages; the API pages the same way.
async fn resident_search_lists_and_pages(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (_, town) = crate::door::two_institutions(&s).await;
    for i in 0..55 {
        let id = ygt_testkit::id_number(&format!(
            "3418901990{:02}{:02}00{}",
            1 + i / 28,
            1 + i % 28,
            i % 10
        ));
        crate::door::resident(&s, town, "王丽", &id).await;
    }
    let c = s
        .client_as(
            "desk.doctor",
            &[ygt_domain::access::Role::Doctor],
            Some(town),
        )
        .await;
    let (status, html) = get_html(&c, &s, "/residents?q=wl").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(" 55</p>"), "the total");
    assert!(html.contains("柳河镇卫生院"), "where registered");
    assert!(html.contains("岁)"), "age");
    assert!(html.contains("id=\"residents-next\""), "a next page");
    let (_, second) = get_html(&c, &s, "/residents?q=wl&page=2").await;
    assert!(second.contains("id=\"residents-prev\""));
    assert!(!second.contains("id=\"residents-next\""));
    let rows = |h: &str| h.matches("<tr").count() - 1;
    assert_eq!(rows(&html), 50);
    assert_eq!(rows(&second), 5);

    let api: serde_json::Value = c
        .get(s.url("/api/v1/residents?q=王丽&limit=20&offset=40"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["total"], 55);
    assert_eq!(api["offset"], 40);
    assert_eq!(api["items"].as_array().unwrap().len(), 15);
    assert_eq!(api["items"][0]["registered_at"][0], "柳河镇卫生院");

    // The resident's history reads as sentences, never as codes.
    let id = api["items"][0]["id"].as_str().unwrap();
    let (_, page) = get_html(&c, &s, &format!("/residents/{id}")).await;
    let history = &page[page.find("id=\"history\"").unwrap()..];
    assert!(
        history.contains("首次登记，建立主索引 · 主索引自动匹配"),
        "{history}"
    );
    assert!(!history.contains("created") && !history.contains("system"));
}
both_backends!(
    resident_search_lists_and_pages,
    resident_search_lists_and_pages
);

/// The review queue explains a possible match in sentences, never in codes.
async fn review_reasons_read_as_sentences(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, town) = crate::door::two_institutions(&s).await;
    for (inst, name) in [(hospital, "周明"), (town, "周铭")] {
        s.app
            .register_resident(
                &ygt_app::Ctx::system(),
                &ygt_app::mpi::ResidentDraft {
                    institution_id: inst.to_string(),
                    name: name.into(),
                    birth_date: Some("1970-01-01".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let c = s
        .client_as(
            "review.steward",
            &[ygt_domain::access::Role::MpiSteward],
            Some(hospital),
        )
        .await;
    let (status, html) = get_html(&c, &s, "/mpi/review").await;
    assert_eq!(status, StatusCode::OK);
    let table = &html[html.find("class=\"explain\"").expect("a task")..];
    assert!(table.contains("读音相同"), "{table}");
    assert!(table.contains("出生日期") && table.contains("姓名"));
    for code in ["homophone", "birth_date", "exact", "missing", "prior"] {
        assert!(!table.contains(code), "{code} in {table}");
    }
}
both_backends!(
    review_reasons_read_as_sentences,
    review_reasons_read_as_sentences
);

/// At the registration desk a doubtful ID number, or a sex or birth date the number
/// contradicts, is shown beside its field before saving; ticking 「按原样保存」 keeps it.
async fn the_desk_sees_a_doubtful_id_number(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (_, town) = crate::door::two_institutions(&s).await;
    let c = s
        .client_as(
            "desk.nurse",
            &[ygt_domain::access::Role::Doctor],
            Some(town),
        )
        .await;
    let town = town.to_string();
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut form: Vec<(&str, &str)> = vec![("institution_id", &town), ("name", "李桂兰")];
        form.extend(fields);
        c.post(s.url("/residents")).form(&form).send()
    };
    // One digit mistyped: the check digit fails.
    let r = post(vec![("id_number", "341890195507120028")])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"id-number-error\""), "{html}");
    assert!(html.contains("校验不通过") && html.contains("id=\"as-typed\""));
    // A sex and a birth date the number contradicts (it says a woman born 1955-07-12).
    let r = post(vec![
        ("id_number", "341890195507120029"),
        ("sex", "1"),
        ("birth_date", "1955-07-21"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("与身份证号不符：身份证号为女性"), "{html}");
    assert!(html.contains("与身份证号不符：身份证号为 1955-07-12"));
    assert!(
        s.app
            .search_residents(&ygt_app::Ctx::system(), "李桂兰", 5)
            .await
            .unwrap()
            .is_empty()
    );
    // Checked against the card and kept as typed.
    let r = post(vec![("id_number", "341890195507120028"), ("as_typed", "1")])
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(
        s.app
            .search_residents(&ygt_app::Ctx::system(), "李桂兰", 5)
            .await
            .unwrap()
            .len(),
        1
    );
}
both_backends!(
    the_desk_sees_a_doubtful_id_number,
    the_desk_sees_a_doubtful_id_number
);

/// The number shown in `<b data-count="name">N</b>`.
fn count_of(page: &str, name: &str) -> Option<i64> {
    let at = page.find(&format!(r#"data-count="{name}">"#))?;
    let rest = &page[at..];
    let n = &rest[rest.find('>')? + 1..rest.find("</b>")?];
    n.trim().parse().ok()
}

/// The link of the tile that holds a count (`<a class="stat" href="…">…data-count`).
fn href_of(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!(r#"data-count="{name}">"#))?;
    let start = page[..at].rfind("href=\"")? + 6;
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// The total a list page states: `<p … id="worklist-total">… 共 N</p>`.
fn total_of(page: &str, id: &str) -> Option<i64> {
    let at = page.find(&format!(r#"id="{id}""#))?;
    let rest = &page[at..];
    let text = &rest[..rest.find("</p>")?];
    text.rsplit(' ').next()?.trim().parse().ok()
}

/// Every count of the home page's 「今日工作」 opens a list that states the same number, for
/// each kind of doctor of the demo county.
async fn home_counts_open_their_lists(db: TestDb) {
    let s = TestServer::start(db, true).await;
    ygt_synth::generate_residents(&s.app, 7, 1_000, &|_, _| {})
        .await
        .unwrap();
    ygt_synth::referrals::generate_referrals(&s.app, 7, ygt_synth::Scale::Small, &|_, _| {})
        .await
        .unwrap();
    for user in ["doctor", "township.doctor", "village", "referral"] {
        let c = s.signed_in(user).await;
        let (st, home) = get_html(&c, &s, "/").await;
        assert_eq!(st, StatusCode::OK);
        assert!(home.contains(r#"id="today""#), "{user}: today's work first");
        let mut seen = 0;
        for (name, list_total) in [
            ("tasks-overdue", "tasks-total"),
            ("tasks-today", "tasks-total"),
            ("incoming", "worklist-total"),
            ("handover", "worklist-total"),
            ("drafts", "worklist-total"),
            ("returned", "worklist-total"),
            ("overdue", "worklist-total"),
        ] {
            let Some(n) = count_of(&home, name) else {
                // Care tasks are shown to those who may read residents' records.
                assert!(
                    user == "referral" && name.starts_with("tasks"),
                    "{user}: count {name}"
                );
                continue;
            };
            let href = href_of(&home, name).unwrap_or_else(|| panic!("{user}: link {name}"));
            let (st, list) = get_html(&c, &s, &href).await;
            assert_eq!(st, StatusCode::OK, "{user}: {href}");
            assert_eq!(
                total_of(&list, list_total),
                Some(n),
                "{user}: {name} → {href}"
            );
            seen += n;
        }
        assert!(seen > 0, "{user} has some work in the demo county");
    }
}
both_backends!(home_counts_open_their_lists, home_counts_open_their_lists);
