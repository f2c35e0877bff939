//! Cycle model of `hw/bnn_dwc.v`, all four implementations the RTL chooses from its parameters:
//! pass-through (equal widths: pure wires, modelled by leaving the block out of the chain, see
//! [`super::Pipeline`]), up-sizer, down-sizer and the general bit buffer.

use super::bits::{self, limbs};

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[derive(Clone, Debug)]
enum Kind {
    /// OUT = K·IN: `cnt`, `asm` (K−1 slots, held in the low bits of an OUT-wide buffer),
    /// `o_valid`, `o_data`.
    Up {
        k: usize,
        cnt: usize,
        asm: Vec<u64>,
        o_valid: bool,
        o_data: Vec<u64>,
    },
    /// IN = K·OUT: `sh` (kept unshifted, `off` = output words already shifted out), `r`,
    /// `in_valid`, `in_data`; `m_buf` = `sh[OUT_BITS-1:0]`.
    Down {
        k: usize,
        sh: Vec<u64>,
        off: usize,
        r: usize,
        in_valid: bool,
        in_data: Vec<u64>,
        m_buf: Vec<u64>,
    },
    /// Neither divides: `buf` (BW bits), `n` (valid units of G bits); `m_buf` = `buf[OUT-1:0]`.
    Gen {
        g: usize,
        bwu: usize,
        inu: usize,
        outu: usize,
        buf: Vec<u64>,
        n: usize,
        m_buf: Vec<u64>,
    },
}

#[derive(Clone, Debug)]
pub struct Dwc {
    in_bits: usize,
    out_bits: usize,
    kind: Kind,
}

impl Dwc {
    /// A converter with IN_BITS ≠ OUT_BITS (equal widths are wires: no block).
    pub fn new(in_bits: usize, out_bits: usize) -> Result<Self, String> {
        if in_bits < 1 || out_bits < 1 {
            return Err("bnn_dwc: widths must be at least 1".into());
        }
        if in_bits == out_bits {
            return Err("bnn_dwc: IN_BITS == OUT_BITS is a pass-through (no block)".into());
        }
        let ol = limbs(out_bits);
        let il = limbs(in_bits);
        let kind = if out_bits.is_multiple_of(in_bits) {
            Kind::Up {
                k: out_bits / in_bits,
                cnt: 0,
                asm: vec![0; ol],
                o_valid: false,
                o_data: vec![0; ol],
            }
        } else if in_bits.is_multiple_of(out_bits) {
            Kind::Down {
                k: in_bits / out_bits,
                sh: vec![0; il],
                off: 0,
                r: 0,
                in_valid: false,
                in_data: vec![0; il],
                m_buf: vec![0; ol],
            }
        } else {
            let g = gcd(in_bits, out_bits);
            let bw = in_bits + out_bits + in_bits.max(out_bits) - g;
            Kind::Gen {
                g,
                bwu: bw / g,
                inu: in_bits / g,
                outu: out_bits / g,
                buf: vec![0; limbs(bw)],
                n: 0,
                m_buf: vec![0; ol],
            }
        };
        Ok(Dwc {
            in_bits,
            out_bits,
            kind,
        })
    }

    pub fn in_bits(&self) -> usize {
        self.in_bits
    }

    pub fn out_bits(&self) -> usize {
        self.out_bits
    }

    /// Which implementation: "up", "down" or "general".
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Up { .. } => "up",
            Kind::Down { .. } => "down",
            Kind::Gen { .. } => "general",
        }
    }

    pub fn reset(&mut self) {
        match &mut self.kind {
            Kind::Up { cnt, o_valid, .. } => {
                *cnt = 0;
                *o_valid = false;
            }
            Kind::Down { r, in_valid, .. } => {
                *r = 0;
                *in_valid = false;
            }
            Kind::Gen { buf, n, m_buf, .. } => {
                buf.iter_mut().for_each(|w| *w = 0);
                m_buf.iter_mut().for_each(|w| *w = 0);
                *n = 0;
            }
        }
    }

    #[inline]
    pub fn s_ready(&self) -> bool {
        match &self.kind {
            Kind::Up {
                k, cnt, o_valid, ..
            } => !(*cnt == k - 1 && *o_valid),
            Kind::Down { in_valid, .. } => !in_valid,
            Kind::Gen { bwu, inu, n, .. } => *n <= bwu - inu,
        }
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        match &self.kind {
            Kind::Up { o_valid, .. } => *o_valid,
            Kind::Down { r, .. } => *r != 0,
            Kind::Gen { n, outu, .. } => *n >= *outu,
        }
    }

    /// An edge without a handshake would change no register (only the down-sizer moves a word
    /// by itself: from `in_data` into the empty shift register).
    #[inline]
    pub fn idle_edge(&self) -> bool {
        match &self.kind {
            Kind::Down { r, in_valid, .. } => !(*r == 0 && *in_valid),
            Kind::Up { .. } | Kind::Gen { .. } => true,
        }
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        match &self.kind {
            Kind::Up { o_data, .. } => o_data,
            Kind::Down { m_buf, .. } | Kind::Gen { m_buf, .. } => m_buf,
        }
    }

    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let (ib, ob) = (self.in_bits, self.out_bits);
        match &mut self.kind {
            Kind::Up {
                k,
                cnt,
                asm,
                o_valid,
                o_data,
            } => {
                let at_last = *cnt == *k - 1;
                if let Some(w) = push {
                    if at_last {
                        o_data.copy_from_slice(asm);
                        bits::truncate(o_data, (*k - 1) * ib);
                        bits::write_field(o_data, (*k - 1) * ib, w, ib);
                        *cnt = 0;
                    } else {
                        bits::write_field(asm, *cnt * ib, w, ib);
                        *cnt += 1;
                    }
                }
                if push.is_some() && at_last {
                    *o_valid = true;
                } else if pop {
                    *o_valid = false;
                }
            }
            Kind::Down {
                k,
                sh,
                off,
                r,
                in_valid,
                in_data,
                m_buf,
            } => {
                let free = *r == 0 || (*r == 1 && pop);
                let mut reload = false;
                if free && *in_valid {
                    sh.copy_from_slice(in_data);
                    *r = *k;
                    *in_valid = false;
                    reload = true;
                } else if free && push.is_some() {
                    let w = push.expect("checked");
                    sh.iter_mut().for_each(|x| *x = 0);
                    bits::write_field(sh, 0, w, ib);
                    *r = *k;
                    reload = true;
                } else {
                    if pop {
                        *r -= 1;
                        *off += 1;
                    }
                    if let Some(w) = push {
                        in_data.iter_mut().for_each(|x| *x = 0);
                        bits::write_field(in_data, 0, w, ib);
                        *in_valid = true;
                    }
                }
                if reload {
                    *off = 0;
                }
                if reload || pop {
                    // sh >> off·OUT_BITS, low OUT_BITS bits (zeros once shifted past IN_BITS)
                    if *off * ob < ib {
                        bits::extract(m_buf, sh, *off * ob, ob);
                    } else {
                        m_buf.iter_mut().for_each(|x| *x = 0);
                    }
                }
            }
            Kind::Gen {
                g,
                outu,
                inu,
                buf,
                n,
                m_buf,
                ..
            } => {
                let mut n1 = *n;
                if pop {
                    n1 -= *outu;
                    bits::shr(buf, ob);
                }
                if let Some(w) = push {
                    bits::or_shifted(buf, n1 * *g, w, ib);
                    n1 += *inu;
                }
                // buf is BW bits wide; or_shifted never writes beyond n1·G + IN_BITS ≤ BW
                *n = n1;
                if pop || push.is_some() {
                    bits::extract(m_buf, buf, 0, ob);
                }
            }
        }
    }
}
