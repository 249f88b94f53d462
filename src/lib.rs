//! herdctl
#![cfg_attr(test, allow(clippy::unwrap_used))]
pub mod admin;
pub mod attach;
pub mod bench;
pub mod cli;
pub mod client;
pub mod command;
pub mod config;
pub mod deploy;
pub mod export;
pub mod headless;
pub mod herd;
pub mod lab;
pub mod places;
pub mod protocol;
pub mod scenario;
pub mod trace;
pub mod tui;
pub mod wall;
