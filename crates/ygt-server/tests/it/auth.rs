//! Sign-in over HTTP: cookies, CSRF, throttling and device cookies, bearer tokens.

use reqwest::StatusCode;
use serde_json::{Value, json};
use ygt_app::Ctx;
use ygt_domain::access::{Permission, Role};
use ygt_testkit::{TestDb, both_backends};

use crate::{PASSWORD, TestServer, client};

/// The login form's token and its cookie.
async fn login_form(s: &TestServer) -> (String, String) {
    let r = client().get(s.url("/login")).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("ygt_login_csrf=")
        .to_owned();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&token),
        "the form carries the token of its cookie"
    );
    let cookie = format!("ygt_login_csrf={token}");
    (token, cookie)
}

async fn post_login(s: &TestServer, user: &str, password: &str) -> reqwest::Response {
    let (token, cookie) = login_form(s).await;
    client()
        .post(s.url("/login"))
        .header("cookie", cookie)
        .form(&[
            ("login_csrf", token.as_str()),
            ("username", user),
            ("password", password),
            ("next", "/institutions"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_csrf_guards_writes() {
    let s = TestServer::start(TestDb::sqlite(), false).await;
    s.client_as("chief", &[Role::SystemAdmin], None).await;
    let r = post_login(&s, "chief", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/institutions");
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ygt_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(
        !set.contains("Secure"),
        "plain HTTP here; Secure behind TLS"
    );
    let session = set.split(';').next().unwrap().to_owned();

    // The page carries the CSRF token for htmx; a write without it is refused.
    let html = client()
        .get(s.url("/institutions"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("X-CSRF-Token\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let body = [
        ("name", "新医院"),
        ("kind", "cdc"),
        ("division_code", "341890"),
    ];
    let r = client()
        .post(s.url("/institutions"))
        .header("cookie", &session)
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("CSRF"));
    let r = client()
        .post(s.url("/institutions"))
        .header("cookie", &session)
        .header("x-csrf-token", "forged")
        .form(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut with_field = body.to_vec();
    with_field.push(("csrf", csrf.as_str()));
    let r = client()
        .post(s.url("/institutions"))
        .header("cookie", &session)
        .form(&with_field)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "the hidden form field is accepted"
    );
    let r = client()
        .post(s.url("/api/v1/institutions"))
        .header("cookie", &session)
        .json(&json!({"name": "疾控中心", "kind": "cdc", "division_code": "341890"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a cookie-carried API write needs the header too"
    );

    // Sign out: the cookie no longer works.
    let r = client()
        .post(s.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client()
        .get(s.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// Failures make the next attempts wait (429, `Retry-After`, the wait in Chinese on the sign-in
/// page), never lock: a browser that signed in before (its device cookie) gets in at once.
async fn failures_throttle_but_known_browsers_get_in(db: TestDb) {
    let s = TestServer::start(db, false).await;
    s.client_as("clerk", &[Role::Nurse], None).await;
    // The clerk's own browser signs in once and keeps a device cookie for /login only.
    let r = post_login(&s, "clerk", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let device = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ygt_device="))
        .expect("a device cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/login", "Max-Age="] {
        assert!(device.contains(attr), "{device}");
    }
    assert!(!device.contains("Secure"), "plain HTTP here");
    let device = device.split(';').next().unwrap().to_owned();

    for _ in 0..5 {
        let r = post_login(&s, "clerk", "wrong-password-1").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    }
    let r = post_login(&s, "clerk", "wrong-password-1").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "30");
    let html = r.text().await.unwrap();
    assert!(html.contains("登录失败次数过多，请 30 秒后再试"), "{html}");
    let r = post_login(&s, "clerk", PASSWORD).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a browser without the device cookie waits, right password or not"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    // In English too.
    let (token, cookie) = login_form(&s).await;
    let html = client()
        .post(s.url("/login?lang=en"))
        .header("cookie", cookie)
        .form(&[
            ("login_csrf", token.as_str()),
            ("username", "clerk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("please try again in"), "{html}");

    // The clerk's browser is in.
    let (token, cookie) = login_form(&s).await;
    let r = client()
        .post(s.url("/login"))
        .header("cookie", format!("{cookie}; {device}"))
        .form(&[
            ("login_csrf", token.as_str()),
            ("username", "clerk"),
            ("password", PASSWORD),
            ("next", "/institutions"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/institutions");
    // A forged device cookie is no device cookie.
    let (token, cookie) = login_form(&s).await;
    let forged = format!("{}x", device);
    let r = client()
        .post(s.url("/login"))
        .header("cookie", format!("{cookie}; {forged}"))
        .form(&[
            ("login_csrf", token.as_str()),
            ("username", "clerk"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    let (events, _) = s
        .app
        .store()
        .search_audit(&ygt_app::ygt_store::access::AuditFilter {
            action: Some("auth.sign_in".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let failed = events
        .iter()
        .filter(|e| e.outcome.code() == "failed")
        .count();
    assert_eq!(failed, 6, "each failure is audited");
    assert!(
        events
            .iter()
            .filter(|e| e.outcome.code() != "allowed")
            .all(|e| e.client_addr.as_deref() == Some("127.0.0.1")),
        "each failure and refusal names the client address"
    );
    assert!(
        events
            .iter()
            .any(|e| e.detail.as_deref() == Some("known device"))
    );
}
both_backends!(
    failures_throttle_but_known_browsers_get_in,
    failures_throttle_but_known_browsers_get_in
);

#[tokio::test]
async fn bearer_tokens_are_scoped_and_revocable() {
    let s = TestServer::start(TestDb::sqlite(), true).await;
    let ctx = Ctx::system();
    let (towns, _) = s
        .app
        .list_institutions(
            &ctx,
            &ygt_app::ygt_store::org::InstitutionFilter {
                tier: Some(ygt_domain::org::Tier::Township),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let created = s
        .app
        .create_token(
            &ctx,
            "检验系统",
            towns[0].id,
            &["registry.read".into(), "registry.write".into()],
            Some(30),
        )
        .await
        .unwrap();
    let bearer = format!("Bearer {}", created.secret);
    let me: Value = client()
        .get(s.url("/api/v1/me"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "token:检验系统");
    // A token needs no CSRF header; it may write in its own institution, not elsewhere.
    let dep = |inst: uuid::Uuid| {
        client()
            .post(s.url(&format!("/api/v1/institutions/{inst}/departments")))
            .header("authorization", &bearer)
            .json(&json!({"name": "检验接口科"}))
            .send()
    };
    assert_eq!(
        dep(towns[0].id).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(
        dep(towns[1].id).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let r = client()
        .get(s.url("/api/v1/audit"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no audit.read in the token"
    );

    s.app.revoke_token(&ctx, created.token.id).await.unwrap();
    let r = client()
        .get(s.url("/api/v1/me"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = client()
        .get(s.url("/api/v1/me"))
        .header("authorization", "Bearer ygt_nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let stored = s
        .app
        .store()
        .token(created.token.id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.last_used_at.is_some());
    assert!(stored.revoked_at.is_some());
}

// ------------------------------------------------------------------ client address

/// Signs in with extra headers; returns the response.
async fn post_login_with(
    s: &TestServer,
    user: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let (token, cookie) = login_form(s).await;
    let mut r = client().post(s.url("/login")).header("cookie", cookie);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.form(&[
        ("login_csrf", token.as_str()),
        ("username", user),
        ("password", password),
    ])
    .send()
    .await
    .unwrap()
}

/// The client addresses of the sign-in events, newest first.
async fn sign_in_addresses(s: &TestServer) -> Vec<Option<String>> {
    let (events, _) = s
        .app
        .store()
        .search_audit(&ygt_app::ygt_store::access::AuditFilter {
            action: Some("auth.sign_in".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    events.into_iter().map(|e| e.client_addr).collect()
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Without a trusted proxy, `X-Forwarded-For` and `X-Forwarded-Proto` are anyone's words and
/// ignored: the audit names the peer, cookies are not `Secure`, and rotating a spoofed
/// address does not escape the address's throttle.
async fn spoofed_forwarding_headers_are_ignored(db: TestDb) {
    let s = TestServer::start(db, false).await;
    s.client_as("clerk", &[Role::Nurse], None).await;
    let spoof = [
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
    ];
    let r = post_login_with(&s, "clerk", "wrong-password-1", &spoof).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in_addresses(&s).await[0].as_deref(), Some("127.0.0.1"));
    let r = post_login_with(&s, "clerk", PASSWORD, &spoof).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&r);
    assert!(cookies.iter().any(|c| c.starts_with("ygt_session=")));
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
    // Twenty more failures under ever new spoofed addresses are failures of this peer: the
    // twenty-first from it makes it wait.
    for i in 0..20 {
        let xff = format!("203.0.113.{}", 100 + i);
        let r = post_login_with(&s, &format!("ghost{i}"), "x", &[("x-forwarded-for", &xff)]).await;
        let expected = if i < 19 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(r.status(), expected, "{i}");
    }
    let r = post_login_with(&s, "ghost99", "x", &[("x-forwarded-for", "192.0.2.1")]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        sign_in_addresses(&s)
            .await
            .iter()
            .all(|a| a.as_deref() != Some("203.0.113.7") && a.as_deref() != Some("192.0.2.1"))
    );
}
both_backends!(
    spoofed_forwarding_headers_are_ignored,
    spoofed_forwarding_headers_are_ignored
);

/// Behind a configured trusted proxy the client is the rightmost address of
/// `X-Forwarded-For` that is not a trusted proxy, and `X-Forwarded-Proto: https` makes the
/// cookies `Secure`; one client's failures do not make the other clients behind the proxy
/// wait.
async fn a_trusted_proxy_names_the_client(db: TestDb) {
    let s = TestServer::start_with(db, false, |c| {
        c.trusted_proxies =
            ygt_server::proxy::TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
    })
    .await;
    s.client_as("clerk", &[Role::Nurse], None).await;
    let r = post_login_with(
        &s,
        "clerk",
        "wrong-password-1",
        &[("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.1.2.3")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        sign_in_addresses(&s).await[0].as_deref(),
        Some("203.0.113.7"),
        "the forged leftmost hop is not believed, the trusted one is skipped"
    );
    let r = post_login_with(
        &s,
        "clerk",
        PASSWORD,
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&r);
    for name in ["ygt_session=", "ygt_device="] {
        let c = cookies.iter().find(|c| c.starts_with(name)).unwrap();
        assert!(c.contains("; Secure"), "{c}");
    }
    assert_eq!(
        sign_in_addresses(&s).await[0].as_deref(),
        Some("203.0.113.7")
    );
    // One client's failures make that client wait, not the next one behind the proxy.
    for i in 0..21 {
        let r = post_login_with(
            &s,
            &format!("ghost{i}"),
            "x",
            &[("x-forwarded-for", "203.0.113.50")],
        )
        .await;
        let expected = if i < 20 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(r.status(), expected, "{i}");
    }
    let r = post_login_with(
        &s,
        "clerk",
        PASSWORD,
        &[("x-forwarded-for", "203.0.113.51")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&r);
    assert!(
        cookies.iter().all(|c| !c.contains("Secure")),
        "no X-Forwarded-Proto, no Secure: {cookies:?}"
    );
}
both_backends!(
    a_trusted_proxy_names_the_client,
    a_trusted_proxy_names_the_client
);

// ------------------------------------------------------------------ separation of duties

/// Over HTTP: an institution administrator and a community administrator cannot give their
/// own account the doctor role (account form, role editor, a token) nor open a resident's
/// record; the grants of patient-data rights are listed for auditors in Chinese, counted and
/// paged, and linked from the audit page.
async fn separation_of_duties_over_http(db: TestDb) {
    let s = TestServer::start(db, false).await;
    let (hospital, town) = crate::door::two_institutions(&s).await;
    let sys = Ctx::system();
    let resident = s
        .app
        .register_resident(
            &sys,
            &ygt_app::mpi::ResidentDraft {
                institution_id: town.to_string(),
                name: "周八".into(),
                id_number: Some("341890198001010010".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .person_id;
    for (name, role, inst) in [
        ("tadmin", Role::InstitutionAdmin, town),
        ("cadmin", Role::CommunityAdmin, hospital),
    ] {
        let c = s.client_as(name, &[role], Some(inst)).await;
        let me = s.app.store().user_by_username(name).await.unwrap().unwrap();
        let r = c
            .post(s.url(&format!("/admin/accounts/{}", me.id)))
            .form(&[
                ("display_name", "管理员"),
                ("institution_id", &inst.to_string()),
                ("roles", role.code()),
                ("roles", "doctor"),
                ("active", "on"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let html = r.text().await.unwrap();
        assert!(html.contains("不能修改自己的角色或所属机构"), "{html}");
        let r = c
            .post(s.url("/admin/roles/doctor"))
            .form(&[("permissions", "patient.read")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        let r = c
            .post(s.url("/admin/tokens"))
            .form(&[
                ("name", "自用令牌"),
                ("institution_id", &inst.to_string()),
                ("permissions", "patient.write"),
                ("permissions", "record.read_own"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}");
        // The token form offers neither the integration set nor administration.
        let page = c
            .get(s.url("/admin/tokens"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("value=\"patient.write\""), "{page}");
        assert!(!page.contains("value=\"token.manage\""), "{page}");
        for path in [
            format!("/residents/{resident}"),
            format!("/residents/{resident}/record"),
            format!("/api/v1/residents/{resident}"),
            format!("/fhir/Patient/{resident}"),
        ] {
            let r = c.get(s.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name} {path}");
        }
        assert_eq!(s.app.store().roles_of(me.id).await.unwrap(), vec![role]);
    }

    // Grants for review: a doctor made by the institution administrator, and enough changes of
    // a role's permissions to fill more than a page.
    let tadmin = s.signed_in("tadmin").await;
    let r = tadmin
        .post(s.url("/admin/accounts"))
        .form(&[
            ("username", "doc.new"),
            ("display_name", "新医生"),
            ("institution_id", &town.to_string()),
            ("roles", "doctor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    for _ in 0..52 {
        for perms in [
            vec![Permission::RegistryRead, Permission::PatientRead],
            vec![Permission::RegistryRead],
        ] {
            s.app
                .set_role_permissions(&sys, Role::Finance, &perms)
                .await
                .unwrap();
        }
    }
    let auditor = s.client_as("aud", &[Role::Auditor], Some(hospital)).await;
    let audit = auditor
        .get(s.url("/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("href=\"/audit/grants\""),
        "linked from the audit page"
    );
    let r = auditor.get(s.url("/audit/grants")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("患者数据权限授予审核"));
    // 52 role changes, the new doctor, and the community administrator (community-wide scope is
    // patient data too).
    assert!(html.contains("共 54"), "{html}");
    assert!(html.contains("href=\"/audit/grants?page=2\""));
    assert_eq!(html.matches("<tr><td>").count(), 50);
    assert!(html.contains("为角色增加患者数据权限") && html.contains("财务人员"));
    assert!(html.contains("查看居民健康数据"));
    for code in [
        "patient.read",
        "role.grant_patient_permission",
        "account.grant_patient_role",
        ">finance<",
    ] {
        assert!(
            !html.contains(code),
            "no English code {code} in the Chinese page"
        );
    }
    let page2 = auditor
        .get(s.url("/audit/grants?page=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page2.matches("<tr><td>").count(), 4);
    assert!(page2.contains(">cadmin<") && page2.contains("全医共体居民范围"));
    assert!(page2.contains("授予账号含患者数据权限的角色") && page2.contains("doc.new"));
    assert!(page2.contains(">医生<") && page2.contains(">tadmin<"));
    assert!(page2.contains("href=\"/audit/grants?page=1\""));
    // Only auditors (audit.review) see it.
    let r = tadmin.get(s.url("/audit/grants")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
both_backends!(
    separation_of_duties_over_http,
    separation_of_duties_over_http
);
