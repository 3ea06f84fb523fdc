//! Camunda 7 and Zeebe (Camunda 8) task settings read as Fieldwork's: who
//! gets a user task and when it is due.
//!
//! | read                                                     | as                    |
//! |----------------------------------------------------------|-----------------------|
//! | `camunda:assignee`, `zeebe:assignmentDefinition/@assignee` | `fieldwork:assignee` |
//! | `camunda:candidateGroups`, `…/@candidateGroups` (one group) | `role:GROUP`        |
//! | `camunda:candidateUsers`, `…/@candidateUsers` (one user) | `user:NAME`           |
//! | `camunda:dueDate`, `zeebe:taskSchedule/@dueDate`         | `fieldwork:due`       |
//!
//! Guarantees: a `fieldwork:` setting always wins over these; a value this
//! module cannot map to a Fieldwork meaning is returned as a problem, never
//! dropped; an assignee wins over candidate groups, which win over
//! candidate users (as Camunda assigns).

use std::collections::BTreeMap;

use super::names::Ns;
use super::xml::{Element, Tree};

/// Fills `fw` (the task's Fieldwork settings) from the Camunda and Zeebe
/// settings of user task `e`; returns what cannot be mapped.
pub(super) fn read(tree: &Tree, e: &Element, fw: &mut BTreeMap<String, String>) -> Vec<String> {
    let zeebe = |name: &str, attr: &str| -> Option<(String, String)> {
        let ext = tree.child(e, "extensionElements")?;
        let el = tree
            .children(ext)
            .find(|c| c.ns == Ns::Zeebe && c.name == name)?;
        el.attr(attr)
            .map(|v| (format!("zeebe:{name} {attr}"), v.to_owned()))
    };
    let camunda = |attr: &str| {
        e.ext(Ns::Camunda, attr)
            .map(|v| (format!("camunda:{attr}"), v.to_owned()))
    };
    let mut problems = Vec::new();
    if !fw.contains_key("assignee") {
        let found = camunda("assignee")
            .or_else(|| zeebe("assignmentDefinition", "assignee"))
            .map(|(w, v)| (w, person(&v)))
            .or_else(|| {
                camunda("candidateGroups")
                    .or_else(|| zeebe("assignmentDefinition", "candidateGroups"))
                    .map(|(w, v)| (w, one_of(&v, "role", "candidate groups")))
            })
            .or_else(|| {
                camunda("candidateUsers")
                    .or_else(|| zeebe("assignmentDefinition", "candidateUsers"))
                    .map(|(w, v)| (w, one_of(&v, "user", "candidate users")))
            });
        match found {
            Some((_, Ok(a))) => {
                fw.insert("assignee".into(), a);
            }
            Some((what, Err(p))) => problems.push(format!("{what}: {p}")),
            None => {}
        }
    }
    if !fw.contains_key("due") {
        match camunda("dueDate").or_else(|| zeebe("taskSchedule", "dueDate")) {
            Some((_, v)) if v.trim().is_empty() => {}
            Some((what, v)) => match due(&v) {
                Ok(d) => {
                    fw.insert("due".into(), d);
                }
                Err(p) => problems.push(format!("{what}: {p}")),
            },
            None => {}
        }
    }
    problems
}

/// The inside of an expression: `${x}` / `#{x}` (JUEL) or `=x` (FEEL);
/// `None` for a literal.
fn expression(text: &str) -> Option<&str> {
    let t = text.trim();
    for (open, close) in [("${", "}"), ("#{", "}")] {
        if let Some(inner) = t.strip_prefix(open).and_then(|x| x.strip_suffix(close)) {
            return Some(inner.trim());
        }
    }
    t.strip_prefix('=').map(str::trim)
}

/// A FEEL string literal's content (`"anna"` → `anna`).
fn literal(text: &str) -> Option<&str> {
    text.strip_prefix('"').and_then(|x| x.strip_suffix('"'))
}

/// Whether `name` can be a user or role name.
fn plain_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'))
}

/// An assignee: `${owner}`/`=owner` → the record's owner,
/// `${owner_manager}` → their manager, a user name → that user.
fn person(text: &str) -> Result<String, String> {
    let t = text.trim();
    let name = match expression(t) {
        Some("owner") => return Ok("owner".into()),
        Some("owner_manager" | "ownerManager") => return Ok("owner_manager".into()),
        Some(inner) => literal(inner).ok_or_else(|| {
            format!(
                "`{t}` is an expression Fieldwork cannot evaluate; use a user name, ${{owner}} or ${{owner_manager}}"
            )
        })?,
        None => t,
    };
    if plain_name(name) {
        Ok(format!("user:{name}"))
    } else {
        Err(format!("`{t}` is not a user name"))
    }
}

/// One group or user out of a comma-separated list, as `prefix:NAME`.
fn one_of(text: &str, prefix: &str, what: &str) -> Result<String, String> {
    let t = text.trim();
    if expression(t).is_some_and(|i| literal(i).is_none()) {
        return Err(format!(
            "`{t}` is an expression Fieldwork cannot evaluate; name one {prefix}"
        ));
    }
    let inner = expression(t).and_then(literal).unwrap_or(t);
    let names: Vec<&str> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    match names.as_slice() {
        [one] if plain_name(one) => Ok(format!("{prefix}:{one}")),
        [one] => Err(format!("`{one}` is not a {prefix} name")),
        _ => Err(format!(
            "several {what} (`{t}`): Fieldwork gives a task to one {prefix}; keep one"
        )),
    }
}

/// A due time after the task starts, as an ISO 8601 duration: a duration
/// literal, `${dateTime().plusDays(N).toDate()}` (days, hours, minutes,
/// weeks) or FEEL `now() + duration("P2D")`.
fn due(text: &str) -> Result<String, String> {
    let t = text.trim();
    let inner = expression(t).unwrap_or(t);
    let compact: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.starts_with('P') {
        return Ok(compact);
    }
    for (call, unit) in [
        ("plusDays", "D"),
        ("plusWeeks", "W"),
        ("plusHours", "H"),
        ("plusMinutes", "M"),
    ] {
        let n = compact
            .strip_prefix(&format!("dateTime().{call}("))
            .and_then(|x| x.strip_suffix(").toDate()"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if let Some(n) = n {
            let time = if matches!(unit, "H" | "M") { "T" } else { "" };
            return Ok(format!("P{time}{n}{unit}"));
        }
    }
    for now in ["now()+duration(\"", "today()+duration(\""] {
        if let Some(d) = compact
            .strip_prefix(now)
            .and_then(|x| x.strip_suffix("\")"))
            .filter(|d| d.starts_with('P'))
        {
            return Ok(d.to_owned());
        }
    }
    Err(format!(
        "`{t}`: Fieldwork takes a due time after the task starts, e.g. P2D, ${{dateTime().plusDays(2).toDate()}} or =now() + duration(\"P2D\")"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignees_map_to_fieldwork_or_are_a_problem() {
        assert_eq!(person("${owner}").as_deref(), Ok("owner"));
        assert_eq!(person("=owner").as_deref(), Ok("owner"));
        assert_eq!(person("${ownerManager}").as_deref(), Ok("owner_manager"));
        assert_eq!(person("marta").as_deref(), Ok("user:marta"));
        assert_eq!(person("=\"marta\"").as_deref(), Ok("user:marta"));
        assert!(person("${execution.getVariable('x')}").is_err());
        assert!(person("two words").is_err());
        assert_eq!(
            one_of("sales", "role", "candidate groups").as_deref(),
            Ok("role:sales")
        );
        assert!(one_of("sales, managers", "role", "candidate groups").is_err());
        assert!(one_of("${groups}", "role", "candidate groups").is_err());
    }

    #[test]
    fn due_dates_map_to_durations_or_are_a_problem() {
        assert_eq!(due("P2D").as_deref(), Ok("P2D"));
        assert_eq!(
            due("${dateTime().plusDays(3).toDate()}").as_deref(),
            Ok("P3D")
        );
        assert_eq!(
            due("${dateTime().plusHours(4).toDate()}").as_deref(),
            Ok("PT4H")
        );
        assert_eq!(due("=now() + duration(\"P1W\")").as_deref(), Ok("P1W"));
        assert!(due("2027-01-01T09:00:00Z").is_err());
        assert!(due("${someBean.due()}").is_err());
    }
}
