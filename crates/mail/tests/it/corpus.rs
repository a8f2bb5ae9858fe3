//! Every message of an independently written public MIME corpus must parse or be refused with a
//! reason, never panic. The corpus is the one mail-parser publishes in its crates.io package
//! (`resources/eml`, 107 messages: the Hunny Software MUA samples, RFC examples, third-party and deliberately
//! malformed messages); it is our dependency, so it is in the cargo registry wherever this
//! crate builds, and `cargo metadata` says where.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use closedloop_mail::{AutoPolicy, parse};

fn mail_parser_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "mail-parser")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("mail-parser in the dependency graph");
    Path::new(manifest)
        .parent()
        .expect("package dir")
        .to_path_buf()
}

fn messages(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            messages(&path, out);
        } else if path.extension().is_some_and(|x| x == "eml") {
            out.push(path);
        }
    }
}

#[test]
fn public_corpus_parses_or_is_refused_with_a_reason() {
    let root = mail_parser_dir().join("resources");
    let mut files = Vec::new();
    messages(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 100,
        "corpus not found under {}",
        root.display()
    );

    let policy = AutoPolicy::default();
    let mut ok = 0;
    let mut auto = 0;
    let mut with_warnings = 0;
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        let raw = std::fs::read(file).expect("read corpus file");
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        match parse(&raw, &policy) {
            Ok(m) => {
                ok += 1;
                auto += usize::from(m.auto.is_some());
                with_warnings += usize::from(!m.warnings.is_empty());
            }
            Err(e) => refused.entry(e.to_string()).or_default().push(name),
        }
    }
    let refused_count: usize = refused.values().map(Vec::len).sum();
    println!(
        "corpus: {} messages: {ok} parsed ({auto} automatic, {with_warnings} with warnings), {refused_count} refused",
        files.len()
    );
    for (reason, names) in &refused {
        println!(
            "  refused ({}): {reason}: {}",
            names.len(),
            names.join(", ")
        );
    }
    // The refusals are messages without a usable sender (no From, or `From: Whomever` without an
    // address): nobody to answer. Everything with a sender must parse.
    assert!(
        refused.keys().all(|reason| reason == "no From address"),
        "{refused:?}"
    );
    assert!(ok >= 70, "only {ok} of {} parsed", files.len());
}
