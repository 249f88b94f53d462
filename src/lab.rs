//! The flood laboratory's measurements over the herd's event stream.

pub mod metrics;
