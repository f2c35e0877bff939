//! Integer datatypes of activations and weights, and how each is carried in hardware bits.
//!
//! Every value in the compiler is a true integer: bipolar values are −1/+1, not their bit encoding.
//! The bit encoding (`encode`/`decode`) is only used where bits are packed for hardware.

use std::fmt;
use std::str::FromStr;

/// A datatype of at most 8 bits, as declared in `net.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// {−1, +1}, one bit: bit 1 is +1, bit 0 is −1.
    Bipolar,
    /// {−1, 0, +1}, two bits, two's complement.
    Ternary,
    /// 0 … 2^N − 1 in N bits (N = 1 … 8). `UInt(1)` is `binary`.
    UInt(u8),
    /// −2^(N−1) … 2^(N−1) − 1 in N bits, two's complement (N = 2 … 8).
    Int(u8),
}

impl DataType {
    pub const BINARY: DataType = DataType::UInt(1);

    /// Smallest value.
    pub fn min(self) -> i64 {
        match self {
            DataType::Bipolar | DataType::Ternary => -1,
            DataType::UInt(_) => 0,
            DataType::Int(n) => -(1i64 << (n - 1)),
        }
    }

    /// Largest value.
    pub fn max(self) -> i64 {
        match self {
            DataType::Bipolar | DataType::Ternary => 1,
            DataType::UInt(n) => (1i64 << n) - 1,
            DataType::Int(n) => (1i64 << (n - 1)) - 1,
        }
    }

    /// Bits of the hardware encoding.
    pub fn bits(self) -> u32 {
        match self {
            DataType::Bipolar => 1,
            DataType::Ternary => 2,
            DataType::UInt(n) | DataType::Int(n) => n as u32,
        }
    }

    /// Whether `v` is a value of this type (bipolar excludes 0).
    pub fn contains(self, v: i64) -> bool {
        match self {
            DataType::Bipolar => v == -1 || v == 1,
            _ => (self.min()..=self.max()).contains(&v),
        }
    }

    /// Whether the hardware encoding is two's complement.
    pub fn is_signed(self) -> bool {
        matches!(self, DataType::Ternary | DataType::Int(_))
    }

    /// The bit pattern of `v` (which must be a value of this type), in the low `bits()` bits.
    pub fn encode(self, v: i64) -> u64 {
        debug_assert!(self.contains(v), "{v} is not a {self}");
        match self {
            DataType::Bipolar => u64::from(v > 0),
            _ => (v as u64) & ((1u64 << self.bits()) - 1),
        }
    }

    /// The value of bit pattern `bits` (only the low `bits()` bits are looked at).
    pub fn decode(self, bits: u64) -> i64 {
        let n = self.bits();
        let raw = bits & ((1u64 << n) - 1);
        match self {
            DataType::Bipolar => {
                if raw == 1 {
                    1
                } else {
                    -1
                }
            }
            DataType::UInt(_) => raw as i64,
            DataType::Ternary | DataType::Int(_) => ((raw << (64 - n)) as i64) >> (64 - n),
        }
    }

    /// The smallest integer type holding every value in `lo..=hi`: unsigned when `lo ≥ 0`.
    /// Used for accumulator widths; may exceed 8 bits, so it returns a width, not a `DataType`.
    pub fn width_for_range(lo: i64, hi: i64) -> IntWidth {
        debug_assert!(lo <= hi);
        if lo >= 0 {
            IntWidth {
                signed: false,
                bits: bits_unsigned(hi as u64),
            }
        } else {
            // Two's complement with n bits holds −2^(n−1) … 2^(n−1) − 1: −m needs bits(m − 1) + 1.
            let magnitude_bits = |v: u64| 64 - v.leading_zeros();
            let need_neg = magnitude_bits((-(lo + 1)) as u64) + 1;
            let need_pos = if hi >= 0 {
                magnitude_bits(hi as u64) + 1
            } else {
                1
            };
            IntWidth {
                signed: true,
                bits: need_neg.max(need_pos),
            }
        }
    }
}

/// Bits to hold `v` unsigned (at least 1).
fn bits_unsigned(v: u64) -> u32 {
    (64 - v.leading_zeros()).max(1)
}

/// An integer width that may exceed 8 bits (accumulators).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntWidth {
    pub signed: bool,
    pub bits: u32,
}

impl fmt::Display for IntWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            if self.signed { "int" } else { "uint" },
            self.bits
        )
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bipolar => f.write_str("bipolar"),
            DataType::Ternary => f.write_str("ternary"),
            DataType::UInt(1) => f.write_str("binary"),
            DataType::UInt(n) => write!(f, "uint{n}"),
            DataType::Int(n) => write!(f, "int{n}"),
        }
    }
}

impl FromStr for DataType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const HINT: &str = "expected bipolar, binary, ternary, uint1..uint8 or int2..int8";
        let parse_bits = |digits: &str, lo: u8| -> Result<u8, String> {
            match digits.parse::<u8>() {
                Ok(n) if (lo..=8).contains(&n) => Ok(n),
                _ => Err(format!("unknown datatype \"{s}\" ({HINT})")),
            }
        };
        match s {
            "bipolar" => Ok(DataType::Bipolar),
            "binary" => Ok(DataType::BINARY),
            "ternary" => Ok(DataType::Ternary),
            _ if s.starts_with("uint") => parse_bits(&s[4..], 1).map(DataType::UInt),
            _ if s.starts_with("int") => parse_bits(&s[3..], 2).map(DataType::Int),
            _ => Err(format!("unknown datatype \"{s}\" ({HINT})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DataType; 6] = [
        DataType::Bipolar,
        DataType::Ternary,
        DataType::BINARY,
        DataType::UInt(8),
        DataType::Int(2),
        DataType::Int(8),
    ];

    #[test]
    fn encode_decode_round_trip_every_value() {
        for dt in ALL {
            for v in dt.min()..=dt.max() {
                if dt.contains(v) {
                    assert_eq!(dt.decode(dt.encode(v)), v, "{dt} {v}");
                    assert!(dt.encode(v) < (1 << dt.bits()));
                }
            }
        }
        assert_eq!(DataType::Bipolar.encode(-1), 0, "−1 is bit 0");
        assert_eq!(DataType::Int(4).encode(-1), 0xF);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for dt in ALL {
            assert_eq!(dt.to_string().parse::<DataType>(), Ok(dt));
        }
        assert_eq!("uint1".parse::<DataType>(), Ok(DataType::BINARY));
        for bad in ["int1", "uint9", "int", "float32", "uint0", "Bipolar"] {
            assert!(bad.parse::<DataType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bipolar_excludes_zero() {
        assert!(!DataType::Bipolar.contains(0));
        assert!(DataType::Ternary.contains(0));
    }

    #[test]
    fn widths_are_minimal() {
        let w = |lo, hi| DataType::width_for_range(lo, hi);
        assert_eq!(
            w(0, 0),
            IntWidth {
                signed: false,
                bits: 1
            }
        );
        assert_eq!(
            w(0, 255),
            IntWidth {
                signed: false,
                bits: 8
            }
        );
        assert_eq!(
            w(0, 256),
            IntWidth {
                signed: false,
                bits: 9
            }
        );
        assert_eq!(
            w(-128, 127),
            IntWidth {
                signed: true,
                bits: 8
            }
        );
        assert_eq!(
            w(-129, 127),
            IntWidth {
                signed: true,
                bits: 9
            }
        );
        assert_eq!(
            w(-128, 128),
            IntWidth {
                signed: true,
                bits: 9
            }
        );
        assert_eq!(
            w(-784, 784),
            IntWidth {
                signed: true,
                bits: 11
            }
        );
        assert_eq!(
            w(-1, -1),
            IntWidth {
                signed: true,
                bits: 1
            }
        );
    }
}
