//! FEEL conditions (Camunda 8's `=stage = "won" and amount > 100`) as
//! Fieldwork conditions (`stage == "won" && amount > 100`).
//!
//! Only the comparison subset a CRM gateway needs is translated: `=` and
//! `!=`, `<`, `<=`, `>`, `>=`, `and`, `or`, `not(...)`, parentheses,
//! string, number and boolean literals and field names. String literals are
//! copied as they are. Anything else (function calls, ranges, `in`, path
//! expressions on lists) is left as written, so the condition parser
//! refuses it with its own message and the line of the flow.
//!
//! Guarantees: linear in the text's length; never panics (it walks
//! characters, not bytes).

/// `text` (a FEEL expression without its leading `=`) in Fieldwork's
/// condition language.
pub fn to_condition(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        if is_word(c) {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out, c == '(');
        match c {
            '"' => copy_string(&mut chars, &mut out),
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                out.push_str("==");
            }
            '=' if !matches!(out.chars().last(), Some('!' | '<' | '>')) => out.push_str("=="),
            _ => out.push(c),
        }
    }
    flush(&mut word, &mut out, false);
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Writes the word read so far, as an operator when FEEL spells it out
/// (`not` only when a parenthesis follows: it is FEEL's `not(...)`).
fn flush(word: &mut String, out: &mut String, paren_follows: bool) {
    match word.as_str() {
        "and" => out.push_str("&&"),
        "or" => out.push_str("||"),
        "not" if paren_follows => out.push('!'),
        _ => out.push_str(word),
    }
    word.clear();
}

/// Copies a string literal up to its closing quote (a `\"` inside stays).
fn copy_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    out.push('"');
    let mut escaped = false;
    for c in chars.by_ref() {
        out.push(c);
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return,
            _ => escaped = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::to_condition;
    use crate::process::condition::Condition;

    #[test]
    fn feel_comparisons_and_connectives_become_fieldworks() {
        for (feel, ours) in [
            (r#"stage = "won""#, r#"stage == "won""#),
            (
                r#"stage != "lost" and amount >= 100"#,
                r#"stage != "lost" && amount >= 100"#,
            ),
            (
                r#"amount<=5 or not(stage = "won")"#,
                r#"amount<=5 || !(stage == "won")"#,
            ),
            (r#"name = "a = b and c""#, r#"name == "a = b and c""#),
            (r#"outcome.call = "yes""#, r#"outcome.call == "yes""#),
            (r#"notes = "x\"y" and ok"#, r#"notes == "x\"y" && ok"#),
        ] {
            assert_eq!(to_condition(feel), ours, "{feel}");
            assert!(Condition::parse(&to_condition(feel)).is_ok(), "{feel}");
        }
    }

    #[test]
    fn what_is_not_translated_is_left_for_the_parser_to_refuse() {
        for feel in ["count(items) > 2", "x in [1..3]", "\"unterminated", "= = ="] {
            let _ = Condition::parse(&to_condition(feel)); // no panic
        }
        assert!(Condition::parse(&to_condition("count(items) > 2")).is_err());
    }
}
