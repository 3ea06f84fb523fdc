//! Printing results: aligned text for people, JSON for scripts.

use fieldwork_core::history::HistoryEntry;
use fieldwork_core::schema;
use fieldwork_core::store::display_value;
use fieldwork_core::store::{SearchHit, Summary};
use fieldwork_core::value::format_money;
use fieldwork_core::{FieldValue, Policy, Record};
use serde::Serialize;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Prints `value` as pretty JSON.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// Prints a record: `field: value` lines in schema order (the custom
    /// fields `policy` defines last), conflicts noted.
    pub fn record(&self, policy: &Policy, record: &Record) -> anyhow::Result<()> {
        if self.json {
            return self.json(record);
        }
        println!("{}  {}", record.id, record.title());
        let width = policy
            .fields(record.kind())
            .filter(|d| record.fields.contains_key(d.name))
            .map(|d| d.name.len())
            .max()
            .unwrap_or(0);
        for def in policy.fields(record.kind()) {
            let Some(value) = record.get(def.name) else {
                continue;
            };
            if value.as_text() == Some("") {
                continue;
            }
            let shown = match (def.ty, value) {
                (schema::FieldType::LongText, FieldValue::Text(t)) => t.replace('\n', "\n  "),
                _ => display_value(record, def, value),
            };
            println!("  {:width$}  {shown}", def.name);
            if let Some(all) = record.conflicts.get(def.name) {
                let others: Vec<String> = all.iter().skip(1).map(FieldValue::display).collect();
                println!(
                    "  {:width$}  (also written concurrently: {})",
                    "",
                    others.join(", ")
                );
            }
        }
        Ok(())
    }

    /// Prints list rows.
    pub fn summaries(&self, rows: &[Summary]) -> anyhow::Result<()> {
        if self.json {
            return self.json(&rows);
        }
        for r in rows {
            let mut extra = Vec::new();
            for v in [&r.stage, &r.status, &r.kind_type, &r.owner, &r.territory]
                .into_iter()
                .flatten()
            {
                extra.push(v.clone());
            }
            if let Some(a) = &r.assignee {
                extra.push(format!("→{a}"));
            }
            if let Some(due) = &r.due_at {
                extra.push(due.clone());
            }
            if let (Some(amount), Some(cur)) = (r.amount, &r.currency) {
                extra.push(format_money(amount, cur));
            }
            println!("{}  {}  [{}]", r.id, r.title, extra.join(", "));
        }
        Ok(())
    }

    /// Prints search results.
    pub fn hits(&self, hits: &[SearchHit]) -> anyhow::Result<()> {
        if self.json {
            return self.json(&hits);
        }
        for h in hits {
            println!("{}  {}", h.id, h.title);
        }
        Ok(())
    }

    /// Prints a history.
    pub fn history(&self, entries: &[HistoryEntry]) -> anyhow::Result<()> {
        if self.json {
            return self.json(&entries);
        }
        for e in entries {
            let fields: Vec<String> = e
                .fields
                .iter()
                .map(|f| match (&f.value, f.action.as_str()) {
                    (Some(v), "set") => format!("{}={}", f.field, shorten(v)),
                    (Some(v), _) => format!("{} {} \"{}\"", f.field, f.action, shorten(v)),
                    (None, action) => format!("{} {action}", f.field),
                })
                .collect();
            println!(
                "{}  {:<12} {:<16} {}",
                e.at,
                e.author,
                e.class,
                fields.join(", ")
            );
        }
        Ok(())
    }
}

fn shorten(s: &str) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() > 60 {
        format!("{}…", one_line.chars().take(59).collect::<String>())
    } else {
        one_line
    }
}
