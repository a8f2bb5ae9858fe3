//! The translation hook: tickets written in another language than the one the agents work in
//! (`translation.to`) get a machine translation of their title and description from an HTTP
//! provider, kept beside the original, which is never changed. The provider speaks the
//! LibreTranslate API (`POST {"q", "source", "target", "format"}` → `{"translatedText"}`), which
//! can run on the organisation's own machines. It receives the ticket's text as stored, so
//! masked personal data stays masked.
//!
//! Every instance runs the worker; they share one cursor over the tickets in the database and
//! move it with a compare-and-set, so a batch is kept once (two instances may both ask the
//! provider for the same batch; the second answer is ignored).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// Tickets looked at per pass.
const BATCH: i64 = 50;
/// What is sent of one text at most (characters).
const MAX_CHARS: usize = 5_000;

pub async fn run(state: AppState) {
    let config = &state.config.translation;
    let Some(url) = config.url.clone() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .build()
    {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "cannot start the translation client");
            return;
        }
    };
    let every = Duration::from_millis(config.poll_ms);
    loop {
        loop {
            match pass(&state, &client, &url).await {
                Ok(Pass::More(n)) => tracing::info!(translated = n, "tickets translated"),
                Ok(Pass::Done(n)) => {
                    if n > 0 {
                        tracing::info!(translated = n, "tickets translated");
                    }
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "translation pass stopped; retried later");
                    break;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

enum Pass {
    /// A full batch was done: there may be more.
    More(usize),
    Done(usize),
}

/// The language a text is mostly written in: `zh`, `en`, or `None` for a mix or neither.
fn language(text: &str) -> Option<&'static str> {
    let han = text
        .chars()
        .filter(|c| matches!(*c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF))
        .count();
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    // A Chinese character carries about as much as two Latin letters.
    let (zh, en) = (han * 2, latin);
    let total = zh + en;
    if total < 4 {
        None
    } else if zh * 10 >= total * 7 {
        Some("zh")
    } else if en * 10 >= total * 7 {
        Some("en")
    } else {
        None
    }
}

async fn pass(state: &AppState, client: &reqwest::Client, url: &str) -> Result<Pass, String> {
    let to = state.config.translation.to.as_str();
    let (from, batch) = state
        .store
        .translation_batch(BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let full = batch.len() as i64 == BATCH;
    let mut reached = from;
    let mut translated = 0;
    for (id, title, description) in batch {
        if let Some(source) = language(&format!("{title} {description}")).filter(|l| *l != to) {
            for (field, text) in [("title", &title), ("description", &description)] {
                match ask(state, client, url, source, to, text).await {
                    Ok(done) => state
                        .store
                        .save_translation(id, field, text, to, &done)
                        .await
                        .map_err(|e| e.to_string())?,
                    Err(Failure::Refused(why)) => {
                        tracing::warn!(ticket = id, why, "the provider refused a text; skipped")
                    }
                    Err(Failure::Unavailable(why)) => {
                        // Keep what was done; this ticket is tried again next time.
                        advance(state, from, reached).await?;
                        return Err(why);
                    }
                }
            }
            translated += 1;
        }
        reached = id;
    }
    advance(state, from, reached).await?;
    Ok(if full {
        Pass::More(translated)
    } else {
        Pass::Done(translated)
    })
}

async fn advance(state: &AppState, from: i64, to: i64) -> Result<(), String> {
    if to > from {
        // Another instance may have moved it first; it did the same batch.
        state
            .store
            .advance_translation_cursor(from, to)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

enum Failure {
    /// The provider will never take this text (4xx): skip it.
    Refused(String),
    /// The provider is down or slow (5xx, timeout): try again later.
    Unavailable(String),
}

#[derive(Deserialize)]
struct Translated {
    #[serde(rename = "translatedText")]
    translated_text: String,
}

async fn ask(
    state: &AppState,
    client: &reqwest::Client,
    url: &str,
    source: &str,
    target: &str,
    text: &str,
) -> Result<String, Failure> {
    let text: String = text.chars().take(MAX_CHARS).collect();
    let mut body = json!({"q": text, "source": source, "target": target, "format": "text"});
    if let Some(key) = &state.config.translation.api_key {
        body["api_key"] = json!(key.expose());
    }
    let res = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| Failure::Unavailable(e.without_url().to_string()))?;
    let status = res.status();
    // A wrong key, a rate limit or a timeout is the provider's state, not the text's: retried.
    let transient = matches!(status.as_u16(), 401 | 403 | 408 | 429);
    if status.is_client_error() && !transient {
        return Err(Failure::Refused(status.to_string()));
    }
    if !status.is_success() {
        return Err(Failure::Unavailable(status.to_string()));
    }
    res.json::<Translated>()
        .await
        .map(|t| t.translated_text)
        .map_err(|e| Failure::Unavailable(format!("not a translation: {e}")))
}

#[cfg(test)]
mod tests {
    use super::language;

    #[test]
    fn a_text_is_chinese_english_or_neither() {
        assert_eq!(language("退款三天还没到账"), Some("zh"));
        assert_eq!(
            language("My refund has not arrived after three days"),
            Some("en")
        );
        assert_eq!(language("退款还没到 refund not here"), None);
        assert_eq!(language("12345 !!"), None);
        assert_eq!(
            language("App 闪退，无法登录，订单一直显示未支付"),
            Some("zh")
        );
    }
}
