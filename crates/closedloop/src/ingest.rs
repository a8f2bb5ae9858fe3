//! `closedloop ingest-email < message.eml`: one message from an MTA pipe.
//!
//! Contract (scripts rely on it): a message that opened or joined a ticket prints the ticket
//! number on its last line and exits 0; an auto-generated one prints `ignored: RULE` and exits 0;
//! one that cannot be read exits non-zero with a one-line reason, its raw bytes kept in
//! `<data_dir>/quarantine/` and its outcome recorded. It never panics, whatever the input.

use std::io::Read;

use closedloop_server::Config;
use closedloop_server::mail_intake::{Ingested, MailIntake};
use closedloop_server::triage::Engine;
use closedloop_store::SqlStore;

use crate::{CliError, CliResult};

pub async fn run(store: &SqlStore, config: &Config) -> CliResult<String> {
    let mut raw = Vec::new();
    // One byte past the limit is enough to know it is too large.
    std::io::stdin()
        .take(config.mail.max_bytes as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
    let engine = Engine::configured(config).map_err(CliError)?;
    let intake = MailIntake {
        store,
        engine: &engine,
        policy: &config.mail,
        data_dir: &config.data_dir,
        attachments_dir: config.attachments_dir(),
        max_file_bytes: config.max_attachment_bytes,
        smtp: &config.smtp,
    };
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
