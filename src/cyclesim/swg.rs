//! Cycle model of `hw/bnn_swg.v`: the sliding-window generator (im2col with built-in padding),
//! written from `docs/swg-pool-spec.md` (not from the RTL).
//!
//! Registers mirror the spec one to one: the writer (`wr_ptr`), the buffer accounting (`occ`,
//! `held`, `rel_ptr`), the reader odometer (`oy`, `ox`, `ky`, `kx`, `cw`), stage R (`r_valid`,
//! `r_pad`, `r_cw`, `mem_q`), the 2-entry output queue (`q_cnt`, `q_head`, `q_tail`: `queue.rs`,
//! which `bnn_pool` and `bnn_gap` spec alike) and the buffer `mem`. `s_axis_tready` and `m_axis_tvalid` depend on registers only.
//!
//! `mem_q` is a copy of the word read, not an address: a slot released by a window's last beat
//! may be rewritten while that beat still waits in stage R. For speed the model keeps the
//! odometer's window origin (`oy·SH − PH`, `ox·SW − PW`) and the raster index of the window in
//! registers of its own, and takes `hold` of every window from a table built once.

use super::bits::{self, limbs};
use super::queue::PairQueue;
use crate::passes::window::Window;

/// The parameters of one `bnn_swg` instance (its Verilog parameters `IH, IW, CW, KH, KW, SH,
/// SW, PH, PW` as a [`Window`], `WBITS`, `DEPTH`, `PAD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwgParams {
    pub window: Window,
    /// Bits per stream word.
    pub wbits: usize,
    /// Buffer words (normally [`Window::depth`]).
    pub depth: usize,
    /// The pad words, `CW·WBITS` bits as little-endian limbs: pad word `cw` is
    /// `PAD[cw·WBITS +: WBITS]`. Missing limbs are zero.
    pub pad: Vec<u64>,
    /// `DEPTHWISE`: per window, `cw` outermost and `kx` innermost (the VVAU's order), instead of
    /// `cw` innermost.
    pub depthwise: bool,
}

impl SwgParams {
    /// The checks of the RTL (`DEPTH >= 1`) plus a geometry with at least one window.
    pub fn check(&self) -> Result<(), String> {
        let w = &self.window;
        let e = |m: &str| Err(format!("bnn_swg: {m} ({self:?})"));
        if w.ih < 1 || w.iw < 1 || w.cw < 1 || w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1 {
            return e("IH, IW, CW, KH, KW, SH, SW must be positive");
        }
        if w.kh > w.ih + 2 * w.ph || w.kw > w.iw + 2 * w.pw {
            return e("the kernel must fit the padded image (KH <= IH + 2*PH, KW <= IW + 2*PW)");
        }
        if self.wbits < 1 {
            return e("WBITS must be positive");
        }
        if self.depth < 1 {
            return e("DEPTH must be at least 1");
        }
        let pb = w.cw * self.wbits;
        let above = |i: usize, l: u64| {
            let lo = i * 64;
            l != 0 && (lo >= pb || (pb - lo < 64 && l >> (pb - lo) != 0))
        };
        if self.pad.iter().enumerate().any(|(i, &l)| above(i, l)) {
            return e("PAD has bits set at or above CW*WBITS");
        }
        Ok(())
    }
}

/// The reader's view of the beat at the odometer (see [`Swg::tick`]).
struct Beat {
    issue: bool,
    pad: bool,
    wlast: bool,
    /// Words from `rel_ptr` to the beat's word.
    off: usize,
    /// Words the beat releases (its window's last beat).
    rel: usize,
}

/// One `bnn_swg`.
#[derive(Clone, Debug)]
pub struct Swg {
    p: SwgParams,
    ih: i64,
    iw: i64,
    cw_n: usize,
    kh: usize,
    kw: usize,
    ow: usize,
    /// Windows per frame.
    nwin: usize,
    depth: usize,
    wl: usize,
    /// Pad word `cw` at `[cw·wl, (cw+1)·wl)`.
    pad_words: Vec<u64>,
    /// `hold` of window `j + 1` in raster order (`FW` for the last window: what its end releases
    /// up to) and the value `held` takes at the end of window `j` (0 for the last).
    next_rel: Vec<usize>,
    next_held: Vec<usize>,

    // ---- registers
    mem: Vec<u64>,
    wr_ptr: usize,
    occ: usize,
    held: usize,
    rel_ptr: usize,
    oy: usize,
    ox: usize,
    ky: usize,
    kx: usize,
    cw: usize,
    r_valid: bool,
    r_pad: bool,
    r_cw: usize,
    mem_q: Vec<u64>,
    queue: PairQueue,

    // ---- derived from the odometer (kept incrementally)
    /// `oy·SH − PH`, `ox·SW − PW`.
    ybase: i64,
    xbase: i64,
    /// Raster index of window `(oy, ox)`.
    win: usize,

    /// Largest `occ` after any edge (statistics).
    pub max_occupancy: usize,
}

impl Swg {
    pub fn new(p: &SwgParams) -> Result<Self, String> {
        p.check()?;
        let w = p.window;
        let (oh, ow, fw) = (w.oh(), w.ow(), w.frame_words());
        let nwin = oh * ow;
        let wl = limbs(p.wbits);
        let mut pad_words = vec![0u64; w.cw * wl];
        for c in 0..w.cw {
            bits::extract(
                &mut pad_words[c * wl..(c + 1) * wl],
                &p.pad,
                c * p.wbits,
                p.wbits,
            );
        }
        let mut next_rel = Vec::with_capacity(nwin);
        let mut next_held = Vec::with_capacity(nwin);
        for j in 0..nwin {
            if j + 1 == nwin {
                next_rel.push(fw);
                next_held.push(0);
            } else {
                let h = w.hold((j + 1) / ow, (j + 1) % ow);
                next_rel.push(h);
                next_held.push(h);
            }
        }
        let mut s = Swg {
            ih: w.ih as i64,
            iw: w.iw as i64,
            cw_n: w.cw,
            kh: w.kh,
            kw: w.kw,
            ow,
            nwin,
            depth: p.depth,
            wl,
            pad_words,
            next_rel,
            next_held,
            mem: vec![0; p.depth * wl],
            wr_ptr: 0,
            occ: 0,
            held: 0,
            rel_ptr: 0,
            oy: 0,
            ox: 0,
            ky: 0,
            kx: 0,
            cw: 0,
            r_valid: false,
            r_pad: false,
            r_cw: 0,
            mem_q: vec![0; wl],
            queue: PairQueue::new(wl),
            ybase: 0,
            xbase: 0,
            win: 0,
            max_occupancy: 0,
            p: p.clone(),
        };
        s.reset();
        Ok(s)
    }

    pub fn params(&self) -> &SwgParams {
        &self.p
    }

    /// Synchronous reset: the registers marked (R) in the spec.
    pub fn reset(&mut self) {
        self.wr_ptr = 0;
        self.occ = 0;
        self.held = 0;
        self.rel_ptr = 0;
        self.oy = 0;
        self.ox = 0;
        self.ky = 0;
        self.kx = 0;
        self.cw = 0;
        self.r_valid = false;
        self.queue.reset();
        let w = &self.p.window;
        self.ybase = -(w.ph as i64);
        self.xbase = -(w.pw as i64);
        self.win = 0;
        self.max_occupancy = 0;
    }

    /// Words written and not yet released (`occ`).
    pub fn occupancy(&self) -> usize {
        self.occ
    }

    #[inline]
    pub fn s_ready(&self) -> bool {
        self.occ != self.depth
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.queue.m_valid()
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        self.queue.m_data()
    }

    /// Stores `result` (stage R's word) into `dst`.
    #[inline]
    fn result(pad_words: &[u64], mem_q: &[u64], r_pad: bool, r_cw: usize, dst: &mut [u64]) {
        let wl = dst.len();
        if r_pad {
            dst.copy_from_slice(&pad_words[r_cw * wl..(r_cw + 1) * wl]);
        } else {
            dst.copy_from_slice(mem_q);
        }
    }

    /// One rising edge. `push`: the input word if `s_axis_tvalid && s_axis_tready`; `pop`:
    /// `m_axis_tvalid && m_axis_tready`.
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        debug_assert!(push.is_none() || self.s_ready(), "push while not ready");
        debug_assert!(!pop || self.m_valid(), "pop while not valid");
        let adv = !(self.r_valid && self.queue.is_full());

        // output queue (reads stage R before the edge; a push never meets a full queue: adv is
        // 0 when stage R is full and the queue holds 2)
        let q_push = adv && self.r_valid;
        if let Some(dst) = self.queue.edge(q_push, pop) {
            Self::result(&self.pad_words, &self.mem_q, self.r_pad, self.r_cw, dst);
        }

        // reader: the beat at the odometer, issued if its data is available
        let mut released = 0;
        if adv {
            let Beat {
                issue,
                pad,
                wlast,
                off,
                rel,
            } = self.beat();
            self.r_valid = issue;
            self.r_pad = pad;
            self.r_cw = self.cw;
            if issue {
                if !pad {
                    let a = self.rel_ptr + off;
                    let a = if a >= self.depth { a - self.depth } else { a };
                    let wl = self.wl;
                    self.mem_q.copy_from_slice(&self.mem[a * wl..(a + 1) * wl]);
                }
                if wlast {
                    released = rel;
                    self.held = self.next_held[self.win];
                    let r = self.rel_ptr + rel;
                    self.rel_ptr = if r >= self.depth { r - self.depth } else { r };
                }
                self.advance();
            }
        }

        // writer
        self.occ -= released;
        if let Some(w) = push {
            let wl = self.wl;
            let dst = &mut self.mem[self.wr_ptr * wl..(self.wr_ptr + 1) * wl];
            let n = w.len().min(wl);
            dst[..n].copy_from_slice(&w[..n]);
            dst[n..].iter_mut().for_each(|x| *x = 0);
            bits::truncate(dst, self.p.wbits);
            self.wr_ptr = if self.wr_ptr + 1 == self.depth {
                0
            } else {
                self.wr_ptr + 1
            };
            self.occ += 1;
            if self.occ > self.max_occupancy {
                self.max_occupancy = self.occ;
            }
        }
    }

    /// The beat at the odometer and whether its data is available (`issue`).
    #[inline]
    fn beat(&self) -> Beat {
        let iy = self.ybase + self.ky as i64;
        let ix = self.xbase + self.kx as i64;
        let pad = iy < 0 || iy >= self.ih || ix < 0 || ix >= self.iw;
        let wlast = self.cw + 1 == self.cw_n && self.kx + 1 == self.kw && self.ky + 1 == self.kh;
        let off = if pad {
            0
        } else {
            ((iy * self.iw + ix) as usize) * self.cw_n + self.cw - self.held
        };
        let rel = if wlast {
            self.next_rel[self.win] - self.held
        } else {
            0
        };
        Beat {
            issue: (pad || off < self.occ) && rel <= self.occ,
            pad,
            wlast,
            off,
            rel,
        }
    }

    /// An edge without a handshake would change no register that is read later: stage R is
    /// stuck behind a full queue, or it is empty and the beat at the odometer cannot issue (its
    /// `r_pad`/`r_cw` would be rewritten, but they are only read behind `r_valid`, and set
    /// again at the next issue).
    #[inline]
    pub fn idle_edge(&self) -> bool {
        if self.r_valid {
            self.queue.is_full()
        } else {
            !self.beat().issue
        }
    }

    /// Advances the odometer by one beat (`cw` innermost, then `kx`, `ky`, `ox`, `oy`; with
    /// `depthwise`, `kx` innermost, then `ky`, `cw`, `ox`, `oy`).
    #[inline]
    fn advance(&mut self) {
        if self.p.depthwise {
            self.kx += 1;
            if self.kx < self.kw {
                return;
            }
            self.kx = 0;
            self.ky += 1;
            if self.ky < self.kh {
                return;
            }
            self.ky = 0;
            self.cw += 1;
            if self.cw < self.cw_n {
                return;
            }
            self.cw = 0;
        } else {
            self.cw += 1;
            if self.cw < self.cw_n {
                return;
            }
            self.cw = 0;
            self.kx += 1;
            if self.kx < self.kw {
                return;
            }
            self.kx = 0;
            self.ky += 1;
            if self.ky < self.kh {
                return;
            }
            self.ky = 0;
        }
        let w = &self.p.window;
        self.win += 1;
        if self.win == self.nwin {
            self.win = 0;
            self.oy = 0;
            self.ox = 0;
            self.ybase = -(w.ph as i64);
            self.xbase = -(w.pw as i64);
        } else if self.ox + 1 == self.ow {
            self.ox = 0;
            self.oy += 1;
            self.ybase += w.sh as i64;
            self.xbase = -(w.pw as i64);
        } else {
            self.ox += 1;
            self.xbase += w.sw as i64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cyclesim::{Block, Pipeline, RunConfig, Stalls, Words};
    use crate::synth::Rng;

    fn params(w: Window, wbits: usize, depth: usize, rng: &mut Rng) -> SwgParams {
        let pb = w.cw * wbits;
        let mut pad = vec![0u64; limbs(pb)];
        for (i, l) in pad.iter_mut().enumerate() {
            *l = rng.next_u64() & bits::ones((pb - i * 64).min(64));
        }
        SwgParams {
            window: w,
            wbits,
            depth,
            pad,
            depthwise: rng.below(2) == 0,
        }
    }

    /// The beats `(ky, kx, cw)` of one window in stream order: `cw` innermost, or (depthwise)
    /// outermost.
    fn window_beats(p: &SwgParams) -> Vec<(usize, usize, usize)> {
        let w = &p.window;
        let mut v = Vec::new();
        if p.depthwise {
            for c in 0..w.cw {
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        v.push((ky, kx, c));
                    }
                }
            }
        } else {
            for ky in 0..w.kh {
                for kx in 0..w.kw {
                    for c in 0..w.cw {
                        v.push((ky, kx, c));
                    }
                }
            }
        }
        v
    }

    /// im2col of `frames` frames of `inputs`, the way the golden model pads.
    fn reference(p: &SwgParams, inputs: &Words, frames: usize) -> Words {
        let w = &p.window;
        let mut out = Words::new(p.wbits);
        let mut pw = vec![0u64; limbs(p.wbits)];
        for f in 0..frames {
            for oy in 0..w.oh() {
                for ox in 0..w.ow() {
                    for (ky, kx, c) in window_beats(p) {
                        let iy = (oy * w.sh + ky) as i64 - w.ph as i64;
                        let ix = (ox * w.sw + kx) as i64 - w.pw as i64;
                        if iy < 0 || ix < 0 || iy >= w.ih as i64 || ix >= w.iw as i64 {
                            bits::extract(&mut pw, &p.pad, c * p.wbits, p.wbits);
                            out.push(&pw);
                        } else {
                            let n = (iy as usize * w.iw + ix as usize) * w.cw + c;
                            out.push(inputs.get(f * w.frame_words() + n));
                        }
                    }
                }
            }
        }
        out
    }

    /// The beats at the start of a frame that can issue before any of its input arrives: pad
    /// beats, up to the first one that reads a word or ends a window releasing one.
    fn free_lead(p: &SwgParams) -> usize {
        let w = &p.window;
        let mut n = 0;
        for j in 0..w.oh() * w.ow() {
            let (oy, ox) = (j / w.ow(), j % w.ow());
            for (ky, kx, c) in window_beats(p) {
                let iy = (oy * w.sh + ky) as i64 - w.ph as i64;
                let ix = (ox * w.sw + kx) as i64 - w.pw as i64;
                let pad = iy < 0 || ix < 0 || iy >= w.ih as i64 || ix >= w.iw as i64;
                let wlast = ky + 1 == w.kh && kx + 1 == w.kw && c + 1 == w.cw;
                let rel = if j + 1 == w.oh() * w.ow() {
                    w.frame_words()
                } else {
                    w.hold((j + 1) / w.ow(), (j + 1) % w.ow())
                };
                if !pad || (wlast && rel > 0) {
                    return n;
                }
                n += 1;
            }
        }
        n
    }

    fn random_window(rng: &mut Rng) -> Window {
        let (ih, iw) = match rng.below(5) {
            0 => (1, rng.range_usize(1, 9)),
            1 => (rng.range_usize(1, 9), 1),
            _ => (rng.range_usize(1, 9), rng.range_usize(1, 9)),
        };
        let (ph, pw) = (rng.range_usize(0, 2), rng.range_usize(0, 2));
        Window {
            ih,
            iw,
            cw: rng.range_usize(1, 3),
            kh: rng.range_usize(1, 5.min(ih + 2 * ph)),
            kw: rng.range_usize(1, 5.min(iw + 2 * pw)),
            sh: rng.range_usize(1, 3),
            sw: rng.range_usize(1, 3),
            ph,
            pw,
        }
    }

    #[test]
    fn swg_is_im2col_under_stalls() {
        let mut rng = Rng::new(11);
        let mut runs = 0;
        for g in 0..250 {
            let w = random_window(&mut rng);
            let wbits = if g % 25 == 0 {
                70
            } else {
                rng.range_usize(1, 12)
            };
            let depth = w.depth()
                + if rng.below(3) == 0 {
                    rng.range_usize(1, 7)
                } else {
                    0
                };
            let p = params(w, wbits, depth, &mut rng);
            let frames = rng.range_usize(1, 3);
            let mut inputs = Words::new(wbits);
            for _ in 0..frames * w.frame_words() {
                let word: Vec<u64> = (0..limbs(wbits)).map(|_| rng.next_u64()).collect();
                inputs.push(&word);
            }
            let expected = reference(&p, &inputs, frames);
            let swg = Swg::new(&p).unwrap();
            let mut pl = Pipeline::single(Block::Swg(Box::new(swg)), wbits, wbits);
            let timeout = 20 * (inputs.len() + expected.len()) as u64 + 1000;
            for st in [
                Stalls::NONE,
                Stalls::both(0.3, g as u32 + 1),
                Stalls {
                    seed: 5 + g as u32,
                    p_in: 0.0,
                    p_out: 0.6,
                },
                Stalls {
                    seed: 9 + g as u32,
                    p_in: 0.5,
                    p_out: 0.0,
                },
            ] {
                let r = pl.run(
                    &inputs,
                    expected.len(),
                    &RunConfig {
                        stalls: st,
                        timeout,
                        extra: 8,
                    },
                );
                assert!(!r.timed_out, "{p:?} {st:?}: timeout");
                assert_eq!(r.in_cycles.len(), inputs.len(), "{p:?} {st:?}");
                let n = expected.len();
                assert_eq!(r.outputs.len(), n + r.extra_words);
                for i in 0..n {
                    assert_eq!(r.outputs.get(i), expected.get(i), "{p:?} {st:?} word {i}");
                }
                // words beyond the last frame: the next frame's leading beats that need no input
                assert!(r.extra_words <= free_lead(&p), "{p:?} {st:?}");
                for i in 0..r.extra_words {
                    assert_eq!(r.outputs.get(n + i), expected.get(i), "{p:?} {st:?}");
                }
                if let Block::Swg(s) = &pl.blocks()[0] {
                    assert!(s.max_occupancy <= depth);
                }
                runs += 1;
            }
        }
        assert_eq!(runs, 1000);
    }

    /// The smallest DEPTH with which the reader can progress (the spec's note): reads of a
    /// window and what its end releases must fit.
    fn progress_depth(w: &Window) -> usize {
        let (oh, ow) = (w.oh(), w.ow());
        let mut d = 1;
        for j in 0..oh * ow {
            let (oy, ox) = (j / ow, j % ow);
            let next = if j + 1 == oh * ow {
                w.frame_words()
            } else {
                w.hold((j + 1) / ow, (j + 1) % ow)
            };
            let need = w.last_read(oy, ox).map_or(0, |r| r + 1).max(next);
            d = d.max(need - w.hold(oy, ox));
        }
        d
    }

    /// With the spec's minimum DEPTH every geometry runs (slowly); with one word less the
    /// reader waits forever.
    #[test]
    fn swg_minimum_depth() {
        let mut rng = Rng::new(5);
        for g in 0..150 {
            let w = random_window(&mut rng);
            let d = progress_depth(&w);
            assert!(d <= w.depth(), "{w:?}");
            let mut inputs = Words::new(4);
            (0..2 * w.frame_words()).for_each(|i| inputs.push_u64(i as u64));
            let st = Stalls::both(0.3, g + 1);
            let p = params(w, 4, d, &mut rng);
            let expected = reference(&p, &inputs, 2);
            let mut pl = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 4, 4);
            let timeout = 20 * (inputs.len() + expected.len()) as u64 + 1000;
            let r = pl.run(&inputs, expected.len(), &RunConfig::new(st, timeout));
            assert!(!r.timed_out, "{w:?} depth {d}");
            assert_eq!(r.outputs, expected, "{w:?} depth {d}");
            if d > 1 {
                let p = SwgParams { depth: d - 1, ..p };
                let mut pl = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 4, 4);
                let r = pl.run(&inputs, expected.len(), &RunConfig::new(st, timeout));
                assert!(r.timed_out, "{w:?} depth {}", d - 1);
            }
        }
    }

    #[test]
    fn swg_timing() {
        // 1x1 kernel: input word i written at edge i, issued at edge i + 1, valid from i + 3
        let w = Window {
            ih: 4,
            iw: 5,
            cw: 1,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            ph: 0,
            pw: 0,
        };
        let mut rng = Rng::new(3);
        let p = params(w, 8, w.depth(), &mut rng);
        let mut pl = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 8, 8);
        let inputs = {
            let mut x = Words::new(8);
            (0..40).for_each(|i| x.push_u64(i));
            x
        };
        let r = pl.run(&inputs, 40, &RunConfig::new(Stalls::NONE, 1000));
        for i in 0..40 {
            assert_eq!(r.outputs.get(i)[0], i as u64);
            assert_eq!(r.out_cycles[i], i as u64 + 3, "word {i}");
        }
        // padding first: the pad beats need no input: beat b issued at edge b, valid from b + 2
        let w = Window {
            kh: 3,
            kw: 3,
            ph: 1,
            pw: 1,
            ..w
        };
        let p = params(w, 8, w.depth(), &mut rng);
        let mut pl = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 8, 8);
        let r = pl.run(&inputs, 3, &RunConfig::new(Stalls::NONE, 1000));
        assert_eq!(r.out_cycles, vec![2, 3, 4]);
        // the output never ready: 2 words queued plus one in stage R, the input stops at DEPTH
        let r = pl.run(
            &inputs,
            1,
            &RunConfig::new(
                Stalls {
                    seed: 3,
                    p_in: 0.0,
                    p_out: 1.0,
                },
                200,
            ),
        );
        assert!(r.timed_out);
        assert_eq!(r.in_cycles.len(), w.depth());
    }

    #[test]
    fn swg_rejects_bad_parameters() {
        let w = Window {
            ih: 4,
            iw: 5,
            cw: 2,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            ph: 0,
            pw: 0,
        };
        let ok = SwgParams {
            window: w,
            wbits: 4,
            depth: w.depth(),
            pad: vec![0xff],
            depthwise: false,
        };
        assert!(Swg::new(&ok).is_ok());
        let bad = |f: &dyn Fn(&mut SwgParams)| {
            let mut p = ok.clone();
            f(&mut p);
            Swg::new(&p).unwrap_err()
        };
        assert!(bad(&|p| p.depth = 0).contains("DEPTH"));
        assert!(bad(&|p| p.wbits = 0).contains("WBITS"));
        assert!(bad(&|p| p.pad = vec![0x1ff]).contains("PAD"));
        assert!(bad(&|p| p.pad = vec![0, 1]).contains("PAD"));
        assert!(bad(&|p| p.window.kh = 5).contains("kernel"));
        assert!(bad(&|p| p.window.sw = 0).contains("positive"));
        assert!(Swg::new(&SwgParams {
            pad: vec![0xff, 0],
            ..ok.clone()
        })
        .is_ok());
    }

    /// Streams `frames` frames (input always valid) into an SWG of `depth` words read by an
    /// MVTU-like consumer that takes the SF words of a window in consecutive cycles and then
    /// refuses (NF−1)·SF cycles. Returns, per frame of the consumer, the cycles after the first
    /// window in which it wanted a word and `m_valid` was low.
    fn starve_by_frame(w: &Window, depth: usize, nf: usize, frames: usize) -> Vec<u64> {
        let p = SwgParams {
            window: *w,
            wbits: 1,
            depth,
            pad: vec![0],
            depthwise: false,
        };
        let mut s = Swg::new(&p).unwrap();
        let sf = w.window_words();
        let n_in = frames * w.frame_words();
        let n_out = frames * w.out_words();
        let (mut written, mut read) = (0usize, 0usize);
        let (mut taken, mut refuse) = (0usize, 0usize);
        let mut starve = vec![0u64; frames];
        let word = [0u64];
        let mut cycle = 0u64;
        while read < n_out {
            assert!(
                cycle < 100 * (n_in + n_out * nf) as u64 + 1000,
                "{w:?}: stuck"
            );
            let ready = refuse == 0;
            let valid = s.m_valid();
            if ready && !valid && read >= sf {
                starve[read / w.out_words()] += 1;
            }
            let push = written < n_in && s.s_ready();
            let pop = ready && valid;
            s.tick(push.then_some(&word[..]), pop);
            written += usize::from(push);
            if refuse > 0 {
                refuse -= 1;
            } else if pop {
                read += 1;
                taken += 1;
                if taken == sf {
                    taken = 0;
                    refuse = (nf - 1) * sf;
                }
            }
            cycle += 1;
        }
        starve
    }

    fn starve_geometries() -> Vec<Window> {
        let mut rng = Rng::new(77);
        let mut v: Vec<Window> = (0..150).map(|_| random_window(&mut rng)).collect();
        let sq = |ih, cw, k, s, p| Window {
            ih,
            iw: ih,
            cw,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
        };
        v.extend([
            sq(32, 1, 3, 1, 0),
            sq(30, 2, 3, 1, 0),
            sq(14, 2, 2, 2, 0),
            sq(16, 1, 3, 1, 1),
            sq(8, 3, 5, 1, 2),
            sq(9, 1, 3, 2, 1),
            sq(7, 1, 2, 2, 0),
        ]);
        v
    }

    fn prefetch_depth(w: &Window, nf: usize) -> usize {
        w.depth_for(nf)
    }

    /// Runs the starve check for every geometry and NF = 1..4 whose input fits the consumer's
    /// rate (input words per frame <= NF·SF·OH·OW); returns the failures: any starve cycle
    /// after the first frame, or in the first frame more than with an unbounded buffer (the
    /// start-up, when the early windows of the first frame need more words than have arrived).
    fn starve_failures(depth: impl Fn(&Window, usize) -> usize) -> (usize, Vec<String>) {
        let mut failures = Vec::new();
        let mut checked = 0;
        for w in starve_geometries() {
            for nf in 1..=4 {
                let consumer = nf * w.out_words();
                if w.frame_words() > consumer {
                    continue;
                }
                checked += 1;
                let d = depth(&w, nf);
                let v = starve_by_frame(&w, d, nf, 3);
                let startup = starve_by_frame(&w, 4 * w.frame_words() + 64, nf, 1)[0];
                if v[1..].iter().any(|&x| x > 0) || v[0] > startup {
                    failures.push(format!(
                        "{w:?} NF {nf}: depth {d}: starve cycles per frame {v:?} (start-up {startup}; FW {}, consumer {consumer} cycles/frame)",
                        w.frame_words()
                    ));
                }
            }
        }
        (checked, failures)
    }

    /// The generator keeps an MVTU behind it fed: after the first frame's start-up, the consumer
    /// never waits, unless the input words of a frame outnumber the consumer's cycles per frame
    /// (then nothing can keep up). With [`Window::depth_for`], the depth the generator uses.
    #[test]
    fn swg_never_starves_an_mvtu() {
        let (checked, failures) = starve_failures(prefetch_depth);
        assert!(checked > 500, "{checked}");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Why the generator uses `depth_for`: one window of lookahead (`Window::depth()`) starves
    /// the consumer for some of these geometries (11 of 606 when measured: strides larger than
    /// the kernel, rows or columns of windows entirely in padding).
    #[test]
    fn one_window_of_lookahead_is_not_enough() {
        let (_, failures) = starve_failures(|w, _| w.depth());
        assert!(!failures.is_empty());
    }

    /// Simulated cycles per second of a 32x32x1 3x3 SWG with an always-ready sink (run with
    /// `--release --ignored --nocapture`). Also prints the two depths of a few CNV-like layers.
    #[test]
    #[ignore]
    fn swg_speed() {
        let w = Window {
            ih: 32,
            iw: 32,
            cw: 1,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            ph: 0,
            pw: 0,
        };
        let mut rng = Rng::new(1);
        let p = params(w, 8, w.depth(), &mut rng);
        let frames = 200;
        let mut inputs = Words::new(8);
        (0..frames * w.frame_words()).for_each(|i| inputs.push_u64(i as u64));
        let mut pl = Pipeline::single(Block::Swg(Box::new(Swg::new(&p).unwrap())), 8, 8);
        let t = std::time::Instant::now();
        let r = pl.run(
            &inputs,
            frames * w.out_words(),
            &RunConfig::new(Stalls::NONE, u64::MAX),
        );
        let dt = t.elapsed().as_secs_f64();
        assert!(!r.timed_out);
        println!(
            "{} cycles in {dt:.3} s: {:.1} M cycles/s",
            r.cycles,
            r.cycles as f64 / dt / 1e6
        );
        for g in starve_geometries().iter().skip(150) {
            println!(
                "{g:?}: Window::depth {} prefetch_depth NF1 {} NF4 {}",
                g.depth(),
                prefetch_depth(g, 1),
                prefetch_depth(g, 4)
            );
        }
    }
}
