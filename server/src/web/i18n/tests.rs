use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use axum::http::{HeaderMap, HeaderValue, header};

use super::*;

/// Every sentence marked in a template (`"…"|t`, `|t1(…)`, `|t2(…)`, with
/// or without the filter's path) or in the web app's Rust code
/// (`i18n::text("…")`, `i18n::fill("…"`), with the file it is in.
fn marked() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut scan = |dir: &Path, ext: &str, markers: &[&str]| {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("exists")
            .map(|e| e.expect("exists").path())
            .collect();
        files.sort();
        let mut i = 0;
        while i < files.len() {
            let file = files[i].clone();
            i += 1;
            if file.is_dir() {
                let mut inner: Vec<_> = std::fs::read_dir(&file)
                    .expect("exists")
                    .map(|e| e.expect("exists").path())
                    .collect();
                inner.sort();
                files.extend(inner);
                continue;
            }
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            if file.extension().and_then(|e| e.to_str()) != Some(ext) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("exists");
            let name = file
                .file_name()
                .expect("exists")
                .to_string_lossy()
                .into_owned();
            for marker in markers {
                found.extend(
                    sentences(&text, marker)
                        .into_iter()
                        .map(|s| (name.clone(), s)),
                );
            }
        }
    };
    scan(
        &root.join("templates/web"),
        "html",
        &["\"|t", "\"|crate::web::i18n::filters::t"],
    );
    scan(
        &root.join("src/web"),
        "rs",
        &["i18n::text(", "i18n::fill(", "i18n::mark("],
    );
    found
}

/// The sentences before (`"…"|t`) or after (`text(` then `"…"`) each
/// `marker`.
fn sentences(text: &str, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices(marker) {
        if marker.starts_with('"') {
            // A template: the literal ends at `at`; find its opening quote.
            let before = &text[..at];
            if let Some(open) = before.rfind("{{ \"") {
                out.push(before[open + 4..].to_owned());
            }
        } else if let Some(after) = text[at + marker.len()..].trim_start().strip_prefix('"')
            && let Some(end) = after.find('"')
        {
            // Rust code: the literal right after the call's parenthesis.
            out.push(after[..end].to_owned());
        }
    }
    out
}

fn slots(s: &str) -> BTreeSet<String> {
    (0..10)
        .map(|i| format!("{{{i}}}"))
        .filter(|slot| s.contains(slot.as_str()))
        .collect()
}

#[test]
fn every_marked_sentence_is_translated_keeping_its_slots() {
    let found = marked();
    assert!(
        found.len() > 150,
        "the scan found the marked sentences: {}",
        found.len()
    );
    for (locale, texts) in [(Locale::Es, es::TEXTS), (Locale::Hu, hu::TEXTS)] {
        let catalogue: HashMap<_, _> = texts.iter().copied().collect();
        assert_eq!(
            catalogue.len(),
            texts.len(),
            "{locale:?}: an English sentence twice"
        );
        for (file, english) in &found {
            let Some(translation) = catalogue.get(english.as_str()) else {
                panic!("{file}: `{english}` has no {locale:?} translation");
            };
            assert_eq!(
                slots(english),
                slots(translation),
                "{locale:?}: `{english}`"
            );
            assert!(
                !translation.trim().is_empty(),
                "{locale:?}: `{english}` is empty"
            );
        }
        let used: BTreeSet<&str> = found.iter().map(|(_, s)| s.as_str()).collect();
        for (english, _) in texts {
            assert!(
                used.contains(english),
                "{locale:?}: `{english}` is no longer used anywhere"
            );
        }
        assert!(
            texts.windows(2).all(|w| w[0].0 < w[1].0),
            "{locale:?} is sorted"
        );
    }
}

#[test]
fn every_field_kind_and_listed_value_has_its_words() {
    use fieldwork_core::RecordKind;
    use fieldwork_core::schema::{FieldType, fields};
    let mut names: BTreeSet<&str> = ["none"].into();
    for kind in RecordKind::ALL {
        names.insert(kind.as_str());
        for f in fields(kind) {
            names.insert(f.name);
            if let FieldType::Enum(values) = f.ty {
                names.extend(values.iter().copied());
            }
        }
    }
    for (locale, words) in [(Locale::Es, es::WORDS), (Locale::Hu, hu::WORDS)] {
        let known: BTreeSet<&str> = words.iter().map(|(n, _)| *n).collect();
        let missing: Vec<_> = names.difference(&known).collect();
        assert!(missing.is_empty(), "{locale:?} lacks words for {missing:?}");
        assert!(
            words.windows(2).all(|w| w[0].0 < w[1].0),
            "{locale:?} words are sorted"
        );
    }
}

#[tokio::test]
async fn words_read_in_the_request_language() {
    assert_eq!(word("credit_limit"), "Credit limit");
    assert_eq!(word("ñame"), "Ñame");
    assert_eq!(word(""), "");
    with_locale(Locale::Hu, async {
        assert_eq!(word("credit_limit"), "Hitelkeret")
    })
    .await;
    with_locale(Locale::Es, async {
        assert_eq!(word("no_such_field"), "No such field")
    })
    .await;
}

#[tokio::test]
async fn sentences_follow_the_locale_of_the_request() {
    assert_eq!(text("Sign in"), "Sign in", "English outside a request");
    with_locale(Locale::Es, async {
        assert_eq!(text("Sign in"), "Iniciar sesión");
        assert_eq!(text("A sentence nobody marked"), "A sentence nobody marked");
        assert_eq!(money(125_050, "EUR"), "1250,50 EUR");
    })
    .await;
    with_locale(Locale::Hu, async {
        assert_eq!(
            fill("History of {0}", &[&"Ferretería"]),
            "Ferretería előzményei"
        );
    })
    .await;
}

#[test]
fn a_value_put_in_a_slot_is_never_read_as_a_slot() {
    let filled = fill("{0} by {1}", &[&"{1}{0}", &"Ana"]);
    assert_eq!(filled, "{1}{0} by Ana");
    assert_eq!(
        fill("{0} v{1}", &[&"Deal"]),
        "Deal v{1}",
        "a slot without a value stays"
    );
    assert_eq!(fill("{", &[&1]), "{");
    assert_eq!(fill("ends with {0", &[&1]), "ends with {0");
}

#[test]
fn the_cookie_wins_over_the_browser_and_bad_values_fall_back() {
    let mut h = HeaderMap::new();
    assert_eq!(locale_of(&h), Locale::En);
    h.insert(
        header::ACCEPT_LANGUAGE,
        HeaderValue::from_static("hu,en;q=0.5"),
    );
    assert_eq!(locale_of(&h), Locale::Hu);
    h.insert(header::COOKIE, HeaderValue::from_static("fw_lang=es"));
    assert_eq!(locale_of(&h), Locale::Es);
    h.insert(header::COOKIE, HeaderValue::from_static("fw_lang=xx"));
    assert_eq!(
        locale_of(&h),
        Locale::Hu,
        "an unknown cookie value is ignored"
    );
}

#[test]
fn the_menu_only_goes_back_to_this_app() {
    assert!(super::super::paths::app_path("/web/accounts?q=a"));
    assert!(super::super::paths::app_path(
        "/web/login?next=%2Fweb%2Fpipeline"
    ));
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/web//evil",
        "/web/\\evil",
        "/other",
    ] {
        assert!(!super::super::paths::app_path(bad), "{bad}");
    }
}
