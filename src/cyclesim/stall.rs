//! The stall pattern of the Verilator harness (`sim/axis_tb.cpp`, specified in `sim/README.md`),
//! reproduced bit for bit: two xorshift32 generators advanced once per cycle, one gating the
//! input side's `tvalid`, one dropping the output side's `tready`.

/// Stall configuration of a run: probabilities of an input gap and of an output-ready drop per
/// cycle, and the generator seed (the harness's `--stall-in`, `--stall-out`, `--seed`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stalls {
    pub seed: u32,
    pub p_in: f64,
    pub p_out: f64,
}

impl Stalls {
    /// No stalls: a word offered every cycle, `m_axis_tready` always 1.
    pub const NONE: Stalls = Stalls {
        seed: 1,
        p_in: 0.0,
        p_out: 0.0,
    };

    /// The same probability on both sides (the harness's `--stall P`).
    pub fn both(p: f64, seed: u32) -> Self {
        Stalls {
            seed,
            p_in: p,
            p_out: p,
        }
    }
}

impl Default for Stalls {
    fn default() -> Self {
        Stalls::NONE
    }
}

/// `min(floor(p · 2^32), 2^32 − 1)`, 0 for p ≤ 0 or NaN.
pub fn threshold(p: f64) -> u64 {
    // also catches NaN
    if p.is_nan() || p <= 0.0 {
        return 0;
    }
    let t = (p * 4294967296.0).floor();
    if t >= 4294967295.0 {
        4294967295
    } else {
        t as u64
    }
}

#[inline]
fn xorshift32(x: &mut u32) {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
}

/// The two generators of the harness.
#[derive(Clone, Debug)]
pub struct StallGen {
    s_in: u32,
    s_out: u32,
    thr_in: u64,
    thr_out: u64,
}

impl StallGen {
    pub fn new(st: &Stalls) -> Self {
        let s_in = if st.seed == 0 { 1 } else { st.seed };
        let mut s_out = st.seed ^ 0x9E37_79B9;
        if s_out == 0 {
            s_out = 1;
        }
        StallGen {
            s_in,
            s_out,
            thr_in: threshold(st.p_in),
            thr_out: threshold(st.p_out),
        }
    }

    /// Advances both generators (once per cycle, always) and returns (input gap, output ready):
    /// the gap only matters when a new word would be offered this cycle.
    #[inline]
    pub fn step(&mut self) -> (bool, bool) {
        xorshift32(&mut self.s_in);
        xorshift32(&mut self.s_out);
        (
            (self.s_in as u64) < self.thr_in,
            (self.s_out as u64) >= self.thr_out,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_sequence() {
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(-1.0), 0);
        assert_eq!(threshold(f64::NAN), 0);
        assert_eq!(threshold(1.0), 4294967295);
        assert_eq!(threshold(0.5), 1 << 31);
        // xorshift32 from 1: 270369, 67634689, ...
        let mut g = StallGen::new(&Stalls::both(0.0, 1));
        g.step();
        assert_eq!(g.s_in, 270369);
        g.step();
        assert_eq!(g.s_in, 67634689);
        let g0 = StallGen::new(&Stalls::both(0.0, 0x9E37_79B9));
        assert_eq!(g0.s_out, 1);
    }
}
