//! Cycle model of `hw/bnn_fifo.v`: a memory of DEPTH−1 words plus the output register.
//!
//! Registers: `mem`, `wp`, `rp`, `mcnt`, `o_valid`, `o_data`, as in the RTL. `s_axis_tready` and
//! `m_axis_tvalid` depend on registers only.

use super::bits::{self, limbs};

#[derive(Clone, Debug)]
pub struct Fifo {
    width: usize,
    depth: usize,
    /// Memory words (DEPTH − 1).
    md: usize,
    wl: usize,
    mem: Vec<u64>,
    wp: usize,
    rp: usize,
    mcnt: usize,
    o_valid: bool,
    o_data: Vec<u64>,
    /// Largest occupancy (`mcnt + o_valid`) seen after any edge.
    pub max_occupancy: usize,
}

impl Fifo {
    pub fn new(width: usize, depth: usize) -> Result<Self, String> {
        if width < 1 {
            return Err("bnn_fifo: WIDTH must be at least 1".into());
        }
        if depth < 2 {
            return Err("bnn_fifo: DEPTH must be at least 2".into());
        }
        let wl = limbs(width);
        Ok(Fifo {
            width,
            depth,
            md: depth - 1,
            wl,
            mem: vec![0; (depth - 1) * wl],
            wp: 0,
            rp: 0,
            mcnt: 0,
            o_valid: false,
            o_data: vec![0; wl],
            max_occupancy: 0,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn reset(&mut self) {
        self.wp = 0;
        self.rp = 0;
        self.mcnt = 0;
        self.o_valid = false;
        self.max_occupancy = 0;
    }

    /// Words held (memory plus output register).
    pub fn occupancy(&self) -> usize {
        self.mcnt + usize::from(self.o_valid)
    }

    #[inline]
    pub fn s_ready(&self) -> bool {
        self.mcnt != self.md
    }

    #[inline]
    pub fn m_valid(&self) -> bool {
        self.o_valid
    }

    #[inline]
    pub fn m_data(&self) -> &[u64] {
        &self.o_data
    }

    /// An edge without a handshake would change no register: the output register is full, or
    /// the memory is empty (else it loads the output register).
    #[inline]
    pub fn idle_edge(&self) -> bool {
        self.o_valid || self.mcnt == 0
    }

    fn store(dst: &mut [u64], w: &[u64], width: usize) {
        let n = w.len().min(dst.len());
        dst[..n].copy_from_slice(&w[..n]);
        dst[n..].iter_mut().for_each(|x| *x = 0);
        bits::truncate(dst, width);
    }

    pub fn tick(&mut self, push: Option<&[u64]>, pop: bool) {
        // pop = o_valid && m_axis_tready; with o_valid = 0, (!o_valid || m_axis_tready) is 1.
        let load = (!self.o_valid || pop) && (self.mcnt != 0 || push.is_some());
        let wl = self.wl;
        if load {
            match push {
                Some(w) if self.wp == self.rp => Self::store(&mut self.o_data, w, self.width),
                _ => {
                    let (rp, od) = (self.rp, &mut self.o_data);
                    od.copy_from_slice(&self.mem[rp * wl..(rp + 1) * wl]);
                }
            }
            self.rp = if self.rp == self.md - 1 {
                0
            } else {
                self.rp + 1
            };
            self.o_valid = true;
        } else if pop {
            self.o_valid = false;
        }
        if let Some(w) = push {
            let wp = self.wp;
            Self::store(&mut self.mem[wp * wl..(wp + 1) * wl], w, self.width);
            self.wp = if self.wp == self.md - 1 {
                0
            } else {
                self.wp + 1
            };
        }
        match (push.is_some(), load) {
            (true, false) => self.mcnt += 1,
            (false, true) => self.mcnt -= 1,
            _ => {}
        }
        let occ = self.occupancy();
        if occ > self.max_occupancy {
            self.max_occupancy = occ;
        }
    }
}
