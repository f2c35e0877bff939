//! The per-layer summary `bnn-gen check` prints: shapes, datatypes, accumulator widths, folding,
//! cycles per frame, and the padding the hardware adds where the folding does not divide.

use crate::ir::*;
use std::fmt::Write;

/// One row of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSummary {
    pub name: String,
    pub kind: &'static str,
    pub input: TensorType,
    pub output: TensorType,
    /// Matvec layers only.
    pub matvec: Option<MatVecSummary>,
    /// Cycles this layer needs per frame at its folding (the pipeline's II is the max of these).
    pub cycles_per_frame: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MatVecSummary {
    pub weight_dtype: crate::datatype::DataType,
    /// MH × MW.
    pub rows: usize,
    pub cols: usize,
    pub acc_range: (i64, i64),
    pub acc_width: crate::datatype::IntWidth,
    /// Thresholds per channel (0 = raw accumulators out).
    pub steps: usize,
    /// Channels whose comparison is `acc ≤ T` (falling batch-norm).
    pub falling_channels: usize,
    pub pe: usize,
    pub simd: usize,
    pub nf: usize,
    pub sf: usize,
    /// Output pixels (1 for dense): the MVTU runs NF·SF cycles per pixel.
    pub pixels: usize,
}

impl MatVecSummary {
    /// Padding the hardware adds to MH and MW to make PE and SIMD divide them, if any.
    pub fn padding(&self) -> Option<String> {
        let pad_rows = self.nf * self.pe - self.rows;
        let pad_cols = self.sf * self.simd - self.cols;
        let mut notes = Vec::new();
        if pad_cols > 0 {
            notes.push(format!(
                "SIMD {} does not divide MW {}: inputs padded to {} (+{pad_cols}), the padded lanes \
                 contribute 0 to every accumulator",
                self.simd,
                self.cols,
                self.sf * self.simd
            ));
        }
        if pad_rows > 0 {
            notes.push(format!(
                "PE {} does not divide MH {}: outputs padded to {} (+{pad_rows}), the padded channels \
                 stay in the stream as all-zero padding slots",
                self.pe,
                self.rows,
                self.nf * self.pe
            ));
        }
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

/// Summarises every layer of `net` (lowered or not).
pub fn summarize(net: &Network) -> Vec<LayerSummary> {
    net.layers
        .iter()
        .map(|layer| match &layer.op {
            Op::MatVec(mv) | Op::Depthwise(mv) => {
                let in_dtype = layer
                    .input
                    .dtype
                    .as_data()
                    .expect("validated: matvec inputs are data");
                let (nf, sf) = (mv.folding.nf(mv.rows()), mv.folding.sf(mv.cols()));
                let pixels = layer.output.shape.pixels();
                let (steps, falling_channels) = match &mv.activation {
                    Activation::Thresholds(t) => (
                        t.steps(),
                        t.compare.iter().filter(|c| **c == Compare::Le).count(),
                    ),
                    Activation::BatchNorm(bn) => {
                        let steps = match bn.quantizer.out_dtype() {
                            crate::datatype::DataType::Bipolar => 1,
                            dt => (1 << dt.bits()) - 1,
                        };
                        (
                            steps,
                            (0..bn.channels()).filter(|&c| bn.direction(c) < 0).count(),
                        )
                    }
                    Activation::Identity => (0, 0),
                };
                LayerSummary {
                    name: layer.name.clone(),
                    kind: match (&layer.op, mv.conv) {
                        (Op::Depthwise(_), _) => "depthwise",
                        (_, Some(_)) => "conv2d",
                        (_, None) => "dense",
                    },
                    input: layer.input,
                    output: layer.output,
                    matvec: Some(MatVecSummary {
                        weight_dtype: mv.weight_dtype,
                        rows: mv.rows(),
                        cols: mv.cols(),
                        acc_range: mv.acc_range(in_dtype),
                        acc_width: mv.acc_width(in_dtype),
                        steps,
                        falling_channels,
                        pe: mv.folding.pe,
                        simd: mv.folding.simd,
                        nf,
                        sf,
                        pixels,
                    }),
                    cycles_per_frame: (pixels * nf * sf) as u64,
                }
            }
            Op::MaxPool(_) => LayerSummary {
                name: layer.name.clone(),
                kind: "maxpool",
                input: layer.input,
                output: layer.output,
                matvec: None,
                // One input pixel (all channels) per cycle.
                cycles_per_frame: layer.input.shape.pixels() as u64,
            },
            Op::GlobalAvgPool(_) => LayerSummary {
                name: layer.name.clone(),
                kind: "globalavgpool",
                input: layer.input,
                output: layer.output,
                matvec: None,
                // As a max-pool: one input pixel per cycle at full width.
                cycles_per_frame: layer.input.shape.pixels() as u64,
            },
        })
        .collect()
}

/// The ideal initiation interval: the slowest layer's cycles per frame.
pub fn ideal_ii(summary: &[LayerSummary]) -> u64 {
    summary
        .iter()
        .map(|s| s.cycles_per_frame)
        .max()
        .unwrap_or(0)
}

/// The table `bnn-gen check` prints.
pub fn check_table(net: &Network) -> String {
    let mut rows = summarize(net);
    // Where the Verilog backend can build the network, the cycles are the generated design's:
    // link padding may raise NF or SF, and a max-pool reads KH·KW words per output pixel and
    // channel word (`docs/hardware.md`).
    let hw = crate::passes::pad::pad(net).ok();
    if let Some(hw) = &hw {
        for (s, l) in rows.iter_mut().zip(&hw.layers) {
            s.cycles_per_frame = l.cycles() as u64;
            if let (Some(m), Some(h)) = (s.matvec.as_mut(), l.mvtu()) {
                (m.nf, m.sf) = (h.nf(), h.sf());
            }
        }
    }
    let mut cells: Vec<[String; 13]> = vec![[
        "layer", "kind", "in", "out", "in type", "weights", "out type", "acc", "thr", "PE", "SIMD",
        "NF x SF", "cycles",
    ]
    .map(String::from)];
    for s in &rows {
        let mut row = [
            s.name.clone(),
            s.kind.to_string(),
            s.input.shape.to_string(),
            s.output.shape.to_string(),
            s.input.dtype.to_string(),
            "-".into(),
            s.output.dtype.to_string(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            s.cycles_per_frame.to_string(),
        ];
        if let Some(m) = &s.matvec {
            row[5] = format!("{} {}x{}", m.weight_dtype, m.rows, m.cols);
            row[7] = m.acc_width.to_string();
            row[8] = if m.falling_channels > 0 {
                format!("{} ({} ch <=)", m.steps, m.falling_channels)
            } else {
                m.steps.to_string()
            };
            row[9] = m.pe.to_string();
            row[10] = m.simd.to_string();
            row[11] = if m.pixels > 1 {
                format!("{}x{} x{}px", m.nf, m.sf, m.pixels)
            } else {
                format!("{}x{}", m.nf, m.sf)
            };
        }
        cells.push(row);
    }
    let widths: Vec<usize> = (0..13)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out = String::new();
    writeln!(
        out,
        "network \"{}\": input {} {}",
        net.name, net.input.shape, net.input.dtype
    )
    .unwrap();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c >= 9 {
                    format!("{cell:>w$}")
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).unwrap();
        if i == 0 {
            writeln!(
                out,
                "{}",
                widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("  ")
            )
            .unwrap();
        }
    }
    if let Some(head) = net.head {
        writeln!(
            out,
            "head: top-{} of {} classes (ties to the lower index)",
            head.k,
            net.body_output().shape.len()
        )
        .unwrap();
    }
    let ii = ideal_ii(&rows);
    let slowest = rows
        .iter()
        .filter(|s| s.cycles_per_frame == ii)
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>();
    writeln!(
        out,
        "ideal initiation interval: {ii} cycles/frame (slowest: {})",
        slowest.join(", ")
    )
    .unwrap();
    for s in &rows {
        if let Some(note) = s.matvec.as_ref().and_then(MatVecSummary::padding) {
            writeln!(out, "padding: {}: {note}", s.name).unwrap();
        }
    }
    for (i, l) in net.layers.iter().enumerate() {
        if let Op::GlobalAvgPool(g) = &l.op {
            let n = g.pixels();
            let sink = match net.layers.get(i + 1).map(|x| (&x.op, &x.name)) {
                Some((Op::MatVec(m), name)) if !matches!(m.activation, Activation::Identity) => {
                    format!("into the thresholds of {name}")
                }
                _ => format!(
                    "nowhere: the outputs are {n} x the float model's ([output] scale is divided \
                     by {n})"
                ),
            };
            writeln!(
                out,
                "global pool: {}: sums over {} pixels ({}); the division by {n} is folded {sink}",
                l.name, n, l.output.dtype
            )
            .unwrap();
        }
    }
    if let Some(hw) = &hw {
        for n in &hw.notes {
            writeln!(out, "note: {n}").unwrap();
        }
        for l in &hw.layers {
            if let Some(w) = &l.window {
                writeln!(
                    out,
                    "window: {}: {}-word line buffer of {} bits",
                    l.name,
                    w.depth,
                    w.word_bits()
                )
                .unwrap();
            }
        }
    }
    out
}
