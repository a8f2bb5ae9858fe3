//! Integration tests of closedloop-mail: one binary, one module per concern.
#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns fail loudly"
)]

mod auto;
mod bodies;
mod charsets;
mod corpus;
mod fuzz;
mod headers;
mod outgoing;

use closedloop_mail::{AutoPolicy, Inbound, parse};

pub(crate) fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn parse_fixture(name: &str) -> Inbound {
    parse(&fixture(name), &AutoPolicy::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}
