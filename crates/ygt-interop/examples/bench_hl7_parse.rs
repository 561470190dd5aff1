//! How fast the HL7 v2 parser reads a 2 KB ORU^R01 lab result (UTF-8 and GB 18030), and what
//! each step costs. Not a test: run it by hand in release mode and record the figures in
//! docs/benchmarks.md.
//!
//! `cargo run --release -p ygt-interop --example bench_hl7_parse [ITERATIONS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use ygt_interop::hl7;

/// The lab result of the fixtures, its OBX segments repeated until it is 2 KB.
fn two_kb_oru() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hl7/oru_r01_lab.hl7");
    let lab = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let obx: Vec<&str> = lab.split('\r').filter(|s| s.starts_with("OBX|")).collect();
    let mut text = lab.trim_end_matches('\r').to_owned();
    let mut i = 0;
    while text.len() < 2048 {
        text.push('\r');
        text.push_str(obx[i % obx.len()]);
        i += 1;
    }
    text.push('\r');
    text.into_bytes()
}

fn main() {
    let bytes = two_kb_oru();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let gb = hl7::encode(
        &text.replace("UNICODE UTF-8", "GB 18030-2000"),
        "GB 18030-2000",
    )
    .unwrap();
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(20_000, |a| a.parse().expect("ITERATIONS is a number"));
    let time = |label: &str, len: usize, f: &dyn Fn() -> usize| {
        for _ in 0..1000 {
            std::hint::black_box(f());
        }
        let start = std::time::Instant::now();
        let mut sink = 0usize;
        for _ in 0..n {
            sink = sink.wrapping_add(std::hint::black_box(f()));
        }
        let ns = start.elapsed().as_nanos() / u128::from(n);
        println!("{label}: {ns} ns/op ({len} bytes, {sink})");
    };
    let m = hl7::parse(&text).unwrap();
    println!("{} segments", m.len());
    time("parse (text)", text.len(), &|| {
        hl7::parse(&text).unwrap().len()
    });
    time("decode (UTF-8 check + parse)", bytes.len(), &|| {
        hl7::decode(&bytes).unwrap().len()
    });
    time("decode GB 18030 + parse", gb.len(), &|| {
        hl7::decode(&gb).unwrap().len()
    });
    time("header", bytes.len(), &|| {
        m.header().unwrap().control_id.len()
    });
    time("patient", bytes.len(), &|| {
        hl7::patient(&m).unwrap().identifiers.len()
    });
    time("reports", bytes.len(), &|| hl7::reports(&m).unwrap().len());
    time("get(\"OBX(7)-5\")", bytes.len(), &|| {
        m.get("OBX(7)-5").unwrap().len()
    });
    time("decode + header + patient + reports", bytes.len(), &|| {
        let m = hl7::decode(&bytes).unwrap();
        let _ = m.header().unwrap();
        let _ = hl7::patient(&m).unwrap();
        hl7::reports(&m).unwrap().len()
    });
}
