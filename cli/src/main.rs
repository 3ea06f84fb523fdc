//! `fieldwork`: a Fieldwork device on the command line.
//!
//! The scriptable twin of the mobile app: the same core, the same device
//! store, the same sync. Every read command takes `--json`; every failure
//! prints one line starting with `error:` and exits non-zero (1 for
//! refused or failed operations, 2 for usage errors).
//!
//! Layout: [`args`] defines the command line, [`records`] the record
//! commands, [`sync`] signing in and syncing, [`processes`] tasks, calendars and process instances, [`reports`] the reports, [`output`] how results are printed, [`device`] how the store is
//! opened.

mod args;
mod device;
mod files;
mod output;
mod processes;
mod records;
mod reports;
mod sync;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the cause chain.
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let out = output::Output { json: cli.json };
    match cli.command {
        Command::Account(cmd) => records::account(&cli.global, &out, cmd),
        Command::Contact(cmd) => records::contact(&cli.global, &out, cmd),
        Command::Deal(cmd) => records::deal(&cli.global, &out, cmd),
        Command::Activity(cmd) => records::activity(&cli.global, &out, cmd),
        Command::Note(cmd) => records::note(&cli.global, &out, cmd),
        Command::Relationship(cmd) => records::relationship(&cli.global, &out, cmd),
        Command::Target(cmd) => records::target(&cli.global, &out, cmd),
        Command::Search(args) => records::search(&cli.global, &out, args),
        Command::History(args) => records::history(&cli.global, &out, args),
        Command::Attach(args) => files::attach(&cli.global, &out, args),
        Command::Attachment(args) => files::attachment(&cli.global, &out, args),
        Command::Locale(args) => records::locale(&cli.global, &out, args),
        Command::Fields(args) => records::fields(&cli.global, &out, args),
        Command::Verify => records::verify(&cli.global, &out),
        Command::Rekey => device::rekey(&cli.global, &out),
        Command::Login(args) => sync::login(&cli.global, &out, args),
        Command::Logout => sync::logout(&cli.global, &out),
        Command::Sync(args) => sync::sync(&cli.global, &out, args),
        Command::Status => sync::status(&cli.global, &out),
        Command::Quarantine(cmd) => sync::quarantine(&cli.global, &out, cmd),
        Command::Tasks(args) => processes::tasks(&cli.global, &out, args),
        Command::Calendar(args) => processes::calendar(&cli.global, &out, args),
        Command::Task(cmd) => processes::task(&cli.global, &out, cmd),
        Command::Process(cmd) => processes::process(&cli.global, &out, cmd),
        Command::Report(args) => reports::report(&cli.global, &out, args),
    }
}
