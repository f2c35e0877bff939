//! The 2-word output queue that `hw/bnn_swg.v`, `hw/bnn_pool.v` and `hw/bnn_gap.v` each spec
//! alike (registers `q_cnt`, `q_head`, `q_tail`; the "queue:" lines of their TIMING sections,
//! `docs/swg-pool-spec.md`). Each RTL file has its own copy; the cycle models (`swg.rs`,
//! `pool.rs`, `gap.rs`) share this one. (The MVTU's credit-checked queue of `Q` words is another
//! design, in `mvtu.rs`.)

/// `q_cnt` ∈ {0, 1, 2}, `q_head`, `q_tail`: `m_axis_tvalid = (q_cnt != 0)`,
/// `m_axis_tdata = q_head`.
#[derive(Clone, Debug)]
pub struct PairQueue {
    cnt: u8,
    head: Vec<u64>,
    tail: Vec<u64>,
}

impl PairQueue {
    /// An empty queue of words of `limbs` limbs.
    pub fn new(limbs: usize) -> Self {
        PairQueue {
            cnt: 0,
            head: vec![0; limbs],
            tail: vec![0; limbs],
        }
    }

    /// Synchronous reset: `q_cnt = 0` (the data registers are not reset).
    pub fn reset(&mut self) {
        self.cnt = 0;
    }

    /// `q_cnt == 2`.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.cnt == 2
    }

    /// `m_axis_tvalid`.
    #[inline]
    pub fn m_valid(&self) -> bool {
        self.cnt != 0
    }

    /// `m_axis_tdata` (meaningful while `m_valid`).
    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.head
    }

    /// The queue at a rising edge, given whether a word is pushed at it and `pop`
    /// (`m_axis_tvalid && m_axis_tready`); returns the register the pushed word goes into, for
    /// the caller to write:
    /// - push && !pop: `q_cnt + 1`, the word into `q_head` if `q_cnt == 0`, else `q_tail`;
    /// - pop && !push: `q_cnt − 1`, and `q_head <= q_tail` if `q_cnt` was 2;
    /// - push && pop: `q_cnt` unchanged (it is 1), the word into `q_head`.
    ///
    /// The modules never push into a full queue (their `s_axis_tready` or `adv` is 0 then).
    #[inline]
    pub fn edge(&mut self, push: bool, pop: bool) -> Option<&mut [u64]> {
        debug_assert!(!pop || self.m_valid(), "pop while not valid");
        match (push, pop) {
            (true, false) => {
                debug_assert!(!self.is_full(), "push into a full queue");
                self.cnt += 1;
                Some(if self.cnt == 1 {
                    &mut self.head
                } else {
                    &mut self.tail
                })
            }
            (false, true) => {
                if self.cnt == 2 {
                    std::mem::swap(&mut self.head, &mut self.tail);
                }
                self.cnt -= 1;
                None
            }
            (true, true) => {
                debug_assert_eq!(self.cnt, 1, "push and pop at q_cnt 2");
                Some(&mut self.head)
            }
            (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(q: &mut PairQueue, push: Option<u64>, pop: bool) {
        if let Some(dst) = q.edge(push.is_some(), pop) {
            dst[0] = push.expect("a slot only for a push");
        }
    }

    /// The three cases of the headers' "queue:" lines: fill to 2 (head, then tail), pop at 2
    /// (the tail moves up), push and pop at 1 (the head replaced), pop to empty; reset.
    #[test]
    fn pair_queue_follows_the_spec() {
        let mut q = PairQueue::new(1);
        assert!(!q.m_valid() && !q.is_full());
        step(&mut q, Some(1), false);
        assert_eq!((q.m_valid(), q.m_data()), (true, &[1][..]));
        step(&mut q, Some(2), false);
        assert!(q.is_full());
        assert_eq!(q.m_data(), &[1]);
        step(&mut q, None, true);
        assert_eq!(q.m_data(), &[2]);
        assert!(!q.is_full());
        step(&mut q, Some(3), true);
        assert_eq!(q.m_data(), &[3]);
        step(&mut q, None, false);
        assert_eq!((q.m_valid(), q.m_data()), (true, &[3][..]));
        step(&mut q, None, true);
        assert!(!q.m_valid());
        step(&mut q, Some(4), false);
        q.reset();
        assert!(!q.m_valid() && !q.is_full());
    }
}
