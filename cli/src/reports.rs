//! `fieldwork report`: the core's reports over this device's records, as a
//! text table, JSON (`--json`) or CSV (`--csv`).
//!
//! Guarantees:
//! - Text, JSON and CSV show the same report: JSON is the typed result,
//!   text and CSV its [`Table`].
//! - CSV follows RFC 4180: fields holding a comma, a quote, a carriage
//!   return or a newline are quoted, quotes doubled; lines end in CRLF.

use anyhow::Context;
use fieldwork_core::report::{GroupBy, Rates, ReportName, Table, Tabular};

use crate::args::{Global, ReportArgs};
use crate::device;
use crate::output::Output;

/// `fieldwork report NAME`
pub fn report(global: &Global, out: &Output, args: ReportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!(args.csv && out.json), "choose one of --csv and --json");
    anyhow::ensure!(
        args.record.is_none() || args.name == "timeline",
        "only `report timeline` takes a record id"
    );
    let name = ReportName::parse(&args.name, args.record.as_deref())?;
    let mut store = device::open(global)?;
    let mut q = store.report_query();
    q.time_zone = args.tz.clone();
    q.owner = args.owner.clone();
    q.territory = args.territory.clone();
    q.group_by = match args.group_by.as_deref() {
        Some("owner") => GroupBy::Owner,
        Some("territory") => GroupBy::Territory,
        _ => GroupBy::None,
    };
    q.rates = rates(args.convert.as_deref(), &args.rates)?;
    q.weights = std::mem::take(&mut q.weights).overridden_in(&q.deal_stages, &args.weights)?;
    let day = |d: &Option<String>| -> anyhow::Result<Option<jiff::civil::Date>> {
        d.as_deref()
            .map(|t| {
                t.parse()
                    .with_context(|| format!("`{t}` is not a date (YYYY-MM-DD)"))
            })
            .transpose()
    };
    let q = q.with_days(day(&args.from)?, day(&args.to)?)?;
    let result = store.report(&name, &q)?;
    if out.json {
        return out.json(&result);
    }
    let table = result.table();
    if args.csv {
        print!("{}", table.to_csv());
    } else {
        print!("{}", text(&table));
    }
    Ok(())
}

/// The rates table from `--convert` and `--rate CUR=RATE` (parsed by core).
fn rates(target: Option<&str>, given: &[String]) -> anyhow::Result<Option<Rates>> {
    let Some(target) = target else {
        anyhow::ensure!(given.is_empty(), "--rate needs --convert CURRENCY");
        return Ok(None);
    };
    Ok(Some(Rates::parse(target, given)?))
}

/// `table` as aligned text columns, a header and a rule first.
pub fn text(table: &Table) -> String {
    let mut widths: Vec<usize> = table.columns.iter().map(|c| c.chars().count()).collect();
    for row in &table.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&table.columns);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    if table.rows.is_empty() {
        out.push_str("(no data)\n");
    }
    for row in &table.rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_aligns_columns_and_says_when_empty() {
        let mut t = Table::new(&["stage", "n"]);
        assert_eq!(text(&t), "stage  n\n-----  -\n(no data)\n");
        t.push(vec!["negotiation".into(), "12".into()]);
        assert_eq!(
            text(&t),
            "stage        n\n-----------  --\nnegotiation  12\n"
        );
    }

    #[test]
    fn rates_need_a_target_and_numbers() {
        assert!(rates(None, &[]).expect("none").is_none());
        assert!(rates(None, &["HUF=0.0025".into()]).is_err());
        assert!(rates(Some("eur"), &["HUF=x".into()]).is_err());
        let r = rates(Some("eur"), &["huf=0.0025".into()])
            .expect("rates")
            .expect("some");
        assert_eq!(r.target, "EUR");
        assert_eq!(r.per_unit.get("HUF"), Some(&0.0025));
    }
}
