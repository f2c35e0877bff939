//! The network `build` will build: the auto-folding prices the net after the dead-channel
//! removal (`passes::prune`), as `build`, `check`, `run` and `verify` apply it (`--no-prune`
//! turns it off everywhere alike).
//!
//! Which channels are constant does not depend on the folding, so the pass runs once per net, at
//! PE = SIMD = 1, where it removes every channel it can prove constant and fold into the next
//! layer. How many it removes does depend on the folding: it keeps a producer's PE and its
//! consumer's SIMD dividing the dimensions they divided, so at, say, PE 16 on 128 channels with
//! 12 removable it removes none (`passes::prune::removable`). The search therefore keeps to
//! foldings at which `build`'s pass removes exactly what the run at PE = SIMD = 1 removed
//! ([`Pruned::admits`]): then the design `build` makes from the emitted `net.toml` is the one
//! priced, layer for layer. The foldings left out are few (a PE or SIMD that divides the
//! unpruned dimension but not the number of removed channels) and none of them is needed: the
//! fully folded and fully unfolded designs are always admitted.

use crate::error::Result;
use crate::ir::{Network, Op};
use crate::passes::prune::{self, ConsumerFold, PruneReport};

/// One producer whose constant channels the pass removes at PE = SIMD = 1.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Removal {
    producer: usize,
    /// The next matvec layer (through max-pools), which loses the matching columns.
    consumer: usize,
    /// The producer's channels before the pass, and how many go.
    channels: usize,
    removed: usize,
    /// The consumer before the pass: a conv layer (SIMD over the channels of a pixel) or not,
    /// and its MW.
    consumer_conv: bool,
    consumer_cols: usize,
}

/// A lowered network after the dead-channel removal, with what the search must respect.
#[derive(Clone, Debug)]
pub struct Pruned {
    /// The pruned network (every matvec layer at PE = SIMD = 1 when pruned for the search), or
    /// the input itself with `--no-prune`.
    pub net: Network,
    /// What the pass did (`None` with `--no-prune`).
    pub report: Option<PruneReport>,
    removals: Vec<Removal>,
}

impl Pruned {
    /// `net` (lowered) as the search sees it: pruned at PE = SIMD = 1 unless `!prune`.
    pub fn for_search(net: &Network, prune: bool) -> Result<Pruned> {
        if !prune {
            return Ok(Pruned {
                net: net.clone(),
                report: None,
                removals: Vec::new(),
            });
        }
        let mut pruned = net.clone();
        for l in &mut pruned.layers {
            if let Op::MatVec(mv) = &mut l.op {
                mv.folding.pe = 1;
                mv.folding.simd = 1;
            }
        }
        let report = prune::prune(&mut pruned)?;
        let removals = report
            .layers
            .iter()
            .filter(|l| !l.removed.is_empty())
            .map(|l| {
                let consumer = (l.layer + 1..net.layers.len())
                    .find(|&j| matches!(net.layers[j].op, Op::MatVec(_)))
                    .expect("a removal has a matvec consumer");
                let Op::MatVec(c) = &net.layers[consumer].op else {
                    unreachable!("found as a matvec layer")
                };
                Removal {
                    producer: l.layer,
                    consumer,
                    channels: l.channels,
                    removed: l.removed.len(),
                    consumer_conv: c.conv.is_some(),
                    consumer_cols: c.cols(),
                }
            })
            .collect();
        Ok(Pruned {
            net: pruned,
            report: Some(report),
            removals,
        })
    }

    /// `net` (lowered) with its own folding, pruned as `build` prunes it (unless `!prune`):
    /// for pricing the net as it is (`fold --estimate`, `--size-fifos` alone).
    pub fn as_built(net: &Network, prune: bool) -> Result<Pruned> {
        let mut pruned = net.clone();
        let report = match prune {
            true => Some(prune::prune(&mut pruned)?),
            false => None,
        };
        Ok(Pruned {
            net: pruned,
            report,
            removals: Vec::new(),
        })
    }

    /// Whether `build`'s pass, on the unpruned net at PE `pe` of layer `i` (as a producer) and
    /// SIMD `simd` of layer `i` (as a consumer), removes what the search's run removed. With
    /// `whole`, `pe_of(j)` / `simd_of(j)` give the other layers' folds and both sides of every
    /// removal are checked; without, only layer `i`'s own side of each (the lcm of the two
    /// steps divides the count exactly when each does, so the per-layer checks together are
    /// the whole check, bar the "within what is left" bound, which folds of the pruned
    /// dimensions always meet).
    pub fn admits(&self, pe_of: &dyn Fn(usize) -> usize, simd_of: &dyn Fn(usize) -> usize) -> bool {
        self.removals.iter().all(|r| {
            let consumer = ConsumerFold {
                conv: r.consumer_conv,
                cols: r.consumer_cols,
                simd: simd_of(r.consumer),
            };
            prune::removable(r.channels, r.removed, pe_of(r.producer), consumer).0 == r.removed
        })
    }

    /// [`Pruned::admits`] for layer `i` alone at PE `pe`, SIMD `simd` (the other layers at 1).
    pub fn admits_layer(&self, i: usize, pe: usize, simd: usize) -> bool {
        self.admits(&|j| if j == i { pe } else { 1 }, &|j| {
            if j == i {
                simd
            } else {
                1
            }
        })
    }

    /// One line per pruned layer for the fold table: how many channels `build` removes.
    pub fn summary(&self) -> Option<String> {
        self.report.as_ref().filter(|r| r.removed() > 0).map(|r| {
            let parts: Vec<String> = r
                .layers
                .iter()
                .filter(|l| !l.removed.is_empty())
                .map(|l| format!("{} {} of {}", l.name, l.removed.len(), l.channels))
                .collect();
            format!(
                "dead-channel removal (as build applies it; --no-prune keeps them): {} \
                     channel(s) removed ({}); the estimate is of the pruned design",
                r.removed(),
                parts.join(", ")
            )
        })
    }
}
