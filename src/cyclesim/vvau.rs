//! Cycle model of `hw/bnn_vvau.v` (the vector-vector-threshold unit of a depthwise convolution):
//! its datapath only. `bnn_vvau` is `bnn_mvtu` with `DEPTHWISE = 1`, so the model is
//! [`super::Mvtu`] (issue stage, credits, delay line, output queue: `mvtu.rs`) built with
//! [`super::Mvtu::new_depthwise`], which plugs this datapath in where the dense MVTU has its
//! broadcast dot products (`dot.rs`).
//!
//! What differs from the dense datapath (the module header's FUNCTION): every beat reads a new
//! stream word of PE·SIMD lanes (no input buffer shared by the neuron folds: a channel's window
//! is used by its own PE only), and PE `p` dots *its own* lanes `l·PE + p` of the word with its
//! weights. As in the dense model, the words of a fold are stored as they arrive and the fold's
//! sums are formed once, at the issue edge of its last beat.
//!
//! Lanes are decoded to `i16` when a word is stored, transposed so that one PE's whole fold is
//! one contiguous run (`[pe][sf][simd]`), and weights are stored fold-major (`[nf][pe][sf][simd]`),
//! so a PE's fold is one packed multiply-add run (`dot.rs`'s `dot_exact`). XNOR mode counts equal
//! bits: with both operands decoded to ±1, `Σ w·x = equal − (n − equal)` over the fold's `n`
//! lanes, so `equal = (Σ w·x + n) / 2`, exactly.

use super::bits;
use super::dot::{decode, dot_exact};

/// The per-PE dot products of one depthwise channel fold, on pre-decoded weights, and the
/// fold's input words.
#[derive(Clone, Debug)]
pub struct DepthwiseDot {
    pe: usize,
    simd: usize,
    sf: usize,
    ib: usize,
    itype: u32,
    ibits: u32,
    /// Bipolar × bipolar: the accumulator counts equal bits.
    xnor: bool,
    /// `[nf][pe][sf][simd]` decoded weights (at most 8 bits: `i16` holds every value).
    w: Vec<i16>,
    /// The current fold's input words, decoded per PE: `[pe][sf][simd]`.
    x: Vec<i16>,
}

impl DepthwiseDot {
    /// `wrom[pe][addr]`: raw weight ROM words (SIMD lanes of `wbits` bits), `nf·sf` per PE.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        wrom: &[Vec<Vec<u64>>],
        nf: usize,
        sf: usize,
        simd: usize,
        wbits: u32,
        ibits: u32,
        wtype: u32,
        itype: u32,
    ) -> Self {
        let pe = wrom.len();
        let wb = wbits as usize;
        let mut w = Vec::with_capacity(nf * pe * sf * simd);
        for n in 0..nf {
            for rom in wrom {
                for word in &rom[n * sf..(n + 1) * sf] {
                    for l in 0..simd {
                        w.push(decode(bits::get(word, l * wb, wb), wtype, wbits) as i16);
                    }
                }
            }
        }
        DepthwiseDot {
            pe,
            simd,
            sf,
            ib: ibits as usize,
            itype,
            ibits,
            xnor: wtype == 0 && itype == 0,
            w,
            x: vec![0; pe * sf * simd],
        }
    }

    /// Stores input word `x` (PE·SIMD lanes of `ibits`; bits above are ignored) as the word of
    /// beat `slot` (0..SF) of the current fold: lane `l·PE + p` is kernel position
    /// `slot·SIMD + l` of PE `p`'s channel.
    pub fn load(&mut self, slot: usize, x: &[u64]) {
        let (pe, simd, sf, ib) = (self.pe, self.simd, self.sf, self.ib);
        for p in 0..pe {
            let run = &mut self.x[(p * sf + slot) * simd..][..simd];
            for (l, v) in run.iter_mut().enumerate() {
                let raw = bits::get(x, (l * pe + p) * ib, ib);
                *v = decode(raw, self.itype, self.ibits) as i16;
            }
        }
    }

    /// The exact sums of channel fold `nf` (ROM addresses `nf·SF .. nf·SF + SF`) over the SF
    /// words loaded ([`DepthwiseDot::load`]), one per PE, into `acc[..PE]`: the popcount of
    /// equal bits in XNOR mode, else the dot product.
    pub fn fold(&self, nf: usize, acc: &mut [i64]) {
        let n = self.sf * self.simd;
        let w = &self.w[nf * self.pe * n..(nf + 1) * self.pe * n];
        for ((a, wp), xp) in acc
            .iter_mut()
            .zip(w.chunks_exact(n))
            .zip(self.x.chunks_exact(n))
        {
            let dot = dot_exact(wp, xp);
            *a = if self.xnor { (dot + n as i64) / 2 } else { dot };
        }
    }
}
