//! Triage as the server uses it: one `Triage`, many tickets, in both scripts and English.

mod analyse;
mod duplicates;
mod models;

use std::sync::OnceLock;

use closedloop_triage::Triage;

/// One shared instance: loading dictionaries and training the seed model once keeps tests fast.
#[expect(
    clippy::panic,
    reason = "test helper: a broken build should fail loudly"
)]
pub fn triage() -> &'static Triage {
    static T: OnceLock<Triage> = OnceLock::new();
    T.get_or_init(|| match Triage::new() {
        Ok(t) => t,
        Err(e) => panic!("triage: {e}"),
    })
}
