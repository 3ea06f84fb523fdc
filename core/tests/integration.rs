//! The core's integration tests, one module per subject, linked into ONE
//! test binary: each binary links the whole core and its dependencies, so
//! one binary instead of one per file saves gigabytes of disk and minutes
//! of linking on a fresh machine. Run one subject with
//! `cargo test --workspace --test integration -- crash::`.

mod common;

mod attachments;
mod bad_input;
mod before_sign_in;
mod bpmn_import;
mod card;
mod crash;
mod custom_fields;
mod encryption;
mod engine_containment;
mod fuzz_regressions;
mod merge;
mod paging;
mod policy_first;
mod processes;
mod reports;
mod store_basics;
