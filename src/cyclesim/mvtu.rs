//! Cycle model of `hw/bnn_mvtu.v` with its weight and threshold ROMs (`hw/bnn_rom.v`, one
//! synchronous-read ROM per PE, as the generated layer wrappers and `tests/hw/mvtu_tb_top.v`
//! wire them).
//!
//! Registers mirror the RTL one to one (see the header of `bnn_mvtu.v`):
//!
//! | RTL | here |
//! |---|---|
//! | `a_nf`, `a_sf`, `a_addr` | `a_nf`, `a_sf`, `a_addr` |
//! | `b_valid`, `b_first`, `b_last`, `b_nf` | same names |
//! | `b_x` (`b_xin` / `ibuf` replay) | `b_sf`: the input buffer slot holding the beat's word |
//! | weight-ROM `rdata` (per PE) | `b_waddr`: the address latched at the read (the ROM is constant) |
//! | `c_valid`, `c_first`, `c_last`, `c_nf`, `c_dot` | same names |
//! | `acc`, `d_last` | same names |
//! | threshold-ROM `rdata` (per PE) | `t_addr`: the address latched at the read |
//! | `q_cnt`, `q_head`, `q_tail` | same names |
//!
//! Holding an address instead of the ROM output word is exact: a ROM register changes only at an
//! enabled read, and then to `mem[addr]`. `b_x` is kept as a slot of the input buffer: the model
//! writes every stream word into `ibuf[a_sf]` (the RTL only does when NF > 1 and keeps a copy in
//! `b_xin`); that slot is not overwritten before the beat leaves stage B, since the next write to
//! it is SF ≥ 1 issues later and stage C reads it at the same edge, before the write.
//!
//! Weights are stored pre-decoded per (ROM address, PE): packed bits for XNOR mode, one `i32` per
//! lane otherwise; thresholds sign-extended per (neuron fold, PE). Dot products are computed only
//! for valid beats (an invalid beat's `c_dot` is never accumulated).

use super::bits::{self, limbs, sext};
use super::dot::DotUnit;

/// The parameters of one `bnn_mvtu` instance, exactly its Verilog parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MvtuParams {
    pub mw: usize,
    pub mh: usize,
    pub pe: usize,
    pub simd: usize,
    pub wbits: u32,
    pub ibits: u32,
    /// 0 bipolar, 1 unsigned, 2 signed.
    pub wtype: u32,
    pub itype: u32,
    pub acc_bits: u32,
    /// 0: no activation.
    pub nsteps: usize,
    pub obits: u32,
    pub tbits: u32,
    pub out_bias: i64,
    pub xnor_fanin: usize,
}

impl MvtuParams {
    pub fn nf(&self) -> usize {
        self.mh / self.pe
    }

    pub fn sf(&self) -> usize {
        self.mw / self.simd
    }

    pub fn xnor(&self) -> bool {
        self.wtype == 0 && self.itype == 0
    }

    /// Input stream width SIMD·IBITS.
    pub fn in_bits(&self) -> usize {
        self.simd * self.ibits as usize
    }

    /// Output stream width PE·OBITS.
    pub fn out_bits(&self) -> usize {
        self.pe * self.obits as usize
    }

    /// Weight ROM word width SIMD·WBITS.
    pub fn wrom_bits(&self) -> usize {
        self.simd * self.wbits as usize
    }

    /// Threshold ROM word width NSTEPS·TBITS + 1.
    pub fn trom_bits(&self) -> usize {
        self.nsteps * self.tbits as usize + 1
    }

    /// The RTL's elaboration checks (plus the widths this model supports).
    pub fn check(&self) -> Result<(), String> {
        let e = |m: &str| Err(format!("bnn_mvtu: {m} ({self:?})"));
        if self.pe < 1 || self.simd < 1 || self.mw < 1 || self.mh < 1 {
            return e("MW, MH, PE, SIMD must be positive");
        }
        if !self.mw.is_multiple_of(self.simd) {
            return e("SIMD must divide MW");
        }
        if !self.mh.is_multiple_of(self.pe) {
            return e("PE must divide MH");
        }
        if self.nsteps == 0 && self.obits != self.acc_bits {
            return e("OBITS must equal ACC_BITS when NSTEPS is 0");
        }
        if self.nsteps > 0 && (self.tbits < 1 || self.obits < 1 || self.tbits > 64) {
            return e("TBITS must be 1..64 and OBITS positive");
        }
        if self.acc_bits < 2 || self.acc_bits > 62 || self.obits > 64 {
            return e("ACC_BITS must be 2..62 and OBITS at most 64");
        }
        if self.wtype > 2 || self.itype > 2 {
            return e("WTYPE and ITYPE must be 0, 1 or 2");
        }
        if (self.wtype == 0 && self.wbits != 1) || (self.itype == 0 && self.ibits != 1) {
            return e("a bipolar type needs 1 bit");
        }
        if !(1..=8).contains(&self.wbits) || !(1..=8).contains(&self.ibits) {
            return e("WBITS and IBITS must be 1..8");
        }
        if self.xnor() && (self.xnor_fanin < 1 || self.xnor_fanin > self.mw) {
            return e("XNOR_FANIN must be in 1..MW");
        }
        Ok(())
    }
}

/// One `bnn_mvtu` plus its ROMs.
#[derive(Clone, Debug)]
pub struct Mvtu {
    p: MvtuParams,
    nf: usize,
    sf: usize,
    xnor: bool,
    /// Limbs of an input word / of SIMD bits (XNOR weights) / of an output word.
    xl: usize,
    ol: usize,
    /// The weight ROMs, pre-decoded, and the dot-product kernel.
    dot: DotUnit,
    /// `[nf][pe][nsteps]` sign-extended thresholds, `[nf][pe]` direction bits (1 = `<=`).
    thr: Vec<i64>,
    dir: Vec<bool>,
    acc_mask: u64,
    obits_mask: u64,

    // ---- registers
    a_nf: usize,
    a_sf: usize,
    a_addr: usize,
    ibuf: Vec<u64>,
    b_valid: bool,
    b_first: bool,
    b_last: bool,
    b_nf: usize,
    b_sf: usize,
    b_waddr: usize,
    c_valid: bool,
    c_first: bool,
    c_last: bool,
    c_nf: usize,
    c_dot: Vec<i64>,
    acc: Vec<i64>,
    d_last: bool,
    t_addr: usize,
    q_cnt: u8,
    q_head: Vec<u64>,
    q_tail: Vec<u64>,

    /// Beats issued (statistics).
    pub beats: u64,
    /// Cycles with `adv = 0` (statistics).
    pub stall_cycles: u64,
}

impl Mvtu {
    /// Builds the model from raw ROM images: `wrom[pe][addr]` (NF·SF words of SIMD·WBITS bits)
    /// and `trom[pe][nf]` (NF words of NSTEPS·TBITS+1 bits; ignored when NSTEPS = 0), each word
    /// as little-endian limbs — the contents of the `$readmemh` files.
    pub fn new(
        p: &MvtuParams,
        wrom: &[Vec<Vec<u64>>],
        trom: &[Vec<Vec<u64>>],
    ) -> Result<Self, String> {
        p.check()?;
        let (nf, sf) = (p.nf(), p.sf());
        let depth = nf * sf;
        if wrom.len() != p.pe || wrom.iter().any(|r| r.len() != depth) {
            return Err(format!(
                "bnn_mvtu: need {} weight ROMs of {depth} words",
                p.pe
            ));
        }
        if p.nsteps > 0 && (trom.len() != p.pe || trom.iter().any(|r| r.len() != nf)) {
            return Err(format!(
                "bnn_mvtu: need {} threshold ROMs of {nf} words",
                p.pe
            ));
        }
        let xnor = p.xnor();
        let xl = limbs(p.in_bits());
        let dot = DotUnit::new(wrom, depth, p.simd, p.wbits, p.ibits, p.wtype, p.itype);
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
        let ol = limbs(p.out_bits());
        Ok(Mvtu {
            nf,
            sf,
            xnor,
            xl,
            ol,
            dot,
            thr,
            dir,
            acc_mask: bits::ones(p.acc_bits as usize),
            obits_mask: bits::ones(p.obits as usize),
            a_nf: 0,
            a_sf: 0,
            a_addr: 0,
            ibuf: vec![0; sf * xl],
            b_valid: false,
            b_first: false,
            b_last: false,
            b_nf: 0,
            b_sf: 0,
            b_waddr: 0,
            c_valid: false,
            c_first: false,
            c_last: false,
            c_nf: 0,
            c_dot: vec![0; p.pe],
            acc: vec![0; p.pe],
            d_last: false,
            t_addr: 0,
            q_cnt: 0,
            q_head: vec![0; ol],
            q_tail: vec![0; ol],
            beats: 0,
            stall_cycles: 0,
            p: p.clone(),
        })
    }

    pub fn params(&self) -> &MvtuParams {
        &self.p
    }

    /// Synchronous reset: the registers marked (R) in the RTL; the others keep their values
    /// (they are qualified by the valid bits).
    pub fn reset(&mut self) {
        self.a_nf = 0;
        self.a_sf = 0;
        self.a_addr = 0;
        self.b_valid = false;
        self.c_valid = false;
        self.d_last = false;
        self.q_cnt = 0;
        self.beats = 0;
        self.stall_cycles = 0;
    }

    #[inline]
    fn adv(&self) -> bool {
        !(self.d_last && self.q_cnt == 2)
    }

    #[inline]
    pub fn s_ready(&self) -> bool {
        self.adv() && self.a_nf == 0
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.q_cnt != 0
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.q_head
    }

    /// Whether nothing is in flight (no beat in B–D, no queued word, at a vector boundary).
    pub fn idle(&self) -> bool {
        !self.b_valid
            && !self.c_valid
            && !self.d_last
            && self.q_cnt == 0
            && self.a_nf == 0
            && self.a_sf == 0
    }

    /// The result word of stage D (`result` in the RTL) into `out`.
    fn result_into(&self, out: &mut [u64]) {
        let p = &self.p;
        let ob = p.obits as usize;
        let small = p.out_bits() <= 64;
        let mut word = 0u64;
        if !small {
            out.iter_mut().for_each(|w| *w = 0);
        }
        for pe in 0..p.pe {
            let v = self.channel_result(pe);
            if small {
                word |= v << (pe * ob);
            } else {
                bits::set(out, pe * ob, ob, v);
            }
        }
        if small {
            out[0] = word;
        }
    }

    /// The output bits (OBITS) of PE `pe` for the current accumulator and threshold register.
    #[inline]
    fn channel_result(&self, pe: usize) -> u64 {
        let p = &self.p;
        let wrapped = (self.acc[pe] as u64) & self.acc_mask;
        if p.nsteps > 0 {
            let a = sext(wrapped, p.acc_bits);
            let ch = self.t_addr * p.pe + pe;
            let ts = &self.thr[ch * p.nsteps..(ch + 1) * p.nsteps];
            let count = if self.dir[ch] {
                ts.iter().filter(|&&t| a <= t).count()
            } else {
                ts.iter().filter(|&&t| a >= t).count()
            } as i64;
            // 32-bit `biased`, then bnn_resize to OBITS (sign-extended above 32 bits)
            let biased = (count + p.out_bias) as u64 & 0xFFFF_FFFF;
            let biased = if p.obits > 32 {
                sext(biased, 32) as u64
            } else {
                biased
            };
            biased & self.obits_mask
        } else if self.xnor {
            (wrapped
                .wrapping_add(wrapped)
                .wrapping_sub(p.xnor_fanin as u64))
                & self.acc_mask
        } else {
            wrapped
        }
    }

    /// The dot products of the beat in stage B into `c_dot`.
    #[inline]
    fn dot(&mut self) {
        let x = &self.ibuf[self.b_sf * self.xl..(self.b_sf + 1) * self.xl];
        self.dot.compute(self.b_waddr, x, &mut self.c_dot);
    }

    /// Which dot-product datapath the model uses ("xnor", "planes", "mac"; all exact).
    pub fn datapath(&self) -> &'static str {
        self.dot.kind()
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let adv = self.adv();
        let a_in = self.a_nf == 0;
        debug_assert!(push.is_none() || (adv && a_in), "push while not ready");
        let a_valid = !a_in || push.is_some();
        let issue = adv && a_valid;
        let q_push = adv && self.d_last;

        // output queue (reads acc and the threshold-ROM register before the edge)
        match (q_push, pop) {
            (true, false) => {
                if self.q_cnt == 0 {
                    let mut h = std::mem::take(&mut self.q_head);
                    self.result_into(&mut h);
                    self.q_head = h;
                } else {
                    debug_assert_eq!(self.q_cnt, 1);
                    let mut t = std::mem::take(&mut self.q_tail);
                    self.result_into(&mut t);
                    self.q_tail = t;
                }
                self.q_cnt += 1;
            }
            (false, true) => {
                if self.q_cnt == 2 {
                    std::mem::swap(&mut self.q_head, &mut self.q_tail);
                }
                self.q_cnt -= 1;
            }
            (true, true) => {
                // q_cnt is 1 (push with q_cnt == 2 cannot happen)
                let mut h = std::mem::take(&mut self.q_head);
                self.result_into(&mut h);
                self.q_head = h;
            }
            (false, false) => {}
        }

        if !adv {
            self.stall_cycles += 1;
            return;
        }
        // stage D
        if self.c_valid {
            if self.c_first {
                self.acc.copy_from_slice(&self.c_dot);
            } else {
                for (a, d) in self.acc.iter_mut().zip(&self.c_dot) {
                    *a += d;
                }
            }
        }
        self.d_last = self.c_valid && self.c_last;
        if self.p.nsteps > 0 && self.c_valid && self.c_last {
            self.t_addr = self.c_nf;
        }
        // stage C
        if self.b_valid {
            self.dot();
        }
        self.c_valid = self.b_valid;
        self.c_first = self.b_first;
        self.c_last = self.b_last;
        self.c_nf = self.b_nf;
        // stage B
        self.b_valid = a_valid;
        self.b_first = self.a_sf == 0;
        self.b_last = self.a_sf == self.sf - 1;
        self.b_nf = self.a_nf;
        if issue {
            self.beats += 1;
            if let Some(w) = push {
                let dst = &mut self.ibuf[self.a_sf * self.xl..(self.a_sf + 1) * self.xl];
                let n = w.len().min(self.xl);
                dst[..n].copy_from_slice(&w[..n]);
                dst[n..].iter_mut().for_each(|x| *x = 0);
                bits::truncate(dst, self.p.in_bits());
            }
            self.b_sf = self.a_sf;
            self.b_waddr = self.a_addr;
            // stage A counters
            if self.a_sf == self.sf - 1 {
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
    }

    /// Output word limbs.
    pub fn out_limbs(&self) -> usize {
        self.ol
    }
}
