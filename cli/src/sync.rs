//! Signing in, syncing, and what sync left behind (status, quarantine).

use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use fieldwork_sdk::{Backoff, Device, SyncStatus, login};
use serde::Serialize;

use crate::args::{Global, LoginArgs, QuarantineCmd, SyncArgs};
use crate::device;
use crate::output::Output;

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn open_device(global: &Global) -> anyhow::Result<Device> {
    device::open_device(global)
}

/// `fieldwork login`
pub fn login(global: &Global, out: &Output, args: LoginArgs) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let ca_pem = match &args.ca {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the CA file {}", file.display()))?,
        ),
        None => None,
    };
    let transport = fieldwork_core::store::Transport {
        ca_pem,
        pin_sha256: args.pin.clone(),
        insecure_http: args.insecure_http,
    };
    let device = open_device(global)?;
    runtime()?.block_on(login::login(
        &device,
        &args.server,
        &args.user,
        &password,
        transport,
    ))?;
    let sign_in = device
        .with_store(|s| s.sign_in())?
        .context("not signed in after login")?;
    if out.json {
        out.json(&serde_json::json!({ "user": sign_in.user, "server": sign_in.server }))
    } else {
        println!(
            "signed in as {} ({}) at {}",
            sign_in.user.name, sign_in.user.role, sign_in.server
        );
        Ok(())
    }
}

/// `fieldwork logout`
pub fn logout(global: &Global, _out: &Output) -> anyhow::Result<()> {
    let device = open_device(global)?;
    runtime()?.block_on(login::logout(&device))?;
    Ok(())
}

/// `fieldwork sync [--watch]`
pub fn sync(global: &Global, out: &Output, args: SyncArgs) -> anyhow::Result<()> {
    let device = open_device(global)?;
    let rt = runtime()?;
    if !args.watch {
        let report = rt.block_on(device.sync_once(Duration::from_secs(args.timeout)))?;
        let pending = device.with_store(|s| s.outbox_len())?;
        if out.json {
            return out.json(&serde_json::json!({ "report": report, "pending": pending }));
        }
        println!(
            "up to date: sent {} change(s), {} record(s) changed here, {} edit(s) refused, {} file(s) uploaded, {} downloaded{}",
            report.pushed,
            report.changed,
            report.refused,
            report.files.uploaded,
            report.files.downloaded,
            if report.refused > 0 {
                " (see `fieldwork quarantine list`)"
            } else {
                ""
            }
        );
        return Ok(());
    }
    rt.block_on(async move {
        let mut statuses = device.subscribe_status();
        let handle = device.start_sync(Backoff::default());
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                changed = statuses.changed() => {
                    if changed.is_err() { break; }
                    let status = statuses.borrow().clone();
                    print_status(out, &status);
                    if handle.is_finished() { break; }
                }
            }
        }
        handle.stop().await;
        anyhow::Ok(())
    })
}

fn print_status(out: &Output, status: &SyncStatus) {
    if out.json {
        if let Ok(line) = serde_json::to_string(status) {
            println!("{line}");
        }
        return;
    }
    let text = match status {
        SyncStatus::Offline => "offline".to_owned(),
        SyncStatus::Connecting => "connecting".to_owned(),
        SyncStatus::Syncing {
            done,
            total: Some(total),
            pending,
        } => {
            format!("syncing {done} of {total} documents, {pending} local change(s) to send")
        }
        SyncStatus::Syncing {
            done,
            total: None,
            pending,
        } => {
            format!("syncing ({done} documents received, {pending} local change(s) to send)")
        }
        SyncStatus::UpToDate => "up to date".to_owned(),
        SyncStatus::Error { message, .. } => format!("error: {message} (retrying)"),
        SyncStatus::NeedsLogin { message } => format!("signed out: {message} (run login)"),
        SyncStatus::Wiped => {
            "wiped by the administrator: the local data and keys are deleted".to_owned()
        }
    };
    eprintln!("{text}");
}

/// `fieldwork status`
pub fn status(global: &Global, out: &Output) -> anyhow::Result<()> {
    let device = open_device(global)?;
    let signed_in = device.signed_in()?;
    let store = device.lock_store()?;
    #[derive(Serialize)]
    struct Status {
        device_id: String,
        user: Option<String>,
        role: Option<String>,
        server: Option<String>,
        signed_in: bool,
        pending_changes: usize,
        quarantined: usize,
        synced_up_to: Option<u64>,
    }
    let sign_in = store.sign_in()?;
    let s = Status {
        device_id: store.device_id().to_owned(),
        user: sign_in.as_ref().map(|s| s.user.name.clone()),
        role: sign_in.as_ref().map(|s| s.user.role.clone()),
        server: sign_in.as_ref().map(|s| s.server.clone()),
        signed_in,
        pending_changes: store.outbox_len()?,
        quarantined: store.quarantine()?.len(),
        synced_up_to: store.cursor()?.map(|c| c.seq),
    };
    if out.json {
        return out.json(&s);
    }
    match (&s.user, &s.server) {
        (Some(u), Some(server)) => println!(
            "{} ({}) at {}{}",
            u,
            s.role.as_deref().unwrap_or("?"),
            server,
            if s.signed_in { "" } else { " — signed out" }
        ),
        _ => println!("not signed in (local device)"),
    }
    println!(
        "{} local change(s) not yet acknowledged by the server",
        s.pending_changes
    );
    println!("{} refused edit(s) in quarantine", s.quarantined);
    Ok(())
}

/// `fieldwork quarantine list|dismiss`
pub fn quarantine(global: &Global, out: &Output, cmd: QuarantineCmd) -> anyhow::Result<()> {
    let mut store = device::open(global)?;
    match cmd {
        QuarantineCmd::List => {
            let items = store.quarantine()?;
            if out.json {
                return out.json(&items);
            }
            for q in items {
                println!(
                    "#{}  {}  {} = {}  refused: {} ({}, rule {})",
                    q.id, q.record, q.field, q.value, q.message, q.code, q.rule
                );
            }
            Ok(())
        }
        QuarantineCmd::Dismiss { id } => Ok(store.dismiss_quarantined(id)?),
    }
}
