//! FINN-R resource estimates for one MVTU (FINN's `matrixvectoractivation` cost model; see
//! `docs/hardware.md`): LUTs from the datapath widths, BRAM18 from the weight memory shape.
//! They estimate the MVTU only (no FIFOs, width converters or head), as FINN's do; the window
//! generator's line buffer has its own estimate ([`swg_luts`], [`swg_bram18`]).

use crate::hwir::{HwActivation, HwMvtu, HwWindow};

/// LUT estimate: `300 + 1.1·PE·(mult + addertree + acc + thr + comp)` with Q = SIMD, W = weight
/// bits, A = input bits, `mult = Q·(2⌈(W+A)/6⌉−1)·(W+A)`, `addertree = (W+A)·(2Q−1)`, acc = the
/// accumulator width, and for a thresholding layer with B output bits and thresholds in LUTRAM
/// `thr = (2^B−1)·acc·⌈TMEM/64⌉` (TMEM = NF, the threshold memory depth), `comp = (2^B−1)·acc`.
pub fn luts(layer: &HwMvtu) -> u64 {
    let q = layer.simd as f64;
    let wa = f64::from(layer.wbits() + layer.ibits());
    let mult = q * (2.0 * (wa / 6.0).ceil() - 1.0) * wa;
    let addertree = wa * (2.0 * q - 1.0);
    let acc = f64::from(layer.acc_bits);
    let (thr, comp) = match &layer.activation {
        HwActivation::Thresholds(_) => {
            let levels = (2f64).powi(layer.obits() as i32) - 1.0;
            let tmem = layer.nf() as f64;
            (levels * acc * (tmem / 64.0).ceil(), levels * acc)
        }
        HwActivation::Identity => (0.0, 0.0),
    };
    (300.0 + 1.1 * layer.pe as f64 * (mult + addertree + acc + thr + comp)) as u64
}

/// BRAM18 estimate of the weight memory: depth ω = NF·SF, width w = PE·SIMD·W bits, by FINN-R's
/// table (w = 1: ⌈ω/16384⌉; 2: ⌈ω/8192⌉; ≤ 4: ⌈ω/4096⌉·⌈w/4⌉; ≤ 9: ⌈ω/2048⌉·⌈w/9⌉;
/// ≤ 18 or ω > 512: ⌈ω/1024⌉·⌈w/18⌉; otherwise ⌈ω/512⌉·⌈w/36⌉).
pub fn bram18(layer: &HwMvtu) -> u64 {
    let omega = (layer.nf() * layer.sf()) as u64;
    let w = (layer.pe * layer.simd) as u64 * u64::from(layer.wbits());
    bram18_for(omega, w)
}

/// The window generator's buffer in block RAM (the same table) when it is deeper than 64 words
/// (shallower buffers go to LUTRAM, as yosys and Vivado map them).
pub fn swg_bram18(w: &HwWindow) -> u64 {
    if w.depth <= 64 {
        0
    } else {
        bram18_for(w.depth as u64, w.word_bits() as u64)
    }
}

/// LUTs of a window generator: about 150 for the counters, address arithmetic and control, the
/// pad/data multiplexer and output queue (3 word-wide registers behind a 2:1 mux: ~1.5 LUT per
/// bit), plus LUTRAM for a buffer of at most 64 words (one 64x1 LUT RAM per word bit).
pub fn swg_luts(w: &HwWindow) -> u64 {
    let bits = w.word_bits() as u64;
    let lutram = if w.depth <= 64 { bits } else { 0 };
    150 + bits * 3 / 2 + lutram
}

/// The BRAM18 table for a memory of depth `omega` and width `w` bits.
pub fn bram18_for(omega: u64, w: u64) -> u64 {
    if w == 1 {
        omega.div_ceil(16384)
    } else if w == 2 {
        omega.div_ceil(8192)
    } else if w <= 4 {
        omega.div_ceil(4096) * w.div_ceil(4)
    } else if w <= 9 {
        omega.div_ceil(2048) * w.div_ceil(9)
    } else if w <= 18 || omega > 512 {
        omega.div_ceil(1024) * w.div_ceil(18)
    } else {
        omega.div_ceil(512) * w.div_ceil(36)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bram_table() {
        // LFC layer 0: 832x1024, SIMD 64, PE 32, W1: w = 2048, depth 13*32 = 416.
        assert_eq!(bram18_for(416, 2048), 57);
        assert_eq!(bram18_for(1024, 1), 1);
        assert_eq!(bram18_for(20000, 2), 3);
        assert_eq!(bram18_for(100, 4), 1);
        assert_eq!(bram18_for(3000, 9), 2);
        assert_eq!(bram18_for(600, 36), 2);
    }
}
