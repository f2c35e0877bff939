//! Cycle model of `hw/bnn_topk.v` (FINN LabelSelect): accepted words pass through L + 1 stages
//! (the RTL's input register and its L = clog2(ELEMS) tournament levels), then the word's values go into a sorted list
//! of the best K (value, index) pairs; after the last word of a vector, an output shift register
//! of K indices.
//!
//! The model does not rebuild the tournament: the best K of a word under the order (value
//! descending, index ascending) is unique, so the stages only carry the raw word, and the merge
//! stage inserts its lanes one by one into the list, strictly-greater-overtakes.
//!
//! Registers: `base`, the stages (present, first, last, word, base of the word), the list
//! (`lv`, `li`, `lok`), `out_cnt`, `out_q`, as in the RTL, with the RTL's index width IW =
//! max(1, clog2 N) (indices and `base` wrap modulo 2^IW like the RTL's). The whole pipeline holds
//! while the last word of a vector at the merge stage waits for the output register, so
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

/// A stage between the input and the merge stage: the word it holds if `present` (the buffer
/// is reused, so accepting a word allocates nothing).
#[derive(Clone, Debug)]
struct StagedWord {
    present: bool,
    data: Vec<u64>,
    base: u64,
    first: bool,
    last: bool,
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
    /// stage l (0 = the input register, l = 1..L the tournament levels): the word it holds, if
    /// any; the word in the last one is at the merge stage
    stages: Vec<StagedWord>,
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
        let levels = clog2(p.elems) as usize;
        Ok(TopK {
            stages: vec![
                StagedWord {
                    present: false,
                    data: Vec::new(),
                    base: 0,
                    first: false,
                    last: false,
                };
                levels + 1
            ],
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
        self.stages.iter_mut().for_each(|s| s.present = false);
        self.out_cnt = 0;
    }

    #[inline]
    fn last(&self) -> bool {
        self.base == self.last_base
    }

    /// Whether the word at the merge stage is the last of its vector: then the pipeline advances
    /// only if the output register is free.
    #[inline]
    fn merge_last(&self) -> bool {
        self.stages.last().is_some_and(|w| w.present && w.last)
    }

    #[inline]
    fn advance(&self, m_ready: bool) -> bool {
        !self.merge_last() || self.out_cnt == 0 || (self.out_cnt == 1 && m_ready)
    }

    #[inline]
    pub fn s_ready(&self, m_ready: bool) -> bool {
        self.advance(m_ready)
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.out_cnt != 0
    }

    /// An edge without a handshake (no push, no pop) would change no register: the pipeline
    /// holds, or holds no word.
    #[inline]
    pub fn idle_edge(&self) -> bool {
        !self.advance(false) || self.stages.iter().all(|w| !w.present)
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

    /// Inserts the lanes of `w` (lane 0 at index `base`) into the running list.
    fn insert_word(&mut self, w: &[u64], base: u64, last: bool) {
        let k = self.p.k;
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
            let idx = (base + ((e as u64) & self.iw_mask)) & self.iw_mask;
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
    }

    /// One rising edge. `push` is the accepted input word (only when `s_ready`), `pop` the
    /// output handshake; `m_ready` is implied by `pop` where it matters (`out_cnt == 1`).
    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        let adv = self.advance(pop);
        let mut changed = false;
        if adv {
            let (base, first, last) = (self.base, self.base == 0, self.last());
            if push.is_some() {
                self.base = if self.last() {
                    0
                } else {
                    (self.base + self.base_inc) & self.iw_mask
                };
            }
            // the word at the merge stage leaves; the others move one stage on (its slot
            // becomes stage 0, which takes the incoming word)
            self.stages.rotate_right(1);
            if self.stages[0].present {
                let data = std::mem::take(&mut self.stages[0].data);
                let (wbase, wfirst, wlast) = {
                    let w = &self.stages[0];
                    (w.base, w.first, w.last)
                };
                if wfirst {
                    self.lok.iter_mut().for_each(|o| *o = false);
                }
                self.insert_word(&data, wbase, wlast);
                self.stages[0].data = data;
                if wlast {
                    self.out_q.copy_from_slice(&self.li);
                    self.out_head = 0;
                    self.out_cnt = self.p.k;
                    changed = true;
                }
            }
            let st = &mut self.stages[0];
            st.present = push.is_some();
            if let Some(w) = push {
                st.data.clear();
                st.data.extend_from_slice(w);
                st.base = base;
                st.first = first;
                st.last = last;
            }
        }
        if !changed && pop {
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
