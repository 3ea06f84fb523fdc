//! Folding of text for search and comparison: the one function the device
//! store's search index, the server's record index and both sides' search
//! queries call, so that what a person types finds what was written.
//!
//! Guarantees:
//! - case is ignored (`JOSÉ` and `josé` fold alike);
//! - diacritics of Latin letters are removed (`ő` → `o`, `ñ` → `n`,
//!   `ễ` → `e`), also when written as a base letter plus combining marks;
//! - Latin letters that are not a base letter with a mark fold to the
//!   letters people type for them: `ł` → `l`, `ø` → `o`, `đ`/`ð` → `d`,
//!   `ı` → `i`, `ħ` → `h`, `ŧ` → `t`, and the ligatures and letters that
//!   stand for two: `ß` → `ss`, `æ` → `ae`, `œ` → `oe`, `þ` → `th`,
//!   `ĳ` → `ij`;
//! - every other character is kept as it is, lower-cased (`北京`, `москва`);
//! - folding is idempotent: `fold(fold(s)) == fold(s)`.
//!
//! Changing what this function returns changes the meaning of every index
//! built with it: bump [`FOLD_VERSION`], which makes the device store and
//! the server rebuild their search text.

/// The version of [`fold`]'s output. Indexes record the version they were
/// built with and are rebuilt when it differs.
pub const FOLD_VERSION: u32 = 2;

/// Base letters of U+00C0..=U+024F (Latin-1 Supplement, Latin Extended-A
/// and -B); `.` where a character has none (kept as it is, or expanded by
/// [`expansion`]).
const LATIN: &[u8; 400] = b"aaaaaa.ceeeeiiiidnooooo.ouuuuy..aaaaaa.ceeeeiiiidnooooo.ouuuuy.y\
      aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii..jjkk.lllllll\
      lllnnnnnn...oooooo..rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs\
      ................................oo.............uu...............\
      .............aaiioouuuuuuuuuu.aaaa....ggkkoooo..j...gg..nnaa..oo\
      aaaaeeeeiiiioooorrrruuuusstt..hh......aaeeooooooooyy............\
      ................";

/// Base letters of U+1E00..=U+1EFF (Latin Extended Additional).
const LATIN_ADDITIONAL: &[u8; 256] =
    b"aabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmm\
      mmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvv\
      wwwwwwwwwwxxxxyyzzzzzzhtwy......aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeee\
      eeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy......";

/// The letters typed for a lower-case letter that is not a base letter
/// with marks (and so is not in the tables above, or is but means more).
fn expansion(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' | 'ǽ' | 'ǣ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        'ĳ' => "ij",
        'ŉ' => "n",
        'ǆ' => "dz",
        'ǉ' => "lj",
        'ǌ' => "nj",
        'ǳ' => "dz",
        'ð' | 'đ' | 'ɖ' | 'ɗ' => "d",
        'ł' | 'ŀ' | 'ƚ' => "l",
        'ø' | 'ǿ' => "o",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ſ' => "s",
        'ŋ' => "n",
        'ƀ' => "b",
        'ƒ' => "f",
        'ĸ' => "k",
        _ => return None,
    })
}

/// Folds `text` for search and comparison (see the module's guarantees):
/// lower case, Latin diacritics removed, special Latin letters and
/// ligatures spelled as people type them, combining marks dropped.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let cp = c as u32;
        if (0x300..=0x36F).contains(&cp) {
            continue;
        }
        if let Some(letters) = expansion(c) {
            out.push_str(letters);
            continue;
        }
        let base = match cp {
            0xC0..=0x24F => LATIN.get((cp - 0xC0) as usize),
            0x1E00..=0x1EFF => LATIN_ADDITIONAL.get((cp - 0x1E00) as usize),
            _ => None,
        };
        match base {
            Some(&b) if b != b'.' => out.push(char::from(b)),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_accents_are_ignored() {
        assert_eq!(fold("José"), "jose");
        assert_eq!(fold("SZŐKE Ünnep"), "szoke unnep");
        assert_eq!(fold("Ñandú"), "nandu");
        assert_eq!(fold("Nguyễn"), "nguyen");
        // Decomposed input (e + combining acute) folds the same.
        assert_eq!(fold("Jose\u{301}"), "jose");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("北京 Москва"), "北京 москва");
    }

    #[test]
    fn letters_without_a_mark_fold_to_what_people_type() {
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("Østergaard"), "ostergaard");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("Ærøskøbing"), "aeroskobing");
        assert_eq!(fold("Œuvre"), "oeuvre");
        assert_eq!(fold("Þórshöfn"), "thorshofn");
        assert_eq!(fold("Đorđević"), "dordevic");
        assert_eq!(fold("Guðrún"), "gudrun");
        assert_eq!(fold("Kırıkkale"), "kirikkale");
        assert_eq!(fold("Ĳsselmeer"), "ijsselmeer");
        assert_eq!(fold("Ħamrun"), "hamrun");
    }

    #[test]
    fn folding_is_idempotent() {
        for s in [
            "Łódź Østergaard Straße",
            "ÆØÅ æøå",
            "İı",
            "Ǆ ǅ ǆ",
            "Ŋ ŋ ſ",
            "ABC xyz 123",
        ] {
            let once = fold(s);
            assert_eq!(fold(&once), once, "{s}");
        }
    }
}
