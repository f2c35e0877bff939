//! `report.json`: the machine-readable summary of a generated design.

use super::cost;
use super::yosys::ResourceCounts;
use crate::error::{Error, Result};
use crate::passes::pad::{HwActivation, HwElement, HwLayer, HwNetwork, StreamFormat};
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct BuildReport {
    pub generator: String,
    pub network: String,
    pub target: &'static str,
    pub top: String,
    pub clock: &'static str,
    pub reset: &'static str,
    /// Default of the top's `MEM_DIR` parameter (relative to the tool's working directory).
    pub mem_dir: &'static str,
    pub input: StreamReport,
    pub output: StreamReport,
    pub layers: Vec<LayerReport>,
    pub links: Vec<LinkReport>,
    pub head: Option<HeadReport>,
    pub totals: Totals,
    /// max over layers of NF·SF.
    pub ideal_ii_cycles: u64,
    /// First input word to last output word of one frame through an idle pipeline.
    pub latency_cycles_estimate: u64,
    pub notes: Vec<String>,
    /// Filled by `build --synth` (and `verify`); null after a plain build.
    pub yosys: Option<ResourceCounts>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StreamReport {
    pub tdata_bits: usize,
    pub elements_per_word: usize,
    pub element_bits: u32,
    pub datatype: String,
    /// Two's complement elements.
    pub signed: bool,
    pub words_per_frame: usize,
    /// Meaningful elements per frame.
    pub elements_per_frame: usize,
    /// Element slots per frame (words · elements per word).
    pub slots_per_frame: usize,
    /// The padding slots (always the last ones of the frame): zero bits on input, don't-care on
    /// output; null when there are none.
    pub padding: Option<Padding>,
    /// TDATA bits above the elements (always zero).
    pub spare_tdata_bits: usize,
}

/// Slots `first_slot .. first_slot + count` of every frame are padding.
#[derive(Clone, Debug, Serialize)]
pub struct Padding {
    pub first_slot: usize,
    pub count: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemoryShape {
    /// One ROM per PE.
    pub roms: usize,
    pub width_bits: usize,
    pub depth_words: usize,
    /// File name pattern in `mem/` (`PPP` = PE index, 3+ digits).
    pub files: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub module: String,
    pub kind: &'static str,
    /// `xnor-popcount` (bipolar × bipolar) or `mac`.
    pub mode: &'static str,
    pub input_datatype: String,
    pub weight_datatype: String,
    pub output_datatype: String,
    pub mw: usize,
    pub mh: usize,
    pub mw_padded: usize,
    pub mh_padded: usize,
    pub pe: usize,
    pub simd: usize,
    pub nf: usize,
    pub sf: usize,
    pub cycles_per_frame: u64,
    /// MH·MW·weight bits (true matrix) and as stored (padded).
    pub weight_bits: u64,
    pub weight_bits_stored: u64,
    pub weight_memory: MemoryShape,
    pub threshold_memory: Option<MemoryShape>,
    pub thresholds_per_channel: usize,
    pub threshold_bits: u32,
    pub accumulator_bits: u32,
    /// Range of the hardware accumulator (popcount domain for XNOR layers).
    pub accumulator_range: [i64; 2],
    pub xnor_fanin: usize,
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkReport {
    pub from: String,
    pub to: String,
    pub elements_per_frame: usize,
    pub producer_word_bits: usize,
    pub consumer_word_bits: usize,
    /// A `bnn_dwc` converts the word width.
    pub dwc: bool,
    /// Depth of the `bnn_fifo` in front of the consumer (consumer words), if any.
    pub fifo_depth: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HeadReport {
    pub kind: &'static str,
    pub k: usize,
    pub classes: usize,
    pub values_per_word: usize,
    pub value_bits: u32,
    pub signed: bool,
    pub index_bits: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    pub weight_bits: u64,
    pub weight_bits_stored: u64,
    pub threshold_bits_stored: u64,
    pub estimated_luts: u64,
    pub estimated_bram18: u64,
}

/// The file name of weight (`'w'`) or threshold (`'t'`) ROM `pe` of `layer`, in `mem/`.
pub fn mem_file(layer: &HwLayer, kind: char, pe: usize) -> String {
    format!("{}_{kind}{pe:03}.mem", layer.ident)
}

/// Latency estimate (see `docs/hardware.md`): the input words arrive one per cycle (SF(0) − 1
/// cycles after the first); each layer emits its last word `(NF − 1)·SF + 4` cycles after its last
/// input word (replay of the remaining neuron folds, then the MVTU's 4-stage pipeline); a width
/// converter emits the r output words its last input word completes in the r following cycles
/// (r = 1 for an up-sizer, IN/OUT for a down-sizer); a FIFO adds 1 cycle; the top-k head emits its
/// k words in the k cycles after the last value word. Returns the total and the formula as text.
pub fn latency(hw: &HwNetwork) -> (u64, String) {
    let mut total = hw.layers[0].sf() as u64 - 1;
    let mut terms = vec![format!("{} (input words)", total)];
    for (l, layer) in hw.layers.iter().enumerate() {
        let t = ((layer.nf() - 1) * layer.sf() + 4) as u64;
        total += t;
        terms.push(format!("{t} ({})", layer.name));
        if let Some(link) = hw.links.get(l) {
            if link.dwc() {
                // The converter emits the output words its last input word completes, one per
                // cycle from the next cycle on: 1 for an up-sizer, IN/OUT for a down-sizer.
                let b = hw.layers[l].obits() as usize;
                let frame = link.elements * b;
                let t = (frame / link.out_bits - (frame - link.in_bits) / link.out_bits) as u64;
                total += t;
                terms.push(format!("{t} (converter)"));
            }
            if link.fifo_depth.is_some() {
                total += 1;
                terms.push("1 (FIFO)".to_string());
            }
        }
    }
    if let Some(h) = &hw.head {
        total += h.k as u64;
        terms.push(format!("{} (top-k)", h.k));
    }
    (total, terms.join(" + "))
}

fn stream_report(f: &StreamFormat) -> StreamReport {
    StreamReport {
        tdata_bits: f.tdata_bits,
        elements_per_word: f.elements_per_word,
        element_bits: f.element.bits(),
        datatype: f.element.name(),
        signed: f.element.signed(),
        words_per_frame: f.words_per_frame,
        elements_per_frame: f.elements,
        slots_per_frame: f.slots,
        padding: (f.slots > f.elements).then(|| Padding {
            first_slot: f.elements,
            count: f.slots - f.elements,
        }),
        spare_tdata_bits: f.tdata_bits - f.used_bits(),
    }
}

/// The report of a design (`yosys` null).
pub fn build_report(hw: &HwNetwork, top: &str, modules: &[String]) -> BuildReport {
    let layers: Vec<LayerReport> = hw
        .layers
        .iter()
        .zip(modules)
        .map(|(l, module)| {
            let (tmem, steps, tbits) = match &l.activation {
                HwActivation::Thresholds(t) => (
                    Some(MemoryShape {
                        roms: l.pe,
                        width_bits: l.tmem_width(),
                        depth_words: l.nf(),
                        files: format!("{}_tPPP.mem", l.ident),
                    }),
                    t.nsteps(),
                    t.tbits,
                ),
                HwActivation::Identity => (None, 0, 0),
            };
            LayerReport {
                name: l.name.clone(),
                module: module.clone(),
                kind: "dense",
                mode: if l.xnor { "xnor-popcount" } else { "mac" },
                input_datatype: l.input_dtype.to_string(),
                weight_datatype: l.weight_dtype.to_string(),
                output_datatype: match l.output {
                    HwElement::Acc(b) => format!("int{b} (raw accumulator)"),
                    e => e.name(),
                },
                mw: l.mw,
                mh: l.mh,
                mw_padded: l.mw_pad,
                mh_padded: l.mh_pad,
                pe: l.pe,
                simd: l.simd,
                nf: l.nf(),
                sf: l.sf(),
                cycles_per_frame: l.cycles() as u64,
                weight_bits: (l.mw * l.mh) as u64 * u64::from(l.wbits()),
                weight_bits_stored: (l.mw_pad * l.mh_pad) as u64 * u64::from(l.wbits()),
                weight_memory: MemoryShape {
                    roms: l.pe,
                    width_bits: l.simd * l.wbits() as usize,
                    depth_words: l.nf() * l.sf(),
                    files: format!("{}_wPPP.mem", l.ident),
                },
                threshold_memory: tmem,
                thresholds_per_channel: steps,
                threshold_bits: tbits,
                accumulator_bits: l.acc_bits,
                accumulator_range: [l.acc_lo, l.acc_hi],
                xnor_fanin: l.mw,
                estimated_luts: cost::luts(l),
                estimated_bram18: cost::bram18(l),
            }
        })
        .collect();
    let links = hw
        .links
        .iter()
        .map(|k| LinkReport {
            from: hw.layers[k.from].name.clone(),
            to: hw.layers[k.from + 1].name.clone(),
            elements_per_frame: k.elements,
            producer_word_bits: k.in_bits,
            consumer_word_bits: k.out_bits,
            dwc: k.dwc(),
            fifo_depth: k.fifo_depth,
        })
        .collect();
    let head = hw.head.map(|h| HeadReport {
        kind: if h.k == 1 { "argmax" } else { "topk" },
        k: h.k,
        classes: h.n,
        values_per_word: h.elems,
        value_bits: h.elem_bits,
        signed: h.signed,
        index_bits: h.idx_bits,
    });
    let totals = Totals {
        weight_bits: layers.iter().map(|l| l.weight_bits).sum(),
        weight_bits_stored: layers.iter().map(|l| l.weight_bits_stored).sum(),
        threshold_bits_stored: hw
            .layers
            .iter()
            .map(|l| (l.tmem_width() * l.nf() * l.pe) as u64)
            .sum(),
        estimated_luts: layers.iter().map(|l| l.estimated_luts).sum(),
        estimated_bram18: layers.iter().map(|l| l.estimated_bram18).sum(),
    };
    BuildReport {
        generator: format!("bnn-gen {}", env!("CARGO_PKG_VERSION")),
        network: hw.name.clone(),
        target: "verilog",
        top: top.to_string(),
        clock: "ap_clk",
        reset: "ap_rst_n (synchronous, active low)",
        mem_dir: "mem",
        input: stream_report(&hw.input_stream()),
        output: stream_report(&hw.output_stream()),
        layers,
        links,
        head,
        totals,
        ideal_ii_cycles: hw.ideal_ii() as u64,
        latency_cycles_estimate: latency(hw).0,
        notes: hw.notes.clone(),
        yosys: None,
    }
}

/// The JSON text (pretty, final newline).
pub fn to_json(report: &BuildReport) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report serializes");
    s.push('\n');
    s
}

/// Replaces the `"yosys"` section (the last key) of the report at `path` with `counts`, keeping
/// the rest of the text as it is.
pub fn fill_yosys(path: &Path, counts: &ResourceCounts) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let key = "\n  \"yosys\": ";
    let at = text.rfind(key).ok_or_else(|| {
        Error::invalid(
            path.display().to_string(),
            "no \"yosys\" section: not a bnn-gen build report",
        )
    })?;
    let value = serde_json::to_string_pretty(counts).expect("counts serialize");
    let value = value.replace('\n', "\n  ");
    let new = format!("{}{key}{value}\n}}\n", &text[..at]);
    std::fs::write(path, new).map_err(|e| Error::io(path, e))
}
