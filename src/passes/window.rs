//! The sliding-window generator's geometry and buffer sizing (`hw/bnn_swg.v`).
//!
//! The generator keeps a circular buffer of input words and releases a word as soon as no later
//! window can need it (`hold`, below). [`Window::depth`] is the smallest depth that lets it make
//! progress and *prefetch* one window: while window `j` is being read, the writer may already fill
//! in every word window `j + 1` needs (for the last window of a frame, the next frame's first
//! window). For stride 1 and no padding this is FINN's `(K−1)·IW + K` pixels within a row and
//! somewhat more across the frame boundary.
//!
//! One window of lookahead is not always enough: with a stride larger than the kernel, or rows of
//! windows in the padding, the next window can need many more new words than the writer (one word
//! per cycle) can store while the current window is read. [`Window::depth_for`] sizes the buffer
//! from the consumer's timing instead, so that a consumer reading one window of SF words every
//! NF·SF cycles (an MVTU; NF = 1 for a pool) never waits in steady state when the input keeps up.
//! The generator uses it; the cycle simulator's tests check both claims on hundreds of geometries.
//!
//! The exact cycle behaviour is specified in `docs/swg-pool-spec.md`; this module only holds the
//! geometry both the generator (the `DEPTH` parameter) and the models need.

/// One sliding-window generator: input image, word packing, window and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input image height and width (pixels, without padding).
    pub ih: usize,
    pub iw: usize,
    /// Words per pixel: padded channels / elements per word.
    pub cw: usize,
    /// Kernel, stride and padding, vertical then horizontal.
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
}

impl Window {
    /// The generator of convolution `g` over an `image` (height, width) of `cw` words per pixel.
    pub fn of_conv(image: (usize, usize), cw: usize, g: &crate::ir::ConvGeometry) -> Window {
        Window {
            ih: image.0,
            iw: image.1,
            cw,
            kh: g.kernel[0],
            kw: g.kernel[1],
            sh: g.stride[0],
            sw: g.stride[1],
            ph: g.padding[0],
            pw: g.padding[1],
        }
    }

    /// Output height (windows per column).
    pub fn oh(&self) -> usize {
        (self.ih + 2 * self.ph - self.kh) / self.sh + 1
    }

    /// Output width (windows per row).
    pub fn ow(&self) -> usize {
        (self.iw + 2 * self.pw - self.kw) / self.sw + 1
    }

    /// Input words per frame.
    pub fn frame_words(&self) -> usize {
        self.ih * self.iw * self.cw
    }

    /// Output words per window (the MVTU's SF when it reads whole windows).
    pub fn window_words(&self) -> usize {
        self.kh * self.kw * self.cw
    }

    /// Output words per frame.
    pub fn out_words(&self) -> usize {
        self.oh() * self.ow() * self.window_words()
    }

    /// Frame index of the oldest input word any read from window `(oy, ox)` on can need.
    /// Non-decreasing along the raster order of windows. (The spec's `hold`.)
    pub fn hold(&self, oy: usize, ox: usize) -> usize {
        let top = (oy * self.sh) as i64 - self.ph as i64;
        let left = (ox * self.sw) as i64 - self.pw as i64;
        if oy + 1 < self.oh() && top + self.sh as i64 <= 0 {
            // The next window row clamps to row 0 as well and starts at column 0.
            return 0;
        }
        let row = top.clamp(0, self.ih as i64) as usize;
        let col = left.clamp(0, self.iw as i64) as usize;
        ((row * self.iw + col) * self.cw).min(self.frame_words())
    }

    /// Frame index of the last real (not padding) input word window `(oy, ox)` reads, if any.
    pub fn last_read(&self, oy: usize, ox: usize) -> Option<usize> {
        let top = (oy * self.sh) as i64 - self.ph as i64;
        let left = (ox * self.sw) as i64 - self.pw as i64;
        let bottom = (top + self.kh as i64 - 1).min(self.ih as i64 - 1);
        let right = (left + self.kw as i64 - 1).min(self.iw as i64 - 1);
        (bottom >= 0.max(top) && right >= 0.max(left))
            .then(|| ((bottom as usize * self.iw + right as usize) + 1) * self.cw - 1)
    }

    /// The buffer depth `bnn_swg` is generated with (see the module docs): the largest of, over
    /// consecutive windows `j`, `j+1` (the last window's successor is the next frame's first),
    /// the span from `hold(j)` to the last word of `j` and of `j + 1`, and the words `j`'s end
    /// releases.
    pub fn depth(&self) -> usize {
        let (oh, ow, fw) = (self.oh(), self.ow(), self.frame_words());
        let mut depth = 1usize;
        for oy in 0..oh {
            for ox in 0..ow {
                let held = self.hold(oy, ox);
                let last = oy + 1 == oh && ox + 1 == ow;
                let (ny, nx) = if ox + 1 == ow {
                    (oy + 1, 0)
                } else {
                    (oy, ox + 1)
                };
                // The successor's reads and hold, in this frame's index space.
                let (next_read, next_hold) = if last {
                    (self.last_read(0, 0).map(|r| r + fw), fw + self.hold(0, 0))
                } else {
                    (self.last_read(ny, nx), self.hold(ny, nx))
                };
                if let Some(r) = self.last_read(oy, ox) {
                    depth = depth.max(r + 1 - held);
                }
                if let Some(r) = next_read {
                    depth = depth.max(r + 1 - held);
                }
                let release = if last { fw } else { next_hold } - held;
                depth = depth.max(release);
            }
        }
        depth
    }
}

impl Window {
    /// The smallest buffer with which the generator always progresses: the largest, over the
    /// windows `j` of a frame, of the words from the oldest one `j` holds (`hold(j)`) to the
    /// last it reads, and to the last its final beat releases (`hold(j + 1)`, the frame's end
    /// for the last window: the beat waits until those words are written, so skipped rows and
    /// columns count). With fewer words the writer stops, the buffer full of words the window
    /// still holds, before the word the reader waits for: a deadlock. No lookahead at all: the
    /// consumer may wait for every window's new words. The floor of `net.toml`'s
    /// `buffer_depth` and of `bnn-gen fold --size-fifos`.
    pub fn min_depth(&self) -> usize {
        let (oh, ow) = (self.oh(), self.ow());
        let mut depth = 1usize;
        for oy in 0..oh {
            for ox in 0..ow {
                let held = self.hold(oy, ox);
                let release = match (oy + 1 == oh, ox + 1 == ow) {
                    (true, true) => self.frame_words(),
                    (false, true) => self.hold(oy + 1, 0),
                    (_, false) => self.hold(oy, ox + 1),
                };
                let read = self.last_read(oy, ox).map_or(0, |r| r + 1);
                depth = depth.max(read.max(release) - held);
            }
        }
        depth
    }

    /// The buffer depth the generator uses for a consumer that reads one window (SF =
    /// [`Window::window_words`] words) every `NF·SF` cycles: the smallest depth ≥
    /// [`Window::depth`] such that the writer, one word per cycle, has stored every word window
    /// `j` needs by the time the consumer wants it. Window `j` starts `(j − i)·NF·SF` cycles after
    /// window `i`, and it needs the words up to `D_j = max(last read of j + 1, hold(j + 1))`
    /// written, while the writer may not run more than DEPTH words ahead of `hold(i)` until
    /// window `i` ends. So `DEPTH ≥ D_j − hold(i) − max(0, (j − i)·NF·SF − SF − 1)` for all
    /// `i ≤ j`, over the windows of two consecutive frames (steady state). Non-increasing in NF.
    pub fn depth_for(&self, nf: usize) -> usize {
        let (ow, fw) = (self.ow(), self.frame_words());
        let n = self.oh() * ow;
        let sf = self.window_words() as i64;
        let period = (nf.max(1) as i64) * sf;
        // Window j of the concatenation of frames 0, 1, 2, ... (frame words offset by j / n).
        let hold = |j: usize| (self.hold((j % n) / ow, (j % n) % ow) + (j / n) * fw) as i64;
        let need = |j: usize| {
            let read = self
                .last_read((j % n) / ow, (j % n) % ow)
                .map_or(0, |r| (r + 1 + (j / n) * fw) as i64);
            read.max(hold(j + 1))
        };
        let holds: Vec<i64> = (0..=2 * n).map(hold).collect();
        let mut depth = self.depth() as i64;
        for j in n..2 * n {
            let dj = need(j);
            for i in (0..=j).rev() {
                let slack = ((j - i) as i64 * period - sf - 1).max(0);
                if slack >= dj {
                    // Every earlier window gives an even smaller bound (hold(i) ≥ 0).
                    break;
                }
                depth = depth.max(dj - holds[i] - slack);
            }
        }
        depth as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(ih: usize, iw: usize, cw: usize, k: usize, s: usize, p: usize) -> Window {
        Window {
            ih,
            iw,
            cw,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
        }
    }

    #[test]
    fn output_sizes() {
        let w = win(32, 32, 1, 3, 1, 0);
        assert_eq!((w.oh(), w.ow()), (30, 30));
        let w = win(7, 5, 2, 3, 2, 1);
        assert_eq!((w.oh(), w.ow()), (4, 3));
        assert_eq!(w.window_words(), 18);
    }

    /// `hold` never decreases in raster order and never exceeds any index a window from then on
    /// reads (brute force over random geometries).
    #[test]
    fn hold_is_a_lower_bound_of_every_later_read() {
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let (ih, iw) = (1 + next(7), 1 + next(7));
            let (kh, kw) = (1 + next(ih.min(4)), 1 + next(iw.min(4)));
            let w = Window {
                ih,
                iw,
                cw: 1 + next(3),
                kh,
                kw,
                sh: 1 + next(3),
                sw: 1 + next(3),
                ph: next(kh),
                pw: next(kw),
            };
            let mut reads: Vec<Vec<usize>> = Vec::new();
            let mut holds = Vec::new();
            for oy in 0..w.oh() {
                for ox in 0..w.ow() {
                    holds.push(w.hold(oy, ox));
                    let mut r = Vec::new();
                    for ky in 0..w.kh {
                        for kx in 0..w.kw {
                            let iy = (oy * w.sh + ky) as i64 - w.ph as i64;
                            let ix = (ox * w.sw + kx) as i64 - w.pw as i64;
                            if iy >= 0 && ix >= 0 && (iy as usize) < w.ih && (ix as usize) < w.iw {
                                for c in 0..w.cw {
                                    r.push((iy as usize * w.iw + ix as usize) * w.cw + c);
                                }
                            }
                        }
                    }
                    assert_eq!(r.iter().max().copied(), w.last_read(oy, ox), "{w:?}");
                    reads.push(r);
                }
            }
            for j in 0..holds.len() {
                if j > 0 {
                    assert!(holds[j] >= holds[j - 1], "{w:?} window {j}");
                }
                for later in &reads[j..] {
                    assert!(later.iter().all(|&i| i >= holds[j]), "{w:?} window {j}");
                }
            }
            assert!(w.depth() >= 1);
        }
    }

    /// `depth_for` never goes below `depth` and does not grow with NF.
    #[test]
    fn depth_for_a_consumer() {
        let w = win(32, 32, 1, 3, 1, 0);
        assert_eq!(w.depth_for(1), w.depth());
        let w = win(8, 9, 1, 1, 3, 2);
        for nf in 1..4 {
            assert!(w.depth_for(nf) >= w.depth());
            assert!(w.depth_for(nf + 1) <= w.depth_for(nf));
        }
    }

    #[test]
    fn depth_of_cnv_like_layers() {
        // 3x3 stride 1 without padding: (K−1)·IW + K words within the frame, more across frames.
        let w = win(32, 32, 1, 3, 1, 0);
        assert!(w.depth() >= 2 * 32 + 3);
        assert!(w.depth() <= 4 * 32 + 8, "{}", w.depth());
        // 2x2 stride 2 pooling: two rows and a little.
        let w = win(28, 28, 2, 2, 2, 0);
        assert!(w.depth() <= (3 * 28 + 2) * 2, "{}", w.depth());
    }
}
