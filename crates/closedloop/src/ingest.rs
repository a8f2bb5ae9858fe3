//! `closedloop ingest-email < message.eml`: one message from an MTA pipe.
//!
//! Contract (scripts rely on it): a message that opened or joined a ticket prints the ticket
//! number on its last line and exits 0; an auto-generated one prints `ignored: RULE` and exits 0;
//! one that cannot be read exits non-zero with a one-line reason, its raw bytes kept in
//! `<data_dir>/quarantine/` and its outcome recorded. It never panics, whatever the input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use closedloop_server::Config;
use closedloop_server::mail_intake::{Ingested, MailIntake};
use closedloop_server::triage::Engine;
use closedloop_store::SqlStore;

use crate::progress::Progress;
use crate::{CliError, CliResult};

/// The engine the server would use: the newest retrained model, else the seed one.
async fn engine(store: &SqlStore, config: &Config) -> CliResult<Engine> {
    let engine = Engine::configured(config).map_err(CliError)?;
    engine
        .refresh(store)
        .await
        .map_err(|e| CliError(format!("cannot load the triage model: {e}")))?;
    Ok(engine)
}

pub async fn run(store: &SqlStore, config: &Config) -> CliResult<String> {
    let mut raw = Vec::new();
    // One byte past the limit is enough to know it is too large.
    std::io::stdin()
        .take(config.mail.max_bytes as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
    let engine = engine(store, config).await?;
    let intake = MailIntake::configured(store, &engine, config);
    match intake
        .ingest(&raw, "pipe")
        .await
        .map_err(|e| CliError(e.to_string()))?
    {
        Ingested::Created(n) | Ingested::Threaded(n) => Ok(n.as_str().to_owned()),
        Ingested::Ignored { rule } => Ok(format!("ignored: {rule}")),
        Ingested::Quarantined { reason, .. } => Err(CliError(format!("quarantined: {reason}"))),
    }
}

/// Every file in `dir` (sorted by name) as one message; one line per file, then a summary.
pub async fn folder(store: &SqlStore, config: &Config, dir: &Path) -> CliResult<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CliError(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let engine = engine(store, config).await?;
    let intake = MailIntake::configured(store, &engine, config);
    let mut progress = Progress::new("messages", files.len() as u64);
    let (mut created, mut threaded, mut ignored, mut quarantined) = (0u64, 0u64, 0u64, 0u64);
    let mut out = std::io::stdout().lock();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        // At most one byte past the limit: enough to know it is too large.
        let mut raw = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(config.mail.max_bytes as u64 + 1)
                    .read_to_end(&mut raw)
            })
            .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        // A message without an outcome (the database went away) stops the run: the next one
        // starts from it again, and what was filed already is not filed twice.
        let line = match intake
            .ingest(&raw, "folder")
            .await
            .map_err(|e| CliError(format!("{name}: {e}")))?
        {
            Ingested::Created(n) => {
                created += 1;
                format!("{name}\tcreated\t{}", n.as_str())
            }
            Ingested::Threaded(n) => {
                threaded += 1;
                format!("{name}\tthreaded\t{}", n.as_str())
            }
            Ingested::Ignored { rule } => {
                ignored += 1;
                format!("{name}\tignored\t{rule}")
            }
            Ingested::Quarantined { reason, .. } => {
                quarantined += 1;
                format!("{name}\tquarantined\t{reason}")
            }
        };
        let _ = writeln!(out, "{line}");
        progress.inc(1);
    }
    progress.finish();
    let _ = writeln!(
        out,
        "{} messages: {created} created, {threaded} threaded, {ignored} ignored, {quarantined} quarantined",
        files.len()
    );
    Ok(())
}
