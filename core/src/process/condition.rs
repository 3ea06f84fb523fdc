//! The condition language of gateways and triggers.
//!
//! ```text
//! expr    := or
//! or      := and ("||" and)*
//! and     := not ("&&" not)*
//! not     := "!" not | compare
//! compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
//! operand := field | "string" | number | true | false | "(" expr ")"
//! field   := name ("." name)?          e.g. stage, deal.stage, amount
//! ```
//!
//! A field may be prefixed with the record kind (`deal.stage`); the prefix
//! must match the record the condition is evaluated on. In a gateway,
//! `outcome.STEP` and `param.NAME` read the instance's variables (see
//! [`super::outcome`]). A missing field is
//! null: it equals nothing but null and orders below everything, so
//! `amount >= 100` is false when no amount is set. A bare field is true when
//! it is set and not `false`, `0` or empty.

use std::collections::BTreeMap;

use crate::value::FieldValue;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// A comparison.
    Compare(Operand, Op, Operand),
    /// An operand on its own, true when truthy.
    Truthy(Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A field of the record, with an optional kind prefix.
    Field {
        /// `deal` in `deal.stage`.
        kind: Option<String>,
        /// `stage`.
        name: String,
    },
    /// A string literal.
    Text(String),
    /// A number literal.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
}

/// Why a condition did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition `{source_text}`: {message} at character {at}")]
pub struct ConditionError {
    /// The condition's text.
    pub source_text: String,
    /// What is wrong.
    pub message: String,
    /// Where (0-based character index).
    pub at: usize,
}

/// The most operators (`!`, `&&`, `||`) and brackets one condition may
/// hold: parsing, evaluating and dropping a condition recurse once per
/// level, so a forged model with thousands of them would overflow the stack.
pub const MAX_NESTING: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ConditionError> {
    let err = |message: &str, at: usize| ConditionError {
        source_text: text.to_owned(),
        message: message.to_owned(),
        at,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if let Some(op) = ["==", "!=", "<=", ">=", "&&", "||"]
            .into_iter()
            .find(|op| *op == two)
        {
            out.push((start, Token::Op(op)));
            i += 2;
            continue;
        }
        match c {
            '(' => out.push((start, Token::Open)),
            ')' => out.push((start, Token::Close)),
            '<' => out.push((start, Token::Op("<"))),
            '>' => out.push((start, Token::Op(">"))),
            '!' => out.push((start, Token::Op("!"))),
            '"' | '\'' => {
                let (text, end) =
                    quoted(&chars, i).ok_or_else(|| err("unterminated string", start))?;
                i = end;
                out.push((start, Token::Text(text)));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let (digits, end) = run_from(&chars, i, |c| c.is_ascii_digit() || c == '.');
                i = end;
                let n = digits.parse().map_err(|_| err("malformed number", start))?;
                out.push((start, Token::Number(n)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let (name, end) =
                    run_from(&chars, i, |c| c.is_alphanumeric() || matches!(c, '_' | '.'));
                i = end;
                out.push((start, Token::Ident(name)));
            }
            _ => return Err(err(&format!("unexpected `{c}`"), start)),
        }
        i += 1;
    }
    let nesting =
        |(_, t): &&(usize, Token)| matches!(t, Token::Open | Token::Op("!" | "&&" | "||"));
    if let Some((at, _)) = out.iter().filter(nesting).nth(MAX_NESTING) {
        return Err(err(
            &format!("more than {MAX_NESTING} operators and brackets"),
            *at,
        ));
    }
    Ok(out)
}

/// The string quoted from `chars[i]` (the opening quote) up to the same
/// quote, backslash escaping the next character; with the index of the
/// closing quote. `None` when it is not closed.
fn quoted(chars: &[char], mut i: usize) -> Option<(String, usize)> {
    let quote = chars[i];
    let mut s = String::new();
    i += 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && i + 1 < chars.len() {
            i += 1;
        }
        s.push(chars[i]);
        i += 1;
    }
    (i < chars.len()).then_some((s, i))
}

/// `chars[i]` and the characters after it while `more` holds; with the
/// index of the last one taken.
fn run_from(chars: &[char], mut i: usize, more: impl Fn(char) -> bool) -> (String, usize) {
    let mut s = String::from(chars[i]);
    while i + 1 < chars.len() && more(chars[i + 1]) {
        i += 1;
        s.push(chars[i]);
    }
    (s, i)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, Token)>,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> ConditionError {
        ConditionError {
            source_text: self.text.to_owned(),
            message: message.to_owned(),
            at: self
                .tokens
                .get(self.pos)
                .map(|t| t.0)
                .unwrap_or(self.text.chars().count()),
        }
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some((_, Token::Op(o))) if *o == op)
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.peek_op("||") {
            self.pos += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.not()?;
        while self.peek_op("&&") {
            self.pos += 1;
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.peek_op("!") {
            self.pos += 1;
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Condition, ConditionError> {
        if matches!(self.tokens.get(self.pos), Some((_, Token::Open))) {
            self.pos += 1;
            let inner = self.or()?;
            if !matches!(self.tokens.get(self.pos), Some((_, Token::Close))) {
                return Err(self.err("expected `)`"));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let left = self.operand()?;
        let op = match self.tokens.get(self.pos) {
            Some((_, Token::Op(o))) => match *o {
                "==" => Some(Op::Eq),
                "!=" => Some(Op::Ne),
                "<" => Some(Op::Lt),
                "<=" => Some(Op::Le),
                ">" => Some(Op::Gt),
                ">=" => Some(Op::Ge),
                _ => None,
            },
            _ => None,
        };
        match op {
            None => Ok(Condition::Truthy(left)),
            Some(op) => {
                self.pos += 1;
                Ok(Condition::Compare(left, op, self.operand()?))
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, ConditionError> {
        let token = self.tokens.get(self.pos).cloned();
        let operand = match token {
            Some((_, Token::Text(s))) => Operand::Text(s),
            Some((_, Token::Number(n))) => Operand::Number(n),
            Some((_, Token::Ident(s))) if s == "true" => Operand::Bool(true),
            Some((_, Token::Ident(s))) if s == "false" => Operand::Bool(false),
            Some((_, Token::Ident(s))) => {
                let parts: Vec<&str> = s.split('.').collect();
                match parts.as_slice() {
                    [name] if !name.is_empty() => Operand::Field {
                        kind: None,
                        name: (*name).to_owned(),
                    },
                    [kind, name] if !kind.is_empty() && !name.is_empty() => Operand::Field {
                        kind: Some((*kind).to_owned()),
                        name: (*name).to_owned(),
                    },
                    _ => return Err(self.err(&format!("`{s}` is not a field (name or kind.name)"))),
                }
            }
            _ => return Err(self.err("expected a field, a string, a number, true or false")),
        };
        self.pos += 1;
        Ok(operand)
    }
}

impl Condition {
    /// Parses a condition.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let tokens = tokenize(text)?;
        let mut p = Parser {
            text,
            tokens,
            pos: 0,
        };
        if p.tokens.is_empty() {
            return Err(p.err("empty condition"));
        }
        let c = p.or()?;
        if p.pos != p.tokens.len() {
            return Err(p.err("unexpected text after the condition"));
        }
        Ok(c)
    }

    /// The fields the condition reads, with their kind prefixes.
    pub fn fields(&self) -> Vec<(Option<&str>, &str)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(Option<&'a str>, &'a str)>) {
        let mut add = |o: &'a Operand| {
            if let Operand::Field { kind, name } = o {
                out.push((kind.as_deref(), name.as_str()));
            }
        };
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Condition::Not(a) => a.collect(out),
            Condition::Compare(l, _, r) => {
                add(l);
                add(r);
            }
            Condition::Truthy(o) => add(o),
        }
    }

    /// Evaluates the condition on a record's fields.
    pub fn eval(&self, fields: &BTreeMap<String, FieldValue>) -> bool {
        match self {
            Condition::And(a, b) => a.eval(fields) && b.eval(fields),
            Condition::Or(a, b) => a.eval(fields) || b.eval(fields),
            Condition::Not(a) => !a.eval(fields),
            Condition::Truthy(o) => match value(o, fields) {
                Value::Null => false,
                Value::Bool(b) => b,
                Value::Number(n) => n != 0.0,
                Value::Text(s) => !s.is_empty(),
            },
            Condition::Compare(l, op, r) => compare(&value(l, fields), *op, &value(r, fields)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

fn value(o: &Operand, fields: &BTreeMap<String, FieldValue>) -> Value {
    match o {
        Operand::Text(s) => Value::Text(s.clone()),
        Operand::Number(n) => Value::Number(*n),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Field { kind, name } => match lookup(fields, kind.as_deref(), name) {
            None => Value::Null,
            Some(FieldValue::Text(s)) => Value::Text(s.clone()),
            Some(FieldValue::Int(i)) => Value::Number(*i as f64),
            Some(FieldValue::Float(f)) => Value::Number(*f),
            Some(FieldValue::Bool(b)) => Value::Bool(*b),
            Some(_) => Value::Null,
        },
    }
}

/// The prefixes of process variables in gateway conditions
/// (`outcome.STEP`, `param.NAME`).
pub const VARIABLE_PREFIXES: &[&str] = &["outcome", "param"];

/// A field's value: a process variable (`outcome.STEP`, `param.NAME`) is
/// looked up under its whole name, which no record field has (see
/// [`super::variables::variables`]); any other kind prefix names the record.
fn lookup<'f>(
    fields: &'f BTreeMap<String, FieldValue>,
    kind: Option<&str>,
    name: &str,
) -> Option<&'f FieldValue> {
    match kind {
        Some(k) if VARIABLE_PREFIXES.contains(&k) => fields.get(&format!("{k}.{name}")),
        _ => fields.get(name),
    }
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (l, r) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::Text(a), Value::Text(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    match (op, ord) {
        (Op::Eq, o) => o == Some(Ordering::Equal),
        (Op::Ne, o) => o != Some(Ordering::Equal),
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (_, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn evaluates_comparisons_logic_and_missing_fields() {
        let deal = fields(&[
            ("stage", FieldValue::Text("won".into())),
            ("amount", FieldValue::Int(150_000)),
            ("currency", FieldValue::Text("EUR".into())),
        ]);
        let t = |s: &str| Condition::parse(s).expect(s).eval(&deal);
        assert!(t(r#"deal.stage == "won""#));
        assert!(t("stage == 'won' && amount >= 100000"));
        assert!(!t("amount < 100000 || currency != \"EUR\""));
        assert!(t("!(stage == \"lost\")"));
        assert!(t("amount"));
        assert!(!t("close_reason"), "missing fields are falsy");
        assert!(!t("close_reason >= 1"), "null orders below nothing");
        assert!(t("close_reason != \"x\""));
        assert!(t("(stage == \"won\" || stage == \"lost\") && amount > -1"));
    }

    #[test]
    fn reports_what_is_wrong_and_where() {
        let e = Condition::parse("stage == \"won").expect_err("unterminated");
        assert_eq!((e.message.as_str(), e.at), ("unterminated string", 9));
        let e = Condition::parse("stage ==").expect_err("dangling");
        assert!(e.message.contains("expected a field"), "{e}");
        let e = Condition::parse("stage == 'won' won").expect_err("extra");
        assert_eq!(e.at, 15);
        assert!(Condition::parse("(a == 1").is_err());
        assert!(Condition::parse("a.b.c == 1").is_err());
        assert!(Condition::parse("").is_err());
        assert!(Condition::parse("a # b").is_err());
    }

    #[test]
    fn refuses_nesting_that_would_overflow_the_stack() {
        for text in [
            "!".repeat(100_000) + "a",
            "(".repeat(100_000) + "a" + &")".repeat(100_000),
            "a".to_owned() + &" && a".repeat(100_000),
            "a".to_owned() + &" || a".repeat(100_000),
        ] {
            let e = Condition::parse(&text).expect_err("too deep");
            assert!(e.message.contains("more than 256"), "{}", e.message);
        }
        let at_limit = "!".repeat(MAX_NESTING) + "a";
        assert!(
            !Condition::parse(&at_limit)
                .expect("at the limit")
                .eval(&BTreeMap::new())
        );
    }

    #[test]
    fn multibyte_text_and_a_cut_off_escape_are_errors_not_panics() {
        for text in [
            "é",
            "a == 'é",
            "a == \"x\\",
            "a == 'x\\é",
            "ö.é == 1 && ü",
            "a == -",
        ] {
            let _ = Condition::parse(text);
        }
        let e = Condition::parse("a == €").expect_err("not a token");
        assert_eq!((e.message.as_str(), e.at), ("unexpected `€`", 5));
    }

    #[test]
    fn lists_the_fields_it_reads() {
        let c = Condition::parse("deal.stage == 'won' && amount > 1").expect("parse");
        assert_eq!(c.fields(), vec![(Some("deal"), "stage"), (None, "amount")]);
    }
}
