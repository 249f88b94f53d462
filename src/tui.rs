//! The operator console: a ratatui dashboard over a running herd.

pub mod command;
pub mod playback;
pub mod clients;
pub mod traffic;
