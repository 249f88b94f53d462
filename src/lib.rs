//! herdctl
#![cfg_attr(test, allow(clippy::unwrap_used))]
pub mod bench;
pub mod cli;
pub mod client;
pub mod command;
pub mod config;
pub mod headless;
pub mod herd;
pub mod lab;
pub mod places;
pub mod protocol;
pub mod tui;
