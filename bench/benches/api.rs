//! The office HTTP API over 50,000 records, over real HTTP on loopback.
//!
//! Seeds a server database with 10,000 accounts (name, phone, city,
//! territory, industry) and 40,000 contacts linked to them (first and last
//! name with accents, position, e-mail, mobile), made on the server through
//! the push path the API's own writes take (`fieldwork_core::edit::Editor`,
//! then `sync::push::apply`, a few hundred records per transaction), then
//! measures the latency of API requests, one at a time, from an HTTP client
//! in this process to the server in this process:
//!
//! - list, first page of accounts (`?limit=50`);
//! - list with a filter and a sort (`?filter=territory:eq:north&sort=name`);
//! - list, deeper pages (following `next` from the first page sorted by
//!   name, pages 2 to 10);
//! - get one record;
//! - search, one word (the accent-free prefix of a last name, so thousands
//!   of matches) and two words (a first and a last name's prefixes);
//! - phone lookup of an existing number typed in national format.
//!
//! Each for a manager whose territories cover every record (she sees all
//! 50,000) and a rep with one territory (she sees a fifth). A latency is
//! from sending the request to having read and parsed the whole JSON body.
//! The per-caller rate limit is lifted for the bench.
//!
//! `FW_BENCH_API_ACCOUNTS` (default 10000; contacts are 4 per account),
//! `FW_BENCH_API_REQUESTS` (default 300 per measure and caller).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fieldwork_bench::{bytes, env_usize, first_name, last_name, machine, quantile, show};
use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::edit::{EditEnv, Editor, FieldWrite, empty_record};
use fieldwork_core::{DocId, RecordId, RecordKind};
use fieldwork_server::AppState;
use fieldwork_server::db::users::User;
use fieldwork_server::sync::push::{self, PushCtx};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::server::TestServer;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const TERRITORIES: &[&str] = &["north", "south", "east", "west", "centre"];
const CITIES: &[&str] = &[
    "Bilbao",
    "Sevilla",
    "Valencia",
    "A Coruña",
    "Madrid",
    "Logroño",
    "Cádiz",
    "Málaga",
    "Córdoba",
    "Győr",
];
const INDUSTRIES: &[&str] = &[
    "construcción",
    "distribución",
    "farmacia",
    "alimentación",
    "logística",
    "metal",
];
const POSITIONS: &[&str] = &[
    "Gerente",
    "Jefa de compras",
    "Director financiero",
    "Administración",
    "Responsable de almacén",
];
/// Records per push (one transaction each).
const BATCH: usize = 250;

/// A seeded account: what the requests ask for.
struct Seeded {
    id: RecordId,
    territory: &'static str,
    /// National format, as a phone system shows a caller (`612 345 678`).
    national_phone: String,
}

/// What an edit reads while seeding: the territories of the accounts made
/// so far; every record is new, so no stored document is ever taken.
struct SeedEnv {
    actor: ActorId,
    territories: HashMap<RecordId, String>,
}

impl EditEnv for SeedEnv {
    fn account_territory(&self, account: &RecordId) -> fieldwork_core::Result<Option<String>> {
        Ok(self.territories.get(account).cloned())
    }

    fn take_doc(&mut self, _: &DocId) -> fieldwork_core::Result<Option<ClassDoc>> {
        Ok(None)
    }

    fn actor(&self) -> &ActorId {
        &self.actor
    }
}

/// A Spanish mobile number, unique for `n`: national and international form.
fn mobile(n: usize) -> (String, String) {
    let digits = format!("6{:08}", 10_000_000 + n * 7);
    let national = format!("{} {} {}", &digits[0..3], &digits[3..6], &digits[6..9]);
    let international = format!(
        "+34 {} {} {} {}",
        &digits[0..3],
        &digits[3..5],
        &digits[5..7],
        &digits[7..9]
    );
    (national, international)
}

/// Accent-free and lower case, as someone types a search.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'Á' | 'à' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'ő' | 'ö' | 'Ó' => 'o',
            'ú' | 'ű' | 'ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            other => other,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Seeds `accounts` accounts and 4 contacts each as `user`, through the
/// push path; returns the accounts and the number of changes stored.
fn seed(state: &AppState, user: &User, accounts: usize, rng: &mut StdRng) -> (Vec<Seeded>, usize) {
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
    let mut env = SeedEnv {
        actor,
        territories: HashMap::new(),
    };
    let text = |kind, field: &str, value: &str| {
        FieldWrite::text(kind, field, Some(value)).expect("a valid value")
    };
    let mut made = Vec::with_capacity(accounts);
    let mut changes: Vec<(String, Vec<u8>)> = Vec::new();
    let mut stored = 0;
    let mut phone_no = 0;
    let push_now = |changes: &mut Vec<(String, Vec<u8>)>| {
        let batch = std::mem::take(changes);
        let n = batch.len();
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
                    batch,
                )
            })
            .expect("push");
        assert!(outcome.refused.is_empty(), "{:?}", outcome.refused.first());
        n
    };
    for i in 0..accounts {
        let id = RecordId::new_random(RecordKind::Account);
        let territory = TERRITORIES[i % TERRITORIES.len()];
        let (national, international) = mobile(phone_no);
        phone_no += 1;
        let writes = vec![
            text(RecordKind::Account, "name", &fieldwork_bench::company(rng)),
            text(RecordKind::Account, "territory", territory),
            text(RecordKind::Account, "phone", &international),
            text(
                RecordKind::Account,
                "city",
                CITIES.choose(rng).copied().unwrap_or("Madrid"),
            ),
            text(
                RecordKind::Account,
                "industry",
                INDUSTRIES.choose(rng).copied().unwrap_or("metal"),
            ),
        ];
        let touched = editor
            .write(&mut env, &empty_record(&id), true, writes)
            .expect("account");
        changes.extend(
            touched
                .iter()
                .map(|(doc, change, _)| (doc.id().to_string(), change.raw_bytes().to_vec())),
        );
        env.territories.insert(id.clone(), territory.to_owned());
        for _ in 0..4 {
            let contact = RecordId::new_random(RecordKind::Contact);
            let (first, last) = (first_name(rng), last_name(rng));
            let (_, cell) = mobile(phone_no);
            phone_no += 1;
            let writes = vec![
                text(RecordKind::Contact, "first_name", first),
                text(RecordKind::Contact, "last_name", last),
                text(RecordKind::Contact, "account", &id.to_string()),
                text(
                    RecordKind::Contact,
                    "position",
                    POSITIONS.choose(rng).copied().unwrap_or("Gerente"),
                ),
                text(
                    RecordKind::Contact,
                    "email",
                    &format!("{}.{}{}@cliente.example.es", plain(first), plain(last), i),
                ),
                text(RecordKind::Contact, "mobile", &cell),
            ];
            let touched = editor
                .write(&mut env, &empty_record(&contact), true, writes)
                .expect("contact");
            changes.extend(
                touched
                    .iter()
                    .map(|(doc, change, _)| (doc.id().to_string(), change.raw_bytes().to_vec())),
            );
        }
        made.push(Seeded {
            id,
            territory,
            national_phone: national,
        });
        if (i + 1) % BATCH == 0 {
            stored += push_now(&mut changes);
        }
    }
    if !changes.is_empty() {
        stored += push_now(&mut changes);
    }
    (made, stored)
}

/// Latencies of `n` calls of `request` (after 10 unmeasured ones).
fn measure(n: usize, mut request: impl FnMut(usize)) -> Vec<Duration> {
    for i in 0..10 {
        request(i);
    }
    (0..n)
        .map(|i| {
            let t = Instant::now();
            request(i);
            t.elapsed()
        })
        .collect()
}

/// A row of the table: p50, p99, mean.
fn row(label: &str, who: &str, mut samples: Vec<Duration>) {
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    println!(
        "| {label} | {who} | {} | {} | {} | {} |",
        samples.len(),
        show(quantile(&mut samples, 0.5)),
        show(quantile(&mut samples, 0.99)),
        show(mean)
    );
}

/// `GET path` as `client`, asserting a 200; returns the JSON body.
fn ok(client: &ApiClient, path: &str) -> fieldwork_tests::api::Answer {
    let answer = client.get(path);
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.text);
    answer
}

fn main() {
    let accounts = env_usize("FW_BENCH_API_ACCOUNTS", 10_000);
    let n = env_usize("FW_BENCH_API_REQUESTS", 300);
    let rt = fieldwork_tests::runtime();
    let mut rng = StdRng::seed_from_u64(12);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), |c| c.api_rate_per_minute = u32::MAX);
    server.add_user("seed", "admin", &[], None);
    server.add_user("lola", "manager", TERRITORIES, None);
    server.add_user("ana", "rep", &["north"], Some("lola"));
    let seed_user = server
        .state
        .db
        .read_blocking(|c| fieldwork_server::db::users::by_name(c, "seed"))
        .expect("read user")
        .expect("seed user");

    let t = Instant::now();
    let (made, changes) = seed(&server.state, &seed_user, accounts, &mut rng);
    let seeding = t.elapsed();
    let size = std::fs::metadata(server.state.db.path())
        .map(|m| m.len())
        .unwrap_or(0);
    let records = accounts * 5;

    println!("## Office API over {records} records, HTTP on loopback\n");
    println!("Machine: {}\n", machine());
    println!(
        "Seeded {accounts} accounts and {} contacts ({changes} changes) through the push path in {} \
         ({:.0} records/s); database {}.\n",
        accounts * 4,
        show(seeding),
        records as f64 / seeding.as_secs_f64(),
        bytes(size)
    );
    println!("| request | caller | requests | p50 | p99 | mean |");
    println!("|---|---|---|---|---|---|");

    let mut prefixes_one = Vec::new();
    let mut prefixes_two = Vec::new();
    for _ in 0..64 {
        let last = plain(last_name(&mut rng));
        let k = rng.random_range(3..=5).min(last.chars().count());
        prefixes_one.push(last.chars().take(k).collect::<String>());
        let first: String = plain(first_name(&mut rng)).chars().take(3).collect();
        prefixes_two.push(format!(
            "{first} {}",
            last.chars().take(4).collect::<String>()
        ));
    }

    for (user, who) in [
        ("lola", "manager, sees 50,000"),
        ("ana", "rep, sees 10,000"),
    ] {
        let client = ApiClient::signed_in(&rt, &server.url, user);
        let mine: Vec<&Seeded> = made
            .iter()
            .filter(|a| user == "lola" || a.territory == "north")
            .collect();

        row(
            "list accounts, first page (`limit=50`)",
            who,
            measure(n, |_| {
                ok(&client, "/v1/records/account?limit=50");
            }),
        );
        row(
            "list accounts, `filter=territory:eq:north&sort=name`",
            who,
            measure(n, |_| {
                ok(
                    &client,
                    "/v1/records/account?filter=territory:eq:north&sort=name&limit=50",
                );
            }),
        );
        // Deeper pages: follow `next` from the first page sorted by name.
        let mut deep = Vec::new();
        while deep.len() < n {
            let mut next = ok(&client, "/v1/records/account?sort=name&limit=50").json["next"]
                .as_str()
                .map(str::to_owned);
            for _ in 2..=10 {
                let Some(cursor) = next else { break };
                let path = format!("/v1/records/account?sort=name&limit=50&after={cursor}");
                let t = Instant::now();
                let page = ok(&client, &path);
                deep.push(t.elapsed());
                next = page.json["next"].as_str().map(str::to_owned);
            }
        }
        row(
            "list accounts sorted by name, pages 2–10 (`after=` the `next` cursor)",
            who,
            deep,
        );
        let picks: Vec<&Seeded> = (0..n + 10)
            .map(|_| *mine.choose(&mut rng).expect("a record"))
            .collect();
        row(
            "get one account",
            who,
            measure(n, |i| {
                let id = picks[i].id.to_string();
                let key = id.split_once(':').map(|(_, k)| k).unwrap_or(&id);
                ok(&client, &format!("/v1/records/account/{key}"));
            }),
        );
        row(
            "search, one word (`q=garc`: thousands match)",
            who,
            measure(n, |i| {
                let q = &prefixes_one[i % prefixes_one.len()];
                ok(&client, &format!("/v1/search?q={q}"));
            }),
        );
        row(
            "search, two words (`q=jos garc`)",
            who,
            measure(n, |i| {
                let q = prefixes_two[i % prefixes_two.len()].replace(' ', "+");
                ok(&client, &format!("/v1/search?q={q}"));
            }),
        );
        row(
            "phone lookup, national format (`number=612+345+678`)",
            who,
            measure(n, |i| {
                let number = picks[i].national_phone.replace(' ', "+");
                let answer = ok(&client, &format!("/v1/lookup/phone?number={number}"));
                assert_eq!(
                    answer.json["matches"].as_array().map(Vec::len),
                    Some(1),
                    "{}",
                    answer.text
                );
            }),
        );
    }
    server.stop();
}
