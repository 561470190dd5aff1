//! HL7 v2 over MLLP, on both backends: messages built by the PyPI package `hl7apy` (fixtures in
//! crates/ygt-interop/tests/fixtures/hl7, UTF-8 and GB 18030) reach the right resident once and
//! are acknowledged after commit; the malformed corpus is answered AR/AE with the field and
//! stores nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;
use ygt_app::Ctx;
use ygt_app::ygt_store::org::InstitutionFilter;
use ygt_app::ygt_store::record::TimelineFilter;
use ygt_domain::org::Tier;
use ygt_interop::hl7;
use ygt_interop::mllp::{self, MllpDecoder};
use ygt_server::hl7::{Hl7Door, MllpLimits};
use ygt_testkit::{TestDb, both_backends};

use crate::TestServer;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ygt-interop/tests/fixtures/hl7")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

/// A listener on port 0 acting with a county-hospital integration token.
async fn listener(s: &TestServer) -> (String, tokio::sync::oneshot::Sender<()>) {
    listener_with(s, MllpLimits::default()).await
}

async fn listener_with(
    s: &TestServer,
    limits: MllpLimits,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let county = s
        .app
        .list_institutions(
            &Ctx::system(),
            &InstitutionFilter {
                tier: Some(Tier::County),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id;
    let token = s
        .app
        .create_token(
            &Ctx::system(),
            "县医院 HL7 接口",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(30),
        )
        .await
        .unwrap();
    let door = Arc::new(Hl7Door::new(s.app.clone(), token.secret).with_limits(limits));
    door.check().await.unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        door.serve(l, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (addr, tx)
}

/// Sends one framed message and reads one acknowledgement.
async fn exchange(conn: &mut TcpStream, payload: &[u8]) -> hl7::Message {
    conn.write_all(&mllp::frame(payload)).await.unwrap();
    read_ack(conn).await
}

async fn read_ack(conn: &mut TcpStream) -> hl7::Message {
    let mut dec = MllpDecoder::new(1 << 20);
    let mut buf = [0u8; 4096];
    loop {
        if let Some(frame) = dec.next_frame().unwrap() {
            return hl7::decode(&frame).unwrap();
        }
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), conn.read(&mut buf))
            .await
            .expect("an acknowledgement in time")
            .unwrap();
        assert!(n > 0, "connection closed without an acknowledgement");
        dec.push(&buf[..n]);
    }
}

fn msa(ack: &hl7::Message) -> (String, String, String) {
    (
        ack.get("MSA-1").unwrap_or_default().into_owned(),
        ack.get("MSA-2").unwrap_or_default().into_owned(),
        ack.get("MSA-3").unwrap_or_default().into_owned(),
    )
}

async fn person_of(s: &TestServer, id_number: &str) -> Option<Uuid> {
    let found = s
        .app
        .search_residents(&Ctx::system(), id_number, 5)
        .await
        .unwrap();
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|p| p.person.id)
}

async fn items(s: &TestServer, person: Uuid) -> Vec<ygt_app::ygt_store::record::Item> {
    s.app
        .search_record(&Ctx::system(), person, &TimelineFilter::default(), 200)
        .await
        .unwrap()
        .0
}

async fn hl7_messages_reach_the_record(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let (addr, _stop) = listener(&s).await;
    let mut conn = TcpStream::connect(&addr).await.unwrap();

    // Registration with its admission, then the update and the same in GB 18030.
    let ack = exchange(&mut conn, &fixture("adt_a01.hl7")).await;
    let (code, control, text) = msa(&ack);
    assert_eq!(
        (code.as_str(), control.as_str()),
        ("AA", "ADT0001"),
        "{text}"
    );
    assert_eq!(ack.get("MSH-9-1").as_deref(), Some("ACK"));
    let person = person_of(&s, "110101199003074514")
        .await
        .expect("registered");
    for f in ["adt_a08.hl7", "adt_a01.gb18030.hl7", "adt_a04.hl7"] {
        let (code, _, text) = msa(&exchange(&mut conn, &fixture(f)).await);
        assert_eq!(code, "AA", "{f}: {text}");
    }
    assert_eq!(person_of(&s, "110101199003074514").await, Some(person));
    let detail = s
        .app
        .person_detail(&Ctx::system(), person, "treatment")
        .await
        .unwrap();
    assert_eq!(detail.person.name, "张伟");
    assert_eq!(
        detail.registrations.len(),
        1,
        "one patient number, one registration"
    );

    // Results: the lab report twice (UTF-8, GB 18030) is stored once.
    for f in [
        "oru_r01_lab.hl7",
        "oru_r01_lab.gb18030.hl7",
        "oru_r01_two_orders.hl7",
        "oru_r01_ct.hl7",
    ] {
        let (code, _, text) = msa(&exchange(&mut conn, &fixture(f)).await);
        assert_eq!(code, "AA", "{f}: {text}");
    }
    let all = items(&s, person).await;
    let labs: Vec<_> = all
        .iter()
        .filter(|i| i.source_id == "F20240301001")
        .collect();
    assert_eq!(labs.len(), 1, "{all:#?}");
    assert!(labs[0].abnormal);
    assert!(labs[0].body.contains("糖化血红蛋白"), "{}", labs[0].body);
    let ct = all
        .iter()
        .find(|i| i.kind.code() == "imaging_report")
        .expect("the CT report");
    assert!(
        ct.body.contains("右肺上叶磨玻璃结节，建议12个月后复查"),
        "{}",
        ct.body
    );
    assert_eq!(ct.title, "胸部CT平扫");
    assert!(
        all.iter()
            .any(|i| i.kind.code() == "encounter" && i.source_id == "V20240301001"),
        "the admission is on the record"
    );
    assert!(all.iter().any(|i| i.source_id == "F20240302001"));
    let before = all.len();

    // The malformed corpus: refused with the reason, on the same connection, nothing stored.
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("malformed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12);
    for name in &names {
        let bytes = fixture(&format!("malformed/{name}"));
        let ack = exchange(&mut conn, &bytes).await;
        let (code, _, text) = msa(&ack);
        assert!(code == "AR" || code == "AE", "{name}: {code} {text}");
        let err = ack
            .segment("ERR")
            .unwrap_or_else(|| panic!("{name}: no ERR"));
        assert!(
            !err.field(8).raw().is_empty(),
            "{name}: ERR-8 gives the reason"
        );
    }
    // A message that parses but whose content is refused: the field is named.
    let mut bad = String::from_utf8(fixture("oru_r01_lab.hl7")).unwrap();
    bad = bad
        .replace("F20240301001", "F-NEW-1")
        .replace("|20240301080000|", "|20241399080000|");
    let ack = exchange(&mut conn, bad.as_bytes()).await;
    let (code, _, text) = msa(&ack);
    assert_eq!(code, "AE", "{text}");
    assert!(text.contains("OBR-7"), "{text}");
    assert_eq!(items(&s, person).await.len(), before);

    // A frame cut off by a closed connection stores nothing; garbage before a frame is skipped.
    let mut cut = TcpStream::connect(&addr).await.unwrap();
    let msg = fixture("oru_r01_two_orders.hl7");
    let mut partial = vec![0x0b];
    partial.extend_from_slice(&msg[..msg.len() / 2]);
    cut.write_all(&partial).await.unwrap();
    drop(cut);
    let mut noisy = TcpStream::connect(&addr).await.unwrap();
    noisy.write_all(b"hello\r\n").await.unwrap();
    let fresh = String::from_utf8(fixture("oru_r01_two_orders.hl7"))
        .unwrap()
        .replace("F20240302001", "F20240302999");
    let (code, _, text) = msa(&exchange(&mut noisy, fresh.as_bytes()).await);
    assert_eq!(code, "AA", "{text}");
    assert_eq!(items(&s, person).await.len(), before + 1);
}

both_backends!(hl7_messages_reach_the_record, hl7_messages_reach_the_record);

/// Reads until the server closes the connection (Ok(0) or a reset) and returns how long it took.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Duration {
    let t0 = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, conn.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
            Ok(Ok(0) | Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// A silent connection is closed after the idle time; connections beyond the ceiling are
/// closed at once while those within it are served; garbage is answered without a crash.
async fn mllp_limits_hold_under_abuse(db: TestDb) {
    let s = TestServer::start(db, true).await;
    let limits = MllpLimits {
        idle: Duration::from_millis(400),
        max_connections: 2,
    };
    let (addr, _stop) = listener_with(&s, limits).await;

    // Two connections take the two places; a third is closed at once.
    let mut a = TcpStream::connect(&addr).await.unwrap();
    let mut b = TcpStream::connect(&addr).await.unwrap();
    a.write_all(b"\x0bgarbage").await.unwrap();
    let mut c = TcpStream::connect(&addr).await.unwrap();
    let took = closed_within(&mut c, Duration::from_secs(5)).await;
    assert!(
        took < Duration::from_millis(400),
        "refused only after {took:?}"
    );

    // The two admitted ones are served while they talk...
    let ack = exchange(&mut b, &fixture("adt_a01.hl7")).await;
    assert_eq!(msa(&ack).0, "AA");
    // ...and closed once silent for the idle time (not before).
    let idle = closed_within(&mut a, Duration::from_secs(10)).await;
    assert!(idle >= Duration::from_millis(300), "closed after {idle:?}");
    closed_within(&mut b, Duration::from_secs(10)).await;

    // Their places are free again: a new sender is served, even after 1 MB of garbage.
    let mut d = TcpStream::connect(&addr).await.unwrap();
    let garbage: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8 | 0x20).collect();
    d.write_all(&garbage).await.unwrap();
    let ack = exchange(&mut d, &fixture("adt_a01.hl7")).await;
    assert_eq!(msa(&ack).0, "AA");
}
both_backends!(mllp_limits_hold_under_abuse, mllp_limits_hold_under_abuse);
