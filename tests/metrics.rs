//! The laboratory's folds over a real herd on TCP: the metrics of one update on cs131 with and
//! without faults, and the answers of `why`.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestHerd;
use herdctl::herd::ServerId;
use herdctl::lab::{Metrics, UpdateMetrics, Why, why};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::timeout;

const T: &str = "1621464827.5";

/// A test herd and the metrics folded from its events.
struct Lab {
    t: TestHerd,
    metrics: Metrics,
    names: Vec<String>,
}

impl Lab {
    async fn start(preset: &str) -> Self {
        let t = common::start(preset).await;
        let topology = t.herd.topology().clone();
        let names = topology.servers.iter().map(|s| s.name.clone()).collect();
        Self { metrics: Metrics::new(&topology), t, names }
    }

    fn id(&self, name: &str) -> ServerId {
        self.t.id(name)
    }

    /// Folds events in until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&Metrics) -> bool) {
        let fold = async {
            while !done(&self.metrics) {
                match self.t.events.recv().await {
                    Ok(event) => self.metrics.apply(&event),
                    Err(RecvError::Lagged(n)) => panic!("lost {n} events"),
                    Err(RecvError::Closed) => panic!("event bus closed"),
                }
            }
        };
        if timeout(common::PATIENCE, fold).await.is_err() {
            let newest: Vec<&UpdateMetrics> = self.metrics.updates().collect();
            panic!("timed out waiting for {what}: {newest:#?}");
        }
    }

    /// Folds events in until the newest update of `client` has every copy decided (none
    /// queued, held or in the wire) and `done` holds for it.
    async fn settled(&mut self, client: &str, done: impl Fn(&UpdateMetrics) -> bool) {
        self.until(&format!("{client} to settle"), |m| {
            m.newest(client).is_some_and(|u| {
                let trace = m.trace(&u.update).unwrap();
                trace.pending().count() == 0 && done(u)
            })
        })
        .await;
    }

    fn newest(&self, client: &str) -> &UpdateMetrics {
        self.metrics.newest(client).unwrap()
    }

    fn why(&self, client: &str, server: &str) -> Why {
        why(&self.metrics, client, self.id(server), &self.names)
    }
}

#[tokio::test]
async fn one_update_on_cs131_costs_eight_messages_and_converges() {
    let mut lab = Lab::start("cs131").await;
    lab.t.iamat("Bailey", "kiwi", "+1+2", T).await;
    lab.settled("kiwi", UpdateMetrics::converged).await;
    let m = lab.newest("kiwi");
    assert_eq!((m.origin, m.messages, m.coverage), (lab.id("Bailey"), 8, (5, 5)));
    // Every copy that arrived and was not stored is a duplicate: 8 sent, 4 stored.
    assert_eq!(m.duplicates, 4);
    assert_eq!(m.rmr, Some(1.0), "8/4 - 1");
    assert!(m.drops.is_empty() && m.stranded.is_empty(), "{m:?}");
    // Clark and Jaquez are two hops out, or three when one learns it from the other first.
    assert!(matches!(m.last_hop, Some(2 | 3)), "{m:?}");
    assert!(m.convergence_ns.is_some());
    let summary = lab.metrics.summary();
    assert_eq!((summary.updates, summary.converged, summary.messages), (1, 1, 8));
    let answer = lab.why("kiwi", "Jaquez");
    let Why::Knows { path, .. } = &answer else { panic!("{answer:?}") };
    assert_eq!((path.first(), path.last()), (Some(&lab.id("Bailey")), Some(&lab.id("Jaquez"))));
    let text = answer.text(&lab.names);
    assert!(text.starts_with("Jaquez has kiwi@1621464827.5 via "), "{text}");
    assert!(text.contains(" <- Bailey, ") && text.ends_with(" ms after it started"), "{text}");
}

#[tokio::test]
async fn a_total_loss_is_counted_under_its_fault() {
    let mut lab = Lab::start("cs131").await;
    lab.t.control("loss Bona->Clark 100%").await;
    lab.t.iamat("Bona", "kiwi", "+1+2", T).await;
    lab.settled("kiwi", |u| u.converged() && !u.drops.is_empty()).await;
    let m = lab.newest("kiwi");
    let drops: Vec<(&str, u64)> = m.drops.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(drops, [("loss Bona->Clark 100%", 1)]);
    assert_eq!(m.coverage, (5, 5));
    // Clark learnt it the long way round.
    let answer = lab.why("kiwi", "Clark");
    let (bona, campbell, jaquez, clark) =
        (lab.id("Bona"), lab.id("Campbell"), lab.id("Jaquez"), lab.id("Clark"));
    let Why::Knows { from, path, .. } = &answer else { panic!("{answer:?}") };
    assert_eq!((*from, path.as_slice()), (Some(jaquez), &[bona, campbell, jaquez, clark][..]));
    let text = answer.text(&lab.names);
    assert!(
        text.starts_with("Clark has kiwi@1621464827.5 via Jaquez <- Campbell <- Bona, "),
        "{text}"
    );
}

#[tokio::test]
async fn a_partition_converges_on_its_side_and_blocks_the_other() {
    let mut lab = Lab::start("cs131").await;
    lab.t.control("partition Bailey,Bona / Campbell").await;
    let label = "partition Bailey,Bona / Campbell,Clark,Jaquez";
    lab.t.iamat("Bailey", "left", "+1+2", T).await;
    // Three crossing links drop a copy each: Bailey->Campbell, Bona->Campbell, Bona->Clark.
    lab.settled("left", |u| u.converged() && u.drops.values().sum::<u64>() == 3).await;
    let bailey = lab.id("Bailey");
    assert_eq!(lab.metrics.reachable(bailey), [true, true, false, false, false]);
    let m = lab.newest("left");
    assert_eq!((m.coverage, m.messages, m.drops.get(label)), ((2, 5), 1, Some(&3)));
    assert!(m.stranded.is_empty());
    let answer = lab.why("left", "Campbell");
    let Why::Blocked { blocks, .. } = &answer else { panic!("{answer:?}") };
    let across: Vec<(&str, &str)> = blocks
        .iter()
        .filter(|b| b.reason == label)
        .map(|b| (lab.names[b.from].as_str(), lab.names[b.to].as_str()))
        .collect();
    assert_eq!(across, [("Bailey", "Campbell"), ("Bona", "Campbell"), ("Bona", "Clark")]);
    let text = answer.text(&lab.names);
    assert!(
        text.starts_with(
            "Campbell never got left@1621464827.5: Bailey->Campbell dropped it (partition"
        ),
        "{text}"
    );
    // Healed, the far side is stranded: the update no longer counts as converged.
    lab.t.control("heal all").await;
    lab.until("the heal", |m| m.reachable(bailey).iter().all(|r| *r)).await;
    let m = lab.newest("left");
    assert_eq!((m.stranded.len(), m.convergence_ns), (3, None));
}

#[tokio::test]
async fn a_killed_server_forgets_and_says_so() {
    let mut lab = Lab::start("cs131").await;
    lab.t.iamat("Bailey", "kiwi", "+1+2", T).await;
    lab.settled("kiwi", |u| u.coverage == (5, 5)).await;
    lab.t.control("kill Clark").await;
    let clark = lab.id("Clark");
    lab.until("Clark to stop", |m| !m.is_up(clark)).await;
    let m = lab.newest("kiwi");
    assert_eq!(m.coverage, (4, 5));
    assert!(m.converged(), "Clark is out of reach: the rest all hold it");
    let answer = lab.why("kiwi", "Clark");
    assert_eq!(answer.text(&lab.names), "Clark lacks kiwi@1621464827.5: Clark is killed");
    // A later update goes round it; Clark is named killed.
    lab.t.iamat("Bona", "later", "+1+2", T).await;
    lab.settled("later", |u| u.coverage == (4, 5)).await;
    assert!(lab.newest("later").converged());
    let text = lab.why("later", "Clark").text(&lab.names);
    assert_eq!(text, "Clark lacks later@1621464827.5: Clark is killed");
}
