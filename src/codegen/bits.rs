//! Wide bit vectors: packed stream words and ROM words of any width, LSB first, printed as hex.

/// A bit vector of a fixed width; bit 0 is the LSB of limb 0.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bits {
    limbs: Vec<u64>,
    width: usize,
}

impl Bits {
    /// `width` zero bits.
    pub fn zero(width: usize) -> Self {
        Bits {
            limbs: vec![0; width.div_ceil(64).max(1)],
            width,
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Writes the low `n` bits (n ≤ 64) of `value` at bits `[offset, offset + n)`.
    ///
    /// # Panics
    /// If the field does not fit the width.
    pub fn set(&mut self, offset: usize, n: usize, value: u64) {
        assert!(
            n <= 64 && offset + n <= self.width,
            "field {offset}+{n} outside {} bits",
            self.width
        );
        if n == 0 {
            return;
        }
        let value = value & ones(n);
        let (limb, shift) = (offset / 64, offset % 64);
        let lo_n = n.min(64 - shift);
        let lo_mask = ones(lo_n) << shift;
        self.limbs[limb] = (self.limbs[limb] & !lo_mask) | ((value << shift) & lo_mask);
        if lo_n < n {
            let hi_mask = ones(n - lo_n);
            self.limbs[limb + 1] = (self.limbs[limb + 1] & !hi_mask) | ((value >> lo_n) & hi_mask);
        }
    }

    /// Bits `[offset, offset + n)` (n ≤ 64) as a number.
    pub fn get(&self, offset: usize, n: usize) -> u64 {
        assert!(
            n <= 64 && offset + n <= self.width,
            "field {offset}+{n} outside {} bits",
            self.width
        );
        if n == 0 {
            return 0;
        }
        let (limb, shift) = (offset / 64, offset % 64);
        let mut v = self.limbs[limb] >> shift;
        if shift + n > 64 {
            v |= self.limbs[limb + 1] << (64 - shift);
        }
        v & ones(n)
    }

    /// ⌈width/4⌉ lowercase hex digits, most significant first (the `$readmemh` and harness form).
    pub fn to_hex(&self) -> String {
        let digits = self.width.div_ceil(4).max(1);
        let mut s = String::with_capacity(digits);
        for d in (0..digits).rev() {
            let off = d * 4;
            let n = (self.width.saturating_sub(off)).min(4);
            let v = if n == 0 { 0 } else { self.get(off, n) };
            s.push(char::from_digit(v as u32, 16).expect("a nibble"));
        }
        s
    }

    /// Parses hex digits (optional `0x`, `_` ignored) into `width` bits; set bits beyond the width
    /// are an error.
    pub fn from_hex(text: &str, width: usize) -> Result<Self, String> {
        let t = text.trim();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        let mut b = Bits::zero(width);
        let digits: Vec<char> = t.chars().filter(|&c| c != '_').collect();
        if digits.is_empty() {
            return Err(format!("empty hex word \"{text}\""));
        }
        for (i, c) in digits.iter().rev().enumerate() {
            let v = c
                .to_digit(16)
                .ok_or_else(|| format!("bad hex digit '{c}' in \"{text}\""))?
                as u64;
            for bit in 0..4 {
                if (v >> bit) & 1 == 1 {
                    let pos = i * 4 + bit;
                    if pos >= width {
                        return Err(format!("hex word \"{text}\" has bits beyond {width}"));
                    }
                    b.set(pos, 1, 1);
                }
            }
        }
        Ok(b)
    }
}

/// `n` low one bits (n ≤ 64).
fn ones(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_across_limbs() {
        let mut b = Bits::zero(200);
        b.set(60, 10, 0x3FF);
        assert_eq!(b.get(60, 10), 0x3FF);
        assert_eq!(b.get(59, 1), 0);
        assert_eq!(b.get(70, 1), 0);
        b.set(62, 4, 0);
        assert_eq!(b.get(60, 10), 0x3C3);
        b.set(100, 64, u64::MAX);
        assert_eq!(b.get(100, 64), u64::MAX);
        assert_eq!(b.get(99, 1), 0);
        assert_eq!(b.get(164, 1), 0);
        b.set(128, 64, 0x1234);
        assert_eq!(b.get(128, 64), 0x1234);
        assert_eq!(b.get(100, 28), (1 << 28) - 1);
        b.set(0, 64, 5);
        assert_eq!(b.get(0, 64), 5);
    }

    #[test]
    fn hex_round_trip() {
        let mut b = Bits::zero(13);
        b.set(0, 13, 0x1ABC);
        assert_eq!(b.to_hex(), "1abc");
        assert_eq!(Bits::from_hex("1abc", 13).unwrap(), b);
        assert!(Bits::from_hex("3abc", 13).is_err());
        let w = Bits::from_hex("0x1_0000_0000_0000_0001", 65).unwrap();
        assert_eq!(w.get(64, 1), 1);
        assert_eq!(w.get(0, 1), 1);
        assert_eq!(w.to_hex(), "10000000000000001");
        assert_eq!(Bits::zero(1).to_hex(), "0");
    }
}
