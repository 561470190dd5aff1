//! Issue 12 at the door: live streams end with their session, `next` is only ever a local
//! path, absolute links come from the configured public URL, nothing but static files may be
//! cached, /metrics needs the metrics token, tokens expire, integration permissions stay out of
//! roles, and break-glass from the refusal page.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_domain::access::Role;
use ygt_domain::org::InstitutionDraft;
use ygt_testkit::{TestDb, both_backends};

use crate::{METRICS_TOKEN, PASSWORD, TestServer, session_client};

/// A county hospital and a township centre below it.
pub(crate) async fn two_institutions(s: &TestServer) -> (Uuid, Uuid) {
    let ctx = Ctx::system();
    let hospital = s
        .app
        .create_institution(
            &ctx,
            &InstitutionDraft {
                name: "云溪县人民医院".into(),
                kind: "county_general_hospital".into(),
                division_code: "341890".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let town = s
        .app
        .create_institution(
            &ctx,
            &InstitutionDraft {
                name: "柳河镇卫生院".into(),
                kind: "township_health_centre".into(),
                parent_id: Some(hospital.to_string()),
                division_code: "341890100".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    (hospital, town)
}

/// A resident registered at `institution`.
pub(crate) async fn resident(
    s: &TestServer,
    institution: Uuid,
    name: &str,
    id_number: &str,
) -> Uuid {
    s.app
        .register_resident(
            &Ctx::system(),
            &ygt_app::mpi::ResidentDraft {
                institution_id: institution.to_string(),
                name: name.into(),
                id_number: Some(id_number.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id
}

/// A second client of an existing account (a session of its own): (client, session token).
async fn session_of(s: &TestServer, username: &str) -> (reqwest::Client, String) {
    let signed = s
        .app
        .sign_in(&Ctx::system(), username, PASSWORD, None)
        .await
        .unwrap();
    (
        session_client(&signed.session_token, &signed.csrf_token),
        signed.session_token,
    )
}

/// Opens `/events` and returns the stream after its first (hello) event.
async fn open_events(s: &TestServer, c: &reqwest::Client) -> reqwest::Response {
    let mut r = c.get(s.url("/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let first = tokio::time::timeout(Duration::from_secs(5), r.chunk())
        .await
        .expect("hello in time")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: hello"),
        "{first:?}"
    );
    r
}

/// Reads the stream until it ends; panics when it is still open after `within`.
async fn read_to_end(mut r: reqwest::Response, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut out = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, r.chunk()).await {
            Ok(Ok(Some(b))) => out.push_str(&String::from_utf8_lossy(&b)),
            Ok(Ok(None)) => return out,
            Ok(Err(e)) => panic!("stream failed: {e}; so far {out:?}"),
            Err(_) => panic!("the stream is still open after {within:?}: {out:?}"),
        }
    }
}

// ------------------------------------------------------------------ 1. live streams

async fn event_streams_end_with_their_session(db: TestDb) {
    // Checks of the session are rare here: what ends a stream at once is being told.
    let s = TestServer::start_with(db, false, |c| {
        c.session_check = Duration::from_secs(3600);
    })
    .await;
    let c = s.admin().await;

    // Sign-out.
    let stream = open_events(&s, &c).await;
    let r = c.post(s.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let rest = read_to_end(stream, Duration::from_secs(5)).await;
    assert!(rest.contains("event: ended"), "{rest}");
    let again = c.get(s.url("/events")).send().await.unwrap();
    assert_ne!(
        again.status(),
        StatusCode::OK,
        "a signed-out session opens no stream"
    );

    // Sign-out everywhere, from another session of the same account.
    let (c1, _) = session_of(&s, "root.admin").await;
    let (c2, _) = session_of(&s, "root.admin").await;
    let stream = open_events(&s, &c1).await;
    let r = c2
        .post(s.url("/account/sign-out-everywhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let rest = read_to_end(stream, Duration::from_secs(5)).await;
    assert!(rest.contains("event: ended"), "{rest}");

    // Another account's sign-out leaves the stream open.
    let (c3, _) = session_of(&s, "root.admin").await;
    let other = s.client_as("other.admin", &[Role::SystemAdmin], None).await;
    let mut stream = open_events(&s, &c3).await;
    other.post(s.url("/logout")).send().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(700), stream.chunk())
            .await
            .is_err(),
        "the stream of another session ended"
    );
}
both_backends!(
    event_streams_end_with_their_session,
    event_streams_end_with_their_session
);

async fn event_streams_check_their_session(db: TestDb) {
    // Checked every 300 ms: a session ended elsewhere (another process, an administrator,
    // expiry) ends the stream without anyone telling this server.
    let s = TestServer::start(db, false).await;
    s.admin().await;
    let (c, token) = session_of(&s, "root.admin").await;
    let stream = open_events(&s, &c).await;
    s.app.sign_out(&Ctx::system(), &token).await.unwrap();
    let rest = read_to_end(stream, Duration::from_secs(5)).await;
    assert!(rest.contains("event: ended"), "{rest}");
}
both_backends!(
    event_streams_check_their_session,
    event_streams_check_their_session
);

// ------------------------------------------------------------------ 2. next

#[tokio::test]
async fn next_is_only_a_local_path() {
    let s = TestServer::start(TestDb::sqlite(), false).await;
    let c = crate::client();
    for (next, to) in [
        ("%0D%0ASet-Cookie:%20ygt_session=evil", "/"),
        ("/x%0D%0ASet-Cookie:%20a=b", "/"),
        ("/x%0Ay", "/"),
        ("/x%09y", "/"),
        ("/x%00y", "/"),
        ("//evil.example/", "/"),
        ("/%5Cevil.example/", "/"),
        ("/%5C%5Cevil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/a%20b", "/"),
        ("/%E4%B8%AD", "/"),
        ("", "/"),
        ("/residents?q=%25E5%25BC%25A0", "/residents?q=%E5%BC%A0"),
        ("/institutions", "/institutions"),
    ] {
        let r = c
            .get(s.url(&format!("/lang/en?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "next={next}");
        assert_eq!(r.headers()["location"], to, "next={next}");
        // The sign-in page keeps the same rule for where to go afterwards.
        let r = c
            .get(s.url(&format!("/login?next={next}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login next={next}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains(&format!(
                "name=\"next\" value=\"{}\"",
                to.replace('&', "&amp;")
            )),
            "login next={next}"
        );
    }
}

// ------------------------------------------------------------------ 3. public URL

/// A raw HTTP/1.0 exchange (so that the Host header is exactly what we say).
async fn raw(s: &TestServer, request: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

const EVIL: &str = "evil.example:666";

fn get_as_evil(path: &str, bearer: &str) -> String {
    format!(
        "GET {path} HTTP/1.0\r\nHost: {EVIL}\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: {EVIL}\r\nAuthorization: Bearer {bearer}\r\n\r\n"
    )
}

async fn forged_host_never_appears(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, _) = two_institutions(&s).await;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "县医院集成平台",
            hospital,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap()
        .secret;
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:6b1c9d8e-0000-4000-8000-000000000001",
             "request": {"method": "POST", "url": "Patient"}, "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": "110101199003074514"}],
                "name": [{"family": "张", "given": ["伟"]}], "gender": "male", "birthDate": "1990-03-07",
                "managingOrganization": {"reference": format!("Organization/{hospital}")}}},
            {"request": {"method": "POST", "url": "Condition"}, "resource": {
                "resourceType": "Condition",
                "identifier": [{"system": "urn:his:dx", "value": "DX-1"}],
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "原发性高血压"}]},
                "subject": {"reference": "urn:uuid:6b1c9d8e-0000-4000-8000-000000000001"},
                "onsetDateTime": "2026-01-05T08:00:00+08:00"}},
        ]
    })
    .to_string();
    let post = raw(
        &s,
        format!(
            "POST /fhir HTTP/1.0\r\nHost: {EVIL}\r\nX-Forwarded-Proto: https\r\nAuthorization: Bearer {token}\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n{bundle}",
            bundle.len()
        ),
    )
    .await;
    assert!(post.starts_with("HTTP/1.0 200"), "{post}");
    let body: Value = serde_json::from_str(post.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let person = body["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut answers = vec![post.clone()];
    for path in [
        "/fhir/metadata".to_owned(),
        format!("/fhir/Condition?patient={person}"),
        format!("/fhir/Patient/{person}"),
        format!("/fhir/Patient?_id={person}"),
    ] {
        answers.push(raw(&s, get_as_evil(&path, &token)).await);
    }
    for a in &answers {
        assert!(!a.contains("evil.example"), "{a}");
    }
    let base = format!("{}/fhir", s.base);
    let meta: Value = serde_json::from_str(answers[1].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(meta["implementation"]["url"], base.as_str());
    assert_eq!(meta["url"], format!("{base}/metadata"));
    let found: Value = serde_json::from_str(answers[2].split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let full = found["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(full.starts_with(&format!("{base}/Condition/")), "{full}");
    assert!(
        body["entry"][1]["response"]["location"]
            .as_str()
            .unwrap()
            .starts_with("Condition/")
            || body["entry"][1]["fullUrl"]
                .as_str()
                .unwrap_or(&base)
                .starts_with(&base)
    );
}
both_backends!(forged_host_never_appears, forged_host_never_appears);

// ------------------------------------------------------------------ 4. caching

#[tokio::test]
async fn nothing_but_static_files_is_cached() {
    let s = TestServer::start(TestDb::sqlite(), false).await;
    let (hospital, _) = two_institutions(&s).await;
    let person = resident(&s, hospital, "张建华", "341890198001010010").await;
    let admin = s.admin().await;
    let anon = crate::client();
    let mut checked = 0;
    for (c, path) in [
        (&admin, "/".to_owned()),
        (&admin, "/institutions".to_owned()),
        (&admin, "/account".to_owned()),
        (&admin, "/api/v1/me".to_owned()),
        (&admin, "/api/v1/institutions".to_owned()),
        (&admin, format!("/residents/{person}")),
        (&admin, "/nowhere".to_owned()),
        (&admin, "/api/openapi.json".to_owned()),
        (&anon, "/login".to_owned()),
        (&anon, "/healthz".to_owned()),
        (&anon, "/fhir/metadata".to_owned()),
        (&anon, "/institutions".to_owned()),
        (&anon, "/lang/en?next=/".to_owned()),
    ] {
        let r = c.get(s.url(&path)).send().await.unwrap();
        let cc = r
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            cc.as_deref().is_some_and(|v| v.contains("no-store")),
            "{path} ({}): {cc:?}",
            r.status()
        );
        checked += 1;
    }
    assert_eq!(checked, 13);
    let css = anon.get(s.url("/static/app.css")).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    let cc = css.headers()["cache-control"].to_str().unwrap();
    assert!(cc.contains("max-age") && !cc.contains("no-store"), "{cc}");
}

// ------------------------------------------------------------------ 5. metrics

async fn metrics_need_the_metrics_token(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let admin = s.admin().await;
    let anon = crate::client();
    let (hospital, _) = two_institutions(&s).await;
    let api_token = s
        .app
        .create_token(
            &Ctx::system(),
            "x",
            hospital,
            &["registry.read".into()],
            None,
        )
        .await
        .unwrap()
        .secret;
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "forbidden", "{v}");
        v["error"]["message"].as_str().unwrap().to_owned()
    };
    // A signed-in account, an API token, a wrong token, no token: refused.
    refused(admin.get(s.url("/metrics")).send().await.unwrap()).await;
    refused(
        anon.get(s.url("/metrics"))
            .bearer_auth(&api_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let wrong = format!("{}x", &METRICS_TOKEN[..METRICS_TOKEN.len() - 1]);
    refused(
        anon.get(s.url("/metrics"))
            .bearer_auth(&wrong)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let msg = refused(anon.get(s.url("/metrics")).send().await.unwrap()).await;
    assert!(msg.contains("指标令牌"), "{msg}");
    // The metrics token: the metrics.
    let r = anon
        .get(s.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("ygt_http_requests_total"));

    // Without a metrics token configured, /metrics is off for everyone.
    let off = TestServer::start_with(TestDb::sqlite(), false, |c| c.metrics_token = None).await;
    let msg = refused(
        anon.get(off.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(msg.contains("metrics_token"), "{msg}");
}
both_backends!(
    metrics_need_the_metrics_token,
    metrics_need_the_metrics_token
);

// ------------------------------------------------------------------ 6, 7. tokens and roles

async fn token_form_and_role_editor(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, town) = two_institutions(&s).await;
    let admin = s
        .client_as("sys.admin", &[Role::SystemAdmin], Some(hospital))
        .await;
    let page = admin
        .get(s.url("/admin/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The integration set is offered although the administrator does not hold it.
    assert!(page.contains("value=\"record.read_own\""), "{page}");
    assert!(page.contains("value=\"patient.write\""));
    assert!(!page.contains("value=\"patient.read\""));
    let post =
        |pairs: Vec<(&'static str, String)>| admin.post(s.url("/admin/tokens")).form(&pairs).send();
    for days in ["400", "0", "3650"] {
        let r = post(vec![
            ("name", "柳河检验系统".into()),
            ("institution_id", town.to_string()),
            ("permissions", "patient.write".into()),
            ("valid_days", days.into()),
        ])
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{days}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<span class=\"field-error\">有效天数：应在 1 到 365 之间</span>"),
            "{html}"
        );
    }
    let r = post(vec![
        ("name", "柳河检验系统".into()),
        ("institution_id", town.to_string()),
        ("permissions", "patient.write".into()),
        ("permissions", "record.read_own".into()),
        ("valid_days", "".into()),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let tokens = s.app.list_tokens(&Ctx::system()).await.unwrap();
    let t = tokens.iter().find(|t| t.name == "柳河检验系统").unwrap();
    assert_eq!(t.permissions, "patient.write record.read_own");
    let left = t.expires_at.unwrap() - time::OffsetDateTime::now_utc();
    assert!(
        (left - time::Duration::days(90)).abs() < time::Duration::minutes(5),
        "{left}"
    );

    // The role editor neither shows nor takes token-only permissions.
    let roles = admin
        .get(s.url("/admin/roles"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!roles.contains("record.read_own"));
    let r = admin
        .post(s.url("/admin/roles/nurse"))
        .form(&[
            ("permissions", "registry.read"),
            ("permissions", "record.read_own"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("“读取本机构发送的数据”只能授予接口令牌，不能授予角色")
    );
}
both_backends!(token_form_and_role_editor, token_form_and_role_editor);

// ------------------------------------------------------------------ 9. break-glass

async fn break_glass_from_the_refusal_page(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, town) = two_institutions(&s).await;
    let person = resident(&s, hospital, "李秀兰", "341890197502020028").await;
    let doctor = s
        .client_as("town.doctor", &[Role::Doctor], Some(town))
        .await;
    let nurse = s.client_as("town.nurse", &[Role::Nurse], Some(town)).await;
    let page = format!("/residents/{person}");
    let record = format!("/residents/{person}/record");

    // Refused, with the form (the doctor holds patient.break_glass) ...
    let r = doctor.get(s.url(&record)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("该居民不在您的服务范围内"), "{html}");
    assert!(html.contains(&format!(
        "action=\"/residents/{person}/break-glass\" id=\"break-glass-form\""
    )));
    assert!(html.contains("<textarea name=\"reason\""));
    assert!(html.contains(&format!("name=\"next\" value=\"{record}\"")));
    assert!(html.contains(">紧急授权访问</button>"));
    assert!(html.contains("<option value=\"240\"") && html.contains("4 小时"));
    assert!(
        !html.contains("<option value=\"480\""),
        "beyond the maximum"
    );
    // ... without it for a nurse, who does not.
    let r = nurse.get(s.url(&page)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!r.text().await.unwrap().contains("break-glass-form"));

    let post = |c: &reqwest::Client, to: &str, pairs: Vec<(&'static str, String)>| {
        c.post(s.url(to)).form(&pairs).send()
    };
    let start = format!("/residents/{person}/break-glass");
    // Dots and invisible characters are no reason: the error stands beside the field.
    for reason in [
        "..........",
        "\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}\u{200d}",
    ] {
        let r = post(
            &doctor,
            &start,
            vec![
                ("reason", reason.into()),
                ("minutes", "60".into()),
                ("next", record.clone()),
            ],
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<span class=\"field-error\">紧急访问理由：请写明理由，至少 10 个"),
            "{html}"
        );
        assert!(html.contains("aria-invalid=\"true\""));
    }
    // Longer than allowed.
    let r = post(
        &doctor,
        &start,
        vec![
            ("reason", "急诊昏迷患者，需查看既往史".into()),
            ("minutes", "480".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("访问时长：应在 15 到 240 之间")
    );
    // A nurse may not.
    let r = post(
        &nurse,
        &start,
        vec![("reason", "急诊昏迷患者，需查看既往史".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A resident that does not exist.
    let nobody = Uuid::now_v7();
    let r = post(
        &doctor,
        &format!("/residents/{nobody}/break-glass"),
        vec![("reason", "急诊昏迷患者，需查看既往史".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("居民：引用的对象不存在或已停用")
    );
    let r = doctor
        .post(s.url(&format!("/api/v1/residents/{nobody}/break-glass")))
        .json(&json!({"reason": "急诊昏迷患者，需查看既往史"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "resident_id", "{v}");

    // A good reason: back to the page the doctor tried to open, which now opens.
    let r = post(
        &doctor,
        &start,
        vec![
            ("reason", "急诊昏迷患者，需查看既往史".into()),
            ("minutes", "60".into()),
            ("next", record.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], record.as_str());
    let r = doctor.get(s.url(&record)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let grants = s.app.store().list_break_glass(true, 10).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].resident_id, person);
    assert_eq!(
        grants[0].expires_at - grants[0].started_at,
        time::Duration::minutes(60)
    );
    // `next` elsewhere is not followed.
    let r = post(
        &doctor,
        &start,
        vec![
            ("reason", "急诊昏迷患者，需查看既往史".into()),
            ("next", "//evil.example/".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.headers()["location"], page.as_str());
}
both_backends!(
    break_glass_from_the_refusal_page,
    break_glass_from_the_refusal_page
);

// ------------------------------------------------------------------ names

/// A person's name that hides an invisible or formatting character is refused at every door
/// that registers residents, naming the field in the door's terms and the character: the form
/// (in Chinese), the JSON API, FHIR Patient. Nothing is registered.
async fn names_with_invisible_characters_are_refused(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (_, town) = two_institutions(&s).await;
    let doctor = s.client_as("doc", &[Role::Doctor], Some(town)).await;
    let bad = "张\u{200D}三";
    let r = doctor
        .post(s.url("/residents"))
        .form(&[("institution_id", town.to_string()), ("name", bad.into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("姓名不能包含不可见字符或格式控制字符（发现 U+200D）"),
        "{html}"
    );
    let r = doctor
        .post(s.url("/api/v1/residents"))
        .json(&json!({"institution_id": town, "name": "王\u{3164}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "name", "{body:#}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("U+3164"),
        "{body:#}"
    );
    let token = s
        .app
        .create_token(&Ctx::system(), "HIS", town, &["integration".into()], None)
        .await
        .unwrap();
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [{"system": "urn:ygt:his", "value": "P-1"}],
        "name": [{"text": "李\u{2060}四"}],
        "gender": "male",
    });
    let r = crate::client()
        .post(s.url("/fhir/Patient"))
        .header("authorization", format!("Bearer {}", token.secret))
        .header("content-type", "application/fhir+json")
        .body(patient.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let oo: Value = r.json().await.unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["expression"][0], "Patient.name", "{oo:#}");
    assert!(
        oo["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("U+2060"),
        "{oo:#}"
    );
    assert!(
        s.app
            .search_residents(&Ctx::system(), "张三", 10)
            .await
            .unwrap()
            .is_empty()
    );
}
both_backends!(
    names_with_invisible_characters_are_refused,
    names_with_invisible_characters_are_refused
);
