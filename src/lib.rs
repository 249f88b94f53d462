//! herdctl
pub mod protocol;
