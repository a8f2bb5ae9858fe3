//! Fetches inbound mail from a mailbox over IMAP and files it as the other paths do.
//!
//! A message is marked with the keyword `Closedloop` (and `\Seen`) only after its outcome is
//! committed, whatever the outcome (a ticket, ignored, quarantined). Until then it is fetched
//! again on the next poll, so a crash or a database outage loses nothing, and a restart
//! re-reads nothing that was filed: the search is for messages without the keyword. Should a
//! message be fetched twice anyway (a crash between commit and mark, or two instances polling
//! one mailbox), the intake log answers it as the first time. A person reading the mailbox
//! (which sets `\Seen`) does not hide a message from the poller.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::AppState;
use crate::config::ImapConfig;

/// The keyword that marks a message as filed.
pub const FILED: &str = "Closedloop";
/// Messages handled between two marks.
const CHUNK: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("cannot reach {server}: {source}")]
    Connect {
        server: String,
        source: std::io::Error,
    },
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection before greeting")]
    NoGreeting,
    /// The message has no outcome yet (database or disk trouble); it stays unmarked.
    #[error("message {uid} not filed: {reason}")]
    Intake { uid: u32, reason: String },
}

pub async fn run(state: AppState) {
    if state.config.imap.server.is_none() {
        return;
    }
    let every = Duration::from_millis(state.config.imap.poll_ms);
    loop {
        match poll(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "mail fetched over IMAP"),
            Err(error) => tracing::warn!(%error, "IMAP poll failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One pass over the mailbox: every message not yet filed. Returns how many were filed.
pub async fn poll(state: &AppState) -> Result<usize, PollError> {
    let cfg = &state.config.imap;
    let Some(server) = cfg.server.as_deref() else {
        return Ok(0);
    };
    let tcp = TcpStream::connect(server)
        .await
        .map_err(|source| PollError::Connect {
            server: server.to_owned(),
            source,
        })?;
    if !cfg.tls {
        return session(state, cfg, tcp).await;
    }
    let host = crate::config::host_port(server).map_or(server, |(h, _)| h);
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let roots = tokio_rustls::rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await?;
    session(state, cfg, stream).await
}

async fn session<T>(state: &AppState, cfg: &ImapConfig, stream: T) -> Result<usize, PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    client.read_response().await?.ok_or(PollError::NoGreeting)?;
    let password = cfg
        .password
        .as_ref()
        .map(|p| p.expose())
        .unwrap_or_default();
    let mut session = client
        .login(&cfg.user, password)
        .await
        .map_err(|(e, _)| e)?;
    session.select(&cfg.mailbox).await?;
    let mut uids: Vec<u32> = session
        .uid_search(format!("NOT KEYWORD {FILED}"))
        .await?
        .into_iter()
        .collect();
    // Oldest first: a reply must not overtake the message it answers.
    uids.sort_unstable();
    let intake = state.mail_intake();
    let mut filed = 0;
    let mut failure = None;
    'chunks: for chunk in uids.chunks(CHUNK) {
        let fetched = fetch(&mut session, chunk, state.config.mail.max_bytes).await?;
        let mut done = Vec::with_capacity(fetched.len());
        for (uid, raw) in fetched {
            match intake.ingest(&raw, "imap").await {
                Ok(_) => done.push(uid),
                Err(e) => {
                    failure = Some(PollError::Intake {
                        uid,
                        reason: e.to_string(),
                    });
                    mark(&mut session, &done).await?;
                    filed += done.len();
                    break 'chunks;
                }
            }
        }
        mark(&mut session, &done).await?;
        filed += done.len();
    }
    while session.unsolicited_responses.try_recv().is_ok() {}
    let _ = session.logout().await;
    match failure {
        Some(e) => Err(e),
        None => Ok(filed),
    }
}

/// The messages of `chunk`, oldest first. A message larger than the intake limit is fetched
/// only up to one byte past it (so it is quarantined as too large without filling memory).
/// Only responses for the UIDs asked for, carrying a body, count: servers also send
/// unrequested flag updates (someone reading the mailbox), which must never be filed.
async fn fetch<T>(
    session: &mut async_imap::Session<T>,
    chunk: &[u32],
    max_bytes: usize,
) -> Result<Vec<(u32, Vec<u8>)>, PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let sizes: Vec<(u32, u32)> = session
        .uid_fetch(join(chunk), "(UID RFC822.SIZE)")
        .await?
        .try_filter_map(|f| async move { Ok(f.uid.zip(f.size)) })
        .try_collect()
        .await?;
    let mut out = Vec::with_capacity(chunk.len());
    for uid in chunk {
        let Some(&(_, size)) = sizes.iter().find(|(u, _)| u == uid) else {
            continue; // expunged meanwhile
        };
        let query = if size as usize > max_bytes {
            format!("(UID BODY.PEEK[]<0.{}>)", max_bytes.saturating_add(1))
        } else {
            "(UID BODY.PEEK[])".to_owned()
        };
        let body: Option<Vec<u8>> = session
            .uid_fetch(uid.to_string(), query)
            .await?
            .try_filter_map(|f| async move {
                Ok((f.uid == Some(*uid))
                    .then(|| f.body().map(<[u8]>::to_vec))
                    .flatten())
            })
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .next();
        if let Some(body) = body {
            out.push((*uid, body));
        }
    }
    Ok(out)
}

async fn mark<T>(session: &mut async_imap::Session<T>, uids: &[u32]) -> Result<(), PollError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    if uids.is_empty() {
        return Ok(());
    }
    session
        .uid_store(join(uids), format!("+FLAGS.SILENT ({FILED} \\Seen)"))
        .await?
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

fn join(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
