//! The folding search: for a target of cycles per frame, the cheapest folding (by the device
//! share [`NetCost::area`]) whose ideal cycles meet it.
//!
//! 1. **Per-layer fronts.** For every MVTU, every PE that is the smallest for its NF = ⌈MH/PE⌉
//!    and every SIMD that is the smallest for its SF (divisors and non-divisors alike: a
//!    non-dividing fold pays for its padded lanes, and the model counts them), with the ROM
//!    styles that cost least, evaluated alone ([`Problem::plain_layer`]). The Pareto front of
//!    (cycles, area) is kept: a few dozen entries per layer.
//! 2. **Pick.** Each layer takes the cheapest front entry that meets the target alone.
//! 3. **Repair.** The whole network is evaluated exactly ([`Problem::evaluate`]: link padding,
//!    max-pools, window generators). A layer that misses the target there (its input slots had
//!    to suit the producer's PE, or a max-pool behind it reads narrow words) moves to the
//!    cheapest faster entry that meets it in context.
//! 4. **Improve.** Every layer tries its cheaper entries in context, keeping any that lowers
//!    the total and still meets the target, until nothing changes.
//! 5. **Seeds.** The SetFolding baseline and the full unfolding (styles re-chosen) are
//!    candidates too: the result is never worse than either by this model.

use super::devices::Device;
use super::model::{layer_area, LayerFold, NetCost, Problem};
use super::setfolding;
use crate::ir::RamStyle;

/// One entry of a layer's front.
#[derive(Clone, Copy, Debug)]
struct Entry {
    fold: LayerFold,
    cycles: usize,
    area: f64,
}

/// A solved folding.
#[derive(Clone, Debug)]
pub struct Solution {
    pub folds: Vec<LayerFold>,
    pub cost: NetCost,
    pub area: f64,
}

/// What the search minimizes over whole designs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// The sum of the device shares of LUT, block RAM and DSP (for a target).
    Area,
    /// The largest of the three shares, then their sum (for the fastest design that fits a
    /// device: the scarcest resource decides whether it fits).
    Peak,
}

/// The search state for one network and one device's weights.
pub struct Searcher<'p, 'n> {
    pub problem: &'p Problem<'n>,
    pub device: Device,
    pub objective: Objective,
    /// Per layer (empty for max-pools): sorted by cycles ascending, area strictly descending.
    fronts: Vec<Vec<Entry>>,
}

/// The values of a fold factor worth trying over a dimension of `n`: for every distinct
/// ⌈n/v⌉, the smallest `v` giving it (a larger one only adds padding).
pub fn fold_values(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut last = 0;
    for v in 1..=n.max(1) {
        let f = n.div_ceil(v);
        if f != last {
            out.push(v);
            last = f;
        }
    }
    out
}

const STYLES: [RamStyle; 3] = [RamStyle::Auto, RamStyle::Block, RamStyle::Distributed];

impl<'p, 'n> Searcher<'p, 'n> {
    pub fn new(problem: &'p Problem<'n>, device: Device) -> Self {
        let fronts = (0..problem.len())
            .map(|i| {
                if problem.is_mvtu(i) {
                    Self::front(problem, &device, i)
                } else {
                    Vec::new()
                }
            })
            .collect();
        Searcher {
            problem,
            device,
            objective: Objective::Area,
            fronts,
        }
    }

    /// The device's largest share any resource of `cost` takes.
    pub fn peak(&self, cost: &NetCost) -> f64 {
        let d = &self.device;
        let luts = d.luts_of(cost.totals.luts) as f64 / d.luts as f64;
        let blocks = cost.blocks(d) as f64 / d.blocks as f64;
        let dsps = cost.totals.dsps as f64 / d.dsps.max(1) as f64;
        luts.max(blocks).max(dsps)
    }

    /// Whether `a` is better than `b` by the objective.
    fn better(&self, a: &Solution, b: &Solution) -> bool {
        let key = |s: &Solution| match self.objective {
            Objective::Area => (s.area, 0.0),
            Objective::Peak => (self.peak(&s.cost), s.area),
        };
        let (ka, kb) = (key(a), key(b));
        ka.0 < kb.0 - 1e-12
            || (ka.0 <= kb.0 + 1e-12 && ka.1 < kb.1 - 1e-12)
            || (ka == kb && a.cost.totals.luts < b.cost.totals.luts)
    }

    /// The cheapest ROM styles for layer `i` at PE/SIMD of `f`, alone.
    fn best_styles(problem: &Problem, device: &Device, i: usize, f: LayerFold) -> Option<Entry> {
        let eval = |f: &LayerFold| {
            problem.plain_layer(i, f).ok().map(|c| Entry {
                fold: *f,
                cycles: c.cycles,
                area: layer_area(&c, device),
            })
        };
        let mut best: Option<Entry> = None;
        for ws in STYLES {
            let g = LayerFold { ram_style: ws, ..f };
            if let Some(e) = eval(&g) {
                if best.is_none_or(|b| e.area < b.area) {
                    best = Some(e);
                }
            }
        }
        let base = best?;
        for ts in STYLES {
            let g = LayerFold {
                threshold_ram_style: ts,
                ..base.fold
            };
            if let Some(e) = eval(&g) {
                if e.area < best.map_or(f64::INFINITY, |b| b.area) {
                    best = Some(e);
                }
            }
        }
        best
    }

    fn front(problem: &Problem, device: &Device, i: usize) -> Vec<Entry> {
        let mut all = Vec::new();
        for pe in fold_values(problem.rows(i)) {
            for simd in fold_values(problem.simd_dim(i)) {
                if let Some(e) = Self::best_styles(problem, device, i, LayerFold::new(pe, simd)) {
                    all.push(e);
                }
            }
        }
        all.sort_by(|a, b| a.cycles.cmp(&b.cycles).then(a.area.total_cmp(&b.area)));
        // Keep, from the fastest end, the entries cheaper than every faster one: a slower entry
        // is worth having only if it saves area. (Walking from the slowest end instead keeps
        // only the entries cheaper than every slower one, which drops every fast entry that
        // costs more than the fully folded layer: on a net whose products take DSPs nothing
        // fast was left, and the search fell back to SetFolding's folding.)
        let mut front: Vec<Entry> = Vec::new();
        for e in all {
            if front.last().is_none_or(|l| e.area < l.area - 1e-12) {
                front.push(e);
            }
        }
        front
    }

    /// The per-layer cycle counts the fronts hold (candidate targets for `--device` and
    /// `explore`), ascending.
    pub fn front_cycles(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self
            .fronts
            .iter()
            .flat_map(|f| f.iter().map(|e| e.cycles))
            .collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    fn evaluate(&self, folds: &[LayerFold]) -> Option<Solution> {
        let cost = self.problem.evaluate(folds).ok()?;
        let area = cost.area(&self.device);
        Some(Solution {
            folds: folds.to_vec(),
            cost,
            area,
        })
    }

    /// `folds` with every layer's ROM styles re-chosen for the least total (PE and SIMD kept).
    pub fn restyle(&self, folds: &[LayerFold]) -> Option<Solution> {
        let mut best = self.evaluate(folds)?;
        for i in 0..folds.len() {
            if !self.problem.is_mvtu(i) {
                continue;
            }
            for ws in STYLES {
                for ts in STYLES {
                    let mut f = best.folds.clone();
                    f[i].ram_style = ws;
                    f[i].threshold_ram_style = ts;
                    if let Some(s) = self.evaluate(&f) {
                        if s.cost.cycles <= best.cost.cycles && self.better(&s, &best) {
                            best = s;
                        }
                    }
                }
            }
        }
        Some(best)
    }

    /// Every layer at its largest PE and SIMD: the fewest cycles per frame the hardware has.
    pub fn unfolded(&self) -> Vec<LayerFold> {
        (0..self.problem.len())
            .map(|i| {
                if self.problem.is_mvtu(i) {
                    LayerFold::new(self.problem.rows(i), self.problem.simd_dim(i))
                } else {
                    LayerFold::new(1, 1)
                }
            })
            .collect()
    }

    /// The cheapest folding found whose ideal cycles per frame are at most `target`; `None`
    /// when none is (the target is beyond the full unfolding).
    pub fn solve(&self, target: usize) -> Option<Solution> {
        let mut candidates = Vec::new();
        if let Some(s) = self.greedy(target) {
            match self.objective {
                Objective::Area => candidates.push(s),
                // the fronts weigh by area: let the styles trade LUT for BRAM for the peak
                Objective::Peak => candidates.extend(self.restyle(&s.folds)),
            }
        }
        let baseline = setfolding::set_folding(self.problem, target);
        for seed in [baseline, self.unfolded()] {
            if let Some(s) = self.restyle(&seed) {
                candidates.push(s);
            }
        }
        candidates
            .into_iter()
            .filter(|s| s.cost.cycles <= target)
            .reduce(|a, b| if self.better(&b, &a) { b } else { a })
    }

    /// Steps 2–4 of the module docs.
    fn greedy(&self, target: usize) -> Option<Solution> {
        let n = self.problem.len();
        // The cheapest entry meeting the target alone, per layer.
        let mut idx = vec![0usize; n];
        for i in 0..n {
            if self.problem.is_mvtu(i) {
                idx[i] = self.fronts[i].iter().rposition(|e| e.cycles <= target)?;
            }
        }
        let folds_of = |idx: &[usize]| -> Vec<LayerFold> {
            (0..n)
                .map(|i| match self.fronts[i].get(idx[i]) {
                    Some(e) if self.problem.is_mvtu(i) => e.fold,
                    _ => LayerFold::new(1, 1),
                })
                .collect()
        };
        let mut current = self.evaluate(&folds_of(&idx))?;
        // Repair: layers (or the MVTU feeding a slow max-pool) that miss the target in context.
        for _ in 0..4 * n + 8 {
            let Some(slow) = current.cost.layers.iter().position(|l| l.cycles > target) else {
                break;
            };
            let owner = (0..=slow).rev().find(|&j| self.problem.is_mvtu(j))?;
            let mut fixed = None;
            for j in (0..idx[owner]).rev() {
                let mut t = idx.clone();
                t[owner] = j;
                if let Some(s) = self.evaluate(&folds_of(&t)) {
                    if s.cost.layers[slow].cycles <= target && s.cost.layers[owner].cycles <= target
                    {
                        fixed = Some((t, s));
                        break;
                    }
                }
            }
            let (t, s) = fixed?;
            idx = t;
            current = s;
        }
        if current.cost.cycles > target {
            return None;
        }
        // Improve: cheaper entries in context.
        let mut changed = true;
        let mut rounds = 0;
        while changed && rounds < 4 {
            changed = false;
            rounds += 1;
            for i in (0..n).filter(|&i| self.problem.is_mvtu(i)) {
                for j in idx[i] + 1..self.fronts[i].len() {
                    if self.fronts[i][j].cycles > target {
                        break;
                    }
                    let mut t = idx.clone();
                    t[i] = j;
                    if let Some(s) = self.evaluate(&folds_of(&t)) {
                        if s.cost.cycles <= target && self.better(&s, &current) {
                            idx = t;
                            current = s;
                            changed = true;
                        }
                    }
                }
            }
        }
        Some(current)
    }

    /// Whether `cost` fits the device within `max_util` (a fraction) of each resource.
    pub fn fits(&self, cost: &NetCost, max_util: f64) -> bool {
        let d = &self.device;
        d.luts_of(cost.totals.luts) as f64 <= max_util * d.luts as f64
            && cost.blocks(d) as f64 <= max_util * d.blocks as f64
            && cost.totals.dsps as f64 <= max_util * d.dsps as f64
    }

    /// The fastest folding that fits the device within `max_util`: the smallest target whose
    /// cheapest folding (by [`Objective::Peak`]) fits. A geometric scan of 32 targets from the
    /// full unfolding to the fully folded design finds the first that fits; a bisection over
    /// the fronts' cycle counts between it and the scan's previous target refines it. `None`
    /// when even the fully folded design does not fit.
    pub fn fastest_fitting(&self, max_util: f64) -> Option<Solution> {
        let folded = self.restyle(&self.problem.folded())?;
        if !self.fits(&folded.cost, max_util) {
            return None;
        }
        let fast = self.problem.evaluate(&self.unfolded()).ok()?.cycles;
        let slow = folded.cost.cycles.max(fast);
        let fits = |t: usize| self.solve(t).filter(|s| self.fits(&s.cost, max_util));
        const SCAN: usize = 32;
        let grid: Vec<usize> = (0..SCAN)
            .map(|k| {
                let r = (slow as f64 / fast as f64).powf(k as f64 / (SCAN - 1) as f64);
                ((fast as f64 * r) as usize).clamp(fast, slow)
            })
            .collect();
        let mut prev = fast.saturating_sub(1);
        let mut best = folded;
        for &g in &grid {
            if let Some(s) = fits(g) {
                best = s;
                break;
            }
            prev = g;
        }
        // Refine between the last target that did not fit and the first that did.
        let mut between: Vec<usize> = self
            .front_cycles()
            .into_iter()
            .filter(|&c| c > prev && c < best.cost.cycles)
            .collect();
        between.sort_unstable();
        let (mut lo, mut hi) = (0usize, between.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match fits(between[mid]) {
                Some(s) => {
                    if s.cost.cycles < best.cost.cycles {
                        best = s;
                    }
                    hi = mid;
                }
                None => lo = mid + 1,
            }
        }
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_values_are_the_smallest_per_fold() {
        assert_eq!(fold_values(10), vec![1, 2, 3, 4, 5, 10]);
        assert_eq!(fold_values(1), vec![1]);
        // every v in 1..=n has a listed value with the same fold that is not larger
        for n in 1..200 {
            let vals = fold_values(n);
            for v in 1..=n {
                assert!(vals
                    .iter()
                    .any(|&u| u <= v && n.div_ceil(u) == n.div_ceil(v)));
            }
        }
    }
}
