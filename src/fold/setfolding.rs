//! The baseline: FINN's `SetFolding` transformation as FINN documents it
//! (`transformation/fpgadataflow/set_folding.py`; summarized in
//! `../shared/reference/finn-facts.md`), written here from that description:
//!
//! - the target is cycles per frame (clock / target frame rate);
//! - per MVTU, from PE = SIMD = 1, SIMD grows through the **divisors** of its dimension until
//!   the layer meets the target, then PE through the divisors of MH;
//! - a second pass balances the pipeline: when some layer cannot meet the target even fully
//!   unfolded, the whole folding is redone with that layer's cycles as the target, so the
//!   other layers are not made faster than the bottleneck allows.
//!
//! Differences from FINN, all in the baseline's favour or forced by bnn-gen's hardware:
//! - a layer "meets" the target at `cycles ≤ target` (FINN asks `<`, which overshoots at exact
//!   divisor points);
//! - a conv layer's SIMD grows through the divisors of its input channels (the window
//!   generator needs whole words per pixel, as FINN's `ConvolutionInputGenerator` does), not
//!   of MW = K·K·C;
//! - a layer's cycles include the max-pool it feeds (in bnn-gen's hardware the pool reads the
//!   MVTU's PE-wide words, so the MVTU's PE sets the pool's pace; FINN folds its pool apart);
//! - FINN's cap on the weight stream width (`mvau_wwidth_max`, for external weights) is left
//!   out: bnn-gen's weights are on-chip ROMs;
//! - ROM styles are the size rule's (`ram_style = "auto"`).

use super::model::{LayerFold, Problem};

/// Divisors of `n`, ascending.
pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n.max(1))
        .filter(|d| n.max(1).is_multiple_of(*d))
        .collect()
}

/// SetFolding's folding of `problem` for `target` cycles per frame.
pub fn set_folding(problem: &Problem, target: usize) -> Vec<LayerFold> {
    let folds = pass(problem, target);
    match problem.evaluate(&folds) {
        // Balancing pass: relax the target to what the slowest layer achieves.
        Ok(cost) if cost.cycles > target => pass(problem, cost.cycles),
        _ => folds,
    }
}

/// One pass: SIMD, then PE, through the divisors, per layer alone.
fn pass(problem: &Problem, target: usize) -> Vec<LayerFold> {
    (0..problem.len())
        .map(|i| {
            let mut f = LayerFold::new(1, 1);
            if !problem.is_mvtu(i) {
                return f;
            }
            let meets = |f: &LayerFold| problem.plain_layer(i, f).is_ok_and(|c| c.cycles <= target);
            for simd in divisors(problem.simd_dim(i)) {
                f.simd = simd;
                if meets(&f) {
                    break;
                }
            }
            if !meets(&f) {
                for pe in divisors(problem.rows(i)) {
                    f.pe = pe;
                    if meets(&f) {
                        break;
                    }
                }
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_ascending() {
        assert_eq!(divisors(12), vec![1, 2, 3, 4, 6, 12]);
        assert_eq!(divisors(1), vec![1]);
    }
}
