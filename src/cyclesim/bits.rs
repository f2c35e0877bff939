//! Bit-vector helpers on little-endian `u64` limb slices (bit 0 = LSB of limb 0). Every stream
//! word, ROM word and internal register of the cycle model is such a slice with a fixed number
//! of limbs, allocated once when the model is built.

/// Limbs needed for `bits` bits (at least 1).
#[inline]
pub fn limbs(bits: usize) -> usize {
    bits.div_ceil(64).max(1)
}

/// `n` low one bits (n ≤ 64).
#[inline]
pub fn ones(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Bits `[off, off + n)` (n ≤ 64) of `src` as a number; bits beyond the slice read as 0.
#[inline]
pub fn get(src: &[u64], off: usize, n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    let (l, s) = (off / 64, off % 64);
    let lo = src.get(l).copied().unwrap_or(0) >> s;
    let v = if s != 0 && s + n > 64 {
        lo | (src.get(l + 1).copied().unwrap_or(0) << (64 - s))
    } else {
        lo
    };
    v & ones(n)
}

/// Writes the low `n` bits (n ≤ 64) of `v` at `[off, off + n)`; bits beyond the slice are dropped.
#[inline]
pub fn set(dst: &mut [u64], off: usize, n: usize, v: u64) {
    if n == 0 {
        return;
    }
    let v = v & ones(n);
    let (l, s) = (off / 64, off % 64);
    if l >= dst.len() {
        return;
    }
    let lo_n = n.min(64 - s);
    let m = ones(lo_n) << s;
    dst[l] = (dst[l] & !m) | ((v << s) & m);
    if lo_n < n && l + 1 < dst.len() {
        let hm = ones(n - lo_n);
        dst[l + 1] = (dst[l + 1] & !hm) | ((v >> lo_n) & hm);
    }
}

/// Clears every bit from `bits` on.
#[inline]
pub fn truncate(dst: &mut [u64], bits: usize) {
    let full = bits / 64;
    let rem = bits % 64;
    for (i, w) in dst.iter_mut().enumerate() {
        if i > full || (i == full && rem == 0) {
            *w = 0;
        } else if i == full {
            *w &= ones(rem);
        }
    }
}

/// Copies the low `n` bits of `src` to `dst[off ..]` (the rest of `dst` unchanged); bits beyond
/// `dst` are dropped.
pub fn write_field(dst: &mut [u64], off: usize, src: &[u64], n: usize) {
    let mut done = 0;
    while done < n {
        let k = (n - done).min(64);
        set(dst, off + done, k, get(src, done, k));
        done += k;
    }
}

/// ORs the low `n` bits of `src`, shifted left by `off`, into `dst` (bits beyond `dst` dropped).
pub fn or_shifted(dst: &mut [u64], off: usize, src: &[u64], n: usize) {
    let mut done = 0;
    while done < n {
        let k = (n - done).min(64);
        let v = get(src, done, k);
        if v != 0 {
            let o = off + done;
            let (l, s) = (o / 64, o % 64);
            if l < dst.len() {
                dst[l] |= v << s;
                if s != 0 && s + k > 64 && l + 1 < dst.len() {
                    dst[l + 1] |= v >> (64 - s);
                }
            }
        }
        done += k;
    }
}

/// Copies bits `[off, off + n)` of `src` into `dst` starting at bit 0; `dst` bits above `n` are
/// cleared.
pub fn extract(dst: &mut [u64], src: &[u64], off: usize, n: usize) {
    dst.iter_mut().for_each(|w| *w = 0);
    let mut done = 0;
    while done < n {
        let k = (n - done).min(64);
        set(dst, done, k, get(src, off + done, k));
        done += k;
    }
}

/// Logical shift right by `sh` bits, in place.
pub fn shr(dst: &mut [u64], sh: usize) {
    let (l, s) = (sh / 64, sh % 64);
    let n = dst.len();
    for i in 0..n {
        let a = if i + l < n { dst[i + l] } else { 0 };
        let b = if s != 0 && i + l + 1 < n {
            dst[i + l + 1]
        } else {
            0
        };
        dst[i] = if s == 0 {
            a
        } else {
            (a >> s) | (b << (64 - s))
        };
    }
}

/// Sign-extends the low `bits` bits of `v` (1 ≤ bits ≤ 64).
#[inline]
pub fn sext(v: u64, bits: u32) -> i64 {
    if bits >= 64 {
        v as i64
    } else {
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }
}

/// ⌈bits/4⌉ lowercase hex digits, most significant first: the harness's output format.
pub fn to_hex(w: &[u64], bits: usize) -> String {
    let digits = bits.div_ceil(4).max(1);
    let mut s = String::with_capacity(digits);
    for d in (0..digits).rev() {
        let off = d * 4;
        let n = bits.saturating_sub(off).min(4);
        let v = get(w, off, n);
        s.push(char::from_digit(v as u32, 16).expect("a nibble"));
    }
    s
}

/// Parses hex digits (optional `0x`, `_` ignored) into `limbs(bits)` limbs; `None` if a digit is
/// bad or a set bit lies at or above `bits`.
pub fn from_hex(text: &str, bits: usize) -> Option<Vec<u64>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let mut w = vec![0u64; limbs(bits)];
    let mut any = false;
    for (i, c) in t.chars().filter(|&c| c != '_').rev().enumerate() {
        any = true;
        let v = c.to_digit(16)? as u64;
        for b in 0..4 {
            if (v >> b) & 1 == 1 {
                let pos = i * 4 + b;
                if pos >= bits {
                    return None;
                }
                set(&mut w, pos, 1, 1);
            }
        }
    }
    any.then_some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_shifts_hex() {
        let mut w = vec![0u64; 3];
        set(&mut w, 60, 10, 0x3FF);
        assert_eq!(get(&w, 60, 10), 0x3FF);
        assert_eq!(get(&w, 59, 1), 0);
        let src = vec![u64::MAX, 0x5];
        let mut d = vec![0u64; 3];
        or_shifted(&mut d, 70, &src, 67);
        assert_eq!(get(&d, 70, 64), u64::MAX);
        assert_eq!(get(&d, 134, 3), 0x5);
        assert_eq!(get(&d, 137, 10), 0);
        shr(&mut d, 70);
        assert_eq!(d[0], u64::MAX);
        assert_eq!(d[1], 5);
        assert_eq!(d[2], 0);
        let mut e = vec![0u64; 2];
        extract(&mut e, &src, 62, 7);
        assert_eq!(e, vec![0b1_0111, 0]);
        truncate(&mut d, 66);
        assert_eq!(d, vec![u64::MAX, 1, 0]);
        assert_eq!(to_hex(&[0x1abc], 13), "1abc");
        assert_eq!(from_hex("1abc", 13), Some(vec![0x1abc]));
        assert_eq!(from_hex("3abc", 13), None);
        assert_eq!(sext(0b110, 3), -2);
        let mut f = vec![0u64; 2];
        write_field(&mut f, 5, &[u64::MAX, 1], 65);
        assert_eq!(get(&f, 5, 64), u64::MAX);
        assert_eq!(get(&f, 69, 1), 1);
        assert_eq!(get(&f, 70, 1), 0);
    }
}
