//! A small WebDriver client (the W3C protocol is JSON over HTTP) driving Debian's headless
//! Chromium through `chromedriver`, which the test starts on a free port and stops.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// A headless Chromium whose languages are `lang` (`en-US`, `zh-CN`): it sends them as
    /// `Accept-Language`.
    pub async fn start(lang: &str) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the browser tests need chromedriver: apt-get install chromium chromium-driver (.ci/run does)");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{root}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=1600,1000", format!("--lang={lang}")],
                "prefs": {"intl.accept_languages": lang}
            }
        }}});
        let res: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {res}"))
            .to_owned();
        Browser {
            http,
            session: format!("{root}/session/{id}"),
            driver,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The elements matching a CSS selector.
    pub async fn all(&self, css: &str) -> Vec<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The first element matching `css`, waiting up to 5 s for it.
    pub async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            if let Some(e) = self.all(css).await.into_iter().next() {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let raw = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        panic!("no element {css} on {}: {raw}", self.url().await);
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to 5 s for the text of `css` to contain `needle` (a click that submits a form
    /// returns before the next page is there); returns the last text seen.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            if let Some(e) = self.all(css).await.into_iter().next() {
                last = self
                    .call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
                    .await
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if last.contains(needle) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{css} never showed {needle:?}; last: {last:?} on {}",
            self.url().await
        );
    }

    /// Waits up to 5 s for the attribute `name` of `css` to be `value`.
    pub async fn wait_attr(&self, css: &str, name: &str, value: &str) {
        let mut last = Value::Null;
        for _ in 0..50 {
            if let Some(e) = self.all(css).await.into_iter().next() {
                last = self
                    .call(
                        reqwest::Method::GET,
                        &format!("/element/{e}/attribute/{name}"),
                        None,
                    )
                    .await;
                if last.as_str() == Some(value) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{css} never had {name}={value:?}; last: {last} on {}",
            self.url().await
        );
    }

    /// Presses the mouse on `from`, moves it in steps onto `to` and releases it there: real
    /// pointer events, as a person dragging.
    pub async fn drag(&self, from: &str, to: &str) {
        let (a, b) = (self.find(from).await, self.find(to).await);
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: a}, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pause", "duration": 100},
                {"type": "pointerMove", "duration": 250, "origin": {ELEMENT: b}, "x": 0, "y": 10},
                {"type": "pointerMove", "duration": 100, "origin": {ELEMENT: b}, "x": 0, "y": 20},
                {"type": "pointerUp", "button": 0}
            ]
        }]});
        self.call(reqwest::Method::POST, "/actions", Some(actions))
            .await;
        self.call(reqwest::Method::DELETE, "/actions", None).await;
    }

    /// Saves a PNG of the page under `target/screenshots/` (kept by CI as an artifact).
    pub async fn screenshot(&self, name: &str) {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}
