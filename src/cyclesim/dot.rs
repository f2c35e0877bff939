//! The per-PE dot products of one MVTU neuron fold (`hw/bnn_dot.v` for all PEs, summed over the
//! fold's SF beats as the accumulators do), on pre-decoded weights, and the MVTU's input buffer
//! (the SF words of the current input vector). Three exact datapaths, chosen per layer:
//!
//! - **XNOR** (bipolar × bipolar): `dot = SIMD − popcount(w ^ x)`, the number of equal bits (the
//!   RTL's XNOR-popcount; both operands are zero above SIMD bits, so no mask is needed).
//! - **bit planes** (other types when WB·IB·8 <= SIMD per limb of lanes): every operand
//!   value is `α·Σ_j c_j·bit_j + β` (bipolar: α = 2, β = −1, c = [1]; unsigned: c_j = 2^j;
//!   signed: the top plane weighs −2^(n−1)), so
//!   `Σ w·x = αw·αx·Σ_ij cw_i·cx_j·popcount(W_i & X_j) + αw·βx·ΣW + βw·αx·ΣX + βw·βx·SIMD`,
//!   with ΣW precomputed per (address, PE) and ΣX once per beat.
//! - **MAC**: one `i32` multiply per lane (few lanes, many bits); input lanes are decoded once,
//!   when the word is stored.
//!
//! XNOR and MAC weights are stored fold-major (`[nf][pe][sf][…]`), so one PE's whole fold is a
//! single contiguous run that the compiler vectorizes (`pmaddwd` for MAC); a fold costs one call
//! instead of SF beat calls.
//!
//! All three give the exact integer sum; the MVTU wraps it to ACC_BITS like the RTL. The
//! popcount loops are compiled a second time with the `popcnt` instruction enabled and that
//! version is used when the CPU has it.

use super::bits::{self, limbs, sext};

#[derive(Clone, Debug)]
enum Path {
    Xnor {
        /// `[nf][pe][sf][sl]`
        w: Vec<u64>,
    },
    Planes {
        /// `[addr][pe][wbits][sl]` weight bit planes
        w: Vec<u64>,
        /// `[addr][pe]` Σ_l W_l (the plane-weighted raw sum)
        wsum: Vec<i64>,
        /// `[wbits][ibits]` αw·αx·cw_i·cx_j
        coef: Vec<i64>,
        /// input plane coefficients cx_j
        cx: Vec<i64>,
        /// αw·βx, βw·αx, βw·βx·SIMD
        k_w: i64,
        k_x: i64,
        k_c: i64,
    },
    Mac {
        /// `[nf][pe][sf][simd]` decoded weights (at most 8 bits: i16 holds every value)
        w: Vec<i16>,
    },
}

/// Pre-decoded weights of one MVTU, its input buffer and the kernel for its types.
#[derive(Clone, Debug)]
pub struct DotUnit {
    path: Path,
    pe: usize,
    simd: usize,
    sf: usize,
    wb: usize,
    ib: usize,
    itype: u32,
    /// Limbs of SIMD bits (one plane).
    sl: usize,
    /// Limbs of one input word (SIMD·IBITS bits).
    xl: usize,
    popcnt: bool,
    /// The input buffer: the SF words of the current input vector, `[sf][xl]`.
    xs: Vec<u64>,
    /// MAC: the lanes of `xs` decoded, `[sf][simd]`.
    xdec: Vec<i16>,
    /// Bit planes: the input planes of `xs`, `[sf][ibits][sl]`, and per word the constant part
    /// of its beat (`βw·αx·ΣX + βw·βx·SIMD`), split once per stream word; scratch for one
    /// beat's sums.
    xp: Vec<u64>,
    xbase: Vec<i64>,
    beat: Vec<i64>,
    /// For input planes of IB = 2, 4 or 8 bits: byte → its 8/IB lanes split into planes (plane
    /// `j` at bits `8j..`), so a beat's input planes take one lookup per byte.
    byte_planes: Option<Vec<u64>>,
}

/// The byte → planes table of [`DotUnit::byte_planes`] for `ib` ∈ {2, 4, 8}.
fn byte_planes_table(ib: usize) -> Vec<u64> {
    let lanes = 8 / ib;
    (0..256u64)
        .map(|b| {
            let mut t = 0u64;
            for l in 0..lanes {
                let raw = (b >> (l * ib)) & ((1 << ib) - 1);
                for j in 0..ib {
                    t |= ((raw >> j) & 1) << (8 * j + l);
                }
            }
            t
        })
        .collect()
}

/// (α, β, plane coefficients) of a type code (0 bipolar, 1 unsigned, 2 signed) of `n` bits.
fn affine(ty: u32, n: usize) -> (i64, i64, Vec<i64>) {
    match ty {
        0 => (2, -1, vec![1]),
        1 => (1, 0, (0..n).map(|j| 1i64 << j).collect()),
        _ => (
            1,
            0,
            (0..n)
                .map(|j| if j + 1 == n { -(1i64 << j) } else { 1i64 << j })
                .collect(),
        ),
    }
}

/// The value of a `bits`-bit lane of type `ty` (0 bipolar, 1 unsigned, 2 signed).
pub(super) fn decode(raw: u64, ty: u32, bits: u32) -> i32 {
    match ty {
        0 => {
            if raw & 1 == 1 {
                1
            } else {
                -1
            }
        }
        1 => raw as i32,
        _ => sext(raw, bits) as i32,
    }
}

fn has_popcnt() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

/// One limb of SIMD lanes (SIMD ≤ 64) with `WB` weight planes and `IB` input planes, unrolled:
/// the common narrow-type case (W2A2 does four AND-popcounts per PE and nothing else).
#[inline(always)]
fn planes_one_limb<const WB: usize, const IB: usize>(
    w: &[u64],
    wsum: &[i64],
    xp: &[u64],
    coef: &[i64],
    k_w: i64,
    base: i64,
    out: &mut [i64],
) {
    let mut x = [0u64; IB];
    x.copy_from_slice(&xp[..IB]);
    let mut c = [[0i64; IB]; WB];
    for (i, row) in c.iter_mut().enumerate() {
        row.copy_from_slice(&coef[i * IB..(i + 1) * IB]);
    }
    for ((o, wp), &s) in out.iter_mut().zip(w.chunks_exact(WB)).zip(wsum) {
        let mut acc = k_w * s + base;
        for i in 0..WB {
            for j in 0..IB {
                acc += c[i][j] * i64::from((wp[i] & x[j]).count_ones());
            }
        }
        *o = acc;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn planes_body(
    w: &[u64],
    wsum: &[i64],
    xp: &[u64],
    coef: &[i64],
    wb: usize,
    ib: usize,
    sl: usize,
    k_w: i64,
    base: i64,
    out: &mut [i64],
) {
    let per = wb * sl;
    if sl == 1 {
        macro_rules! one {
            ($($w:literal, $i:literal);*) => {
                match (wb, ib) {
                    $(($w, $i) => return planes_one_limb::<$w, $i>(w, wsum, xp, coef, k_w, base, out),)*
                    _ => {}
                }
            };
        }
        one!(1, 1; 1, 2; 1, 3; 1, 4; 2, 1; 2, 2; 2, 3; 2, 4; 3, 1; 3, 2; 3, 3; 3, 4;
             4, 1; 4, 2; 4, 3; 4, 4);
    }
    for ((o, wp), &s) in out.iter_mut().zip(w.chunks_exact(per)).zip(wsum) {
        let mut acc = 0i64;
        for i in 0..wb {
            let wi = &wp[i * sl..(i + 1) * sl];
            for j in 0..ib {
                let xj = &xp[j * sl..(j + 1) * sl];
                let c: u32 = wi.iter().zip(xj).map(|(a, b)| (a & b).count_ones()).sum();
                acc += coef[i * ib + j] * i64::from(c);
            }
        }
        *o = acc + k_w * s + base;
    }
}

/// The XNOR fold kernel: per PE, `Σ_s (SIMD − popcount(W_s ^ X_s))` over the fold's SF beats,
/// with the weights of one PE's fold contiguous (`w`: `[pe][n]` limbs, `x`: `n` limbs).
#[inline(always)]
fn xnor_fold_body(w: &[u64], x: &[u64], equal_max: i64, out: &mut [i64]) {
    let n = x.len();
    for (o, wp) in out.iter_mut().zip(w.chunks_exact(n)) {
        let d: u32 = wp.iter().zip(x).map(|(a, b)| (a ^ b).count_ones()).sum();
        *o = equal_max - i64::from(d);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn xnor_fold_popcnt(w: &[u64], x: &[u64], equal_max: i64, out: &mut [i64]) {
    xnor_fold_body(w, x, equal_max, out)
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "popcnt")]
unsafe fn planes_popcnt(
    w: &[u64],
    wsum: &[i64],
    xp: &[u64],
    coef: &[i64],
    wb: usize,
    ib: usize,
    sl: usize,
    k_w: i64,
    base: i64,
    out: &mut [i64],
) {
    planes_body(w, wsum, xp, coef, wb, ib, sl, k_w, base, out)
}

/// The MAC fold kernel: per PE the exact sum of the `n` lane products of the fold (`w`:
/// `[pe][n]`, `x`: `n` lanes read by every PE).
#[inline(always)]
fn mac_fold(w: &[i16], x: &[i16], out: &mut [i64]) {
    let n = x.len();
    for (o, wp) in out.iter_mut().zip(w.chunks_exact(n)) {
        *o = dot_exact(wp, x);
    }
}

/// The exact `Σ a·b` of two equally long runs of decoded lanes (at most 8-bit operands, so
/// `|a·b| <= 255·255` and an `i32` sum is exact over 32,768 lanes; longer runs are summed in
/// chunks of that many). Also the depthwise datapath's kernel (`vvau.rs`).
#[inline(always)]
pub(super) fn dot_exact(a: &[i16], b: &[i16]) -> i64 {
    const CHUNK: usize = 32_768;
    if a.len() <= CHUNK {
        i64::from(dot_i16(a, b))
    } else {
        a.chunks(CHUNK)
            .zip(b.chunks(CHUNK))
            .map(|(p, q)| i64::from(dot_i16(p, q)))
            .sum()
    }
}

/// `Σ a·b` of two equally long `i16` runs in `i32` (the caller bounds the length), in eight
/// independent lanes so that it compiles to packed multiply-adds.
#[inline(always)]
fn dot_i16(a: &[i16], b: &[i16]) -> i32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let tail: i32 = ra
        .iter()
        .zip(rb)
        .map(|(&p, &q)| i32::from(p) * i32::from(q))
        .sum();
    let mut acc = [0i32; 8];
    for (p, q) in ca.iter().zip(cb) {
        for ((s, &p), &q) in acc.iter_mut().zip(p).zip(q) {
            *s += i32::from(p) * i32::from(q);
        }
    }
    acc.iter().sum::<i32>() + tail
}

impl DotUnit {
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
        let depth = nf * sf;
        let (wb, ib) = (wbits as usize, ibits as usize);
        let sl = limbs(simd);
        let lane = |p: usize, addr: usize, l: usize| bits::get(&wrom[p][addr], l * wb, wb);
        let path = if wtype == 0 && itype == 0 {
            // fold-major: [nf][pe][sf][sl], one PE's fold contiguous
            let mut w = Vec::with_capacity(depth * pe * sl);
            for n in 0..nf {
                for p in 0..pe {
                    for s in 0..sf {
                        let mut packed = vec![0u64; sl];
                        for l in 0..simd {
                            bits::set(&mut packed, l, 1, lane(p, n * sf + s, l));
                        }
                        w.extend_from_slice(&packed);
                    }
                }
            }
            Path::Xnor { w }
        } else if 8 * wb * ib * sl <= simd {
            // bit planes pay when the WB·IB AND-popcounts per limb of lanes are few against
            // the lanes (W2A2 at 32 or 64 lanes); else packed multiply-adds are cheaper
            let (aw, bw, cw) = affine(wtype, wb);
            let (ax, bx, cx) = affine(itype, ib);
            let mut w = Vec::with_capacity(depth * pe * wb * sl);
            let mut wsum = Vec::with_capacity(depth * pe);
            for addr in 0..depth {
                for p in 0..pe {
                    let mut planes = vec![0u64; wb * sl];
                    let mut s = 0i64;
                    for l in 0..simd {
                        let raw = lane(p, addr, l);
                        for (i, &c) in cw.iter().enumerate() {
                            if (raw >> i) & 1 == 1 {
                                bits::set(&mut planes[i * sl..(i + 1) * sl], l, 1, 1);
                                s += c;
                            }
                        }
                    }
                    w.extend_from_slice(&planes);
                    wsum.push(s);
                }
            }
            let coef = (0..wb * ib)
                .map(|k| aw * ax * cw[k / ib] * cx[k % ib])
                .collect();
            Path::Planes {
                w,
                wsum,
                coef,
                cx,
                k_w: aw * bx,
                k_x: bw * ax,
                k_c: bw * bx * simd as i64,
            }
        } else {
            // fold-major: [nf][pe][sf][simd]
            let mut w = Vec::with_capacity(depth * pe * simd);
            for n in 0..nf {
                for p in 0..pe {
                    for s in 0..sf {
                        for l in 0..simd {
                            w.push(decode(lane(p, n * sf + s, l), wtype, wbits) as i16);
                        }
                    }
                }
            }
            Path::Mac { w }
        };
        let xl = limbs(simd * ib);
        DotUnit {
            path,
            pe,
            simd,
            sf,
            wb,
            ib,
            itype,
            sl,
            xl,
            popcnt: has_popcnt(),
            xs: vec![0; sf * xl],
            xdec: vec![0; sf * simd],
            xp: vec![0; sf * ib * sl],
            xbase: vec![0; sf],
            beat: vec![0; pe],
            byte_planes: matches!(ib, 2 | 4 | 8).then(|| byte_planes_table(ib)),
        }
    }

    /// Which datapath: "xnor", "planes" or "mac".
    pub fn kind(&self) -> &'static str {
        match self.path {
            Path::Xnor { .. } => "xnor",
            Path::Planes { .. } => "planes",
            Path::Mac { .. } => "mac",
        }
    }

    /// Stores input word `x` (SIMD lanes of `ibits`; bits above are dropped) as the word of
    /// beat `slot` (0..SF) of the current input vector: the MVTU's input buffer.
    pub fn load(&mut self, slot: usize, x: &[u64]) {
        let xl = self.xl;
        let dst = &mut self.xs[slot * xl..(slot + 1) * xl];
        let n = x.len().min(xl);
        dst[..n].copy_from_slice(&x[..n]);
        dst[n..].iter_mut().for_each(|v| *v = 0);
        bits::truncate(dst, self.simd * self.ib);
        if let Path::Mac { .. } = self.path {
            // decoded once per stream word, read by every neuron fold
            let (ib, simd) = (self.ib, self.simd);
            let mask = bits::ones(ib);
            let dec = &mut self.xdec[slot * simd..(slot + 1) * simd];
            let lane = |l: usize| {
                let pos = l * ib;
                let (limb, off) = (pos / 64, pos % 64);
                let mut raw = dst[limb] >> off;
                if off + ib > 64 {
                    raw |= dst[limb + 1] << (64 - off);
                }
                raw & mask
            };
            match self.itype {
                0 => dec
                    .iter_mut()
                    .enumerate()
                    .for_each(|(l, d)| *d = 2 * lane(l) as i16 - 1),
                1 => dec
                    .iter_mut()
                    .enumerate()
                    .for_each(|(l, d)| *d = lane(l) as i16),
                _ => {
                    let sh = 64 - ib as u32;
                    dec.iter_mut()
                        .enumerate()
                        .for_each(|(l, d)| *d = (((lane(l) << sh) as i64) >> sh) as i16);
                }
            }
        }
        if let Path::Planes { .. } = self.path {
            self.split_planes(slot);
        }
    }

    /// The exact dot products of neuron fold `nf` (ROM addresses `nf·SF .. nf·SF + SF`) with the
    /// SF words loaded ([`DotUnit::load`]), summed over the fold, into `acc[..PE]`.
    pub fn fold(&mut self, nf: usize, acc: &mut [i64]) {
        let (pe, sf, simd) = (self.pe, self.sf, self.simd);
        match &self.path {
            Path::Xnor { w } => {
                let n = sf * self.sl;
                let w = &w[nf * pe * n..(nf + 1) * pe * n];
                let x = &self.xs[..n];
                let equal_max = (sf * simd) as i64;
                #[cfg(target_arch = "x86_64")]
                if self.popcnt {
                    // SAFETY: the CPU has popcnt (checked at construction).
                    unsafe { xnor_fold_popcnt(w, x, equal_max, acc) };
                    return;
                }
                xnor_fold_body(w, x, equal_max, acc);
            }
            Path::Mac { w } => {
                let n = sf * simd;
                mac_fold(&w[nf * pe * n..(nf + 1) * pe * n], &self.xdec, acc);
            }
            Path::Planes { .. } => {
                let mut beat = std::mem::take(&mut self.beat);
                for s in 0..sf {
                    if s == 0 {
                        self.planes_beat(nf * sf, 0, acc);
                    } else {
                        self.planes_beat(nf * sf + s, s, &mut beat);
                        acc.iter_mut().zip(&beat).for_each(|(a, b)| *a += b);
                    }
                }
                self.beat = beat;
            }
        }
    }

    /// Splits stored word `slot` into its input bit planes and the constant part of its beats.
    fn split_planes(&mut self, slot: usize) {
        let (sl, simd, xl, ib) = (self.sl, self.simd, self.xl, self.ib);
        let Path::Planes { cx, k_x, k_c, .. } = &self.path else {
            unreachable!("split_planes on another datapath")
        };
        let x = &self.xs[slot * xl..(slot + 1) * xl];
        let xp = &mut self.xp[slot * ib * sl..(slot + 1) * ib * sl];
        if ib == 1 {
            xp.copy_from_slice(&x[..sl]);
        } else if let Some(table) = &self.byte_planes {
            // IB = 2, 4 or 8: a byte holds 8/IB whole lanes; the table splits it
            xp.iter_mut().for_each(|v| *v = 0);
            let lanes = 8 / ib;
            let lmask = (1u64 << lanes) - 1;
            let nbytes = (simd * ib).div_ceil(8);
            for k in 0..nbytes {
                let byte = (x[k / 8] >> ((k % 8) * 8)) & 0xff;
                if byte == 0 {
                    continue;
                }
                let t = table[byte as usize];
                let pos = k * lanes;
                for j in 0..ib {
                    xp[j * sl + pos / 64] |= ((t >> (8 * j)) & lmask) << (pos % 64);
                }
            }
        } else {
            xp.iter_mut().for_each(|v| *v = 0);
            for l in 0..simd {
                let raw = bits::get(x, l * ib, ib);
                if raw != 0 {
                    for j in 0..ib {
                        if (raw >> j) & 1 == 1 {
                            xp[j * sl + l / 64] |= 1u64 << (l % 64);
                        }
                    }
                }
            }
        }
        // Σ_l X_l
        let mut sx = 0i64;
        for (j, &c) in cx.iter().enumerate() {
            let n: u32 = xp[j * sl..(j + 1) * sl]
                .iter()
                .map(|v| v.count_ones())
                .sum();
            sx += c * i64::from(n);
        }
        self.xbase[slot] = k_x * sx + k_c;
    }

    /// One beat of the bit-plane datapath: weights at ROM address `addr`, input word `slot`.
    fn planes_beat(&self, addr: usize, slot: usize, out: &mut [i64]) {
        let (pe, sl, ib) = (self.pe, self.sl, self.ib);
        let Path::Planes {
            w, wsum, coef, k_w, ..
        } = &self.path
        else {
            unreachable!("planes_beat on another datapath")
        };
        let xp = &self.xp[slot * ib * sl..(slot + 1) * ib * sl];
        let base = self.xbase[slot];
        let per = self.wb * sl;
        let w = &w[addr * pe * per..(addr + 1) * pe * per];
        let wsum = &wsum[addr * pe..(addr + 1) * pe];
        #[cfg(target_arch = "x86_64")]
        if self.popcnt {
            // SAFETY: the CPU has popcnt (checked at construction).
            unsafe { planes_popcnt(w, wsum, xp, coef, self.wb, ib, sl, *k_w, base, out) };
            return;
        }
        planes_body(w, wsum, xp, coef, self.wb, ib, sl, *k_w, base, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::Rng;

    /// Every datapath equals the plain lane-by-lane sum of decoded products.
    #[test]
    fn datapaths_agree_with_lane_products() {
        let mut rng = Rng::new(0xD07);
        for case in 0..400 {
            let wtype = rng.below(3) as u32;
            let itype = rng.below(3) as u32;
            let wbits = if wtype == 0 {
                1
            } else {
                rng.range(1, 8) as u32
            };
            let ibits = if itype == 0 {
                1
            } else {
                rng.range(1, 8) as u32
            };
            let simd = rng.range_usize(1, 150);
            let pe = rng.range_usize(1, 5);
            let (nf, sf) = (2, rng.range_usize(1, 4));
            let depth = nf * sf;
            let wrom: Vec<Vec<Vec<u64>>> = (0..pe)
                .map(|_| {
                    (0..depth)
                        .map(|_| {
                            let mut w = vec![0u64; limbs(simd * wbits as usize)];
                            for l in 0..simd {
                                bits::set(
                                    &mut w,
                                    l * wbits as usize,
                                    wbits as usize,
                                    rng.next_u64(),
                                );
                            }
                            w
                        })
                        .collect()
                })
                .collect();
            let mut unit = DotUnit::new(&wrom, nf, sf, simd, wbits, ibits, wtype, itype);
            let xs: Vec<Vec<u64>> = (0..sf)
                .map(|_| {
                    let mut x = vec![0u64; limbs(simd * ibits as usize)];
                    for l in 0..simd {
                        bits::set(&mut x, l * ibits as usize, ibits as usize, rng.next_u64());
                    }
                    x
                })
                .collect();
            for (s, x) in xs.iter().enumerate() {
                // stray bits above the word's width must be dropped
                let mut wide = x.clone();
                let rem = (simd * ibits as usize) % 64;
                if rem != 0 {
                    *wide.last_mut().unwrap() |= !bits::ones(rem);
                }
                wide.push(u64::MAX);
                unit.load(s, &wide);
            }
            for n in 0..nf {
                let mut out = vec![0i64; pe];
                unit.fold(n, &mut out);
                let addr = n * sf;
                for (p, rom) in wrom.iter().enumerate() {
                    let expect: i64 = (0..sf * simd)
                        .map(|k| {
                            let (s, l) = (k / simd, k % simd);
                            let w = bits::get(&rom[addr + s], l * wbits as usize, wbits as usize);
                            let xv = bits::get(&xs[s], l * ibits as usize, ibits as usize);
                            if wtype == 0 && itype == 0 {
                                i64::from(w == xv)
                            } else {
                                i64::from(decode(w, wtype, wbits))
                                    * i64::from(decode(xv, itype, ibits))
                            }
                        })
                        .sum();
                    assert_eq!(
                        out[p],
                        expect,
                        "case {case} ({}) w{wtype}/{wbits} x{itype}/{ibits} simd {simd} nf {n}",
                        unit.kind()
                    );
                }
            }
        }
    }
}
