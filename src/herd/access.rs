//! What the console's faces (dashboard, `--control stdin`, scenarios, recordings) need of a
//! herd, as one trait: a herd in this process ([`super::HerdHandle`]) and one attached over
//! its servers' admin endpoints (`herdctl attach`) both offer it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::control::{Applied, Control, ControlError, Policy};
use super::events::{ServerId, Subscription};
use super::{HerdHandle, HerdSnapshot};
use crate::config::Topology;

/// A herd the console watches and steers.
pub trait Herdlike: Clone + Send + Sync + 'static {
    fn topology(&self) -> &Topology;
    /// Server names by id.
    fn names(&self) -> &[String];
    /// Every event from now on.
    fn events(&self) -> Subscription;
    fn snapshot(&self) -> HerdSnapshot;
    /// Carries out one control.
    fn apply(
        &self,
        control: Control,
    ) -> impl Future<Output = Result<Applied, ControlError>> + Send + '_;
    /// Where clients reach server `id`.
    fn addr(&self, id: ServerId) -> Option<SocketAddr>;
    fn paused(&self) -> bool;
    /// Reports held while paused.
    fn held(&self) -> usize;
    /// The delay every link without one of its own has (`delay all`).
    fn link_delay(&self) -> Duration;
    fn policy(&self) -> Policy;
    /// What the console can see of each server (for `status`).
    fn status(&self) -> Vec<ServerStatus> {
        self.snapshot()
            .servers
            .into_iter()
            .map(|s| ServerStatus {
                name: s.name,
                known: true,
                up: s.up,
                boot: None,
                version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            })
            .collect()
    }
    /// Can the console see server `id` now? (An attached console cannot while the server's
    /// admin endpoint is unreachable: its state is unknown, not down.)
    fn seen(&self, _id: ServerId) -> bool {
        true
    }
    /// Takes what the watch learned since last asked (nothing, for a herd in this process).
    fn take_news(&self) -> News {
        News::default()
    }
}

/// One server as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    pub name: String,
    /// False while the console cannot see it (its admin endpoint is unreachable): then `up`
    /// is what was last seen, not known.
    pub known: bool,
    pub up: bool,
    /// The boot id of the process that runs it, when attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<String>,
    /// The herdctl version that runs it, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What an attached console's watch learned: the view must be rebuilt from a snapshot (events
/// were lost, `missed` of them where counted, or a server's process started anew), and what
/// the operator should be told.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct News {
    /// Rebuild the view from [`Herdlike::snapshot`], counting `missed` events as lost.
    pub resync: Option<u64>,
    /// Warnings, each one line.
    pub notices: Vec<String>,
}

impl Herdlike for HerdHandle {
    fn topology(&self) -> &Topology {
        HerdHandle::topology(self)
    }
    fn names(&self) -> &[String] {
        HerdHandle::names(self)
    }
    fn events(&self) -> Subscription {
        HerdHandle::events(self)
    }
    fn snapshot(&self) -> HerdSnapshot {
        HerdHandle::snapshot(self)
    }
    fn apply(
        &self,
        control: Control,
    ) -> impl Future<Output = Result<Applied, ControlError>> + Send + '_ {
        HerdHandle::apply(self, control)
    }
    fn addr(&self, id: ServerId) -> Option<SocketAddr> {
        HerdHandle::addr(self, id)
    }
    fn paused(&self) -> bool {
        HerdHandle::paused(self)
    }
    fn held(&self) -> usize {
        HerdHandle::held(self)
    }
    fn link_delay(&self) -> Duration {
        HerdHandle::link_delay(self)
    }
    fn policy(&self) -> Policy {
        HerdHandle::policy(self)
    }
}
