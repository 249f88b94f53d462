//! A report's fate on one directed link, as a pure function of a key: the link's faults (cut,
//! loss, duplication, delay with jitter) decide whether the line is cut, lost, or delivered
//! once or twice and how late. Every random choice is drawn from a keyed hash of the seed, the
//! link, the report and its hop, with a separate tag per decision, so the same key and faults
//! always give the same fate, whatever else the herd did, and the loss, duplication and jitter
//! draws are independent of each other. Bursty loss is the one stateful exception: a
//! [`LossChain`] per directed link, itself seeded from the seed and the link.

use std::hash::Hasher;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_distr::{Distribution, Normal};
use siphasher::sip::SipHasher13;

use super::control::{Delay, Directed, Loss, Spread};
use super::events::LinkFaultsView;

/// What happens to one line on one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// The link is cut.
    Cut,
    /// Lost to the link's loss rate.
    Lost,
    /// Delivered `copies` times (1, or 2 when duplicated), each `delay` late.
    Deliver { copies: u8, delay: Duration },
}

/// What a fate is drawn from: the herd's seed, the link, and the report (its client and
/// client time as written, and how many servers it has crossed).
#[derive(Debug, Clone, Copy)]
pub struct FateKey<'a> {
    pub seed: u64,
    pub link: Directed,
    pub client: &'a str,
    pub time: &'a str,
    pub hop: u32,
}

/// One independent draw per decision.
#[derive(Debug, Clone, Copy)]
enum Tag {
    Loss = 1,
    Dup = 2,
    Jitter = 3,
    Chain = 4,
}

/// The fate of the line `key` on a link with `faults`. A cut wins over everything, then loss,
/// then duplication and delay. `chain`, if given, decides loss instead of the keyed draw (and
/// steps once); it is not stepped for a line the cut already stopped.
pub fn fate(key: &FateKey, faults: &LinkFaultsView, chain: Option<&mut LossChain>) -> Fate {
    if faults.cut {
        return Fate::Cut;
    }
    if let Some(loss) = faults.loss {
        let lost = match chain {
            Some(chain) => chain.step(),
            None => unit(draw(key, Tag::Loss)) < loss.rate,
        };
        if lost {
            return Fate::Lost;
        }
    }
    let duplicated = faults.dup.is_some_and(|rate| unit(draw(key, Tag::Dup)) < rate);
    let delay = faults.delay.map_or(Duration::ZERO, |delay| sample_delay(key, delay));
    Fate::Deliver { copies: if duplicated { 2 } else { 1 }, delay }
}

/// `delay` plus a jitter sample: uniform within ± jitter, or normal with standard deviation
/// jitter; never below zero, never past delay + 4 × jitter.
fn sample_delay(key: &FateKey, delay: Delay) -> Duration {
    if delay.jitter.is_zero() {
        return delay.delay;
    }
    let mean = delay.delay.as_secs_f64();
    let jitter = delay.jitter.as_secs_f64();
    let sample = match delay.spread {
        Spread::Uniform => mean + jitter * (2.0 * unit(draw(key, Tag::Jitter)) - 1.0),
        Spread::Normal => {
            let mut rng = ChaCha8Rng::seed_from_u64(draw(key, Tag::Jitter));
            Normal::new(mean, jitter).map_or(mean, |normal| normal.sample(&mut rng))
        }
    };
    Duration::from_secs_f64(sample.clamp(0.0, mean + 4.0 * jitter))
}

/// A two-state Gilbert–Elliott loss chain for one directed link: in the bad state every line
/// is lost, in the good state none. It averages the loss rate `rate` in runs of `burst` lost
/// lines on average: P(bad → good) = 1/burst, P(good → bad) = rate / (burst · (1 − rate)).
///
/// Independent losses already come in runs of 1 / (1 − rate) on average, so a shorter burst
/// cannot be had at that rate: the chain uses at least that (where it loses independently).
#[derive(Debug, Clone)]
pub struct LossChain {
    rng: ChaCha8Rng,
    bad: bool,
    to_bad: f64,
    to_good: f64,
}

impl LossChain {
    /// The chain of `link` under `loss`, seeded from `(seed, link)`, starting in a state drawn
    /// from its long-run distribution (bad with probability `rate`).
    pub fn new(seed: u64, link: Directed, loss: Loss) -> Self {
        let key = FateKey { seed, link, client: "", time: "", hop: 0 };
        let mut rng = ChaCha8Rng::seed_from_u64(draw(&key, Tag::Chain));
        let rate = loss.rate.clamp(0.0, 1.0);
        let (to_bad, to_good) = if rate >= 1.0 {
            (1.0, 0.0)
        } else {
            let burst = loss.burst.max(1.0 / (1.0 - rate));
            (rate / (burst * (1.0 - rate)), 1.0 / burst)
        };
        let bad = unit(rng.next_u64()) < rate;
        Self { rng, bad, to_bad, to_good }
    }

    /// Does `loss` need a chain (bursts longer than one line at a rate strictly between 0 and
    /// 1)? Otherwise the keyed draw of [`fate`] gives the same losses statelessly.
    pub fn needed(loss: Loss) -> bool {
        loss.burst > 1.0 && loss.rate > 0.0 && loss.rate < 1.0
    }

    /// Moves to the next line's state and answers whether that line is lost.
    pub fn step(&mut self) -> bool {
        let u = unit(self.rng.next_u64());
        self.bad = if self.bad { u >= self.to_good } else { u < self.to_bad };
        self.bad
    }
}

/// The keyed hash of `key` for one decision: `SipHash` 1-3 keyed with the seed and the tag.
fn draw(key: &FateKey, tag: Tag) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(key.seed, tag as u64);
    hasher.write_u64(key.link.from as u64);
    hasher.write_u64(key.link.to as u64);
    write_text(&mut hasher, key.client);
    write_text(&mut hasher, key.time);
    hasher.write_u32(key.hop);
    hasher.finish()
}

/// Writes `text` length first, so that adjacent fields cannot run into each other.
pub(crate) fn write_text(hasher: &mut impl Hasher, text: &str) {
    hasher.write_u64(text.len() as u64);
    hasher.write(text.as_bytes());
}

/// A uniform value in `[0, 1)` from the top 53 bits of `bits`.
pub(crate) fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LINK: Directed = Directed { from: 1, to: 2 };
    const N: u32 = 100_000;

    fn key(hop: u32) -> FateKey<'static> {
        FateKey { seed: 7, link: LINK, client: "kiwi", time: "1621464827.959498503", hop }
    }

    fn loss(rate: f64, burst: f64) -> LinkFaultsView {
        LinkFaultsView { loss: Some(Loss { rate, burst }), ..LinkFaultsView::default() }
    }

    fn delayed(ms: u64, jitter_ms: u64, spread: Spread) -> LinkFaultsView {
        let delay = Duration::from_millis(ms);
        let jitter = Duration::from_millis(jitter_ms);
        LinkFaultsView { delay: Some(Delay { delay, jitter, spread }), ..LinkFaultsView::default() }
    }

    /// The fates of `N` different lines (the hop varies).
    fn fates(faults: &LinkFaultsView) -> Vec<Fate> {
        (0..N).map(|hop| fate(&key(hop), faults, None)).collect()
    }

    fn share(fates: &[Fate], which: impl Fn(&Fate) -> bool) -> f64 {
        fates.iter().filter(|f| which(f)).count() as f64 / fates.len() as f64
    }

    fn delays(fates: &[Fate]) -> Vec<f64> {
        let delay = |f: &Fate| match f {
            Fate::Deliver { delay, .. } => Some(delay.as_secs_f64() * 1e3),
            _ => None,
        };
        fates.iter().filter_map(delay).collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    /// Lengths of the runs of consecutive `true`.
    fn runs(lost: &[bool]) -> Vec<usize> {
        lost.split(|&l| !l).map(<[bool]>::len).filter(|&n| n > 0).collect()
    }

    #[test]
    fn no_faults_deliver_once_at_once() {
        let once = Fate::Deliver { copies: 1, delay: Duration::ZERO };
        assert_eq!(fate(&key(0), &LinkFaultsView::default(), None), once);
    }

    proptest! {
        #[test]
        fn the_same_key_and_faults_give_the_same_fate(
            seed in any::<u64>(),
            from in 0usize..8,
            to in 0usize..8,
            client in "[a-z.]{0,12}",
            time in "[0-9]{1,10}(\\.[0-9]{1,9})?",
            hop in any::<u32>(),
            rate in 0.0f64..=1.0,
            dup in 0.0f64..=1.0,
            jitter_ms in 0u64..500,
            normal in any::<bool>(),
        ) {
            let spread = if normal { Spread::Normal } else { Spread::Uniform };
            let faults = LinkFaultsView {
                loss: Some(Loss { rate, burst: 1.0 }),
                dup: Some(dup),
                ..delayed(300, jitter_ms, spread)
            };
            let key = FateKey { seed, link: Directed::new(from, to), client: &client, time: &time, hop };
            let first = fate(&key, &faults, None);
            // Other lines in between change nothing.
            for hop in 0..3 {
                fate(&FateKey { hop, ..key }, &faults, None);
            }
            prop_assert_eq!(fate(&key, &faults, None), first);
        }
    }

    #[test]
    fn the_fate_depends_on_every_part_of_the_key() {
        let faults = loss(0.5, 1.0);
        let base = key(0);
        let lost = |k: &FateKey| -> Vec<bool> {
            (0..64).map(|hop| fate(&FateKey { hop, ..*k }, &faults, None) == Fate::Lost).collect()
        };
        let reference = lost(&base);
        for other in [
            FateKey { seed: 8, ..base },
            FateKey { link: LINK.reversed(), ..base },
            FateKey { client: "kiwj", ..base },
            FateKey { time: "1621464827.959498504", ..base },
        ] {
            assert_ne!(lost(&other), reference, "{other:?}");
        }
    }

    #[test]
    fn a_fifth_of_lines_are_lost_at_20_percent() {
        let lost = share(&fates(&loss(0.2, 1.0)), |f| *f == Fate::Lost);
        assert!((lost - 0.2).abs() < 0.01, "{lost}");
    }

    #[test]
    fn no_loss_at_0_and_every_line_at_100_percent() {
        assert!(fates(&loss(0.0, 1.0)).iter().all(|f| *f != Fate::Lost));
        assert!(fates(&loss(1.0, 1.0)).iter().all(|f| *f == Fate::Lost));
        assert!(
            fates(&LinkFaultsView { dup: Some(0.0), ..LinkFaultsView::default() })
                .iter()
                .all(|f| matches!(f, Fate::Deliver { copies: 1, .. }))
        );
        assert!(
            fates(&LinkFaultsView { dup: Some(1.0), ..LinkFaultsView::default() })
                .iter()
                .all(|f| matches!(f, Fate::Deliver { copies: 2, .. }))
        );
    }

    #[test]
    fn duplication_is_drawn_independently_of_loss() {
        let faults = LinkFaultsView { dup: Some(0.5), ..loss(0.2, 1.0) };
        let all = fates(&faults);
        let delivered: Vec<Fate> = all.into_iter().filter(|f| *f != Fate::Lost).collect();
        let twice = share(&delivered, |f| matches!(f, Fate::Deliver { copies: 2, .. }));
        assert!((twice - 0.5).abs() < 0.01, "{twice}");
    }

    #[test]
    fn a_cut_wins_over_every_other_fault() {
        let faults =
            LinkFaultsView { cut: true, dup: Some(1.0), ..delayed(100, 10, Spread::Normal) };
        let faults = LinkFaultsView { loss: Some(Loss { rate: 1.0, burst: 1.0 }), ..faults };
        assert!(fates(&faults).iter().all(|f| *f == Fate::Cut));
    }

    #[test]
    fn a_cut_line_does_not_step_the_chain() {
        let bursty = Loss { rate: 0.5, burst: 4.0 };
        let mut chain = LossChain::new(7, LINK, bursty);
        let twin = chain.clone();
        let cut = LinkFaultsView { cut: true, loss: Some(bursty), ..LinkFaultsView::default() };
        assert_eq!(fate(&key(0), &cut, Some(&mut chain)), Fate::Cut);
        let (mut a, mut b) = (chain, twin);
        assert!((0..100).all(|_| a.step() == b.step()));
    }

    #[test]
    fn uniform_jitter_stays_within_delay_plus_or_minus_jitter() {
        let delays = delays(&fates(&delayed(300, 50, Spread::Uniform)));
        assert!(delays.iter().all(|&d| (250.0..=350.0).contains(&d)));
        assert!((mean(&delays) - 300.0).abs() < 1.0, "{}", mean(&delays));
        // Both ends are reached.
        assert!(delays.iter().any(|&d| d < 255.0) && delays.iter().any(|&d| d > 345.0));
    }

    #[test]
    fn normal_jitter_has_the_delay_as_mean_and_the_jitter_as_deviation() {
        let delays = delays(&fates(&delayed(300, 50, Spread::Normal)));
        assert!(delays.iter().all(|&d| (0.0..=500.0).contains(&d)));
        let mean = mean(&delays);
        let var = delays.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / delays.len() as f64;
        assert!((mean - 300.0).abs() < 1.0, "{mean}");
        assert!((var.sqrt() - 50.0).abs() < 1.0, "{}", var.sqrt());
    }

    #[test]
    fn jitter_never_goes_below_zero_or_past_four_deviations() {
        for spread in [Spread::Uniform, Spread::Normal] {
            let delays = delays(&fates(&delayed(10, 100, spread)));
            assert!(delays.iter().all(|&d| (0.0..=410.0).contains(&d)), "{spread:?}");
            assert!(delays.contains(&0.0), "{spread:?}");
        }
    }

    #[test]
    fn no_jitter_is_exactly_the_delay() {
        let delays = delays(&fates(&delayed(300, 0, Spread::Normal)));
        assert!(delays.iter().all(|&d| (d - 300.0).abs() < 1e-9));
    }

    #[test]
    fn the_chain_loses_a_fifth_in_bursts_of_three() {
        let faults = loss(0.2, 3.0);
        let mut chain = LossChain::new(7, LINK, Loss { rate: 0.2, burst: 3.0 });
        let lost: Vec<bool> =
            (0..N).map(|hop| fate(&key(hop), &faults, Some(&mut chain)) == Fate::Lost).collect();
        let rate = lost.iter().filter(|&&l| l).count() as f64 / lost.len() as f64;
        let runs = runs(&lost);
        let run = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        assert!((rate - 0.2).abs() < 0.01, "rate {rate}");
        assert!((run - 3.0).abs() < 0.15, "mean run {run}");
    }

    #[test]
    fn independent_losses_come_in_shorter_runs() {
        let lost: Vec<bool> = fates(&loss(0.2, 1.0)).iter().map(|f| *f == Fate::Lost).collect();
        let runs = runs(&lost);
        let run = runs.iter().sum::<usize>() as f64 / runs.len() as f64;
        assert!((run - 1.25).abs() < 0.05, "mean run {run}");
    }

    #[test]
    fn a_chain_is_seeded_by_seed_and_link() {
        let bursty = Loss { rate: 0.3, burst: 5.0 };
        let steps = |seed, link| {
            let mut chain = LossChain::new(seed, link, bursty);
            (0..200).map(|_| chain.step()).collect::<Vec<bool>>()
        };
        assert_eq!(steps(1, LINK), steps(1, LINK));
        assert_ne!(steps(1, LINK), steps(2, LINK));
        assert_ne!(steps(1, LINK), steps(1, LINK.reversed()));
    }

    #[test]
    fn chains_at_the_extremes_lose_nothing_or_everything() {
        let mut never = LossChain::new(1, LINK, Loss { rate: 0.0, burst: 3.0 });
        let mut always = LossChain::new(1, LINK, Loss { rate: 1.0, burst: 3.0 });
        assert!((0..1000).all(|_| !never.step() && always.step()));
    }

    #[test]
    fn a_burst_too_short_for_the_rate_keeps_the_rate() {
        let mut chain = LossChain::new(3, LINK, Loss { rate: 0.8, burst: 2.0 });
        let lost = (0..N).filter(|_| chain.step()).count() as f64 / f64::from(N);
        assert!((lost - 0.8).abs() < 0.01, "{lost}");
    }

    #[test]
    fn only_bursty_partial_loss_needs_a_chain() {
        let needed = |rate, burst| LossChain::needed(Loss { rate, burst });
        assert!(needed(0.2, 3.0));
        assert!(!needed(0.2, 1.0) && !needed(0.0, 3.0) && !needed(1.0, 3.0));
    }
}
