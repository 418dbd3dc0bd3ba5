//! A real browser through Checkout Pro: headless Chromium, driven over WebDriver by
//! `chromedriver`, opens a preference's `init_point`, picks a cardholder name and
//! pays; the approved buyer lands on the `success` back URL with Mercado Pago's
//! parameters and the payment, merchant order and webhook are checked through the
//! API; a declined buyer follows the page's link to `failure`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`); without them the test fails and says so, never skips.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::checkout_pro::preference_body;
use crate::helpers::TestApp;
use crate::receiver::Receiver;

/// How long a page may take to reach the expected URL.
const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(20);

/// A chromedriver process and one headless Chromium session; both end when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

fn find(program: &str, candidates: &[&str]) -> String {
    candidates.iter().find(|p| std::path::Path::new(p).exists()).map(|p| (*p).to_owned()).unwrap_or_else(|| {
        panic!("{program} not found (looked at {candidates:?}); install it: apt-get install chromium chromium-driver")
    })
}

impl Browser {
    pub async fn start() -> Browser {
        let driver_path = find("chromedriver", &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let chromium = find("chromium", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(start.elapsed() < NAVIGATION_TIMEOUT, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,1100"] },
        } } });
        let created: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Browser { driver, base, session, http }
    }

    /// End the session: chromedriver closes Chromium (killing chromedriver alone, as
    /// `Drop` must, would leave Chromium running).
    pub async fn quit(self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(answer["value"].get("error").is_none(), "webdriver {path}: {answer}");
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self.call(Method::POST, "/element", Some(json!({ "using": "css selector", "value": css }))).await;
        found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).expect("element id").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(Method::POST, &format!("/element/{id}/click"), Some(json!({}))).await;
    }

    /// Type `text` into the field `css` names.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(Method::POST, &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    /// The rendered text of the first element `css` names.
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.call(Method::GET, &format!("/element/{id}/text"), None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The rendered text of the first element `css` names, if the page has one now
    /// (a page still loading may not).
    async fn text_now(&self, css: &str) -> Option<String> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let found: Value = self
            .http
            .post(url)
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let id = found["value"].as_object().and_then(|o| o.values().next()).and_then(Value::as_str)?.to_owned();
        let url = format!("{}/session/{}/element/{id}/text", self.base, self.session);
        let text: Value = self.http.get(url).send().await.ok()?.json().await.ok()?;
        text["value"].as_str().map(str::to_owned)
    }

    /// Wait until the element `css` names shows `needle` (without reloading the page).
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text_now(css).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(start.elapsed() < NAVIGATION_TIMEOUT, "{css} never showed {needle:?}; it shows:\n{text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the window, written to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let encoded = self.call(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(encoded.as_str().expect("base64")).expect("png");
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("screenshot folder");
        std::fs::write(path, png).expect("screenshot written");
    }

    pub async fn url(&self) -> String {
        self.call(Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// Wait until the page's URL starts with `prefix`; return it.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            if url.starts_with(prefix) {
                return url;
            }
            assert!(start.elapsed() < NAVIGATION_TIMEOUT, "the browser is at {url}, not {prefix}…");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| {
            q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_a_preference_in_chromium_and_lands_on_success() {
    let app = TestApp::spawn_with(crate::webhooks::quick()).await;
    let receiver = Receiver::start().await;
    let account = app.test_account().await;
    app.listen(&account, &receiver.url).await;
    // The shop's back URLs: caja's own /health answers any GET.
    let back = format!("{}/health", app.base);
    let p = app.preference(&account, preference_body(&back)).await;
    let browser = Browser::start().await;

    browser.goto(p["init_point"].as_str().unwrap()).await;
    browser.click("#cardholder_name option[value='APRO']").await;
    browser.click("#pay").await;
    let landed = browser.wait_for_url(&format!("{back}?page=success&")).await;
    let q = query_of(&landed);
    assert_eq!((q["status"].as_str(), q["collection_status"].as_str()), ("approved", "approved"));
    assert_eq!(q["preference_id"], p["id"].as_str().unwrap());
    assert_eq!(q["external_reference"], "cart-1");

    let (status, payment) = app.api(Method::GET, &format!("/v1/payments/{}", q["payment_id"]), &account, None).await;
    assert_eq!((status, payment["status"].as_str()), (StatusCode::OK, Some("approved")));
    let (_, order) =
        app.api(Method::GET, &format!("/merchant_orders/{}", q["merchant_order_id"]), &account, None).await;
    assert_eq!(order["status"], "closed");
    let payment_id = q["payment_id"].clone();
    let received =
        receiver.wait_for("payment.created", |r| r.iter().any(|n| n.query.get("data.id") == Some(&payment_id))).await;
    let webhook = received.iter().find(|n| n.query.get("data.id") == Some(&payment_id)).unwrap();
    assert_eq!(webhook.body["action"], "payment.created");

    // Declined: the page says so and links to the failure URL.
    browser.goto(p["init_point"].as_str().unwrap()).await;
    browser.click("#cardholder_name option[value='OTHE']").await;
    browser.click("#pay").await;
    browser.wait_for_url(&format!("{}/checkout/v1/pay", app.base)).await;
    browser.click("#back").await;
    let failed = browser.wait_for_url(&format!("{back}?page=failure&")).await;
    assert_eq!(query_of(&failed)["status"], "rejected");
    browser.quit().await;
}
