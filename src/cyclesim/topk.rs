//! Cycle model of `hw/bnn_topk.v` (FINN LabelSelect): a sorted list of the best K (value, index)
//! pairs, ELEMS insertions per accepted word, an output shift register of K indices.
//!
//! Registers: `base`, the list (`lv`, `li`, `lok`), `out_cnt`, `out_q`, as in the RTL, with the
//! RTL's index width IW = max(1, clog2 N) (indices and `base` wrap modulo 2^IW like the RTL's).
//! `s_axis_tready` depends combinationally on `m_axis_tready`.

use super::bits::{self, limbs, sext};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopkParams {
    pub n: usize,
    pub elems: usize,
    pub elem_bits: u32,
    pub signed: bool,
    pub k: usize,
    pub idx_bits: usize,
}

#[derive(Clone, Debug)]
pub struct TopK {
    p: TopkParams,
    iw_mask: u64,
    last_base: u64,
    base_inc: u64,
    lastn: usize,
    // registers
    base: u64,
    lv: Vec<i64>,
    li: Vec<u64>,
    lok: Vec<bool>,
    out_cnt: usize,
    out_q: Vec<u64>,
    out_head: usize,
    m_buf: Vec<u64>,
}

fn clog2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

impl TopK {
    pub fn new(p: &TopkParams) -> Result<Self, String> {
        if p.n < 1 || p.elems < 1 || p.elem_bits < 1 || p.elem_bits > 64 {
            return Err(format!(
                "bnn_topk: N, ELEMS, ELEM_BITS must be positive ({p:?})"
            ));
        }
        if p.k < 1 || p.k > p.n {
            return Err(format!("bnn_topk: K must be in 1..N ({p:?})"));
        }
        let iw = if p.n > 1 { clog2(p.n) } else { 1 };
        if p.idx_bits < iw as usize {
            return Err(format!("bnn_topk: IDX_BITS too small for N ({p:?})"));
        }
        let iw_mask = bits::ones(iw as usize);
        let nw = p.n.div_ceil(p.elems);
        Ok(TopK {
            iw_mask,
            last_base: (((nw - 1) * p.elems) as u64) & iw_mask,
            base_inc: (p.elems as u64) & iw_mask,
            lastn: p.n - (nw - 1) * p.elems,
            base: 0,
            lv: vec![0; p.k],
            li: vec![0; p.k],
            lok: vec![false; p.k],
            out_cnt: 0,
            out_q: vec![0; p.k],
            out_head: 0,
            m_buf: vec![0; limbs(p.idx_bits)],
            p: p.clone(),
        })
    }

    pub fn params(&self) -> &TopkParams {
        &self.p
    }

    pub fn reset(&mut self) {
        self.base = 0;
        self.out_cnt = 0;
    }

    #[inline]
    fn last(&self) -> bool {
        self.base == self.last_base
    }

    #[inline]
    pub fn s_ready(&self, m_ready: bool) -> bool {
        !self.last() || self.out_cnt == 0 || (self.out_cnt == 1 && m_ready)
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.out_cnt != 0
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.m_buf
    }

    fn update_m_buf(&mut self) {
        // out_q[0] (IW bits), zero-extended or truncated to IDX_BITS
        let v = self.out_q.get(self.out_head).copied().unwrap_or(0);
        self.m_buf.iter_mut().for_each(|w| *w = 0);
        bits::set(&mut self.m_buf, 0, self.p.idx_bits.min(64), v);
    }

    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let last = self.last();
        let mut changed = false;
        if let Some(w) = push {
            let k = self.p.k;
            if self.base == 0 {
                self.lok.iter_mut().for_each(|o| *o = false);
            }
            let eb = self.p.elem_bits as usize;
            for e in 0..self.p.elems {
                let use_lane = e < self.lastn || !last;
                if !use_lane {
                    continue;
                }
                let raw = bits::get(w, e * eb, eb);
                let v = if self.p.signed {
                    sext(raw, self.p.elem_bits)
                } else {
                    raw as i64
                };
                let idx = (self.base + ((e as u64) & self.iw_mask)) & self.iw_mask;
                // first entry the new value goes at or before: empty, or strictly smaller
                let Some(pos) = (0..k).find(|&j| !self.lok[j] || v > self.lv[j]) else {
                    continue;
                };
                for j in (pos + 1..k).rev() {
                    self.lv[j] = self.lv[j - 1];
                    self.li[j] = self.li[j - 1];
                    self.lok[j] = self.lok[j - 1];
                }
                self.lv[pos] = v;
                self.li[pos] = idx;
                self.lok[pos] = true;
            }
            self.base = if last {
                0
            } else {
                (self.base + self.base_inc) & self.iw_mask
            };
        }
        if push.is_some() && last {
            self.out_q.copy_from_slice(&self.li);
            self.out_head = 0;
            self.out_cnt = self.p.k;
            changed = true;
        } else if pop {
            // out_q <= out_q >> IW: the next index moves to slot 0, zeros shift in
            self.out_head += 1;
            self.out_cnt -= 1;
            changed = true;
        }
        if changed {
            self.update_m_buf();
        }
    }
}
