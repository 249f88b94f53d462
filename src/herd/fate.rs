//! Placeholder: a report's fate on one directed link (replaced by the full module).
#![allow(dead_code)]

use std::time::Duration;

use super::control::{Delay, Directed, Loss};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkFaults {
    pub cut: bool,
    pub delay: Option<Delay>,
    pub loss: Option<Loss>,
    pub dup: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Cut,
    Lost,
    Deliver { copies: u8, delay: Duration },
}

pub struct FateKey<'a> {
    pub seed: u64,
    pub link: Directed,
    pub client: &'a str,
    pub time: &'a str,
    pub hop: u32,
}

#[derive(Debug, Clone)]
pub struct LossChain;

impl LossChain {
    pub fn new(_seed: u64, _link: Directed, _loss: Loss) -> Self {
        Self
    }
}

pub fn fate(_key: &FateKey<'_>, faults: &LinkFaults, _chain: Option<&mut LossChain>) -> Fate {
    if faults.cut {
        return Fate::Cut;
    }
    if faults.loss.is_some_and(|l| l.rate >= 1.0) {
        return Fate::Lost;
    }
    let copies = if faults.dup.is_some_and(|d| d >= 1.0) { 2 } else { 1 };
    Fate::Deliver { copies, delay: faults.delay.map_or(Duration::ZERO, |d| d.delay) }
}
