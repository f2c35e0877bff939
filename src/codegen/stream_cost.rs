//! LUT and block-RAM estimates of the stream blocks around the MVTUs: the link FIFOs
//! (`bnn_fifo`), the width converters (`bnn_dwc`), the max-pool cores (`bnn_pool`) and the top-k
//! head (`bnn_topk`). With the MVTU wrappers ([`super::cost`]) and the window generators
//! ([`super::cost::swg_luts`]) they make the whole-design estimate of `report.json` and of the
//! auto-folding (`src/fold/model.rs`): the top level has no logic of its own (the per-block cells
//! of a synthesis add up to its total).
//!
//! Fitted to the per-instance cells of yosys `synth_xilinx -family xc7` (hierarchy kept, as
//! `build --synth xc7` runs it) of LFC, LFC-bipolar, CNV and two folded LFC Pareto points
//! (docs/cost-model.md, "Stream blocks", lists every sample). LUTs are LUT1–LUT6 cells; LUT RAM
//! and SRL cells are counted apart, as in the synthesis report.

use super::cost::memory_bram18;

/// LUT RAM words per cell the read multiplexer of a deep `bnn_fifo` memory steps over: yosys
/// builds memories deeper than 64 words from 64-deep cells (RAM64M / RAM64X1D).
const LUTRAM_CELL_DEPTH: u64 = 64;

/// LUTs of a `bnn_fifo` of `depth` words × `width` bits (memory of depth − 1 words).
///
/// - `width`: the output register's load multiplexer (`mcnt == 0 ? s_axis_tdata : mem[rp]`),
///   one LUT per bit;
/// - 5.5 per pointer bit: the two pointers' increments with wrap-around, the count and its
///   compares (clog2 of the memory depth);
/// - a memory in LUT RAM deeper than one 64-word cell adds its write-enable decode (one LUT per
///   cell) and the read multiplexer over the cells (2/3 LUT per bit and cell).
///
/// Against yosys: 32 × 32 60 (estimated 60), 16 × 64 86 (86), 64 × 8 41 (41), 64 × 4 38 (37),
/// 4 × 256 267 (267), 512 × 1 61 (64), 512 × 2 68 (70), 1024 × 1 83 (83).
pub fn fifo_luts(depth: usize, width: usize) -> u64 {
    let (words, width) = ((depth.max(2) - 1) as u64, width as u64);
    let aw = clog2_of(words).max(1);
    let cells = if memory_bram18(words, width) > 0 {
        1
    } else {
        words.div_ceil(LUTRAM_CELL_DEPTH)
    };
    let deep = if cells > 1 {
        cells + (2 * width * cells).div_ceil(3)
    } else {
        0
    };
    width + (11 * aw).div_ceil(2) + deep
}

/// RAMB18 equivalents of a `bnn_fifo`: its memory (depth − 1 words) in block RAM when yosys's
/// `memory_libmap` finds that cheaper than LUT RAM ([`memory_bram18`]), else none.
pub fn fifo_bram18(depth: usize, width: usize) -> u64 {
    memory_bram18((depth.max(2) - 1) as u64, width as u64)
}

/// LUTs of a `bnn_dwc` from `in_bits` to `out_bits` (its four implementations, see its header).
///
/// - equal widths: wires, none;
/// - up-sizer by K: the slot enables of its K − 1 assembly words and the count, 2 + 1.15·K
///   (against yosys: K = 2: 5 (est. 4), 4: 8 (7), 8: 11 (11), 64: 84 (76), 256: 297 (297));
/// - down-sizer: the shift register's three-way load multiplexer, one LUT per input bit, and
///   the count, IN + 12 (32 → 8: 44 (44));
/// - any other ratio: a bit buffer of BW bits with a barrel insert at the fill level (BW·log2
///   (BW/gcd) 2:1 multiplexers, two levels to a LUT6) and the shift-out; a structural count,
///   not fitted (no synthesized sample).
pub fn dwc_luts(in_bits: usize, out_bits: usize) -> u64 {
    let (i, o) = (in_bits as u64, out_bits as u64);
    if i == o || i == 0 || o == 0 {
        0
    } else if o % i == 0 {
        (200 + 115 * (o / i)).div_ceil(100)
    } else if i % o == 0 {
        i + 12
    } else {
        let g = gcd(i, o);
        let bw = i + o + i.max(o) - g;
        (bw * clog2_of(bw / g)).div_ceil(2) + bw + 12
    }
}

/// LUTs of one link: its width converter, if the widths differ, and its FIFO (`fifo_depth`
/// words of `out_bits`), if it has one.
pub fn link_luts(in_bits: usize, out_bits: usize, fifo_depth: Option<usize>) -> u64 {
    dwc_luts(in_bits, out_bits) + fifo_depth.map_or(0, |d| fifo_luts(d, out_bits))
}

/// LUTs of a `bnn_gap` summing `pixels` pixels of `cw` words of `lanes` elements (`ebits` in,
/// `abits`-bit sums; `padded`: some slots are no channel). From its header's resource list: per
/// lane an ABITS-bit adder (ABITS LUTs on the carry chain), the output queue's head
/// multiplexer (one LUT per bit) and the slot mask (ABITS/2 LUTs, none when every slot is a
/// channel); the CW running sums in LUT RAM (RAM32M: 6 bits × 32 words in 4 LUTs) or, for one
/// word, in flip-flops; the two counters; the bipolar ±1 select (one LUT per lane). Against
/// yosys (`hw/bnn_gap.v` alone): CW 2, LANES 3, ABITS 5, bipolar, 15 pixels, 5 of 6 slots: 60
/// LUT estimated / 85 measured; CW 4, LANES 8, ABITS 8, uint2, 49 pixels: 181 / 193.
pub fn gap_luts(
    cw: usize,
    lanes: usize,
    pixels: usize,
    padded: bool,
    ebits: u32,
    abits: u32,
) -> u64 {
    let cw = cw.max(1);
    let (lanes, abits) = (lanes as u64, u64::from(abits));
    let mask = if padded { lanes * abits.div_ceil(2) } else { 0 };
    let word = lanes * abits;
    let acc = if cw == 1 {
        0
    } else {
        4 * word.div_ceil(6) * (cw as u64).div_ceil(32)
    };
    let counters =
        u64::from(usize::BITS - pixels.leading_zeros() + usize::BITS - cw.leading_zeros());
    let decode = if ebits == 1 { lanes } else { 0 };
    2 * word + mask + acc + decode + counters
}

/// LUTs of a `bnn_pool` core over `word_bits`-bit words: the lane-wise maximum (a compare and a
/// select per element bit; an OR for bipolar) and its output queue, 15 + 2 per word bit (its
/// running maxima, CW words, are LUT RAM when CW > 1, counted apart). Against yosys: CNV pool0,
/// 32 bits, 77 (79); pool1, 16 bits, 47 (47).
pub fn pool_luts(word_bits: usize) -> u64 {
    15 + 2 * word_bits as u64
}

/// LUTs of a `bnn_topk` head: `k` best of values arriving `elems` per word, `value_bits` each,
/// `index_bits` per index. The merge stage, counters and output register cost 52 per K²
/// comparator; the tournament over a word's lanes (elems − 1 compare-and-select nodes, value
/// and index bits each, K entries) 1.28 LUT per node bit. Against yosys (K = 1): 1 × 12 bits
/// 52 (52), 4 × 11 125 (125), 10 × 12 285 (282). K > 1 is extrapolated (no sample).
pub fn topk_luts(k: usize, elems: usize, value_bits: u32, index_bits: usize) -> u64 {
    let (k, nodes) = (k.max(1) as u64, elems.max(1) as u64 - 1);
    let node_bits = u64::from(value_bits) + index_bits as u64;
    52 * k * k + (128 * nodes * node_bits * k).div_ceil(100)
}

/// ⌈log2 n⌉ (0 for n ≤ 1).
fn clog2_of(n: u64) -> u64 {
    u64::from(u64::BITS - n.saturating_sub(1).leading_zeros())
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within ±15 % (or ±6 LUTs for the smallest blocks) of every instance the models were
    /// fitted to: (LUTs estimated, LUTs measured).
    fn close(what: &str, est: u64, measured: u64) {
        let err = est.abs_diff(measured);
        assert!(
            err <= 6 || err as f64 <= 0.15 * measured as f64,
            "{what}: estimated {est}, yosys {measured}"
        );
    }

    #[test]
    fn fifo_matches_the_synthesized_instances() {
        // (depth, width, LUTs, RAMB18): LFC, CNV, LFC Pareto points 19 and 22
        for (d, w, luts) in [
            (32, 32, 60),
            (16, 64, 86),
            (64, 8, 41),
            (64, 4, 38),
            (4, 256, 267),
            (512, 1, 61),
            (512, 2, 68),
            (1024, 1, 83),
        ] {
            close(&format!("fifo {d} x {w}"), fifo_luts(d, w), luts);
            assert_eq!(fifo_bram18(d, w), 0, "fifo {d} x {w} is LUT RAM in yosys");
        }
        // a frame of 1024 words of 64 bits is block RAM: 2 × 1K × 36 RAMB18s (1023 words)
        assert_eq!(fifo_bram18(1024, 64), 4);
    }

    #[test]
    fn dwc_matches_the_synthesized_instances() {
        for (i, o, luts) in [
            (16, 32, 5),
            (4, 32, 11),
            (1, 4, 8),
            (1, 8, 11),
            (1, 2, 5),
            (1, 64, 84),
            (1, 256, 297),
            (32, 8, 44),
        ] {
            close(&format!("dwc {i} -> {o}"), dwc_luts(i, o), luts);
        }
        assert_eq!(dwc_luts(32, 32), 0);
        // the general converter costs more than either neighbouring exact ratio
        assert!(dwc_luts(12, 32) > dwc_luts(8, 32) && dwc_luts(12, 32) > dwc_luts(48, 16));
    }

    #[test]
    fn pool_and_head_match_the_synthesized_instances() {
        close("pool 32 bits", pool_luts(32), 77);
        close("pool 16 bits", pool_luts(16), 47);
        close("argmax 10 x 12", topk_luts(1, 10, 12, 8), 285);
        close("argmax 4 x 11", topk_luts(1, 4, 11, 8), 125);
        close("argmax 1 x 12", topk_luts(1, 1, 12, 8), 52);
        assert!(topk_luts(3, 10, 12, 8) > topk_luts(1, 10, 12, 8));
    }
}
