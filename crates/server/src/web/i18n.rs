//! The pages' language and time zone. Words come from the catalogue (`messages.toml`), chosen
//! by, in order: the signed-in user's saved language, the `cl_lang` cookie the language switch
//! sets, the browser's `Accept-Language`, Chinese. Traditional-Chinese browsers get the
//! simplified catalogue (the only Chinese one so far). Dates are shown in the user's saved time
//! zone, else the installation's (`time_zone`).

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use closedloop_domain::notice::Lang;
use closedloop_store::Principal;
use serde::Deserialize;

use crate::AppState;

pub(super) const LANG_COOKIE: &str = "cl_lang";

/// Key → (English, Chinese).
static CATALOGUE: LazyLock<HashMap<String, (String, String)>> =
    LazyLock::new(|| parse(include_str!("messages.toml")));

#[derive(Deserialize)]
struct Pair {
    en: String,
    zh: String,
}

/// The catalogue as flat `area.name` keys. It is part of the binary and tested, so a mistake
/// in it is a failed test, not a failed start.
fn parse(text: &str) -> HashMap<String, (String, String)> {
    let areas: HashMap<String, HashMap<String, Pair>> = match toml::from_str(text) {
        Ok(a) => a,
        Err(error) => {
            tracing::error!(%error, "the message catalogue does not parse");
            HashMap::new()
        }
    };
    areas
        .into_iter()
        .flat_map(|(area, entries)| {
            entries
                .into_iter()
                .map(move |(k, p)| (format!("{area}.{k}"), (p.en, p.zh)))
        })
        .collect()
}

/// Both languages of a key, Chinese first ("找不到 / Not found"): for the few answers given
/// before anything is known of the reader (a broken link, an expired form).
pub fn both(key: &str) -> String {
    match CATALOGUE.get(key) {
        Some((en, zh)) => format!("{zh} / {en}"),
        None => key.to_owned(),
    }
}

/// What a page needs to speak to its reader: the language and the time zone.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
    tz: Tz,
}

impl Tr {
    pub fn new(lang: Lang, tz: Tz) -> Tr {
        Tr { lang, tz }
    }

    /// The catalogue's text for a key; the key itself if the catalogue lacks it (a unit test
    /// keeps that from happening to the keys templates use).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match CATALOGUE.get(key) {
            Some((en, zh)) => match self.lang {
                Lang::En => en.as_str(),
                Lang::Zh => zh.as_str(),
            },
            None => key,
        }
    }

    /// A catalogue text with its `{name}` places filled.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut out = self.t(key).to_owned();
        for (name, value) in values {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// The label of a value of one of the domain's enumerations (`status`, `action`, ...).
    pub fn of(&self, area: &str, value: &str) -> String {
        let key = format!("{area}.{value}");
        match CATALOGUE.get(&key) {
            Some((en, zh)) => match self.lang {
                Lang::En => en.clone(),
                Lang::Zh => zh.clone(),
            },
            None => value.to_owned(),
        }
    }

    /// The same reader's time zone, another language (a document written for someone else).
    pub fn in_lang(self, lang: Lang) -> Tr {
        Tr { lang, ..self }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(&self) -> &'static str {
        match self.lang {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// A moment in the reader's time zone, with the zone's abbreviation.
    pub fn when(&self, d: DateTime<Utc>) -> String {
        d.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub fn zone(&self) -> String {
        self.tz.name().to_owned()
    }

    /// The same reader once they are known: their saved choices win over the browser's.
    pub fn for_user(self, who: &Principal) -> Tr {
        Tr {
            lang: who.lang.unwrap_or(self.lang),
            tz: who
                .time_zone
                .as_deref()
                .and_then(|z| z.parse().ok())
                .unwrap_or(self.tz),
        }
    }
}

/// The first language of `Accept-Language` we have, by quality.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',') {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Lang::Zh
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// The reader as the request tells: the language cookie, then the browser's languages.
impl FromRequestParts<AppState> for Tr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let lang = jar
            .get(LANG_COOKIE)
            .and_then(|c| c.value().parse::<Lang>().ok())
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(from_accept_language)
            })
            .unwrap_or(Lang::Zh);
        let tz = state
            .config
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai);
        Ok(Tr { lang, tz })
    }
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    next: String,
}

/// `POST /lang`: the language switch on every page. Remembered in a cookie, and for a signed-in
/// user in their settings too, so the next sign-in (and their notices) use it.
pub async fn switch(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<SwitchForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return super::forbidden();
    };
    let Ok(lang) = form.lang.parse::<Lang>() else {
        return (StatusCode::BAD_REQUEST, "lang: zh or en").into_response();
    };
    // Signed in: the session's token; otherwise the double-submit cookie of the sign-in page.
    // Signed-in pages carry the session's token, public ones the double-submit cookie's.
    let session = super::staff::session(&state, &jar).await;
    let ok = session
        .as_ref()
        .is_some_and(|(_, csrf)| super::staff::session_csrf_ok(csrf, &form.csrf))
        || super::csrf_ok(&jar, &form.csrf);
    if !ok {
        return super::forbidden();
    }
    if let Some((who, _)) = session {
        let saved = async {
            let mut p = state.store.preferences(who.user_id).await?;
            p.lang = Some(lang);
            state.store.set_preferences(who.user_id, &p).await
        };
        if let Err(error) = saved.await {
            tracing::warn!(error = ?error, "cannot save a language choice");
        }
    }
    let cookie = Cookie::build((LANG_COOKIE, lang.as_str().to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build();
    let next = super::staff::local_path(&form.next);
    (jar.add(cookie), Redirect::to(next)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_has_both_languages_for_every_key() {
        let text = include_str!("messages.toml");
        let areas: HashMap<String, HashMap<String, Pair>> =
            toml::from_str(text).expect("messages.toml parses");
        assert!(!areas.is_empty());
        for (area, entries) in areas {
            for (k, p) in entries {
                assert!(!p.en.trim().is_empty(), "{area}.{k}: no English");
                assert!(!p.zh.trim().is_empty(), "{area}.{k}: no Chinese");
            }
        }
    }

    /// Every `tr.t("...")`, `tr.fill("...")` and `tr.of("area", ...)` key the pages use.
    #[test]
    fn every_key_the_pages_use_is_in_the_catalogue() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut files = Vec::new();
        for sub in [dir.clone(), dir.join("templates")] {
            for e in std::fs::read_dir(sub).expect("web dir") {
                let p = e.expect("entry").path();
                let this = p.file_name().is_some_and(|f| f == "i18n.rs");
                if !this && p.extension().is_some_and(|x| x == "rs" || x == "html") {
                    files.push(p);
                }
            }
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            for call in ["t(\"", "fill(\"", "both(\""] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let key: String = rest.chars().take_while(|c| *c != '"').collect();
                    if key.contains('.') && !key.contains(' ') {
                        seen += 1;
                        if !CATALOGUE.contains_key(&key) {
                            missing.push(format!("{}: {key}", f.display()));
                        }
                    }
                }
            }
        }
        assert!(seen > 100, "only {seen} keys found: is the scan broken?");
        assert!(missing.is_empty(), "not in messages.toml: {missing:#?}");
    }

    #[test]
    fn every_value_of_the_domain_enumerations_has_a_label() {
        use closedloop_domain::solution::{CompensationKind, SolutionKind};
        use closedloop_domain::{Action, Channel, Priority, Status};
        let mut keys: Vec<String> = Vec::new();
        keys.extend(Status::ALL.iter().map(|s| format!("status.{}", s.as_str())));
        keys.extend(Action::ALL.iter().map(|s| format!("action.{}", s.as_str())));
        keys.extend(
            Channel::ALL
                .iter()
                .map(|s| format!("channel.{}", s.as_str())),
        );
        keys.extend(
            Priority::ALL
                .iter()
                .map(|s| format!("priority.{}", s.as_str())),
        );
        keys.extend(
            SolutionKind::ALL
                .iter()
                .map(|s| format!("kind.{}", s.as_str())),
        );
        keys.extend(
            CompensationKind::ALL
                .iter()
                .map(|s| format!("compensation.{}", s.as_str())),
        );
        for area in ["entry", "follow"] {
            keys.extend(
                closedloop_store::EntryKind::ALL
                    .iter()
                    .map(|s| format!("{area}.{}", s.as_str())),
            );
        }
        keys.extend(
            ["customer", "agent", "supervisor", "admin"]
                .iter()
                .map(|r| format!("role.{r}")),
        );
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !CATALOGUE.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn accept_language_picks_the_preferred_language_we_have() {
        assert_eq!(
            from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(from_accept_language("zh-TW"), Some(Lang::Zh));
        assert_eq!(
            from_accept_language("fr-FR, en;q=0.5, zh;q=0.4"),
            Some(Lang::En)
        );
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language("zh;q=0, en"), Some(Lang::En));
    }

    #[test]
    fn fill_and_labels_follow_the_language() {
        let tz = chrono_tz::Asia::Shanghai;
        let zh = Tr::new(Lang::Zh, tz);
        let en = Tr::new(Lang::En, tz);
        assert_eq!(en.t("login.title"), "Sign in");
        assert_eq!(zh.t("login.title"), "登录");
        assert_eq!(en.of("status", "in_progress"), "In progress");
        assert_eq!(
            zh.fill("board.refused", &[("reason", "不行")]),
            "未能流转：不行"
        );
        assert_eq!(en.t("no.such_key"), "no.such_key");
    }

    #[test]
    fn dates_are_shown_in_the_readers_zone() {
        let d = DateTime::parse_from_rfc3339("2026-12-02T02:30:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(
            Tr::new(Lang::En, chrono_tz::Asia::Shanghai).when(d),
            "2026-12-02 10:30 CST"
        );
        assert_eq!(
            Tr::new(Lang::En, chrono_tz::Europe::London).when(d),
            "2026-12-02 02:30 GMT"
        );
    }
}
