//! Cycle model of `hw/bnn_gap.v`: global average pooling as a per-channel running sum over all
//! pixels of a frame, written from the module header's spec (not from the RTL).
//!
//! Registers: `pix`, `cw`, `acc[CW]` (not reset), the output queue `q_cnt`, `q_head`, `q_tail`
//! (`queue.rs`: `bnn_pool`'s and `bnn_swg`'s, which `pool.rs` and `swg.rs` model with it too).
//! `s_axis_tready` and `m_axis_tvalid` depend on registers only.

use super::bits::{self, limbs};
use super::queue::PairQueue;

/// The parameters of one `bnn_gap` instance, exactly its Verilog parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapParams {
    /// Words per pixel.
    pub cw: usize,
    /// Elements per word.
    pub lanes: usize,
    /// Pixels summed per frame (H·W).
    pub pixels: usize,
    /// True channels: output slots `cw·LANES + l ≥ CHANNELS` are 0.
    pub channels: usize,
    /// Input element encoding: 0 bipolar (1 bit, bit 1 = +1), 1 unsigned, 2 signed.
    pub itype: u8,
    /// Bits per input element.
    pub ibits: usize,
    /// Bits per sum (output element), two's complement or unsigned as the range needs; the
    /// running sum is kept modulo 2^ABITS.
    pub abits: usize,
}

impl GapParams {
    pub fn in_bits(&self) -> usize {
        self.lanes * self.ibits
    }

    pub fn out_bits(&self) -> usize {
        self.lanes * self.abits
    }

    pub fn check(&self) -> Result<(), String> {
        if self.cw < 1 || self.lanes < 1 || self.pixels < 1 || self.channels < 1 {
            return Err(format!(
                "bnn_gap: CW, LANES, PIXELS, CHANNELS must be positive ({self:?})"
            ));
        }
        if self.channels > self.cw * self.lanes {
            return Err(format!("bnn_gap: CHANNELS exceeds CW*LANES ({self:?})"));
        }
        if self.itype > 2 || (self.itype == 0 && self.ibits != 1) || !(1..=32).contains(&self.ibits)
        {
            return Err(format!(
                "bnn_gap: ITYPE must be 0 (with IBITS 1), 1 or 2, IBITS 1..32 ({self:?})"
            ));
        }
        if self.abits <= self.ibits || !(2..=63).contains(&self.abits) {
            return Err(format!(
                "bnn_gap: ABITS must exceed IBITS and be 2..63 ({self:?})"
            ));
        }
        Ok(())
    }

    /// The value of input element `raw`.
    fn decode(&self, raw: u64) -> i64 {
        match self.itype {
            0 => {
                if raw & 1 == 1 {
                    1
                } else {
                    -1
                }
            }
            1 => raw as i64,
            _ => bits::sext(raw, self.ibits as u32),
        }
    }
}

/// One `bnn_gap`.
#[derive(Clone, Debug)]
pub struct Gap {
    p: GapParams,
    amask: u64,
    s_buf: Vec<u64>,

    // ---- registers
    pix: usize,
    cw: usize,
    /// `[CW][LANES]` running sums, modulo 2^ABITS.
    acc: Vec<u64>,
    queue: PairQueue,
}

impl Gap {
    pub fn new(p: &GapParams) -> Result<Self, String> {
        p.check()?;
        let owl = limbs(p.out_bits());
        Ok(Gap {
            amask: bits::ones(p.abits),
            s_buf: vec![0; owl],
            pix: 0,
            cw: 0,
            acc: vec![0; p.cw * p.lanes],
            queue: PairQueue::new(owl),
            p: p.clone(),
        })
    }

    pub fn params(&self) -> &GapParams {
        &self.p
    }

    /// Synchronous reset: `pix`, `cw`, `q_cnt`.
    pub fn reset(&mut self) {
        self.pix = 0;
        self.cw = 0;
        self.queue.reset();
    }

    #[inline]
    pub fn s_ready(&self) -> bool {
        !self.queue.is_full()
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.queue.m_valid()
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        self.queue.m_data()
    }

    /// An edge without a handshake changes no register.
    #[inline]
    pub fn idle_edge(&self) -> bool {
        true
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        debug_assert!(push.is_none() || self.s_ready(), "push while not ready");
        debug_assert!(!pop || self.m_valid(), "pop while not valid");
        let (lanes, ib, ab) = (self.p.lanes, self.p.ibits, self.p.abits);
        let last = self.pix + 1 == self.p.pixels;
        let mut q_push = false;
        if let Some(w) = push {
            let mut s = std::mem::take(&mut self.s_buf);
            s.iter_mut().for_each(|x| *x = 0);
            for l in 0..lanes {
                let x = self.p.decode(bits::get(w, l * ib, ib)) as u64;
                let a = &mut self.acc[self.cw * lanes + l];
                let sum = if self.pix == 0 { x } else { a.wrapping_add(x) } & self.amask;
                if last {
                    // The frame's sum goes out; a padded slot emits 0.
                    let keep = self.cw * lanes + l < self.p.channels;
                    bits::set(&mut s, l * ab, ab, if keep { sum } else { 0 });
                } else {
                    *a = sum;
                }
            }
            q_push = last;
            self.s_buf = s;
            self.cw += 1;
            if self.cw == self.p.cw {
                self.cw = 0;
                self.pix = if last { 0 } else { self.pix + 1 };
            }
        }
        if let Some(dst) = self.queue.edge(q_push, pop) {
            dst.copy_from_slice(&self.s_buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cyclesim::{Block, Pipeline, RunConfig, Stalls, Words};
    use crate::synth::Rng;

    /// Per frame and channel word, the lane sums over the pixels (pixel outer, word inner),
    /// from the definition.
    fn reference(p: &GapParams, inputs: &Words) -> Words {
        let mut out = Words::new(p.out_bits());
        let frame = p.pixels * p.cw;
        for f in 0..inputs.len() / frame {
            for c in 0..p.cw {
                let mut word = vec![0u64; limbs(p.out_bits())];
                for l in 0..p.lanes {
                    let sum: i64 = (0..p.pixels)
                        .map(|px| {
                            let w = inputs.get(f * frame + px * p.cw + c);
                            p.decode(bits::get(w, l * p.ibits, p.ibits))
                        })
                        .sum();
                    let v = if c * p.lanes + l < p.channels { sum } else { 0 };
                    bits::set(&mut word, l * p.abits, p.abits, v as u64);
                }
                out.push(&word);
            }
        }
        out
    }

    fn random_params(rng: &mut Rng, g: u32) -> GapParams {
        let itype = (g % 3) as u8;
        let ibits = if itype == 0 { 1 } else { rng.range_usize(1, 9) };
        let (cw, lanes) = (rng.range_usize(1, 4), rng.range_usize(1, 7));
        GapParams {
            cw,
            lanes,
            pixels: rng.range_usize(1, 16),
            channels: rng.range_usize(1, cw * lanes),
            itype,
            ibits,
            abits: rng.range_usize(ibits + 4, ibits + 6),
        }
    }

    #[test]
    fn gap_sums_every_channel_under_stalls() {
        let mut rng = Rng::new(41);
        for g in 0..90u32 {
            let p = random_params(&mut rng, g);
            let frames = rng.range_usize(1, 4);
            let mut inputs = Words::new(p.in_bits());
            for _ in 0..frames * p.pixels * p.cw {
                let mut w = vec![0u64; limbs(p.in_bits())];
                for l in 0..p.lanes {
                    bits::set(&mut w, l * p.ibits, p.ibits, rng.next_u64());
                }
                inputs.push(&w);
            }
            let expected = reference(&p, &inputs);
            let mut pl =
                Pipeline::single(Block::Gap(Gap::new(&p).unwrap()), p.in_bits(), p.out_bits());
            for st in [
                Stalls::NONE,
                Stalls::both(0.3, g + 1),
                Stalls {
                    seed: g + 5,
                    p_in: 0.0,
                    p_out: 0.7,
                },
            ] {
                let r = pl.run(
                    &inputs,
                    expected.len(),
                    &RunConfig {
                        stalls: st,
                        timeout: 100 * inputs.len() as u64 + 100,
                        extra: 8,
                    },
                );
                assert!(!r.timed_out, "{p:?} {st:?}");
                assert_eq!(r.extra_words, 0, "{p:?} {st:?}");
                assert_eq!(r.outputs, expected, "{p:?} {st:?}");
                if st == Stalls::NONE {
                    // One word per cycle in; the last pixel's word cw at edge t is valid from t + 1.
                    for (i, &c) in r.in_cycles.iter().enumerate() {
                        assert_eq!(c, i as u64, "{p:?}");
                    }
                    for (o, &c) in r.out_cycles.iter().enumerate() {
                        let (f, cw) = (o / p.cw, o % p.cw);
                        let last_in = (f * p.pixels + p.pixels - 1) * p.cw + cw;
                        assert_eq!(c, last_in as u64 + 1, "{p:?} output {o}");
                    }
                }
            }
        }
    }

    #[test]
    fn gap_backpressure_and_parameters() {
        let p = GapParams {
            cw: 1,
            lanes: 2,
            pixels: 1,
            channels: 2,
            itype: 1,
            ibits: 2,
            abits: 3,
        };
        let mut pl = Pipeline::single(Block::Gap(Gap::new(&p).unwrap()), 4, 6);
        let mut inputs = Words::new(4);
        (0..20).for_each(|i| inputs.push_u64(i % 16));
        let r = pl.run(
            &inputs,
            1,
            &RunConfig::new(
                Stalls {
                    seed: 3,
                    p_in: 0.0,
                    p_out: 1.0,
                },
                50,
            ),
        );
        // With one pixel the queue (2 words) is all the storage.
        assert_eq!(r.in_cycles, vec![0, 1]);
        for bad in [
            GapParams { cw: 0, ..p.clone() },
            GapParams {
                pixels: 0,
                ..p.clone()
            },
            GapParams {
                channels: 3,
                ..p.clone()
            },
            GapParams {
                itype: 0,
                ..p.clone()
            },
            GapParams {
                abits: 64,
                ..p.clone()
            },
        ] {
            assert!(Gap::new(&bad).unwrap_err().starts_with("bnn_gap:"));
        }
    }
}
