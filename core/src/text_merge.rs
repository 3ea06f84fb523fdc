//! Three-way merge of long text edited in a form while others edit it too.
//!
//! A device edits long text (`note.body`, `account.description`) with
//! Automerge splices, so concurrent edits merge character by character. A
//! form (the web card, a form post through the API) instead sends the
//! whole text as the user left it. Writing that over the stored text would
//! undo whatever others changed since the form was shown. [`merge`] takes
//! the text the form showed (`base`), what the user sent (`mine`) and what
//! is stored now (`theirs`), and keeps both sides' edits when they touch
//! different places.
//!
//! Guarantees:
//! - when `theirs == base`, the result is `mine`; when `mine == base`, it is
//!   `theirs`;
//! - when both changed the text in places that do not overlap (by line),
//!   the result holds every edit of both sides;
//! - when edits overlap, nothing is chosen silently: [`Conflict`] is
//!   returned, and the caller keeps both texts for the person to merge;
//! - work is bounded: the line diff compares at most [`MAX_CELLS`] pairs of
//!   lines; longer texts are compared as one changed span (a coarser, still
//!   correct, merge that reports more conflicts).

/// Most line pairs one diff compares (lines of base × lines of the other).
pub const MAX_CELLS: usize = 1_000_000;

/// Both sides changed the same place of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text was changed at the same place by someone else (around line {line})")]
pub struct Conflict {
    /// The first line of `base` (1-based) that both sides changed.
    pub line: usize,
}

/// One change of `base`: lines `start..end` (0-based, end exclusive)
/// replaced by `lines`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk<'a> {
    start: usize,
    end: usize,
    lines: Vec<&'a str>,
}

/// The text whose edits are `mine` (against `base`) and `theirs` (against
/// `base`) both applied, or the [`Conflict`] that keeps it from existing.
pub fn merge(base: &str, mine: &str, theirs: &str) -> Result<String, Conflict> {
    if theirs == base || mine == theirs {
        return Ok(mine.to_owned());
    }
    if mine == base {
        return Ok(theirs.to_owned());
    }
    let base_lines: Vec<&str> = base.split_inclusive('\n').collect();
    let mine_hunks = hunks(&base_lines, mine);
    let their_hunks = hunks(&base_lines, theirs);
    let mut out = String::with_capacity(mine.len().max(theirs.len()));
    let (mut a, mut b) = (mine_hunks.iter().peekable(), their_hunks.iter().peekable());
    let mut at = 0;
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(x), Some(y)) if overlaps(x, y) => {
                if x != y {
                    return Err(Conflict {
                        line: x.start.min(y.start) + 1,
                    });
                }
                b.next();
                a.next()
            }
            (Some(x), Some(y)) if (x.start, x.end) <= (y.start, y.end) => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
        };
        let Some(h) = next else { break };
        // Hunks of one side never overlap and overlaps across sides were
        // refused above; this only guards the slice.
        let Some(kept) = base_lines.get(at..h.start) else {
            return Err(Conflict { line: h.start + 1 });
        };
        out.extend(kept.iter().copied());
        out.extend(h.lines.iter().copied());
        at = h.end;
    }
    out.extend(base_lines[at..].iter().copied());
    Ok(out)
}

/// Whether two hunks touch the same lines of `base` (two insertions at the
/// same place count: their order would be a guess).
fn overlaps(x: &Hunk<'_>, y: &Hunk<'_>) -> bool {
    let both_insert_here = x.start == x.end && y.start == y.end && x.start == y.start;
    both_insert_here || (x.start < y.end && y.start < x.end) || (x.start == y.start)
}

/// The changes that turn `base` (as lines) into `other`.
fn hunks<'a>(base: &[&'a str], other: &'a str) -> Vec<Hunk<'a>> {
    let other: Vec<&str> = other.split_inclusive('\n').collect();
    // Common head and tail first: most form edits change one place.
    let head = base.iter().zip(&other).take_while(|(x, y)| x == y).count();
    let tail = base[head..]
        .iter()
        .rev()
        .zip(other[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (b, o) = (
        &base[head..base.len() - tail],
        &other[head..other.len() - tail],
    );
    if b.is_empty() && o.is_empty() {
        return Vec::new();
    }
    if b.len().saturating_mul(o.len()) > MAX_CELLS || b.is_empty() || o.is_empty() {
        return vec![Hunk {
            start: head,
            end: head + b.len(),
            lines: o.to_vec(),
        }];
    }
    lcs_hunks(b, o)
        .into_iter()
        .map(|h| Hunk {
            start: h.start + head,
            end: h.end + head,
            lines: h.lines,
        })
        .collect()
}

/// The changes from `b` to `o` by their longest common subsequence of lines.
fn lcs_hunks<'a>(b: &[&'a str], o: &[&'a str]) -> Vec<Hunk<'a>> {
    let (n, m) = (b.len(), o.len());
    // len[i][j]: the LCS length of b[i..] and o[j..].
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] = if b[i] == o[j] {
                len[at(i + 1, j + 1)] + 1
            } else {
                len[at(i + 1, j)].max(len[at(i, j + 1)])
            };
        }
    }
    let mut out: Vec<Hunk<'a>> = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut open: Option<Hunk<'a>> = None;
    while i < n || j < m {
        if i < n && j < m && b[i] == o[j] {
            out.extend(open.take());
            i += 1;
            j += 1;
            continue;
        }
        let h = open.get_or_insert(Hunk {
            start: i,
            end: i,
            lines: Vec::new(),
        });
        if j < m && (i == n || len[at(i, j + 1)] >= len[at(i + 1, j)]) {
            h.lines.push(o[j]);
            j += 1;
        } else {
            i += 1;
            h.end = i;
        }
    }
    out.extend(open);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "Visit plan\nCall Ana on Monday\nBring the catalogue\nPrices for 2027\n";

    #[test]
    fn edits_in_different_lines_both_survive() {
        let mine = BASE.replace("Monday", "Tuesday");
        let theirs = BASE.replace("Prices for 2027", "Prices for 2027 (with discount)");
        let merged = merge(BASE, &mine, &theirs).expect("merges");
        assert_eq!(
            merged,
            "Visit plan\nCall Ana on Tuesday\nBring the catalogue\nPrices for 2027 (with discount)\n"
        );
        // The same result whichever side is "mine".
        assert_eq!(merge(BASE, &theirs, &mine).expect("merges"), merged);
    }

    #[test]
    fn additions_at_both_ends_and_removals_survive() {
        let mine = format!("Urgent!\n{BASE}");
        let theirs = format!(
            "{}Signed: Marta\n",
            BASE.replace("Bring the catalogue\n", "")
        );
        let merged = merge(BASE, &mine, &theirs).expect("merges");
        assert_eq!(
            merged,
            "Urgent!\nVisit plan\nCall Ana on Monday\nPrices for 2027\nSigned: Marta\n"
        );
    }

    #[test]
    fn the_same_line_changed_twice_is_a_conflict_not_a_choice() {
        let mine = BASE.replace("Monday", "Tuesday");
        let theirs = BASE.replace("Monday", "Friday");
        assert_eq!(merge(BASE, &mine, &theirs), Err(Conflict { line: 2 }));
        let mine = format!("{BASE}mine\n");
        let theirs = format!("{BASE}theirs\n");
        assert!(
            merge(BASE, &mine, &theirs).is_err(),
            "two additions at the end"
        );
    }

    #[test]
    fn unchanged_sides_and_equal_edits_are_taken_as_they_are() {
        let edited = BASE.replace("Ana", "Ana Núñez");
        assert_eq!(merge(BASE, &edited, BASE).expect("merges"), edited);
        assert_eq!(merge(BASE, BASE, &edited).expect("merges"), edited);
        assert_eq!(merge(BASE, &edited, &edited).expect("merges"), edited);
        assert_eq!(merge("", "a", "").expect("merges"), "a");
        assert_eq!(
            merge("no newline", "no newline!", "no newline").expect("merges"),
            "no newline!"
        );
    }

    #[test]
    fn a_huge_text_is_merged_coarsely_within_the_bound() {
        let base: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        let mine = base
            .replacen("line 10\n", "line ten\n", 1)
            .replacen("line 4000\n", "", 1);
        let theirs = base.replacen("line 2000\n", "line two thousand\n", 1);
        // 5000 × 5000 lines is above the bound: one span per side, and they
        // overlap, so this is reported, never guessed.
        assert!(merge(&base, &mine, &theirs).is_err());
        let theirs = format!("{base}end\n");
        assert_eq!(
            merge(&base, &mine, &theirs).expect("merges"),
            format!("{mine}end\n")
        );
    }
}
