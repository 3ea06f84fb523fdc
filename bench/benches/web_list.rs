//! The web app's customer list over many accounts: how long
//! `GET /web/accounts` takes for a signed-in manager, over real HTTP on
//! loopback, from a client in this process to the server in this process.
//!
//! Seeds a server database with `FW_BENCH_ACCOUNTS` accounts (default
//! 50,000: name, territory, city, phone, stage) made on the server through
//! the push path the API's and the web's own writes take
//! (`fieldwork_core::edit::Editor`, then `sync::push::apply`, 500 records
//! per transaction), then signs a manager in through the sign-in form
//! (cookie and form token, as a browser) and measures, one request at a
//! time, `FW_BENCH_RUNS` (default 20) page loads after 3 unmeasured ones:
//!
//! - the first page sorted by name (`/web/accounts?sort=name`);
//! - the first page in creation order (`/web/accounts`);
//! - a search (`/web/accounts?q=garc`, an accent-free prefix of a common
//!   last name, so thousands of matches).
//!
//! A time is from sending the request to having read the whole HTML body:
//! server time plus loopback, an upper bound of the server's time. The
//! per-user rate limit is lifted for the bench.

use std::time::{Duration, Instant};

use fieldwork_bench::{env_usize, machine, quantile, show};
use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit::{EditEnv, Editor, FieldWrite, empty_record};
use fieldwork_core::{DocId, RecordId, RecordKind};
use fieldwork_server::AppState;
use fieldwork_server::db::users::User;
use fieldwork_server::sync::push::{self, PushCtx};
use fieldwork_tests::server::{PASSWORD, TestServer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

const TERRITORIES: &[&str] = &["north", "south", "east", "west", "centre"];
const CITIES: &[&str] = &["Bilbao", "Sevilla", "A Coruña", "Logroño", "Cádiz", "Győr"];
const STAGES: &[&str] = &["lead", "prospect", "customer"];

/// Records per push (one transaction each).
const BATCH: usize = 500;

/// Every record is new: no stored document is ever taken.
struct SeedEnv {
    actor: ActorId,
}

impl EditEnv for SeedEnv {
    fn account_territory(&self, _: &RecordId) -> fieldwork_core::Result<Option<String>> {
        Ok(None)
    }

    fn take_doc(&mut self, _: &DocId) -> fieldwork_core::Result<Option<ClassDoc>> {
        Ok(None)
    }

    fn actor(&self) -> &ActorId {
        &self.actor
    }
}

/// Pushes `changes` as `user` in one transaction; all must be accepted.
fn push_batch(state: &AppState, user: &User, changes: Vec<(String, Vec<u8>)>) {
    let (_, access) = state
        .db
        .read_blocking(|c| fieldwork_server::db::access::access_for(c, user))
        .expect("access");
    let outcome = state
        .db
        .write_blocking(|w| {
            push::apply(
                w,
                &state.hub,
                &state.actor,
                PushCtx {
                    user,
                    access: &access,
                    device: None,
                    now_ms: state.now_ms(),
                    all_or_nothing: false,
                },
                changes,
            )
        })
        .expect("push");
    assert!(outcome.refused.is_empty(), "{:?}", outcome.refused.first());
}

/// Seeds `accounts` accounts as `user` through the push path.
fn seed(state: &AppState, user: &User, accounts: usize, rng: &mut StdRng) {
    let actor = fieldwork_server::api::write::actor_for(&state.actor, user);
    let (_, access) = state
        .db
        .read_blocking(|c| fieldwork_server::db::access::access_for(c, user))
        .expect("access");
    let policy = access.policy().expect("a policy");
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).expect("now");
    let editor = Editor {
        access: &access,
        policy,
        author: &user.name,
        now,
        // The API takes ISO dates (docs/API.md).
        locale: fieldwork_core::locale::Locale::En,
    };
    let mut env = SeedEnv { actor };
    let text = |field: &str, value: &str| {
        FieldWrite::text(RecordKind::Account, field, Some(value)).expect("a valid value")
    };
    let mut changes: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..accounts {
        let id = RecordId::new_random(RecordKind::Account);
        let writes = vec![
            text("name", &fieldwork_bench::company(rng)),
            text("territory", TERRITORIES[i % TERRITORIES.len()]),
            text("city", CITIES.choose(rng).copied().unwrap_or("Bilbao")),
            text("phone", &format!("+34 6{:08}", 10_000_000 + i)),
            text("stage", STAGES[i % STAGES.len()]),
        ];
        let touched = editor
            .write(&mut env, &empty_record(&id), true, writes)
            .expect("account");
        changes.extend(
            touched
                .iter()
                .map(|(doc, change, _)| (doc.id().to_string(), change.raw_bytes().to_vec())),
        );
        if (i + 1) % BATCH == 0 {
            push_batch(state, user, std::mem::take(&mut changes));
        }
    }
    if !changes.is_empty() {
        push_batch(state, user, changes);
    }
}

/// The value of the first `name="csrf"` field of a page.
fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    html[at..].split('"').next().expect("its value").to_owned()
}

/// The `name=value` part of a `Set-Cookie` named `name`.
fn cookie_of(answer: &reqwest::Response, name: &str) -> String {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

/// Signs `user` in through the web form; the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, user: &str) -> String {
    let page = http
        .get(format!("{base}/web/login"))
        .send()
        .await
        .expect("login page");
    let pre = cookie_of(&page, "fw_login");
    let csrf = csrf_in(&page.text().await.expect("body"));
    let answer = http
        .post(format!("{base}/web/login"))
        .header("cookie", pre)
        .header("origin", base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("user", user),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("sign in");
    cookie_of(&answer, "fw_session")
}

/// Times `runs` loads of `path` (after 3 unmeasured ones); each must be a
/// 200 whose body contains `expect`.
async fn measure(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    path: &str,
    expect: &str,
    runs: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(runs);
    for i in 0..runs + 3 {
        let t = Instant::now();
        let answer = http
            .get(format!("{base}{path}"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("page");
        let status = answer.status();
        let body = answer.text().await.expect("body");
        let took = t.elapsed();
        assert!(status.is_success(), "{path}: {status}");
        assert!(body.contains(expect), "{path}: no `{expect}` in the page");
        if i >= 3 {
            out.push(took);
        }
    }
    out
}

/// The one-minute load average, as `/proc/loadavg` says.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let accounts = env_usize("FW_BENCH_ACCOUNTS", 50_000);
    let runs = env_usize("FW_BENCH_RUNS", 20).max(1);
    let rt = fieldwork_tests::runtime();
    let mut rng = StdRng::seed_from_u64(14);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), |c| c.api_rate_per_minute = u32::MAX);
    server.add_user("seed", "admin", &[], None);
    server.add_user("lola", "manager", TERRITORIES, None);
    let seed_user = server
        .state
        .db
        .read_blocking(|c| fieldwork_server::db::users::by_name(c, "seed"))
        .expect("read user")
        .expect("seed user");
    let t = Instant::now();
    seed(&server.state, &seed_user, accounts, &mut rng);
    let seeding = t.elapsed();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = server.url.clone();
    let load_before = load();
    let rows: Vec<(&str, Vec<Duration>)> = rt.block_on(async {
        let cookie = sign_in(&http, &base, "lola").await;
        let mut rows = Vec::new();
        for (label, path, expect) in [
            (
                "first page, sorted by name",
                "/web/accounts?sort=name",
                "Next page",
            ),
            ("first page, creation order", "/web/accounts", "Next page"),
            ("search `garc`", "/web/accounts?q=garc", "<td"),
        ] {
            rows.push((
                label,
                measure(&http, &base, &cookie, path, expect, runs).await,
            ));
        }
        rows
    });
    let load_after = load();
    println!("## web customer list over {accounts} accounts, HTTP on loopback\n");
    println!("Machine: {}\n", machine());
    println!(
        "Seeded {accounts} accounts through the push path in {:.1} s ({:.0} accounts/s); \
         load average (1 min) {load_before} before the page loads, {load_after} after.\n",
        seeding.as_secs_f64(),
        accounts as f64 / seeding.as_secs_f64().max(1e-9)
    );
    println!("| page (manager `lola`, sees all) | runs | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (label, mut samples) in rows {
        let max = samples.iter().max().copied().unwrap_or_default();
        println!(
            "| {label} | {} | {} | {} | {} |",
            samples.len(),
            show(quantile(&mut samples, 0.5)),
            show(quantile(&mut samples, 0.99)),
            show(max)
        );
    }
}
