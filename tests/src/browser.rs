//! A small W3C WebDriver client for browser tests: starts Debian's
//! `chromedriver` on a free port, opens a headless Chromium session, and
//! drives it (navigate, find, type, click, read text, run a script, take a
//! screenshot). The protocol is a handful of JSON calls over HTTP
//! (<https://www.w3.org/TR/webdriver2/>), made with `reqwest`.
//!
//! Paths: `FW_CHROMIUM` and `FW_CHROMEDRIVER`, else `/usr/bin/chromium`
//! and `/usr/bin/chromedriver` (Debian's `chromium` and `chromium-driver`,
//! which `scripts/test.sh` installs when missing).
//!
//! Guarantees: [`Browser::start`] fails with the reason when either
//! program is missing or the session cannot start (it never pretends);
//! dropping a [`Browser`] ends its session (Chromium exits) and kills the
//! chromedriver it started, also when a test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// The key of a web element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    rt: Arc<Runtime>,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(pub String);

fn program(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub fn start(rt: &Arc<Runtime>) -> Result<Browser, String> {
        let chromium = program("FW_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("FW_CHROMEDRIVER", "/usr/bin/chromedriver");
        for (what, path) in [("chromium", &chromium), ("chromedriver", &chromedriver)] {
            if !path.exists() {
                return Err(format!(
                    "{what} is not installed at {} (apt-get install chromium chromium-driver)",
                    path.display()
                ));
            }
        }
        let port = free_port()?;
        // Chromium's profile and temporary files live in this directory,
        // removed with the browser.
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .env("TMPDIR", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", chromedriver.display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut browser = Browser {
            rt: rt.clone(),
            http,
            session: String::new(),
            driver,
            _profile: profile,
        };
        browser.wait_ready(&base)?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    "--no-first-run", "--disable-background-networking",
                    format!("--user-data-dir={}", browser._profile.path().join("profile").display()),
                ],
            },
        }}});
        let answer = browser.call(
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(caps),
        )?;
        let id = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver gave no session: {answer}"))?;
        browser.session = format!("{base}/session/{id}");
        Ok(browser)
    }

    fn wait_ready(&mut self, base: &str) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!("chromedriver exited at start: {status}"));
            }
            let ready = self.rt.block_on(async {
                match self.http.get(format!("{base}/status")).send().await {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .map(|v| v["value"]["ready"] == json!(true))
                        .unwrap_or(false),
                    Err(_) => false,
                }
            });
            if ready {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err("chromedriver did not become ready within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One WebDriver call; the answer's `value`, or the driver's error.
    fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.rt.block_on(async {
            let mut request = self.http.request(method, url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let json: Value = response.json().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(json["value"].clone())
            } else {
                Err(format!("WebDriver {url}: {status}: {}", json["value"]))
            }
        })
    }

    fn session_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        self.call(method, &url, body)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.session_call(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// The address of the current page.
    pub fn url(&self) -> String {
        self.session_call(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching CSS `selector`, if any (`None` also
    /// while the page is being replaced).
    pub fn try_find(&self, selector: &str) -> Option<Element> {
        let url = format!("{}/element", self.session);
        self.call(
            reqwest::Method::POST,
            &url,
            Some(json!({"using": "css selector", "value": selector})),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(|id| Element(id.to_owned())))
    }

    /// The first element matching CSS `selector` (panics when none).
    pub fn find(&self, selector: &str) -> Element {
        self.try_find(selector)
            .unwrap_or_else(|| panic!("no element `{selector}` on {}", self.url()))
    }

    /// Every element matching CSS `selector`.
    pub fn find_all(&self, selector: &str) -> Vec<Element> {
        let found = self.session_call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": selector})),
        );
        found
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|v| v[ELEMENT].as_str().map(|id| Element(id.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Types `text` into `element`.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// Clears an input.
    pub fn clear(&self, element: &Element) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        );
    }

    /// Clicks `element`.
    pub fn click(&self, element: &Element) {
        self.session_call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// The rendered text of `element`.
    pub fn text(&self, element: &Element) -> String {
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The rendered text of the first element matching `selector`, if
    /// there is one now; `None` also while a page is being replaced (for
    /// polling across navigations, where an element found a moment ago
    /// may already be gone).
    pub fn text_of(&self, selector: &str) -> Option<String> {
        let url = format!("{}/execute/sync", self.session);
        let script =
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;";
        self.call(
            reqwest::Method::POST,
            &url,
            Some(json!({ "script": script, "args": [selector] })),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// The `value` of the first form field matching `selector`, if there
    /// is one now (for polling while regions are replaced).
    pub fn value_of(&self, selector: &str) -> Option<String> {
        let url = format!("{}/execute/sync", self.session);
        let script = "const e = document.querySelector(arguments[0]); return e ? e.value : null;";
        self.call(
            reqwest::Method::POST,
            &url,
            Some(json!({ "script": script, "args": [selector] })),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// A DOM property of `element` (`value`, `checked`...), as JSON.
    pub fn property(&self, element: &Element, name: &str) -> Value {
        self.session_call(
            reqwest::Method::GET,
            &format!("/element/{}/property/{name}", element.0),
            None,
        )
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the
    /// page and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Runs an asynchronous `script`: it calls `arguments[arguments.length
    /// - 1]` with its result.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.session_call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The visible text of the page.
    pub fn page_text(&self) -> String {
        self.execute(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The page's HTML as the browser holds it now.
    pub fn page_source(&self) -> String {
        self.session_call(reqwest::Method::GET, "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The value of cookie `name` of the current page (also `HttpOnly`
    /// ones, which the WebDriver may read), with its flags as JSON.
    pub fn cookie(&self, name: &str) -> Option<Value> {
        let url = format!("{}/cookie/{name}", self.session);
        self.call(reqwest::Method::GET, &url, None).ok()
    }

    /// Resizes the window to `width` × `height` CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.session_call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Saves a PNG of the viewport at `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let png = self.session_call(reqwest::Method::GET, "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        std::fs::write(path, bytes).expect("write the screenshot");
    }

    /// Polls `check` every 50 ms until it holds; panics naming `what` (and
    /// the page's text) after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, mut check: impl FnMut(&Browser) -> bool) {
        let start = Instant::now();
        while !check(self) {
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; the page at {} says:\n{}",
                self.url(),
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call(reqwest::Method::DELETE, &self.session.clone(), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
