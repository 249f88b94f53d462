//! herdctl
#![cfg_attr(test, allow(clippy::unwrap_used))]
pub mod bench;
pub mod cli;
pub mod command;
pub mod config;
pub mod herd;
pub mod places;
pub mod protocol;
pub mod tui;
