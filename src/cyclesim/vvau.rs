//! Cycle model of `hw/bnn_vvau.v` (the vector-vector-threshold unit of a depthwise convolution)
//! with its weight and threshold ROMs, written from the module header's spec.
//!
//! The VVAU has the MVTU's parameters ([`MvtuParams`]: MW = kernel positions, MH = channels), its
//! issue stage, credits, pipeline latency `LAT` and output queue `Q`; what differs is the
//! datapath: every beat reads a new stream word (no input buffer: a channel's window is used by
//! its own PE only), and PE `p` dots *its own* SIMD lanes of the word (lane `l·PE + p`) with its
//! weights, instead of one word broadcast to every PE. As in `mvtu.rs`, the free-running stages
//! after the issue stage are a delay line of `LAT` slots: a fold's output word is known at the
//! issue edge of its last beat and is pushed `LAT` edges later.
//!
//! Accumulators are exact (`i64`): the popcount `#{w bit == x bit}` for XNOR (bipolar ×
//! bipolar), else the dot product of the decoded values (the RTL's OFFSET form `2·A − Σv` is that
//! dot product), wrapped to ACC_BITS when the output is formed. Dot products are computed only
//! for issued beats; nothing is allocated per cycle.

use super::bits::{self, limbs, sext};
use super::mvtu::MvtuParams;

/// One `bnn_vvau` plus its ROMs.
#[derive(Clone, Debug)]
pub struct Vvau {
    p: MvtuParams,
    nf: usize,
    sf: usize,
    xnor: bool,
    lat: usize,
    q: usize,
    xl: usize,
    ol: usize,
    /// `[addr][pe][lane]`: the weight bit (XNOR) or the decoded weight value.
    w: Vec<i64>,
    /// `[nf][pe][nsteps]` sign-extended stored thresholds `T'`, `[nf][pe]` direction bits.
    thr: Vec<i64>,
    dir: Vec<bool>,
    acc_mask: u64,
    obits_mask: u64,

    // ---- stall state (registers of the spec)
    a_nf: usize,
    a_sf: usize,
    a_addr: usize,
    credits: usize,
    queue: Vec<u64>,
    q_head: usize,
    q_count: usize,

    // ---- the free-running datapath
    acc: Vec<i64>,
    line: Vec<u64>,
    line_valid: Vec<bool>,
    line_pos: usize,
    line_n: usize,

    /// Beats issued (statistics).
    pub beats: u64,
    /// Cycles in which the issue stage was at a fold's last beat with no credit free.
    pub stall_cycles: u64,
}

/// The value of a `bits`-bit field of type `ty` (0 bipolar, 1 unsigned, 2 signed).
fn decode(raw: u64, bits: u32, ty: u32) -> i64 {
    match ty {
        0 => 2 * (raw & 1) as i64 - 1,
        1 => raw as i64,
        _ => sext(raw, bits),
    }
}

impl Vvau {
    /// Builds the model from the ROM images (`wrom[pe][addr]`, `trom[pe][nf]`, as for
    /// [`super::Mvtu::new`]; the VVAU's ROMs have the MVTU's layout).
    pub fn new(
        p: &MvtuParams,
        wrom: &[Vec<Vec<u64>>],
        trom: &[Vec<Vec<u64>>],
    ) -> Result<Self, String> {
        p.check().map_err(|e| e.replace("bnn_mvtu", "bnn_vvau"))?;
        let (nf, sf) = (p.nf(), p.sf());
        let depth = nf * sf;
        if wrom.len() != p.pe || wrom.iter().any(|r| r.len() != depth) {
            return Err(format!(
                "bnn_vvau: need {} weight ROMs of {depth} words",
                p.pe
            ));
        }
        if p.nsteps > 0 && (trom.len() != p.pe || trom.iter().any(|r| r.len() != nf)) {
            return Err(format!(
                "bnn_vvau: need {} threshold ROMs of {nf} words",
                p.pe
            ));
        }
        let xnor = p.xnor();
        let wb = p.wbits as usize;
        let mut w = Vec::with_capacity(depth * p.pe * p.simd);
        for addr in 0..depth {
            for rom in wrom {
                for l in 0..p.simd {
                    let raw = bits::get(&rom[addr], l * wb, wb);
                    w.push(if xnor {
                        raw as i64
                    } else {
                        decode(raw, p.wbits, p.wtype)
                    });
                }
            }
        }
        let mut thr = Vec::new();
        let mut dir = Vec::new();
        if p.nsteps > 0 {
            let tb = p.tbits as usize;
            for n in 0..nf {
                for rom in trom {
                    let word = &rom[n];
                    for i in 0..p.nsteps {
                        thr.push(sext(bits::get(word, i * tb, tb), p.tbits));
                    }
                    dir.push(bits::get(word, p.nsteps * tb, 1) == 1);
                }
            }
        }
        let (lat, q) = (p.latency(), p.queue_depth());
        let ol = limbs(p.out_bits());
        Ok(Vvau {
            nf,
            sf,
            xnor,
            lat,
            q,
            xl: limbs(Self::in_bits_of(p)),
            ol,
            w,
            thr,
            dir,
            acc_mask: bits::ones(p.acc_bits as usize),
            obits_mask: bits::ones(p.obits as usize),
            a_nf: 0,
            a_sf: 0,
            a_addr: 0,
            credits: q,
            queue: vec![0; q * ol],
            q_head: 0,
            q_count: 0,
            acc: vec![0; p.pe],
            line: vec![0; lat * ol],
            line_valid: vec![false; lat],
            line_pos: 0,
            line_n: 0,
            beats: 0,
            stall_cycles: 0,
            p: p.clone(),
        })
    }

    /// Input stream width PE·SIMD·IBITS.
    pub fn in_bits_of(p: &MvtuParams) -> usize {
        p.pe * p.simd * p.ibits as usize
    }

    pub fn params(&self) -> &MvtuParams {
        &self.p
    }

    /// Synchronous reset (as [`super::Mvtu::reset`]).
    pub fn reset(&mut self) {
        self.a_nf = 0;
        self.a_sf = 0;
        self.a_addr = 0;
        self.credits = self.q;
        self.q_head = 0;
        self.q_count = 0;
        self.line_valid.iter_mut().for_each(|v| *v = false);
        self.line_pos = 0;
        self.line_n = 0;
        self.beats = 0;
        self.stall_cycles = 0;
    }

    #[inline]
    fn can_issue(&self) -> bool {
        self.a_sf != self.sf - 1 || self.credits != 0
    }

    /// `s_axis_tready = can` (registers only): every beat reads the stream.
    #[inline]
    pub fn s_ready(&self) -> bool {
        self.can_issue()
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.q_count != 0
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.queue[self.q_head * self.ol..(self.q_head + 1) * self.ol]
    }

    /// An edge without a handshake changes no register read later: the issue stage waits for
    /// an input word (and would not stall on a credit) and nothing is in flight.
    #[inline]
    pub fn idle_edge(&self) -> bool {
        self.line_n == 0 && self.can_issue()
    }

    /// Every credit free, at a vector boundary.
    pub fn idle(&self) -> bool {
        self.credits == self.q && self.a_nf == 0 && self.a_sf == 0
    }

    /// Words in the output queue.
    pub fn queued(&self) -> usize {
        self.q_count
    }

    /// Output words in the pipeline (reserved, not yet pushed).
    pub fn in_flight(&self) -> usize {
        self.line_n
    }

    #[inline]
    fn channel_result(&self, nf: usize, pe: usize) -> u64 {
        let p = &self.p;
        let wrapped = (self.acc[pe] as u64) & self.acc_mask;
        if p.nsteps > 0 {
            let a = sext(wrapped, p.acc_bits);
            let ch = nf * p.pe + pe;
            let ts = &self.thr[ch * p.nsteps..(ch + 1) * p.nsteps];
            let hits = ts.iter().filter(|&&t| a >= t).count();
            let count = if self.dir[ch] { p.nsteps - hits } else { hits } as i64;
            (count + p.out_bias) as u64 & self.obits_mask
        } else if self.xnor {
            (wrapped
                .wrapping_add(wrapped)
                .wrapping_sub(p.xnor_fanin as u64))
                & self.acc_mask
        } else {
            wrapped
        }
    }

    /// Adds this beat's per-PE dot products (word `x`, ROM address `addr`) into `acc`, or starts
    /// the fold's sums with them (`first`).
    fn accumulate(&mut self, x: &[u64], addr: usize, first: bool) {
        let p = &self.p;
        let ib = p.ibits as usize;
        for pe in 0..p.pe {
            let ws = &self.w[(addr * p.pe + pe) * p.simd..][..p.simd];
            let mut s = 0i64;
            for (l, &w) in ws.iter().enumerate() {
                let raw = bits::get(x, (l * p.pe + pe) * ib, ib);
                s += if self.xnor {
                    i64::from(raw as i64 == w)
                } else {
                    w * decode(raw, p.ibits, p.itype)
                };
            }
            if first {
                self.acc[pe] = s;
            } else {
                self.acc[pe] += s;
            }
        }
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let a_last = self.a_sf == self.sf - 1;
        let can = self.can_issue();
        debug_assert!(push.is_none() || can, "push while not ready");
        debug_assert!(!pop || self.q_count != 0, "pop from an empty queue");
        let issue = push.is_some() && can;
        if !can {
            self.stall_cycles += 1;
        }
        if pop {
            self.q_head = if self.q_head + 1 == self.q {
                0
            } else {
                self.q_head + 1
            };
            self.q_count -= 1;
        }
        let slot = self.line_pos;
        let ol = self.ol;
        if self.line_valid[slot] {
            debug_assert!(self.q_count < self.q, "output queue overflow");
            let mut tail = self.q_head + self.q_count;
            if tail >= self.q {
                tail -= self.q;
            }
            self.queue[tail * ol..(tail + 1) * ol]
                .copy_from_slice(&self.line[slot * ol..(slot + 1) * ol]);
            self.q_count += 1;
            self.line_valid[slot] = false;
            self.line_n -= 1;
        }
        if let (true, Some(w)) = (issue, push) {
            self.beats += 1;
            let n = w.len().min(self.xl);
            self.accumulate(&w[..n], self.a_addr, self.a_sf == 0);
            if a_last {
                let mut word = std::mem::take(&mut self.line);
                let out = &mut word[slot * ol..(slot + 1) * ol];
                out.iter_mut().for_each(|v| *v = 0);
                let ob = self.p.obits as usize;
                for pe in 0..self.p.pe {
                    bits::set(out, pe * ob, ob, self.channel_result(self.a_nf, pe));
                }
                self.line = word;
                self.line_valid[slot] = true;
                self.line_n += 1;
                self.credits -= 1;
                self.a_sf = 0;
                self.a_nf = if self.a_nf == self.nf - 1 {
                    0
                } else {
                    self.a_nf + 1
                };
            } else {
                self.a_sf += 1;
            }
            self.a_addr = if self.a_addr == self.nf * self.sf - 1 {
                0
            } else {
                self.a_addr + 1
            };
        }
        if pop {
            self.credits += 1;
        }
        self.line_pos = if slot + 1 == self.lat { 0 } else { slot + 1 };
    }

    /// Output word limbs.
    pub fn out_limbs(&self) -> usize {
        self.ol
    }

    /// `LAT` ([`MvtuParams::latency`]).
    pub fn latency(&self) -> usize {
        self.lat
    }

    /// `Q` ([`MvtuParams::queue_depth`]).
    pub fn queue_depth(&self) -> usize {
        self.q
    }
}
