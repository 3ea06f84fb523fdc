//! Opening the device store from the command line's options.

use std::path::PathBuf;

use anyhow::Context;
use fieldwork_core::Store;
use fieldwork_core::clock::clock_from_env;
use fieldwork_sdk::{Device, FileSecrets};

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

/// The key directory: `--keys`, `FIELDWORK_KEYS`, or `keys` in the data
/// directory. It holds the store's key and the session token, one 0600 file
/// each, in a 0700 directory.
pub fn keys_dir(global: &Global) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.keys {
        return Ok(dir.clone());
    }
    Ok(data_dir(global)?.join("keys"))
}

/// The secrets of this device (its key files).
pub fn secrets(global: &Global) -> anyhow::Result<FileSecrets> {
    Ok(FileSecrets::new(keys_dir(global)?))
}

/// Opens (creating if needed) the encrypted device store with its key file,
/// with the clock from `FIELDWORK_NOW` when it is set. The store runs due
/// process timers as it opens; what it could not do is printed as a warning.
pub fn open(global: &Global) -> anyhow::Result<Store> {
    let dir = data_dir(global)?;
    let clock = clock_from_env()?;
    let path = dir.join(STORE_FILE);
    let keys = keys_dir(global)?;
    let mut store =
        fieldwork_sdk::keys::open_store(&path, clock, &secrets(global)?).map_err(|e| {
            use fieldwork_core::CoreError;
            use fieldwork_sdk::SdkError;
            match e {
                SdkError::Core(CoreError::KeyRequired) => anyhow::anyhow!(
                    "{} is encrypted and {} holds no key for it (pass --keys DIR)",
                    path.display(),
                    keys.display()
                ),
                SdkError::Core(CoreError::WrongKey) => anyhow::anyhow!(
                    "{}: the store could not be opened with this key (from {})",
                    path.display(),
                    keys.display()
                ),
                other => other.into(),
            }
        })?;
    report_engine(&mut store);
    Ok(store)
}

/// The device handle (store and secrets) for commands that talk to the server.
pub fn open_device(global: &Global) -> anyhow::Result<Device> {
    let device = Device::from_store(open(global)?, std::sync::Arc::new(secrets(global)?));
    // Shown to administrators in `fieldwork-server device list`.
    device.set_app_version(concat!("fieldwork-cli/", env!("CARGO_PKG_VERSION")));
    Ok(device)
}

/// `fieldwork rekey`: a new random key in the key directory, the store
/// re-encrypted under it (see `fieldwork_sdk::keys`).
pub fn rekey(global: &Global, out: &crate::output::Output) -> anyhow::Result<()> {
    let device = open_device(global)?;
    device.rekey()?;
    if out.json {
        return out.json(&serde_json::json!({ "rekeyed": true }));
    }
    println!("the device store is now encrypted under a new key");
    Ok(())
}

/// Prints what the process engine could not do (on opening, after a write:
/// the write itself is saved).
pub fn report_engine(store: &mut Store) {
    for p in store.engine_problems() {
        eprintln!("warning: process engine: {p}");
    }
}
