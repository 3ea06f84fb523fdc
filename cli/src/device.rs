//! Opening the device store from the command line's options.

use std::path::PathBuf;

use anyhow::Context;
use fieldwork_core::Store;
use fieldwork_core::clock::clock_from_env;

use crate::args::Global;

/// The store file inside a data directory.
pub const STORE_FILE: &str = "device.db";

/// The data directory: `--data`, `FIELDWORK_DATA`, or the per-user default.
pub fn data_dir(global: &Global) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.data {
        return Ok(dir.clone());
    }
    directories::ProjectDirs::from("", "", "fieldwork")
        .map(|d| d.data_dir().to_owned())
        .context("no home directory to keep data in; pass --data DIR")
}

/// Opens (creating if needed) the device store, with the clock from
/// `FIELDWORK_NOW` when it is set, and runs due process timers (the engine
/// runs wherever the data is, whenever the device is used).
pub fn open(global: &Global) -> anyhow::Result<Store> {
    let dir = data_dir(global)?;
    let clock = clock_from_env()?;
    let mut store = Store::open(&dir.join(STORE_FILE), clock)?;
    if let Err(e) = store.run_processes() {
        eprintln!("warning: processes could not run: {e}");
    }
    Ok(store)
}

/// Prints what the process engine could not do after a write (the write
/// itself is saved).
pub fn report_engine(store: &mut Store) {
    for p in store.engine_problems() {
        eprintln!("warning: process engine: {p}");
    }
}
