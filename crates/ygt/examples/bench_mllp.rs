//! HL7 v2 over MLLP benchmark.
//!
//! `cargo run --release -p ygt --example bench_mllp -- [MESSAGES] [CONNECTIONS] [DATABASE_URL]`
//!
//! Makes the county registry and 5,000 residents on an empty database (default: a temporary
//! SQLite file), starts the MLLP listener (`Hl7Door`, the code behind `ygt serve --mllp`) on
//! 127.0.0.1:0 with a county-hospital integration token, then sends MESSAGES ORU^R01 lab
//! results (one OBR, six OBX, a registered patient each) over CONNECTIONS connections, each
//! waiting for the acknowledgement of one message before sending the next, as senders do.
//! Prints messages acknowledged per second (every AA is sent after its transaction committed)
//! and the round-trip latency of one message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ygt_app::ygt_store::Store;
use ygt_app::ygt_store::org::InstitutionFilter;
use ygt_app::{App, Ctx};
use ygt_domain::org::Tier;
use ygt_interop::mllp::{self, MllpDecoder};
use ygt_server::hl7::Hl7Door;

fn pct(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (p(0.5), p(0.95), p(0.99))
}

fn oru(n: usize, record: &str, id_number: &str, name: &str) -> String {
    let obx = [
        ("718-7", "血红蛋白", "128", "g/L", "130-175", "L"),
        ("6690-2", "白细胞计数", "6.1", "10*9/L", "3.5-9.5", "N"),
        ("777-3", "血小板计数", "210", "10*9/L", "125-350", "N"),
        ("4548-4", "糖化血红蛋白", "6.9", "%", "4.0-6.0", "H"),
        ("1558-6", "空腹血糖", "7.4", "mmol/L", "3.9-6.1", "H"),
        ("2160-0", "肌酐", "88", "umol/L", "57-111", "N"),
    ];
    let mut s = format!(
        "MSH|^~\\&|LIS|县人民医院|YGT|县域医共体|20261120101500||ORU^R01^ORU_R01|B{n}|P|2.5||||||UNICODE UTF-8\r\
         PID|1||{record}^^^XRMYY^MR~{id_number}^^^CHN^NNCHN||{name}\r\
         ORC|RE|P{n}|F{n}\r\
         OBR|1|P{n}|F{n}|LAB001^血常规+生化^L|||20261120080000|||||||||D0042^李^明||||||20261120100000||LAB|F\r"
    );
    for (i, (code, nm, v, u, r, f)) in obx.iter().enumerate() {
        s.push_str(&format!(
            "OBX|{}|NM|{code}^{nm}^LN||{v}|{u}|{r}|{f}|||F|||20261120095000\r",
            i + 1
        ));
    }
    s
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let messages: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let conns: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let dir = std::env::temp_dir().join(format!("ygt-bench-mllp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let app = App::new(Store::open(&url).await.unwrap());
    let backend = app.store().backend().name();
    let ctx = Ctx::system();
    if app.store().count_persons().await.unwrap() == 0 {
        ygt_synth::generate(&app, 1, ygt_synth::Scale::County, &|_, _| {})
            .await
            .unwrap();
        ygt_synth::generate_residents(&app, 1, 5_000, &|_, _| {})
            .await
            .unwrap();
    }
    let county = app
        .list_institutions(
            &ctx,
            &InstitutionFilter {
                tier: Some(Tier::County),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .0[0]
        .id;
    // Patients as the county hospital knows them: its patient numbers.
    let persons = app
        .store()
        .search_persons(&ygt_app::ygt_store::mpi::PersonFilter {
            limit: 2_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .0;
    let mut patients = Vec::new();
    for (i, p) in persons.iter().enumerate() {
        let Some(idn) = &p.id_number else { continue };
        let record = format!("BENCH-{i}");
        app.register_resident(
            &ctx,
            &ygt_app::mpi::ResidentDraft {
                institution_id: county.to_string(),
                record_id: Some(record.clone()),
                name: p.name.clone(),
                id_number: Some(idn.clone()),
                sex: Some(p.sex.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        patients.push((record, idn.clone(), p.name.clone()));
        if patients.len() == 1_000 {
            break;
        }
    }
    let token = app
        .create_token(
            &ctx,
            "bench LIS",
            county,
            &["patient.write".into(), "patient.read".into()],
            Some(1),
        )
        .await
        .unwrap();
    let door = Arc::new(Hl7Door::new(app.clone(), token.secret));
    door.check().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(door.serve(listener, std::future::pending()));
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let patients = Arc::new(patients);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let patients = patients.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut dec = MllpDecoder::new(1 << 20);
            let mut buf = vec![0u8; 8192];
            let mut lat = Vec::new();
            let mut n = c;
            while n < messages {
                let (rec, idn, name) = &patients[n % patients.len()];
                let msg = oru(n + stamp as usize * 1_000_000, rec, idn, name);
                let t = Instant::now();
                s.write_all(&mllp::frame(msg.as_bytes())).await.unwrap();
                let ack = loop {
                    if let Some(f) = dec.next_frame().unwrap() {
                        break f;
                    }
                    let k = s.read(&mut buf).await.unwrap();
                    assert!(k > 0);
                    dec.push(&buf[..k]);
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                let text = String::from_utf8_lossy(&ack);
                assert!(text.contains("MSA|AA|"), "{text}");
                n += conns;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let (p50, p95, p99) = pct(lat);
    println!(
        "MLLP: {messages} ORU^R01 (6 OBX each) over {conns} connections acknowledged after commit in {secs:.1} s = {:.0} messages/s; round trip p50 {p50:.2} / p95 {p95:.2} / p99 {p99:.2} ms ({backend})",
        messages as f64 / secs
    );
}
