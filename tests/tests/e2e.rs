//! The end-to-end tests, one module per subject, linked into ONE test
//! binary: every module starts real servers on port 0 with real device
//! stores, so each separate binary would link the server, the SDK and the
//! core again (about 350 MB each in a debug build). One binary saves
//! gigabytes of disk and minutes of linking on a fresh machine. Run one
//! subject with `cargo test --workspace --test e2e -- tls::`.

mod api_admin;
mod api_archive;
mod api_calendar;
mod api_duplicates;
mod api_export;
mod api_files;
mod api_gdpr;
mod api_keys;
mod api_processes;
mod api_records;
mod api_reports;
mod api_search;
mod api_webhooks;
mod attachments;
mod attacks_bounds;
mod attacks_connections;
mod attacks_login;
mod attacks_processes;
mod convergence;
mod convergence_property;
mod custom_fields;
mod gdpr_erasure;
mod import;
mod live;
mod merge;
mod module_tree;
mod privacy;
mod process_actions;
mod process_calls;
mod process_fixtures;
mod process_hours;
mod process_migration;
mod process_outcomes;
mod process_parallel;
mod process_subprocess;
mod process_waits;
mod processes;
mod protocol_abuse;
mod push_property;
mod quarantine_retry;
mod remote_wipe;
mod resilience;
mod rule_book;
mod targets;
mod tls;
mod web;
mod web_admin;
mod web_i18n;
mod web_import;
mod web_processes;
mod web_records;
