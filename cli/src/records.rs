//! The record commands: add, get, set, list for every kind, search, history.

use anyhow::Context;
use fieldwork_core::value::money_to_minor;
use fieldwork_core::{FieldWrite, ListQuery, RecordId, RecordKind, Sort};
use serde::Serialize;

use crate::args::{
    AccountCmd, ActivityCmd, Common, ContactCmd, DealCmd, FieldsArgs, Global, HistoryArgs,
    ListArgs, LocaleArgs, NoteCmd, RelationshipCmd, SearchArgs, SetArgs, TargetCmd,
};
use crate::device;
use crate::output::Output;

/// Parses a record id and checks it is of the expected kind.
fn id_of(kind: RecordKind, text: &str) -> anyhow::Result<RecordId> {
    let id: RecordId = text.parse()?;
    anyhow::ensure!(id.kind() == kind, "{id} is a {}, not a {kind}", id.kind());
    Ok(id)
}

/// `FIELD=VALUE` assignments parsed against `kind`'s schema.
fn assignments(kind: RecordKind, items: &[String]) -> anyhow::Result<Vec<FieldWrite>> {
    Ok(items
        .iter()
        .map(|a| FieldWrite::parse(kind, a))
        .collect::<Result<_, _>>()?)
}

/// A flag value as a write, parsed against the schema like `--set` values.
fn flag(
    kind: RecordKind,
    field: &str,
    value: &Option<String>,
) -> anyhow::Result<Option<FieldWrite>> {
    match value {
        None => Ok(None),
        Some(v) => Ok(Some(FieldWrite::parse(kind, &format!("{field}={v}"))?)),
    }
}

fn add(
    global: &Global,
    out: &Output,
    kind: RecordKind,
    flags: Vec<Option<FieldWrite>>,
    set: &SetArgs,
) -> anyhow::Result<()> {
    let mut writes: Vec<FieldWrite> = flags.into_iter().flatten().collect();
    writes.extend(assignments(kind, &set.set)?);
    let mut store = device::open(global)?;
    let id = store.create(kind, writes)?;
    device::report_engine(&mut store);
    if out.json {
        #[derive(Serialize)]
        struct Created {
            id: String,
        }
        out.json(&Created { id: id.to_string() })
    } else {
        println!("{id}");
        Ok(())
    }
}

fn common(global: &Global, out: &Output, kind: RecordKind, cmd: Common) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    match cmd {
        Common::Get { id } => {
            let id = id_of(kind, &id)?;
            let record = store.get(&id)?;
            out.record(store.policy(), &record)
        }
        Common::Set {
            id,
            assignments: items,
        } => {
            let id = id_of(kind, &id)?;
            store.update(&id, assignments(kind, &items)?)?;
            if out.json {
                let record = store.get(&id)?;
                out.record(store.policy(), &record)
            } else {
                Ok(())
            }
        }
    }
}

fn list(
    global: &Global,
    out: &Output,
    mut query: ListQuery,
    args: &ListArgs,
) -> anyhow::Result<()> {
    query.sort = args.sort.parse::<Sort>()?;
    query.descending = args.desc;
    query.owner = args.owner.clone();
    query.territory = args.territory.clone();
    query.limit = Some(args.limit);
    query.offset = args.offset;
    query.archived = match args.archived.as_str() {
        "include" => fieldwork_core::summary::Archived::Include,
        "only" => fieldwork_core::summary::Archived::Only,
        _ => fieldwork_core::summary::Archived::Exclude,
    };
    let store = device::open(global)?;
    out.summaries(&store.list(&query)?)
}

/// Lists records of `kind`, only the children of `account` when given.
fn list_of_account(
    global: &Global,
    out: &Output,
    kind: RecordKind,
    account: &Option<String>,
    args: &ListArgs,
) -> anyhow::Result<()> {
    let q = ListQuery {
        kind: Some(kind),
        account: account_filter(account)?,
        ..Default::default()
    };
    list(global, out, q, args)
}

fn account_filter(account: &Option<String>) -> anyhow::Result<Option<RecordId>> {
    account
        .as_deref()
        .map(|a| id_of(RecordKind::Account, a))
        .transpose()
}

/// `fieldwork account ...`
pub fn account(global: &Global, out: &Output, cmd: AccountCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Account;
    match cmd {
        AccountCmd::Add { name, set } => add(
            global,
            out,
            kind,
            vec![flag(kind, "name", &Some(name))?],
            &set,
        ),
        AccountCmd::List { stage, list: args } => {
            let q = ListQuery {
                kind: Some(kind),
                stage,
                ..Default::default()
            };
            list(global, out, q, &args)
        }
        AccountCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork contact ...`
pub fn contact(global: &Global, out: &Output, cmd: ContactCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Contact;
    match cmd {
        ContactCmd::Add {
            last_name,
            first_name,
            account,
            set,
        } => {
            let flags = vec![
                flag(kind, "last_name", &Some(last_name))?,
                flag(kind, "first_name", &first_name)?,
                flag(kind, "account", &account)?,
            ];
            add(global, out, kind, flags, &set)
        }
        ContactCmd::List {
            account,
            list: args,
        } => list_of_account(global, out, kind, &account, &args),
        ContactCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork deal ...`
pub fn deal(global: &Global, out: &Output, cmd: DealCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Deal;
    match cmd {
        DealCmd::Add {
            name,
            account,
            amount,
            currency,
            set,
        } => {
            let mut flags = vec![
                flag(kind, "name", &Some(name))?,
                flag(kind, "account", &Some(account))?,
            ];
            if let (Some(amount), Some(currency)) = (&amount, &currency) {
                let minor = money_to_minor(amount, currency)?;
                flags.push(Some(FieldWrite::set("amount", minor)));
            }
            flags.push(flag(kind, "currency", &currency)?);
            add(global, out, kind, flags, &set)
        }
        DealCmd::List {
            stage,
            account,
            list: args,
        } => {
            let q = ListQuery {
                kind: Some(kind),
                stage,
                account: account_filter(&account)?,
                ..Default::default()
            };
            list(global, out, q, &args)
        }
        DealCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork activity ...`
pub fn activity(global: &Global, out: &Output, cmd: ActivityCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Activity;
    match cmd {
        ActivityCmd::Add {
            kind: ty,
            subject,
            due,
            assignee,
            account,
            set,
        } => {
            let time_field = if matches!(ty.as_str(), "meeting" | "visit" | "call") {
                "starts_at"
            } else {
                "due_at"
            };
            let flags = vec![
                flag(kind, "type", &Some(ty))?,
                flag(kind, "subject", &Some(subject))?,
                flag(kind, time_field, &due)?,
                flag(kind, "assignee", &assignee)?,
                flag(kind, "account", &account)?,
            ];
            add(global, out, kind, flags, &set)
        }
        ActivityCmd::List {
            kind: ty,
            status,
            assignee,
            account,
            list: args,
        } => {
            let q = ListQuery {
                kind: Some(kind),
                r#type: ty,
                status,
                assignee,
                account: account_filter(&account)?,
                ..Default::default()
            };
            list(global, out, q, &args)
        }
        ActivityCmd::CheckIn { id, lat, lon } => visit_gps(global, &id, "check_in", lat, lon),
        ActivityCmd::CheckOut { id, lat, lon } => visit_gps(global, &id, "check_out", lat, lon),
        ActivityCmd::Common(c) => common(global, out, kind, c),
    }
}

/// Records a check-in or check-out: the time now and the coordinates.
fn visit_gps(global: &Global, id: &str, prefix: &str, lat: f64, lon: f64) -> anyhow::Result<()> {
    let id = id_of(RecordKind::Activity, id)?;
    let mut store = device::open(global)?;
    let visit = store.get(&id)?;
    anyhow::ensure!(
        visit.text("type") == Some("visit"),
        "{id} is a {}, not a visit",
        visit.text("type").unwrap_or("record")
    );
    let now = store.clock().now().to_string();
    store.update(
        &id,
        vec![
            FieldWrite::set(&format!("{prefix}_at"), now),
            FieldWrite::set(&format!("{prefix}_lat"), lat),
            FieldWrite::set(&format!("{prefix}_lon"), lon),
        ],
    )?;
    Ok(())
}

/// `fieldwork note ...`
pub fn note(global: &Global, out: &Output, cmd: NoteCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Note;
    match cmd {
        NoteCmd::Add {
            title,
            body,
            account,
            set,
        } => {
            let mut flags = vec![
                flag(kind, "title", &Some(title))?,
                flag(kind, "account", &account)?,
            ];
            flags.push(body.map(|b| FieldWrite::set("body", b)));
            add(global, out, kind, flags, &set)
        }
        NoteCmd::List {
            account,
            list: args,
        } => list_of_account(global, out, kind, &account, &args),
        NoteCmd::Edit {
            id,
            at,
            delete,
            insert,
        } => {
            let id = id_of(kind, &id)?;
            let mut store = device::open(global)?;
            store.splice_text(&id, "body", at, delete, &insert)?;
            Ok(())
        }
        NoteCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork relationship ...`
pub fn relationship(global: &Global, out: &Output, cmd: RelationshipCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Relationship;
    match cmd {
        RelationshipCmd::Add {
            kind: ty,
            from,
            to,
            set,
        } => {
            let account = [&from, &to]
                .into_iter()
                .find(|r| r.starts_with("account:"))
                .cloned();
            let flags = vec![
                flag(kind, "type", &Some(ty))?,
                flag(kind, "from", &Some(from))?,
                flag(kind, "to", &Some(to))?,
                flag(kind, "account", &account)?,
            ];
            add(global, out, kind, flags, &set)
        }
        RelationshipCmd::List {
            account,
            list: args,
        } => list_of_account(global, out, kind, &account, &args),
        RelationshipCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork target ...`
pub fn target(global: &Global, out: &Output, cmd: TargetCmd) -> anyhow::Result<()> {
    let kind = RecordKind::Target;
    match cmd {
        TargetCmd::Add {
            metric,
            period,
            goal,
            currency,
            assignee,
            territory,
            set,
        } => {
            let goal = match &currency {
                Some(c) => FieldWrite::set("goal", money_to_minor(&goal, c)?),
                None => FieldWrite::parse(kind, &format!("goal={goal}"))?,
            };
            let flags = vec![
                flag(kind, "metric", &Some(metric))?,
                flag(kind, "period", &Some(period))?,
                Some(goal),
                flag(kind, "currency", &currency)?,
                flag(kind, "assignee", &assignee)?,
                flag(kind, "territory", &territory)?,
            ];
            add(global, out, kind, flags, &set)
        }
        TargetCmd::List { list: args } => list_of_account(global, out, kind, &None, &args),
        TargetCmd::Common(c) => common(global, out, kind, c),
    }
}

/// `fieldwork search TEXT`
pub fn search(global: &Global, out: &Output, args: SearchArgs) -> anyhow::Result<()> {
    let kind = args
        .kind
        .as_deref()
        .map(str::parse::<RecordKind>)
        .transpose()?;
    let store = device::open(global)?;
    out.hits(&store.search(&args.text.join(" "), kind, args.limit)?)
}

/// `fieldwork history ID`
pub fn history(global: &Global, out: &Output, args: HistoryArgs) -> anyhow::Result<()> {
    let id: RecordId = args.id.parse()?;
    let mut store = device::open(global)?;
    out.history(&store.history(&id)?)
}

/// `fieldwork locale [LOCALE]`
pub fn locale(global: &Global, out: &Output, args: LocaleArgs) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    if let Some(locale) = args.locale {
        store.set_locale(&locale)?;
    }
    if out.json {
        out.json(&serde_json::json!({ "locale": store.locale() }))
    } else {
        println!("{}", store.locale());
        Ok(())
    }
}

/// `fieldwork fields KIND`: the schema (the policy's custom fields too) and
/// where the policy puts each field.
pub fn fields(global: &Global, out: &Output, args: FieldsArgs) -> anyhow::Result<()> {
    let kind: RecordKind = args.kind.parse()?;
    let store = device::open(global)?;
    #[derive(Serialize)]
    struct Field {
        name: &'static str,
        r#type: String,
        class: String,
        required: bool,
        system: bool,
        readable: bool,
    }
    let rows: Vec<Field> = store
        .policy()
        .fields(kind)
        .map(|d| {
            let class = store
                .policy()
                .class_of(kind, d.name)
                .map(|c| c.to_string())
                .unwrap_or_default();
            let readable = store
                .policy()
                .class_of(kind, d.name)
                .is_some_and(|c| store.access().can_read_class(c));
            Field {
                name: d.name,
                r#type: d.ty.describe(),
                class,
                required: d.required,
                system: d.system,
                readable,
            }
        })
        .collect();
    if out.json {
        return out.json(&rows);
    }
    for f in rows {
        let flags = [
            (f.required, "required"),
            (f.system, "system"),
            (!f.readable, "not readable"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| *s)
        .collect::<Vec<_>>()
        .join(", ");
        println!(
            "{:<18} {:<16} {}{}",
            f.name,
            f.class,
            f.r#type,
            if flags.is_empty() {
                String::new()
            } else {
                format!("  ({flags})")
            }
        );
    }
    Ok(())
}

/// `fieldwork verify`
pub fn verify(global: &Global, out: &Output) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    let problems = store.verify().context("verifying the store")?;
    if out.json {
        out.json(&serde_json::json!({ "ok": problems.is_empty(), "problems": problems }))?;
    } else if problems.is_empty() {
        println!("ok");
    } else {
        for p in &problems {
            println!("{p}");
        }
    }
    anyhow::ensure!(problems.is_empty(), "{} problem(s) found", problems.len());
    Ok(())
}
