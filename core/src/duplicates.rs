//! Duplicate candidates: the same company or person typed twice (by two
//! reps offline, or imported from two systems), found by what identifies
//! them: an e-mail, a phone number, a tax id, or a name that reads the same
//! once accents, case, punctuation and legal forms are set aside.
//!
//! Pure: it takes the values of records and returns candidate pairs, each
//! with a score from 0 to 100 and the reasons, strongest first. Whoever
//! calls it passes only the values the user may read, so a candidate never
//! rests on a field its reader cannot see.
//!
//! Guarantees:
//! - the work is bounded: records are compared only when they share a
//!   blocking key (an exact identifier, or a word of their name), and a
//!   key shared by more than [`MAX_BLOCK`] records (a very common word) is
//!   not used to pair them, so `n` records cost about `n × MAX_BLOCK`
//!   comparisons, never `n²`;
//! - each pair is reported once, as (earlier, later) in the input order;
//! - the same input gives the same output.

use std::collections::{BTreeMap, BTreeSet};

use crate::fold::fold;

/// Records sharing one blocking key beyond this many are not paired by it.
pub const MAX_BLOCK: usize = 50;

/// Names scoring at least this similar (0 to 100) count as a match.
pub const NAME_THRESHOLD: u32 = 85;

/// Legal forms set aside when names are compared (folded, without dots).
const LEGAL_FORMS: &[&str] = &[
    "sl", "slu", "sa", "sau", "sll", "scp", "cb", "kft", "zrt", "nyrt", "bt", "kkt", "gmbh", "ag",
    "kg", "ohg", "ug", "ltd", "limited", "llc", "inc", "corp", "co", "plc", "bv", "nv", "srl",
    "spa", "sas", "sarl", "oy", "ab", "as", "aps", "sro", "spzoo", "oo",
];

/// What identifies one record, as its reader may read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The record's name (an account's name, a contact's full name).
    pub name: String,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// Phone numbers as typed.
    pub phones: Vec<String>,
    /// Tax ids as typed.
    pub tax_ids: Vec<String>,
    /// The record's country (ISO 3166-1 alpha-2), to read national numbers.
    pub country: Option<String>,
}

/// Why two records look like the same one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The same tax id.
    TaxId {
        /// The tax id, normalised.
        value: String,
    },
    /// The same e-mail address.
    Email {
        /// The address, normalised.
        value: String,
    },
    /// The same phone number.
    Phone {
        /// The number, normalised to its digits with the country code.
        value: String,
    },
    /// Names that read alike.
    Name {
        /// How alike, 0 to 100.
        similarity: u32,
    },
}

/// Two records that may be one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    /// Index of the first record in the input.
    pub first: usize,
    /// Index of the second (always after the first).
    pub second: usize,
    /// 0 to 100: how sure.
    pub score: u32,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
}

/// The normalised keys of one record.
#[derive(Debug, Default)]
struct Keys {
    name: String,
    words: BTreeSet<String>,
    exact: BTreeSet<Reason>,
}

/// Every pair of `records` that may be the same, with at least
/// `min_score`, best first (then by input order).
pub fn candidates(records: &[Identity], min_score: u32) -> Vec<Candidate> {
    let keys: Vec<Keys> = records.iter().map(keys_of).collect();
    let mut blocks: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        for reason in &k.exact {
            blocks.entry(format!("{reason:?}")).or_default().push(i);
        }
        for word in &k.words {
            blocks.entry(format!("w:{word}")).or_default().push(i);
        }
    }
    let mut pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for members in blocks.values().filter(|m| m.len() <= MAX_BLOCK) {
        for (a, &i) in members.iter().enumerate() {
            for &j in &members[a + 1..] {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    let mut out: Vec<Candidate> = pairs
        .into_iter()
        .filter_map(|(i, j)| compare(&keys[i], &keys[j]).map(|c| (i, j, c)))
        .map(|(first, second, (score, reasons))| Candidate {
            first,
            second,
            score,
            reasons,
        })
        .filter(|c| c.score >= min_score)
        .collect();
    out.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.first.cmp(&b.first))
            .then(a.second.cmp(&b.second))
    });
    out
}

/// Score and reasons of one pair, if anything matches.
fn compare(a: &Keys, b: &Keys) -> Option<(u32, Vec<Reason>)> {
    let mut reasons: Vec<Reason> = a.exact.intersection(&b.exact).cloned().collect();
    let similarity = name_similarity(&a.name, &b.name);
    if similarity >= NAME_THRESHOLD {
        reasons.push(Reason::Name { similarity });
    }
    if reasons.is_empty() {
        return None;
    }
    let strongest = reasons
        .iter()
        .map(|r| match r {
            Reason::TaxId { .. } => 95,
            Reason::Email { .. } => 90,
            Reason::Phone { .. } => 80,
            Reason::Name { similarity } => similarity * 75 / 100,
        })
        .max()
        .unwrap_or(0);
    // Each further independent reason adds confidence, up to 100.
    let score = (strongest + 5 * (reasons.len() as u32 - 1)).min(100);
    reasons.sort();
    Some((score, reasons))
}

fn keys_of(identity: &Identity) -> Keys {
    let name = name_key(&identity.name);
    let words = name
        .split(' ')
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_owned)
        .collect();
    let mut exact = BTreeSet::new();
    for e in &identity.emails {
        if let Some(value) = email_key(e) {
            exact.insert(Reason::Email { value });
        }
    }
    for p in &identity.phones {
        if let Some(value) = phone_key(p, identity.country.as_deref()) {
            exact.insert(Reason::Phone { value });
        }
    }
    for t in &identity.tax_ids {
        if let Some(value) = tax_id_key(t) {
            exact.insert(Reason::TaxId { value });
        }
    }
    Keys { name, words, exact }
}

/// A name folded (case, accents), punctuation set aside and legal forms
/// dropped: `Szőke Kft.` → `szoke`, `ACME, S.L.` → `acme`.
pub fn name_key(name: &str) -> String {
    let folded = fold(name);
    // Dots join initials (`S.L.` → `sl`); other punctuation separates words.
    let cleaned: String = folded
        .chars()
        .filter(|c| *c != '.')
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !LEGAL_FORMS.contains(w))
        .collect();
    // A name that is only a legal form keeps it.
    if kept.is_empty() { words } else { kept }.join(" ")
}

/// An e-mail address trimmed and lower-cased, if it looks like one.
pub fn email_key(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && domain.contains('.')).then_some(e)
}

/// A phone number as its digits with the country code (E.164 without the
/// `+`): `+34 600 11 22 33` and `0034600112233` → `34600112233`; a
/// national number takes the code of `country` (ES, HU, DE, FR, GB, IT,
/// PT, US) with its trunk `0` or `06` dropped. `None` when too short to
/// identify anyone.
pub fn phone_key(phone: &str, country: Option<&str>) -> Option<String> {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if trimmed.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else {
        let (code, trunk) = match country.map(str::to_ascii_uppercase).as_deref() {
            Some("ES") => ("34", ""),
            Some("HU") => ("36", "06"),
            Some("DE") => ("49", "0"),
            Some("FR") => ("33", "0"),
            Some("GB") => ("44", "0"),
            Some("IT") => ("39", ""),
            Some("PT") => ("351", ""),
            Some("US") => ("1", ""),
            _ => ("", ""),
        };
        let national = digits.strip_prefix(trunk).unwrap_or(&digits);
        format!("{code}{national}")
    };
    (international.len() >= 8).then_some(international)
}

/// A tax id upper-cased with spaces, dots and dashes removed, and a leading
/// EU country prefix kept (`es b-12345678` → `ESB12345678`).
pub fn tax_id_key(tax_id: &str) -> Option<String> {
    let key: String = tax_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (key.len() >= 5).then_some(key)
}

/// How alike two name keys are, 0 to 100: the Dice coefficient of their
/// character bigrams (word order and small typos cost little).
pub fn name_similarity(a: &str, b: &str) -> u32 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    if a == b {
        return 100;
    }
    let grams = |s: &str| -> BTreeMap<(char, char), u32> {
        let mut out = BTreeMap::new();
        for w in s.split(' ') {
            let chars: Vec<char> = w.chars().collect();
            for pair in chars.windows(2) {
                *out.entry((pair[0], pair[1])).or_insert(0) += 1;
            }
        }
        out
    };
    let (ga, gb) = (grams(a), grams(b));
    let total: u32 = ga.values().sum::<u32>() + gb.values().sum::<u32>();
    if total == 0 {
        return 0;
    }
    let shared: u32 = ga
        .iter()
        .map(|(g, n)| (*n).min(gb.get(g).copied().unwrap_or(0)))
        .sum();
    200 * shared / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> Identity {
        Identity {
            name: name.into(),
            ..Identity::default()
        }
    }

    #[test]
    fn names_compare_without_accents_case_punctuation_or_legal_forms() {
        assert_eq!(name_key("Szőke Kft."), "szoke");
        assert_eq!(name_key("ACME, S.L."), "acme");
        assert_eq!(name_key("Müller GmbH & Co. KG"), "muller");
        assert_eq!(name_key("S.L."), "sl", "only a legal form: kept");
        assert_eq!(name_similarity("szoke", "szoke"), 100);
        assert!(name_similarity("ferreteria ramos", "ferretería ramos") < 100);
        assert!(
            name_similarity(
                &name_key("Ferretería Ramos S.L."),
                &name_key("FERRETERIA RAMOS")
            ) == 100
        );
        assert!(name_similarity("ferreteria ramos", "ferreteria ramoz") >= NAME_THRESHOLD);
        assert!(name_similarity("ferreteria ramos", "panaderia lopez") < 40);
    }

    #[test]
    fn identifiers_are_normalised_before_they_are_compared() {
        assert_eq!(email_key(" Info@Szoke.HU "), Some("info@szoke.hu".into()));
        assert_eq!(email_key("no-at-sign"), None);
        assert_eq!(
            phone_key("+34 600 11 22 33", None),
            Some("34600112233".into())
        );
        assert_eq!(
            phone_key("0034 600112233", None),
            Some("34600112233".into())
        );
        assert_eq!(
            phone_key("600 11 22 33", Some("ES")),
            Some("34600112233".into())
        );
        assert_eq!(
            phone_key("06 1 234 5678", Some("HU")),
            Some("3612345678".into())
        );
        assert_eq!(phone_key("+36 1 234 5678", None), Some("3612345678".into()));
        assert_eq!(phone_key("112", Some("ES")), None, "too short");
        assert_eq!(tax_id_key("es b-12.345.678"), Some("ESB12345678".into()));
    }

    #[test]
    fn candidates_come_with_a_score_and_their_reasons_best_first() {
        let records = vec![
            Identity {
                name: "Ferretería Ramos S.L.".into(),
                phones: vec!["600 11 22 33".into()],
                country: Some("ES".into()),
                ..Identity::default()
            },
            Identity {
                name: "Panadería López".into(),
                emails: vec!["pedidos@lopez.es".into()],
                ..Identity::default()
            },
            Identity {
                name: "FERRETERIA RAMOS".into(),
                phones: vec!["+34 600112233".into()],
                ..Identity::default()
            },
            Identity {
                name: "Horno López e Hijos".into(),
                emails: vec!["PEDIDOS@lopez.es".into()],
                tax_ids: vec!["B-99999999".into()],
                ..Identity::default()
            },
            account("Nube Cloud SL"),
        ];
        let found = candidates(&records, 0);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            (found[0].first, found[0].second, found[0].score),
            (1, 3, 90),
            "the same e-mail"
        );
        assert_eq!(
            found[0].reasons,
            vec![Reason::Email {
                value: "pedidos@lopez.es".into()
            }]
        );
        assert_eq!((found[1].first, found[1].second), (0, 2));
        assert_eq!(found[1].score, 85, "phone 80 + a name that reads the same");
        assert_eq!(
            found[1].reasons,
            vec![
                Reason::Phone {
                    value: "34600112233".into()
                },
                Reason::Name { similarity: 100 }
            ]
        );
        assert_eq!(candidates(&records, 88).len(), 1, "min_score filters");
    }

    #[test]
    fn a_very_common_word_does_not_pair_everyone_with_everyone() {
        let records: Vec<Identity> = (0..500)
            .map(|i| account(&format!("Comercial {i:03} Distribuciones")))
            .collect();
        // "comercial" and "distribuciones" are in every name: those blocks
        // are skipped; the numbers are too short to block on.
        assert!(candidates(&records, 0).is_empty());
    }
}
