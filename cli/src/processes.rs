//! Tasks, calendars and process instances on the device.

use fieldwork_core::process::runner::Control;
use fieldwork_core::{RecordId, RecordKind, Store};

use crate::args::{CalendarArgs, Global, ProcessCmd, TaskCmd, TasksArgs};
use crate::device;
use crate::output::Output;

fn me(store: &Store, user: Option<String>) -> String {
    user.unwrap_or_else(|| store.author())
}

fn instance(text: &str) -> anyhow::Result<RecordId> {
    let id: RecordId = text.parse()?;
    anyhow::ensure!(
        id.kind() == RecordKind::ProcessInstance,
        "{id} is not a process instance"
    );
    Ok(id)
}

fn print_items(items: &[fieldwork_core::process::tasks::Item]) {
    for i in items {
        println!(
            "  {:<17} {:<7} {}  [{}]",
            i.local.as_deref().unwrap_or("(no date)"),
            i.kind,
            i.subject,
            i.id
        );
    }
}

/// `fieldwork tasks`
pub fn tasks(global: &Global, out: &Output, args: TasksArgs) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    let user = me(&store, args.user);
    let list = store.tasks(&user, args.tz.as_deref())?;
    if out.json {
        return out.json(&list);
    }
    println!("{user}'s tasks ({})", list.time_zone);
    for (title, items) in [
        ("overdue", &list.overdue),
        ("today", &list.today),
        ("upcoming", &list.upcoming),
        ("no date", &list.undated),
    ] {
        if !items.is_empty() {
            println!("{title}:");
            print_items(items);
        }
    }
    Ok(())
}

/// `fieldwork calendar`
pub fn calendar(global: &Global, out: &Output, args: CalendarArgs) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    let user = me(&store, args.user);
    let items = store.calendar(&user, &args.from, &args.to, args.tz.as_deref())?;
    if out.json {
        return out.json(&items);
    }
    print_items(&items);
    Ok(())
}

/// `fieldwork task done`
pub fn task(global: &Global, out: &Output, cmd: TaskCmd) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    let TaskCmd::Done { id, outcome } = cmd;
    let id: RecordId = id.parse()?;
    anyhow::ensure!(
        id.kind() == RecordKind::Activity,
        "{id} is not a task or activity"
    );
    let inst = store.complete_task_with(&id, outcome.as_deref())?;
    device::report_engine(&mut store);
    if out.json {
        return out.json(
            &serde_json::json!({ "done": id.to_string(), "instance": inst.map(|i| i.to_string()) }),
        );
    }
    println!("done: {id}");
    Ok(())
}

/// `fieldwork process ...`
pub fn process(global: &Global, out: &Output, cmd: ProcessCmd) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    let show = |store: &mut Store, id: &RecordId, out: &Output| -> anyhow::Result<()> {
        let card = store.process_card(id)?;
        if out.json {
            return out.json(&card);
        }
        println!(
            "{} v{} on {}: {:?}",
            card.model_name, card.version, card.record, card.status
        );
        if !card.open_steps.is_empty() && card.open_steps.as_slice() != card.current.as_slice() {
            println!("  waiting at: {}", card.open_steps.join(", "));
        }
        for v in &card.history {
            let left = match (&v.left_at, &v.via, &v.by) {
                (Some(at), Some(via), Some(by)) => format!("left {at} via {via} by {by}"),
                _ => "current".to_owned(),
            };
            let act = v
                .activity
                .as_ref()
                .map(|(a, s)| format!(" [{a}: {s}]"))
                .unwrap_or_default();
            let outcome = v
                .outcome
                .as_ref()
                .map(|o| format!(" outcome: {o}"))
                .unwrap_or_default();
            let called = v
                .called
                .as_ref()
                .map(|c| format!(" runs {c}"))
                .unwrap_or_default();
            // A path's visits are indented under their parallel step.
            let indent = if v.path.is_some() { "    " } else { "" };
            println!(
                "  {indent}{:>2}. {:<24} entered {}  {left}{act}{outcome}{called}",
                v.pos, v.name, v.entered_at
            );
        }
        for (key, e) in &card.superseded {
            println!(
                "  superseded: {key} at {} by {} (a concurrent step won)",
                e.at, e.by
            );
        }
        for (_, e) in &card.controls {
            match &e.message {
                Some(m) => println!("  message `{m}` at {} by {}", e.at, e.by),
                None => println!("  {:?} at {} by {}", e.kind, e.at, e.by),
            }
        }
        if !card.awaits.is_empty() {
            println!(
                "  waits for: {} (fieldwork process message ID NAME)",
                card.awaits.join(", ")
            );
        }
        if let Some(w) = card.wake_at {
            println!("  next timer: {w}");
        }
        if let Some(s) = &card.stuck {
            println!("  stuck: {s}");
        }
        if let Some(h) = &card.held {
            println!("  held: {h}");
        }
        Ok(())
    };
    match cmd {
        ProcessCmd::List => {
            let list = store.process_instances()?;
            if out.json {
                return out.json(&list);
            }
            for p in list {
                println!(
                    "{}  {} v{}  {:?}  at {}  on {}",
                    p.id,
                    p.model_key,
                    p.version,
                    p.status,
                    p.current.unwrap_or_default(),
                    p.record
                );
            }
            Ok(())
        }
        ProcessCmd::Show { id } => show(&mut store, &instance(&id)?, out),
        ProcessCmd::Start { key, record } => {
            let id = store.start_process(&key, &record.parse()?)?;
            show(&mut store, &id, out)
        }
        ProcessCmd::Stop { id } => control(&mut store, &id, Control::Stop, out, show),
        ProcessCmd::Suspend { id } => control(&mut store, &id, Control::Suspend, out, show),
        ProcessCmd::Resume { id } => control(&mut store, &id, Control::Resume, out, show),
        ProcessCmd::Message { id, name } => {
            control(&mut store, &id, Control::Message(name), out, show)
        }
        ProcessCmd::Param { id, assignment } => {
            let (name, value) = assignment
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("`{assignment}` is not NAME=VALUE"))?;
            control(
                &mut store,
                &id,
                Control::Parameter(name.trim().to_owned(), value.to_owned()),
                out,
                show,
            )
        }
        ProcessCmd::Models => {
            let mut models: Vec<_> = store
                .process_models()?
                .into_iter()
                .map(|m| serde_json::json!({ "key": m.file.key, "version": m.version, "name": m.file.name }))
                .collect();
            models.sort_by_key(|m| (m["key"].to_string(), m["version"].as_i64()));
            if out.json {
                return out.json(&models);
            }
            for m in models {
                println!(
                    "{}\tv{}\t{}",
                    m["key"].as_str().unwrap_or_default(),
                    m["version"],
                    m["name"].as_str().unwrap_or_default()
                );
            }
            Ok(())
        }
        ProcessCmd::Run => {
            let n = store.run_processes()?;
            if out.json {
                return out.json(&serde_json::json!({ "ran": n }));
            }
            println!("ran {n} instance(s)");
            Ok(())
        }
        ProcessCmd::Monitor => {
            let report = store.process_monitor()?;
            let text = if out.json {
                format!("{}\n", serde_json::to_string_pretty(&report)?)
            } else {
                fieldwork_core::process::monitor::table(&report)
            };
            print_quietly(&text)
        }
    }
}

/// Writes `text` to standard output; a reader that went away (`| head`)
/// ends the command quietly and successfully, not with a panic.
fn print_quietly(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn control(
    store: &mut Store,
    id: &str,
    c: Control,
    out: &Output,
    show: impl Fn(&mut Store, &RecordId, &Output) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let id = instance(id)?;
    store.control_process(&id, c)?;
    show(store, &id, out)
}
