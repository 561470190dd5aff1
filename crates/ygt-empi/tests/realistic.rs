//! A small realistic county: ~200 registrations of ~80 people with noise,
//! twins and parents with children sharing phones and addresses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;

use support::synth;
use ygt_empi::{Config, Decision, link_batch, link_batch_with, prepare, score, train};

fn clusters_of(labels: &[usize], person: &[usize], who: usize) -> Vec<usize> {
    labels
        .iter()
        .zip(person)
        .filter(|(_, p)| **p == who)
        .map(|(c, _)| *c)
        .collect()
}

fn linked(labels: &[usize], person: &[usize], a: usize, b: usize) -> bool {
    let ca = clusters_of(labels, person, a);
    clusters_of(labels, person, b)
        .iter()
        .any(|c| ca.contains(c))
}

#[test]
fn small_county_is_linked_with_high_precision_and_recall() {
    let data = synth::generate(200, 7);
    assert_eq!(data.regs.len(), 200);
    assert!(
        (60..=110).contains(&data.persons),
        "{} persons",
        data.persons
    );
    assert!(!data.twins.is_empty(), "the data must contain twins");
    assert!(
        !data.parent_child.is_empty(),
        "the data must contain parents and children"
    );
    // The noise the test is about is present.
    let noise = synth::noise(&data);
    eprintln!("{noise:?}");
    assert!(
        noise.homophones > 0 && noise.missing_char + noise.variants > 0,
        "{noise:?}"
    );
    assert!(
        noise.legacy_ids > 0 && noise.missing_ids > 0 && noise.invalid_ids > 0,
        "{noise:?}"
    );
    assert!(
        noise.phone_changes > 0 && noise.short_addresses > 0,
        "{noise:?}"
    );

    let labels = link_batch(&data.regs, &Config::default(), &|_, _| {});
    let (precision, recall, f1, tp, predicted, actual) = synth::pairwise(&labels, &data.person);
    eprintln!("precision {precision:.4} recall {recall:.4} f1 {f1:.4} ({tp}/{predicted}/{actual})");
    assert!(precision >= 0.97, "precision {precision}");
    assert!(recall >= 0.97, "recall {recall}");
    for &(a, b) in &data.twins {
        assert!(
            !linked(&labels, &data.person, a, b),
            "twins {a} and {b} linked"
        );
    }
    for &(a, b) in &data.parent_child {
        assert!(
            !linked(&labels, &data.person, a, b),
            "parent {a} and child {b} linked"
        );
    }
}

#[test]
fn several_seeds_stay_accurate() {
    for seed in [1, 2, 3, 4, 5] {
        let data = synth::generate(300, seed);
        let labels = link_batch(&data.regs, &Config::default(), &|_, _| {});
        let (precision, recall, ..) = synth::pairwise(&labels, &data.person);
        assert!(
            precision >= 0.97 && recall >= 0.95,
            "seed {seed}: {precision} {recall}"
        );
        for &(a, b) in data.twins.iter().chain(&data.parent_child) {
            assert!(
                !linked(&labels, &data.person, a, b),
                "seed {seed}: {a} and {b} linked"
            );
        }
    }
}

/// The partition does not depend on the order of the input.
#[test]
fn linking_is_independent_of_input_order() {
    let data = synth::generate(600, 11);
    let labels = link_batch(&data.regs, &Config::default(), &|_, _| {});
    let mut order: Vec<usize> = (0..data.regs.len()).collect();
    order.reverse();
    order.rotate_left(123);
    let shuffled: Vec<_> = order.iter().map(|&i| data.regs[i].clone()).collect();
    let labels2 = link_batch(&shuffled, &Config::default(), &|_, _| {});
    // Same partition: map each cluster of the first run to one of the second.
    let mut map: HashMap<usize, usize> = HashMap::new();
    let mut back: HashMap<usize, usize> = HashMap::new();
    for (k, &i) in order.iter().enumerate() {
        let (a, b) = (labels[i], labels2[k]);
        assert_eq!(*map.entry(a).or_insert(b), b, "record {i} moved");
        assert_eq!(*back.entry(b).or_insert(a), a, "record {i} moved");
    }
    // And the model too.
    let p1: Vec<_> = data.regs.iter().map(prepare).collect();
    let p2: Vec<_> = shuffled.iter().map(prepare).collect();
    let (m1, m2) = (
        train(&p1, &Config::default()),
        train(&p2, &Config::default()),
    );
    for (a, b) in m1.parameters().iter().zip(m2.parameters()) {
        assert!((a.4 - b.4).abs() < 1e-9, "{a:?} {b:?}");
    }
    assert!((m1.prior() - m2.prior()).abs() < 1e-15);
}

/// "Not the same person" is remembered: such pairs never share a cluster,
/// even through other registrations.
#[test]
fn cannot_link_pairs_stay_apart() {
    let data = synth::generate(200, 7);
    let labels = link_batch(&data.regs, &Config::default(), &|_, _| {});
    // Pick a person with at least three registrations and forbid two of them.
    let mut by_person: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, &p) in data.person.iter().enumerate() {
        by_person.entry(p).or_default().push(i);
    }
    let mut people: Vec<_> = by_person
        .values()
        .filter(|v| v.len() >= 3)
        .cloned()
        .collect();
    people.sort();
    let regs = &people[0];
    assert_eq!(labels[regs[0]], labels[regs[1]]);
    let apart = link_batch_with(
        &data.regs,
        &Config::default(),
        &[(regs[0], regs[1])],
        &|_, _| {},
    );
    assert_ne!(apart[regs[0]], apart[regs[1]]);
}

/// The explanation of a twin pair shows the household guard.
#[test]
fn twins_are_explained() {
    let data = synth::generate(200, 7);
    let prepared: Vec<_> = data.regs.iter().map(prepare).collect();
    let model = train(&prepared, &Config::default());
    let (a, b) = data.twins[0];
    let ra = data.person.iter().position(|&p| p == a).unwrap();
    let rb = data.person.iter().position(|&p| p == b).unwrap();
    let e = score(&prepared[ra], &prepared[rb], &model, &Config::default());
    assert_ne!(e.decision, Decision::Link, "{e:?}");
    let sum: f64 = e.fields.iter().map(|f| f.weight).sum();
    assert!((sum - e.total).abs() < 1e-9);
}
