//! Cycle model of `hw/bnn_pool.v`: lane-wise max over the `KK` window positions the
//! sliding-window generator emits, written from `docs/swg-pool-spec.md` (not from the RTL).
//!
//! Registers: `pos`, `cw`, `acc[CW]`, the output queue `q_cnt`, `q_head`, `q_tail` (`queue.rs`,
//! shared with `swg.rs` and `gap.rs`, whose headers spec it alike).
//! `s_axis_tready` and `m_axis_tvalid` depend on registers only.

use super::bits::{self, limbs};
use super::queue::PairQueue;

/// The parameters of one `bnn_pool` instance, exactly its Verilog parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Words per pixel.
    pub cw: usize,
    /// Elements per word.
    pub lanes: usize,
    /// Bits per element (1..=64).
    pub ebits: usize,
    /// Two's complement elements (else unsigned).
    pub signed: bool,
    /// Window positions per output pixel (KH·KW).
    pub kk: usize,
}

impl PoolParams {
    /// Stream word width LANES·EBITS (input and output).
    pub fn bits(&self) -> usize {
        self.lanes * self.ebits
    }

    pub fn check(&self) -> Result<(), String> {
        if self.cw < 1 || self.lanes < 1 || self.kk < 1 {
            return Err(format!(
                "bnn_pool: CW, LANES, KK must be positive ({self:?})"
            ));
        }
        if !(1..=64).contains(&self.ebits) {
            return Err(format!("bnn_pool: EBITS must be 1..64 ({self:?})"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Max {
    /// 1-bit unsigned: OR.
    Or,
    /// 1-bit signed (0 and −1): AND.
    And,
    /// Every lane in one limb.
    Small,
    /// Lanes spread over several limbs.
    Wide,
}

/// One `bnn_pool`.
#[derive(Clone, Debug)]
pub struct Pool {
    p: PoolParams,
    wl: usize,
    max: Max,
    emask: u64,
    /// XORed into a lane to compare two's complement values as unsigned ones.
    flip: u64,
    m_buf: Vec<u64>,

    // ---- registers
    pos: usize,
    cw: usize,
    acc: Vec<u64>,
    queue: PairQueue,
}

impl Pool {
    pub fn new(p: &PoolParams) -> Result<Self, String> {
        p.check()?;
        let wl = limbs(p.bits());
        let max = match (p.ebits, p.signed) {
            (1, false) => Max::Or,
            (1, true) => Max::And,
            _ if p.bits() <= 64 => Max::Small,
            _ => Max::Wide,
        };
        Ok(Pool {
            wl,
            max,
            emask: bits::ones(p.ebits),
            flip: if p.signed { 1u64 << (p.ebits - 1) } else { 0 },
            m_buf: vec![0; wl],
            pos: 0,
            cw: 0,
            acc: vec![0; p.cw * wl],
            queue: PairQueue::new(wl),
            p: p.clone(),
        })
    }

    pub fn params(&self) -> &PoolParams {
        &self.p
    }

    /// Synchronous reset: `pos`, `cw`, `q_cnt`.
    pub fn reset(&mut self) {
        self.pos = 0;
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

    /// An edge without a handshake changes no register: the pool only acts on its handshakes.
    #[inline]
    pub fn idle_edge(&self) -> bool {
        true
    }

    /// `m = lanemax(acc, m)` in place (`m` holds the input word).
    #[inline]
    fn lanemax(&self, acc: &[u64], m: &mut [u64]) {
        let (e, lanes) = (self.p.ebits, self.p.lanes);
        match self.max {
            Max::Or => m.iter_mut().zip(acc).for_each(|(x, a)| *x |= a),
            Max::And => m.iter_mut().zip(acc).for_each(|(x, a)| *x &= a),
            Max::Small => {
                let (a, x) = (acc[0], m[0]);
                let mut r = 0u64;
                for l in 0..lanes {
                    let (va, vx) = ((a >> (l * e)) & self.emask, (x >> (l * e)) & self.emask);
                    let v = if (va ^ self.flip) > (vx ^ self.flip) {
                        va
                    } else {
                        vx
                    };
                    r |= v << (l * e);
                }
                m[0] = r;
            }
            Max::Wide => {
                for l in 0..lanes {
                    let va = bits::get(acc, l * e, e);
                    let vx = bits::get(m, l * e, e);
                    if (va ^ self.flip) > (vx ^ self.flip) {
                        bits::set(m, l * e, e, va);
                    }
                }
            }
        }
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        debug_assert!(push.is_none() || self.s_ready(), "push while not ready");
        debug_assert!(!pop || self.m_valid(), "pop while not valid");
        let wl = self.wl;
        let mut q_push = false;
        if let Some(w) = push {
            let mut m = std::mem::take(&mut self.m_buf);
            let n = w.len().min(wl);
            m[..n].copy_from_slice(&w[..n]);
            m[n..].iter_mut().for_each(|x| *x = 0);
            bits::truncate(&mut m, self.p.bits());
            let slot = self.cw * wl..(self.cw + 1) * wl;
            if self.pos != 0 {
                self.lanemax(&self.acc[slot.clone()], &mut m);
            }
            if self.pos + 1 == self.p.kk {
                q_push = true;
            } else {
                self.acc[slot].copy_from_slice(&m);
            }
            self.m_buf = m;
            self.cw += 1;
            if self.cw == self.p.cw {
                self.cw = 0;
                self.pos = if self.pos + 1 == self.p.kk {
                    0
                } else {
                    self.pos + 1
                };
            }
        }
        if let Some(dst) = self.queue.edge(q_push, pop) {
            dst.copy_from_slice(&self.m_buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cyclesim::{Block, Pipeline, RunConfig, Stalls, Words};
    use crate::synth::Rng;

    fn lane(w: &[u64], p: &PoolParams, l: usize) -> i128 {
        let v = bits::get(w, l * p.ebits, p.ebits);
        if p.signed {
            i128::from(bits::sext(v, p.ebits as u32))
        } else {
            i128::from(v)
        }
    }

    /// Lane-wise max over each group of KK positions (position outer, word inner).
    fn reference(p: &PoolParams, inputs: &Words) -> Words {
        let mut out = Words::new(p.bits());
        let group = p.kk * p.cw;
        for g in 0..inputs.len() / group {
            for c in 0..p.cw {
                let mut word = vec![0u64; limbs(p.bits())];
                for l in 0..p.lanes {
                    let best = (0..p.kk)
                        .map(|k| inputs.get(g * group + k * p.cw + c))
                        .max_by_key(|w| lane(w, p, l))
                        .unwrap();
                    bits::set(
                        &mut word,
                        l * p.ebits,
                        p.ebits,
                        bits::get(best, l * p.ebits, p.ebits),
                    );
                }
                out.push(&word);
            }
        }
        out
    }

    #[test]
    fn pool_is_lanewise_max_under_stalls() {
        let mut rng = Rng::new(21);
        for g in 0..120 {
            let ebits = match g % 6 {
                0 => 1,
                1 => 64,
                2 => 33,
                _ => rng.range_usize(2, 8),
            };
            let p = PoolParams {
                cw: rng.range_usize(1, 3),
                lanes: rng.range_usize(1, 9),
                ebits,
                signed: rng.below(2) == 1,
                kk: rng.range_usize(1, 9),
            };
            let pixels = rng.range_usize(1, 12);
            let mut inputs = Words::new(p.bits());
            for _ in 0..pixels * p.kk * p.cw {
                // few distinct values: ties and equal lanes
                let mut w = vec![0u64; limbs(p.bits())];
                for l in 0..p.lanes {
                    let v = if rng.below(2) == 0 {
                        rng.below(3).wrapping_sub(1)
                    } else {
                        rng.next_u64()
                    };
                    bits::set(&mut w, l * p.ebits, p.ebits, v);
                }
                inputs.push(&w);
            }
            let expected = reference(&p, &inputs);
            let mut pl = Pipeline::single(Block::Pool(Pool::new(&p).unwrap()), p.bits(), p.bits());
            for st in [
                Stalls::NONE,
                Stalls::both(0.3, g + 1),
                Stalls {
                    seed: g + 5,
                    p_in: 0.0,
                    p_out: 0.6,
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
                    // one word per cycle in; a window's last word at edge t is valid from t + 1
                    for (i, &c) in r.in_cycles.iter().enumerate() {
                        assert_eq!(c, i as u64, "{p:?}");
                    }
                    for (o, &c) in r.out_cycles.iter().enumerate() {
                        let (px, cw) = (o / p.cw, o % p.cw);
                        let last_in = (px * p.kk + p.kk - 1) * p.cw + cw;
                        assert_eq!(c, last_in as u64 + 1, "{p:?} output {o}");
                    }
                }
            }
        }
    }

    #[test]
    fn pool_backpressure_and_parameters() {
        let p = PoolParams {
            cw: 1,
            lanes: 4,
            ebits: 2,
            signed: false,
            kk: 1,
        };
        let mut pl = Pipeline::single(Block::Pool(Pool::new(&p).unwrap()), 8, 8);
        let mut inputs = Words::new(8);
        (0..20).for_each(|i| inputs.push_u64(i));
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
        // with KK = 1 the queue (2 words) is all the storage
        assert_eq!(r.in_cycles, vec![0, 1]);
        for bad in [
            PoolParams { cw: 0, ..p.clone() },
            PoolParams { kk: 0, ..p.clone() },
            PoolParams {
                lanes: 0,
                ..p.clone()
            },
            PoolParams {
                ebits: 0,
                ..p.clone()
            },
            PoolParams {
                ebits: 65,
                ..p.clone()
            },
        ] {
            assert!(Pool::new(&bad).unwrap_err().starts_with("bnn_pool:"));
        }
    }
}
