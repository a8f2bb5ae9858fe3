//! Property tests: arbitrary bytes and mutated fixtures never panic and finish quickly.

use std::time::{Duration, Instant};

use closedloop_mail::{AutoPolicy, parse};
use proptest::prelude::*;

use crate::all_fixtures;

/// Debug builds on a shared two-core machine: generous, but catches anything quadratic.
const LIMIT: Duration = Duration::from_secs(5);

fn check(raw: &[u8]) {
    let started = Instant::now();
    let _ = parse(raw, &AutoPolicy::default());
    assert!(
        started.elapsed() < LIMIT,
        "parse took {:?}",
        started.elapsed()
    );
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    GarbleBoundary(usize),
    HugeHeaderLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(b"=?".to_vec()),
                Just(b"?=".to_vec()),
                Just(b"\r\n--".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                Just(b"=?gb2312?B?".to_vec()),
                Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
                Just(b"<".to_vec()),
                Just(b"&#x".to_vec()),
                prop::collection::vec(any::<u8>(), 0..16),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::GarbleBoundary),
        (1usize..300_000).prop_map(Mutation::HugeHeaderLine),
    ]
}

fn apply(mut raw: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let len = raw.len().max(1);
    match m {
        Mutation::Flip(i, b) => {
            if let Some(byte) = raw.get_mut(i % len) {
                *byte ^= b | 1;
            }
        }
        Mutation::Truncate(i) => raw.truncate(i % len),
        Mutation::Insert(i, bytes) => {
            let at = (i % len).min(raw.len());
            raw.splice(at..at, bytes.iter().copied());
        }
        Mutation::GarbleBoundary(i) => {
            // Change one character of every boundary line ("--...") after the n-th.
            let mut n = 0;
            let mut pos = 0;
            while let Some(p) = raw[pos..].windows(3).position(|w| w == b"\n--") {
                let at = pos + p + 3;
                if n >= i % 4 && at < raw.len() {
                    raw[at] = b'#';
                }
                n += 1;
                pos = at;
            }
        }
        Mutation::HugeHeaderLine(n) => {
            let mut line = b"X-Huge: ".to_vec();
            line.extend(std::iter::repeat_n(b'a', *n));
            line.extend_from_slice(b"\r\n");
            raw.splice(0..0, line);
        }
    }
    raw
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(&raw);
    }

    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..4096)
    ) {
        let mut raw = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        raw.extend(body);
        check(&raw);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let fixtures = all_fixtures();
        let (_, raw) = &fixtures[pick % fixtures.len()];
        let raw = mutations.iter().fold(raw.clone(), apply);
        check(&raw);
    }
}

#[test]
fn deep_nesting_and_many_parts_stay_bounded() {
    let mut raw =
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n".to_vec();
    for i in 1..200 {
        raw.extend(
            format!(
                "--b{}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n",
                i - 1
            )
            .bytes(),
        );
    }
    raw.extend(b"--b199\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
    check(&raw);
    let mut many =
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        many.extend(b"--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n");
    }
    check(&many);
    let words = "=?utf-8?B?5Lit?= ".repeat(50_000);
    check(format!("From: a@example.com\r\nSubject: {words}\r\n\r\nx").as_bytes());
}

#[test]
fn adversarial_headers_stay_linear() {
    for unit in ["=?a?b?", "=?", "=?utf-8?Q?", "<", "&#", "FB-2026"] {
        let subject = unit.repeat(1_000_000 / unit.len());
        check(format!("From: a@example.com\r\nSubject: {subject}\r\n\r\nx").as_bytes());
        let body = format!("From: a@example.com\r\nContent-Type: text/html\r\n\r\n{subject}");
        check(body.as_bytes());
    }
}
