//! Bit-level kernels: plane packing, the popcount block kernels and the instruction-set tiers.
//!
//! The popcount kernels work on a *row block*: `R` weight rows interleaved word by word
//! (`w[word][row]`), so that one activation word is read once and met by `R` weight words, and the
//! `R` running counts stay in registers (8 general registers, or 4 AVX-512 registers of 8 lanes).
//! Padding bits (past the fan-in, and rows past the layer's height) are zero in both operands, so
//! they never count: `popcount(0 ^ 0) = popcount(0 & 0) = 0`.

use crate::datatype::DataType;
use crate::{Error, Result};

/// Which implementation of the popcount kernels the golden model runs.
///
/// Every choice computes exactly the same numbers; they differ only in speed. [`Kernel::Auto`]
/// picks the fastest one the CPU supports, which is what everything but tests and benchmarks wants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The fastest available on this CPU.
    #[default]
    Auto,
    /// Plain Rust, no instruction-set extension (the baseline x86-64 target has no `popcnt`, so
    /// this counts bits with shifts and masks).
    Portable,
    /// x86-64 with the `popcnt` instruction: 8 rows at a time in general registers.
    Popcnt,
    /// x86-64 with AVX-512F and AVX-512 VPOPCNTDQ: 32 rows at a time in vector registers.
    Avx512,
}

impl Kernel {
    /// The kernels this CPU can run, slowest first (always starts with `Portable`).
    pub fn available() -> Vec<Kernel> {
        [Kernel::Portable, Kernel::Popcnt, Kernel::Avx512]
            .into_iter()
            .filter(|k| Isa::detect(*k).is_some())
            .collect()
    }
}

impl Kernel {
    /// Weight rows per block of this kernel (`Auto`: of the kernel it resolves to), the
    /// interleave [`xor_popcount_peak`] expects. `None` if this CPU cannot run it.
    #[doc(hidden)]
    pub fn block_rows(self) -> Option<usize> {
        Isa::detect(self).map(Isa::block_rows)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernel::Auto => "auto",
            Kernel::Portable => "portable",
            Kernel::Popcnt => "popcnt",
            Kernel::Avx512 => "avx512-vpopcntdq",
        })
    }
}

/// A kernel choice that has been checked against the running CPU. Only [`Isa::detect`] makes one,
/// which is what makes calling the `#[target_feature]` functions sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Isa(Kernel);

impl Isa {
    /// The tier for `kernel` if this CPU supports it (`Auto` resolves to the best one).
    pub(crate) fn detect(kernel: Kernel) -> Option<Isa> {
        match kernel {
            Kernel::Auto => [Kernel::Avx512, Kernel::Popcnt, Kernel::Portable]
                .into_iter()
                .find_map(Isa::detect),
            Kernel::Portable => Some(Isa(Kernel::Portable)),
            Kernel::Popcnt => has_popcnt().then_some(Isa(Kernel::Popcnt)),
            Kernel::Avx512 => has_avx512().then_some(Isa(Kernel::Avx512)),
        }
    }

    pub(crate) fn resolve(kernel: Kernel) -> Result<Isa> {
        Isa::detect(kernel).ok_or_else(|| {
            Error::Unsupported(format!(
                "golden model: the {kernel} kernel needs CPU features this machine does not have \
                 (available: {:?})",
                Kernel::available()
            ))
        })
    }

    pub(crate) fn kernel(self) -> Kernel {
        self.0
    }

    /// Rows per block, the interleave factor of the packed weights.
    pub(crate) fn block_rows(self) -> usize {
        match self.0 {
            Kernel::Avx512 => AVX512_ROWS,
            _ => SCALAR_ROWS,
        }
    }
}

pub(crate) const SCALAR_ROWS: usize = 8;
pub(crate) const AVX512_ROWS: usize = 32;

#[cfg(target_arch = "x86_64")]
fn has_popcnt() -> bool {
    std::arch::is_x86_feature_detected!("popcnt")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_popcnt() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("popcnt")
        && has!("avx2")
        && has!("avx512f")
        && has!("avx512bw")
        && has!("avx512vl")
        && has!("avx512vpopcntdq")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

/// The arithmetic of one row block of a popcount layer.
pub(crate) trait BlockKernel<const R: usize> {
    /// `R` accumulators, in whatever form the kernel keeps them.
    type Acc: Copy;

    /// `acc[j] = rc[j] + base + Σ_a coef[a]·Σ_i popcount(x[a·nwk + i] OP w[i][j])`, OP = XOR or
    /// AND, for the `coef.len()` planes of `x` (`nwk` = `w.len()` words each).
    ///
    /// # Safety
    /// The CPU must support the implementation's target features (guaranteed by [`Isa`]).
    #[inline(always)]
    unsafe fn acc<const XOR: bool>(
        x: &[u64],
        coef: &[i32],
        w: &[[u64; R]],
        rc: &[i32; R],
        base: i32,
    ) -> Self::Acc {
        Self::acc_frames::<XOR, 1>([x], coef, w, rc, [base])[0]
    }

    /// [`BlockKernel::acc`] for `F` frames at once, each weight word loaded once for all of them.
    ///
    /// # Safety
    /// As [`BlockKernel::acc`].
    unsafe fn acc_frames<const XOR: bool, const F: usize>(
        xs: [&[u64]; F],
        coef: &[i32],
        w: &[[u64; R]],
        rc: &[i32; R],
        base: [i32; F],
    ) -> [Self::Acc; F];

    /// # Safety
    /// As [`BlockKernel::acc`].
    unsafe fn to_array(acc: Self::Acc) -> [i32; R];

    /// Bit `j` = `acc[j] ≥ t[j]`, XOR bit `j` of `flip`.
    ///
    /// # Safety
    /// As [`BlockKernel::acc`].
    unsafe fn ge_mask(acc: Self::Acc, t: &[i32; R], flip: u64) -> u64;
}

/// General-register kernel. Compiled once without and once with the `popcnt` target feature.
pub(crate) struct Scalar;

impl<const R: usize> BlockKernel<R> for Scalar {
    type Acc = [i32; R];

    #[inline(always)]
    unsafe fn acc_frames<const XOR: bool, const F: usize>(
        xs: [&[u64]; F],
        coef: &[i32],
        w: &[[u64; R]],
        rc: &[i32; R],
        base: [i32; F],
    ) -> [[i32; R]; F] {
        let nwk = w.len();
        let mut out = [[0i32; R]; F];
        for f in 0..F {
            let acc = &mut out[f];
            for j in 0..R {
                acc[j] = rc[j] + base[f];
            }
            for (a, &cf) in coef.iter().enumerate() {
                let mut cnt = [0u64; R];
                for (&xw, wr) in xs[f][a * nwk..][..nwk].iter().zip(w) {
                    for j in 0..R {
                        let v = if XOR { xw ^ wr[j] } else { xw & wr[j] };
                        cnt[j] += u64::from(v.count_ones());
                    }
                }
                for j in 0..R {
                    acc[j] += cf * cnt[j] as i32;
                }
            }
        }
        out
    }

    #[inline(always)]
    unsafe fn to_array(acc: [i32; R]) -> [i32; R] {
        acc
    }

    #[inline(always)]
    unsafe fn ge_mask(acc: [i32; R], t: &[i32; R], flip: u64) -> u64 {
        let mut m = 0u64;
        for j in 0..R {
            m |= u64::from(acc[j] >= t[j]) << j;
        }
        m ^ flip
    }
}

/// AVX-512 VPOPCNTDQ kernel: `V` 8-lane popcount accumulators per frame (one lane per row), then
/// the accumulators and threshold compares as 16-lane i32 vectors.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl BlockKernel<AVX512_ROWS> for Avx512 {
    type Acc = [std::arch::x86_64::__m512i; avx512::V / 2];

    #[inline(always)]
    unsafe fn acc_frames<const XOR: bool, const F: usize>(
        xs: [&[u64]; F],
        coef: &[i32],
        w: &[[u64; AVX512_ROWS]],
        rc: &[i32; AVX512_ROWS],
        base: [i32; F],
    ) -> [Self::Acc; F] {
        avx512::acc::<XOR, F>(xs, coef, w, rc, base)
    }

    #[inline(always)]
    unsafe fn to_array(acc: Self::Acc) -> [i32; AVX512_ROWS] {
        avx512::to_array(acc)
    }

    #[inline(always)]
    unsafe fn ge_mask(acc: Self::Acc, t: &[i32; AVX512_ROWS], flip: u64) -> u64 {
        avx512::ge_mask(acc, t, flip)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::AVX512_ROWS as R;
    use std::arch::x86_64::*;

    // These helpers have no `#[target_feature]` of their own: they are `inline(always)` and only
    // ever inlined into the AVX-512 tier's entry points (`exec::run_avx512`, `peak_avx512`), which
    // enable the features, so the intrinsics inline there too.

    /// 8-lane u64 vectors per row block.
    pub(super) const V: usize = R / 8;
    const H: usize = V / 2;

    /// The popcounts of one plane for `F` frames, as `V/2` 16-lane i32 vectors per frame.
    #[inline(always)]
    unsafe fn counts<const XOR: bool, const F: usize>(
        xs: [&[u64]; F],
        w: &[[u64; R]],
    ) -> [[__m512i; H]; F] {
        let n = w.len();
        for x in &xs {
            assert!(x.len() >= n);
        }
        let mut a = [[_mm512_setzero_si512(); V]; F];
        for (i, wr) in w.iter().enumerate() {
            let p = wr.as_ptr() as *const __m512i;
            let mut wv = [_mm512_setzero_si512(); V];
            for (v, wv) in wv.iter_mut().enumerate() {
                // SAFETY: `wr` is R u64 = V 64-byte vectors; unaligned loads.
                *wv = _mm512_loadu_si512(p.add(v));
            }
            for f in 0..F {
                // SAFETY: i < n <= xs[f].len() (asserted above).
                let xv = _mm512_set1_epi64(*xs[f].get_unchecked(i) as i64);
                for v in 0..V {
                    let t = if XOR {
                        _mm512_xor_si512(xv, wv[v])
                    } else {
                        _mm512_and_si512(xv, wv[v])
                    };
                    a[f][v] = _mm512_add_epi64(a[f][v], _mm512_popcnt_epi64(t));
                }
            }
        }
        let mut out = [[_mm512_setzero_si512(); H]; F];
        for f in 0..F {
            for h in 0..H {
                out[f][h] = _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(_mm512_cvtepi64_epi32(a[f][2 * h])),
                    _mm512_cvtepi64_epi32(a[f][2 * h + 1]),
                );
            }
        }
        out
    }

    #[inline(always)]
    pub(super) unsafe fn acc<const XOR: bool, const F: usize>(
        xs: [&[u64]; F],
        coef: &[i32],
        w: &[[u64; R]],
        rc: &[i32; R],
        base: [i32; F],
    ) -> [[__m512i; H]; F] {
        let nwk = w.len();
        let p = rc.as_ptr() as *const __m512i;
        let mut rcv = [_mm512_setzero_si512(); H];
        for (h, r) in rcv.iter_mut().enumerate() {
            // SAFETY: `rc` is R i32 = H 64-byte vectors.
            *r = _mm512_loadu_si512(p.add(h));
        }
        let mut acc = [[_mm512_setzero_si512(); H]; F];
        for f in 0..F {
            let b = _mm512_set1_epi32(base[f]);
            for h in 0..H {
                acc[f][h] = _mm512_add_epi32(rcv[h], b);
            }
        }
        for (a, &cf) in coef.iter().enumerate() {
            let mut xa = xs;
            for x in xa.iter_mut() {
                *x = &x[a * nwk..][..nwk];
            }
            let pc = counts::<XOR, F>(xa, w);
            let cf = _mm512_set1_epi32(cf);
            for f in 0..F {
                for h in 0..H {
                    acc[f][h] = _mm512_add_epi32(acc[f][h], _mm512_mullo_epi32(pc[f][h], cf));
                }
            }
        }
        acc
    }

    #[inline(always)]
    pub(super) unsafe fn to_array(acc: [__m512i; H]) -> [i32; R] {
        let mut out = [0i32; R];
        let p = out.as_mut_ptr() as *mut __m512i;
        for (h, &a) in acc.iter().enumerate() {
            // SAFETY: `out` is R i32 = H 64-byte vectors.
            _mm512_storeu_si512(p.add(h), a);
        }
        out
    }

    #[inline(always)]
    pub(super) unsafe fn ge_mask(acc: [__m512i; H], t: &[i32; R], flip: u64) -> u64 {
        let p = t.as_ptr() as *const __m512i;
        let mut m = 0u64;
        for (h, &a) in acc.iter().enumerate() {
            // SAFETY: `t` is R i32 = H 64-byte vectors.
            let k = _mm512_cmpge_epi32_mask(a, _mm512_loadu_si512(p.add(h)));
            m |= u64::from(k) << (16 * h);
        }
        m ^ flip
    }
}

/// `Σ popcount(x[i] ^ y[i])` over two equally long buffers with the row-block kernel of `kernel`:
/// `y` is read as blocks of [`Isa::block_rows`] words that all meet the same `x` word. This is the
/// inner loop of a bipolar layer with nothing around it, the throughput ceiling the benchmark
/// compares the golden model against. `y.len()` must be `x.len()` times the block rows.
#[doc(hidden)]
pub fn xor_popcount_peak(kernel: Kernel, x: &[u64], y: &[u64]) -> u64 {
    let isa = Isa::resolve(kernel).expect("kernel available");
    let r = isa.block_rows();
    assert_eq!(
        y.len(),
        x.len() * r,
        "y must hold block_rows words per x word"
    );
    match isa.kernel() {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { peak_avx512(x, y) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Popcnt => unsafe { peak_popcnt(x, y) },
        _ => peak_body::<SCALAR_ROWS, Scalar>(x, y),
    }
}

#[inline(always)]
fn peak_body<const R: usize, K: BlockKernel<R>>(x: &[u64], y: &[u64]) -> u64 {
    let (w, _) = y.as_chunks::<R>();
    // SAFETY: the caller's target features match `K` (see `xor_popcount_peak`).
    let acc = unsafe { K::to_array(K::acc::<true>(x, &[1], w, &[0; R], 0)) };
    acc.iter().map(|&c| c as u64).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn peak_popcnt(x: &[u64], y: &[u64]) -> u64 {
    peak_body::<SCALAR_ROWS, Scalar>(x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")]
unsafe fn peak_avx512(x: &[u64], y: &[u64]) -> u64 {
    peak_body::<AVX512_ROWS, Avx512>(x, y)
}

/// A zeroed buffer of `u64` words starting on a 64-byte boundary, so that every vector load of a
/// row block stays within one cache line (a split load costs two).
#[derive(Clone, Default)]
pub struct AlignedWords {
    lines: Vec<CacheLine>,
    len: usize,
}

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct CacheLine([u64; 8]);

impl AlignedWords {
    pub fn zeroed(len: usize) -> Self {
        AlignedWords {
            lines: vec![CacheLine::default(); len.div_ceil(8)],
            len,
        }
    }

    pub fn as_slice(&self) -> &[u64] {
        // SAFETY: `CacheLine` is `repr(C)` over `[u64; 8]` with no padding (size 64 = align), so
        // the lines are `8·lines.len() ≥ len` contiguous, initialised u64s.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<u64>(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u64] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<u64>(), self.len) }
    }
}

impl FromIterator<u64> for AlignedWords {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let v: Vec<u64> = iter.into_iter().collect();
        let mut a = AlignedWords::zeroed(v.len());
        a.as_mut_slice().copy_from_slice(&v);
        a
    }
}

// ---------------------------------------------------------------------------------------------
// Bit planes.

/// Number of bit planes of a datatype's encoding (bipolar and binary: 1).
pub(crate) fn planes_of(dt: DataType) -> usize {
    dt.bits() as usize
}

/// Bit `plane` of the hardware encoding of `v` (bipolar: +1 → 1, −1 → 0; others two's complement
/// or plain binary, which `(v >> plane) & 1` gives for any in-range value).
#[inline(always)]
pub(crate) fn plane_bit(dt: DataType, v: i64, plane: usize) -> u64 {
    match dt {
        DataType::Bipolar => u64::from(v > 0),
        _ => ((v as u64) >> plane) & 1,
    }
}

/// Packs `pixels × c` values (NHWC) into planes, layout `[pixel][plane][⌈c/64⌉ words]`, channel
/// `ch` at bit `ch % 64` of word `ch / 64`, padding bits zero.
#[inline(always)]
pub(crate) fn pack_planes(vals: &[i64], pixels: usize, c: usize, dt: DataType, out: &mut Vec<u64>) {
    let planes = planes_of(dt);
    let cw = c.div_ceil(64);
    debug_assert_eq!(vals.len(), pixels * c);
    out.clear();
    out.resize(pixels * planes * cw, 0);
    if c == 0 {
        return;
    }
    if c < 64 && planes > 1 {
        // One word per pixel plane: spread each value's bits over the planes.
        for (p, pix) in vals.chunks_exact(c).enumerate() {
            let dst = &mut out[p * planes..][..planes];
            for (ch, &v) in pix.iter().enumerate() {
                for (a, d) in dst.iter_mut().enumerate() {
                    *d |= (((v as u64) >> a) & 1) << ch;
                }
            }
        }
        return;
    }
    for (p, pix) in vals.chunks_exact(c).enumerate() {
        for a in 0..planes {
            let dst = &mut out[(p * planes + a) * cw..][..cw];
            match dt {
                DataType::Bipolar => pack_bits(pix, dst, |v| v > 0),
                _ => pack_bits(pix, dst, |v| (v >> a) & 1 != 0),
            }
        }
    }
}

/// `dst` word `i` bit `b` = `bit(src[64·i + b])`.
#[inline(always)]
fn pack_bits(src: &[i64], dst: &mut [u64], bit: impl Fn(i64) -> bool) {
    let (full, rest) = src.as_chunks::<64>();
    for (word, chunk) in dst.iter_mut().zip(full) {
        let mut m = 0u64;
        for (i, &v) in chunk.iter().enumerate() {
            m |= u64::from(bit(v)) << i;
        }
        *word = m;
    }
    if !rest.is_empty() {
        let mut m = 0u64;
        for (i, &v) in rest.iter().enumerate() {
            m |= u64::from(bit(v)) << i;
        }
        dst[full.len()] = m;
    }
}

/// The inverse of [`pack_planes`]: decodes `pixels × c` values.
pub(crate) fn unpack_planes(
    words: &[u64],
    pixels: usize,
    c: usize,
    dt: DataType,
    out: &mut Vec<i64>,
) {
    let planes = planes_of(dt);
    let cw = c.div_ceil(64);
    debug_assert_eq!(words.len(), pixels * planes * cw);
    out.clear();
    out.reserve(pixels * c);
    for p in 0..pixels {
        let pix = &words[p * planes * cw..][..planes * cw];
        for ch in 0..c {
            let mut enc = 0u64;
            for a in 0..planes {
                enc |= ((pix[a * cw + ch / 64] >> (ch % 64)) & 1) << a;
            }
            out.push(dt.decode(enc));
        }
    }
}

/// Bits `at..at + len` of `src` (`len` ≤ 64) in the low bits of the result.
#[inline(always)]
pub(crate) fn read_bits(src: &[u64], at: usize, len: usize) -> u64 {
    debug_assert!((1..=64).contains(&len));
    let (w, s) = (at / 64, at % 64);
    let mut v = src[w] >> s;
    if s > 0 && s + len > 64 {
        v |= src[w + 1] << (64 - s);
    }
    if len < 64 {
        v &= (1u64 << len) - 1;
    }
    v
}

/// ORs the `len` low bits of `v` (`len` ≤ 64, higher bits zero) into `dst` at bit `at`.
#[inline(always)]
pub(crate) fn or_bits(dst: &mut [u64], at: usize, v: u64, len: usize) {
    let (w, s) = (at / 64, at % 64);
    dst[w] |= v << s;
    if s > 0 && s + len > 64 {
        dst[w + 1] |= v >> (64 - s);
    }
}

/// ORs bits `src_at..src_at + len` of `src` into `dst` at bit `dst_at`.
#[inline(always)]
pub(crate) fn copy_bits(dst: &mut [u64], dst_at: usize, src: &[u64], src_at: usize, len: usize) {
    let mut i = 0;
    while i < len {
        let n = (len - i).min(64);
        or_bits(dst, dst_at + i, read_bits(src, src_at + i, n), n);
        i += n;
    }
}

/// `Σ popcount(words)`.
#[inline(always)]
pub(crate) fn popcount(words: &[u64]) -> u32 {
    words.iter().map(|w| w.count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_bits_at_every_offset() {
        let src: Vec<u64> = (0..4)
            .map(|i| 0xDEAD_BEEF_F00D_CAFEu64.rotate_left(i * 7))
            .collect();
        for src_at in [0usize, 1, 5, 63, 64, 70] {
            for dst_at in 0..130 {
                for len in [1usize, 3, 63, 64, 65, 100] {
                    let mut dst = vec![0u64; (dst_at + len).div_ceil(64)];
                    copy_bits(&mut dst, dst_at, &src, src_at, len);
                    for b in 0..dst_at + len {
                        let got = (dst[b / 64] >> (b % 64)) & 1;
                        let want = if b < dst_at {
                            0
                        } else {
                            let sb = src_at + b - dst_at;
                            (src[sb / 64] >> (sb % 64)) & 1
                        };
                        assert_eq!(
                            got, want,
                            "src_at {src_at} dst_at {dst_at} len {len} bit {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn planes_round_trip() {
        for dt in [
            DataType::Bipolar,
            DataType::BINARY,
            DataType::Ternary,
            DataType::UInt(3),
            DataType::Int(4),
            DataType::Int(8),
            DataType::UInt(8),
        ] {
            let vals: Vec<i64> = (0..2 * 70)
                .map(|i| {
                    let span = dt.max() - dt.min() + 1;
                    let v = dt.min() + (i * 37 + 11) % span;
                    if dt == DataType::Bipolar && v == 0 {
                        1
                    } else {
                        v
                    }
                })
                .collect();
            let mut words = Vec::new();
            pack_planes(&vals, 2, 70, dt, &mut words);
            assert_eq!(words.len(), 2 * planes_of(dt) * 2);
            let mut back = Vec::new();
            unpack_planes(&words, 2, 70, dt, &mut back);
            assert_eq!(back, vals, "{dt}");
            // Padding bits are zero.
            for chunk in words.chunks(2) {
                assert_eq!(chunk[1] >> 6, 0, "{dt}");
            }
        }
    }

    #[test]
    fn every_available_kernel_counts_the_same() {
        let mut s = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for n in [0usize, 1, 5, 16] {
            let x: Vec<u64> = (0..n).map(|_| next()).collect();
            let y: Vec<u64> = (0..n * AVX512_ROWS).map(|_| next()).collect();
            for k in Kernel::available() {
                let r = Isa::resolve(k).unwrap().block_rows();
                let ys = &y[..n * r];
                let want_k: u64 = (0..n * r)
                    .map(|i| u64::from((x[i / r] ^ ys[i]).count_ones()))
                    .sum();
                assert_eq!(xor_popcount_peak(k, &x, ys), want_k, "{k} n={n}");
            }
        }
    }
}
