//! Renders the files of a design from the hardware IR: the askama templates in `templates/` get
//! precomputed numbers, names and wiring; the ROM contents are formatted here.

use super::bits::Bits;
use super::report::{self, mem_file, tile_file, tile_stem};
use super::{hwlib, Design, GeneratedFile};
use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::hwir::{
    type_code, BlockTiling, HwActivation, HwElement, HwGap, HwKind, HwLayer, HwMvtu, HwNetwork,
    HwWindow, StreamFormat,
};
use crate::ir::WeightStorage;
use askama::Template;
use std::collections::BTreeSet;

const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Param {
    name: &'static str,
    value: String,
}

fn param(name: &'static str, value: impl ToString) -> Param {
    Param {
        name,
        value: value.to_string(),
    }
}

/// A Verilog integer: negative values as sized signed literals (`-32'sd2`), so that they never
/// turn a comparison unsigned.
fn vint(v: i64) -> String {
    if v < 0 {
        format!("-32'sd{}", v.unsigned_abs())
    } else {
        v.to_string()
    }
}

/// `[bits-1:0]` left-aligned in a column of `width` characters.
fn range(bits: usize, width: usize) -> String {
    format!("{:<width$}", format!("[{}:0]", bits - 1))
}

fn wire(name: impl Into<String>, bits: usize) -> Wire {
    Wire {
        name: name.into(),
        bits,
        range: String::new(),
    }
}

fn clog2_or_1(n: usize) -> usize {
    if n > 1 {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    } else {
        1
    }
}

struct Rom {
    inst: String,
    /// `bnn_rom`'s contents parameters: `INIT_FILE`, or the tiled mode's `TILE_*` parameters.
    init: String,
    hi: usize,
    lo: usize,
    /// The slice of `wmem_addr` this ROM reads (its PE group's address replica); weight ROMs only.
    ahi: usize,
    alo: usize,
}

/// One PE's weight table of a layer with `weight_storage = "logic"`: the registered address
/// `addr` (`aw` bits, from `wmem_addr[ahi:alo]`), the data register `data` (`wmem_rdata[hi:lo]`)
/// and the `case` items (address literal, word literal) of the words that are not all zero.
struct WeightLogic {
    addr: String,
    data: String,
    aw: usize,
    ahi: usize,
    alo: usize,
    hi: usize,
    lo: usize,
    cases: Vec<(String, String)>,
}

/// `bnn_mvtu`'s PE_GROUP: PEs per replicated input-word copy, accumulator enable and
/// weight-ROM address (`wmem_addr` has one address per group).
pub const MVTU_PE_GROUP: usize = 8;

#[derive(Template)]
#[template(path = "layer.v")]
struct LayerTemplate {
    header: Vec<String>,
    module: String,
    /// The library unit the wrapper instantiates (`bnn_mvtu`, or `bnn_vvau` for depthwise) and
    /// its instance name.
    core: &'static str,
    core_inst: &'static str,
    /// Elements per input word (SIMD; PE·SIMD for the VVAU).
    in_elems: usize,
    blank: String,
    r_in: String,
    r_out: String,
    r_waddr: String,
    r_wdata: String,
    r_taddr: String,
    r_tdata: String,
    simd: usize,
    pe: usize,
    ibits: u32,
    obits: u32,
    wbits: u32,
    sf: usize,
    ww: usize,
    tw: usize,
    wdepth: usize,
    tdepth: usize,
    tword: String,
    tbits: u32,
    params: Vec<Param>,
    wroms: Vec<Rom>,
    /// The weight tables of `weight_storage = "logic"` (then `wroms` is empty), one per PE.
    wlogic: Vec<WeightLogic>,
    troms: Vec<Rom>,
    /// `bnn_rom`'s RAM_STYLE of the weight and threshold ROMs, and why.
    wstyle: &'static str,
    wreason: String,
    tstyle: &'static str,
    treason: String,
}

struct Wire {
    name: String,
    bits: usize,
    range: String,
}

struct Block {
    comment: String,
    module: String,
    inst: String,
    params: Vec<Param>,
    input: String,
    output: String,
}

/// A simulation-only protocol monitor on one stream (`bnn_axis_monitor`, under
/// `` `ifdef BNN_AXIS_MONITOR ``).
struct Monitor {
    inst: String,
    /// The stream's signal prefix (`<stream>_tdata` ...).
    stream: String,
    bits: usize,
    /// What violations name: the stream and the blocks on either side.
    link: String,
}

#[derive(Template)]
#[template(path = "top.v")]
struct TopTemplate {
    header: Vec<String>,
    module: String,
    blank: String,
    r_in: String,
    r_out: String,
    in_desc: String,
    out_desc: String,
    wires: Vec<Wire>,
    input_wiring: Vec<String>,
    blocks: Vec<Block>,
    output_wiring: Vec<String>,
    monitors: Vec<Monitor>,
}

#[derive(Template)]
#[template(path = "filelist.f")]
struct FileListTemplate<'a> {
    files: &'a [String],
}

#[derive(Template)]
#[template(path = "synth_yosys.ys")]
struct YosysTemplate<'a> {
    version: &'a str,
    net_name: &'a str,
    top: &'a str,
    files: &'a [String],
    stat_file: &'a str,
    /// Some layer keeps its weights as logic: flatten those wrappers (see `layer.v`).
    weights_as_logic: bool,
}

#[derive(Template)]
#[template(path = "vivado.tcl")]
struct VivadoTemplate<'a> {
    version: &'a str,
    net_name: &'a str,
    top: &'a str,
    files: &'a [String],
    default_period: &'a str,
}

struct StreamDoc {
    words_per_frame: usize,
    elements_per_word: usize,
    element_bits: u32,
    datatype: String,
    bipolar: bool,
    raw: bool,
    is_image: bool,
    elements: usize,
    slots: usize,
    pad_elements: usize,
    /// Per-pixel padding of an image stream: "" or the text for the README.
    pixel_padding: String,
    used_bits: usize,
    spare_bits: usize,
    tdata_bits: usize,
}

impl StreamDoc {
    fn new(f: &StreamFormat, is_image: bool) -> Self {
        StreamDoc {
            words_per_frame: f.words_per_frame,
            elements_per_word: f.elements_per_word,
            element_bits: f.element.bits(),
            datatype: f.element.name(),
            bipolar: f.element == HwElement::Data(DataType::Bipolar),
            raw: matches!(f.element, HwElement::Acc(_)),
            is_image,
            elements: f.elements,
            slots: f.slots,
            pad_elements: if f.layout.pixels == 1 {
                f.slots - f.elements
            } else {
                0
            },
            pixel_padding: if f.layout.pixels > 1 && f.layout.padded() {
                format!(
                    "each pixel's {} channels occupy {} slots: element `e` goes to slot `(e / {}) · {} + e % {}`, and slots {}..{} of every pixel are padding",
                    f.layout.channels,
                    f.layout.slots,
                    f.layout.channels,
                    f.layout.slots,
                    f.layout.channels,
                    f.layout.channels,
                    f.layout.slots - 1
                )
            } else {
                String::new()
            },
            used_bits: f.used_bits(),
            spare_bits: f.tdata_bits - f.used_bits(),
            tdata_bits: f.tdata_bits,
        }
    }
}

struct LayerDoc {
    name: String,
    module: String,
    kind: &'static str,
    /// "MW x MH (padded)" for an MVTU, the window for a pool.
    shape: String,
    weights: String,
    io: String,
    pe: String,
    simd: String,
    nf: String,
    sf: String,
    cycles: usize,
    buffer: String,
    luts: u64,
    bram18: u64,
}

/// A row of the README's memory table: one ROM set of a layer.
struct MemDoc {
    layer: String,
    what: &'static str,
    roms: usize,
    words: usize,
    bits: usize,
    style: &'static str,
    reason: String,
}

fn mem_docs(report: &report::BuildReport) -> Vec<MemDoc> {
    let mut out = Vec::new();
    for l in &report.layers {
        let Some(m) = &l.mvtu else { continue };
        let sets = [
            ("weights", Some(&m.weight_memory)),
            ("thresholds", m.threshold_memory.as_ref()),
        ];
        for (what, mem) in sets {
            if let Some(mem) = mem {
                out.push(MemDoc {
                    layer: l.name.clone(),
                    what,
                    roms: mem.roms,
                    words: mem.depth_words,
                    bits: mem.width_bits,
                    style: mem.style,
                    reason: mem.reason.clone(),
                });
            }
        }
    }
    out
}

#[derive(Template)]
#[template(path = "README.md")]
struct ReadmeTemplate<'a> {
    version: &'a str,
    net_name: &'a str,
    net_ident: &'a str,
    top: &'a str,
    has_head: bool,
    any_thresholds: bool,
    classes: usize,
    in_tdata_bits: usize,
    out_tdata_bits: usize,
    input: StreamDoc,
    output: StreamDoc,
    layers: Vec<LayerDoc>,
    memories: Vec<MemDoc>,
    links: Vec<String>,
    notes: &'a [String],
    ii: usize,
    fps_100: String,
    latency: u64,
    latency_formula: String,
}

fn render(t: &impl Template, what: &str) -> Result<Vec<u8>> {
    let mut text = t
        .render()
        .map_err(|e| Error::Unsupported(format!("internal error rendering {what}: {e}")))?;
    // askama drops the template's final newline; every generated file ends with exactly one.
    while text.ends_with('\n') {
        text.pop();
    }
    text.push('\n');
    Ok(text.into_bytes())
}

/// Module names of the layers: `<net>_<layer>` for MVTU layers (their generated wrapper), made
/// unique against the top, the library and each other; `bnn_pool` for pools.
fn layer_modules(hw: &HwNetwork, top: &str) -> Vec<String> {
    let mut used: BTreeSet<String> = hwlib::MODULES
        .iter()
        .map(|(f, _)| f.trim_end_matches(".v").to_string())
        .collect();
    used.insert(top.to_string());
    hw.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            match l.kind {
                // Pools instantiate library modules directly.
                HwKind::Pool(_) => return "bnn_pool".to_string(),
                HwKind::Gap(_) => return "bnn_gap".to_string(),
                HwKind::Mvtu(_) | HwKind::Vvau(_) => {}
            }
            let mut name = format!("{}_{}", hw.ident, l.ident);
            while used.contains(&name) {
                name = format!("{name}_l{i}");
            }
            used.insert(name.clone());
            name
        })
        .collect()
}

/// `bnn_rom`'s contents parameters for ROM `p` of kind `kind` (`'w'`/`'t'`) of `layer`: its
/// `.mem` file, or, tiled, the tiling and the stem of its tile files.
fn rom_init(layer: &HwLayer, kind: char, p: usize, tiling: Option<BlockTiling>) -> String {
    match tiling {
        None => format!(".INIT_FILE({{MEM_DIR, \"/{}\"}})", mem_file(layer, kind, p)),
        Some(t) => format!(
            ".INIT_FILE(\"\"), .TILE_DEPTH({}), .TILE_WIDTH({}), .LAST_TILE_WIDTH({}), \
             .TILE_FILES({{MEM_DIR, \"/{}\"}})",
            t.bank_depth,
            t.tile_width,
            t.last_tile_width,
            tile_stem(layer, kind, p)
        ),
    }
}

/// The `.mem` files of one ROM: `name` with its words, one hexadecimal word per line; or, tiled,
/// one file per tile with that tile's slice of its bank's words.
fn rom_files(
    name: &str,
    stem: &str,
    words: &[Bits],
    tiling: Option<BlockTiling>,
) -> Vec<GeneratedFile> {
    let hex = |words: &mut dyn Iterator<Item = Bits>| {
        let mut out = String::new();
        for w in words {
            out.push_str(&w.to_hex());
            out.push('\n');
        }
        out.into_bytes()
    };
    let Some(tiling) = tiling else {
        return vec![GeneratedFile {
            path: format!("mem/{name}"),
            contents: hex(&mut words.iter().cloned()),
        }];
    };
    let bits = words.first().map_or(0, Bits::width);
    tiling
        .tiles(words.len(), bits)
        .into_iter()
        .map(|t| GeneratedFile {
            path: format!("mem/{}", tile_file(stem, t.index)),
            contents: hex(
                &mut words[t.first_word..t.first_word + t.depth].iter().map(|w| {
                    let mut s = Bits::zero(t.width);
                    s.set(0, t.width, w.get(t.lsb, t.width));
                    s
                }),
            ),
        })
        .collect()
}

/// The words of weight ROM `p`: word nf·SF + sf holds the SIMD weights of fold (nf, sf).
fn weight_words(layer: &HwMvtu, p: usize) -> Vec<Bits> {
    let wbits = layer.wbits() as usize;
    let ww = layer.simd * wbits;
    let mut out = Vec::with_capacity(layer.nf() * layer.sf());
    for nf in 0..layer.nf() {
        let row = layer.weights.row(nf * layer.pe + p);
        for sf in 0..layer.sf() {
            let mut word = Bits::zero(ww);
            for lane in 0..layer.simd {
                let w = row[sf * layer.simd + lane];
                word.set(lane * wbits, wbits, layer.weight_dtype.encode(i64::from(w)));
            }
            out.push(word);
        }
    }
    out
}

/// The words of threshold ROM `p`: word nf holds {dir, T'[NSTEPS-1], ..., T'[0]} of channel
/// nf·PE + p.
fn threshold_words(layer: &HwMvtu, p: usize) -> Vec<Bits> {
    let HwActivation::Thresholds(t) = &layer.activation else {
        return Vec::new();
    };
    let tb = t.tbits as usize;
    let mut out = Vec::with_capacity(layer.nf());
    for nf in 0..layer.nf() {
        let c = nf * layer.pe + p;
        let mut word = Bits::zero(layer.tmem_width());
        // The stored T' (T + 1 for a falling channel): the MVTU has one `acc >= T'` comparator
        // per threshold and inverts the count by the direction bit (docs/mvtu-spec.md, 5).
        for j in 0..t.nsteps() {
            word.set(j * tb, tb, t.rom_value(c, j) as u64);
        }
        word.set(t.nsteps() * tb, 1, u64::from(t.le[c]));
        out.push(word);
    }
    out
}

fn layer_header(hw: &HwNetwork, layer: &HwLayer, l: &HwMvtu) -> Vec<String> {
    let mut h = vec![
        format!(
            "Generated by bnn-gen {VERSION} from network \"{}\", layer \"{}\". Do not edit.",
            hw.name, layer.name
        ),
        String::new(),
    ];
    if let (Some(w), true) = (&layer.window, layer.is_vvau()) {
        let g = &w.geom;
        h.push(format!(
            "Depthwise {}x{} stride {}x{} padding {}x{} on {}x{}x{} -> {}x{}x{}: per output pixel and channel fold, each of {} channels' {}-position window, fed by bnn_swg in its depthwise order (kw innermost, then kh, then the channel word).",
            g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.ih, g.iw, layer.input.channels, g.oh(), g.ow(), layer.output.channels, l.pe, l.mw
        ));
    } else if let Some(w) = &layer.bypassed_window {
        let g = &w.geom;
        h.push(format!(
            "Conv 1x1 on {}x{}x{} -> {}x{}x{}: one {}-element vector per pixel, read from the stream directly (no window generator: saves a {}-word line buffer).",
            g.ih, g.iw, layer.input.channels, g.oh(), g.ow(), l.mh, l.mw, w.depth
        ));
    } else if let Some(w) = &layer.window {
        let g = &w.geom;
        h.push(format!(
            "Conv {}x{} stride {}x{} padding {}x{} on {}x{}x{} -> {}x{}x{}: one {}-element window per output pixel, fed by bnn_swg (channels innermost, then kw, then kh).",
            g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.ih, g.iw, layer.input.channels, g.oh(), g.ow(), l.mh, l.mw
        ));
        if layer.input.padded() {
            h.push(format!(
                "Each pixel carries {} channels in {} slots; window column (ky*{} + kx)*{} + c holds channel c (slots >= {} are padding).",
                layer.input.channels, layer.input.slots, g.kw, layer.input.slots, layer.input.channels
            ));
        }
    }
    h.extend([
        format!(
            "Matrix {} x {} ({} weights, {} inputs -> {}), padded to MW {} x MH {}.",
            l.mw,
            l.mh,
            l.weight_dtype,
            l.input_dtype,
            l.output.name(),
            l.mw_pad,
            l.mh_pad
        ),
        format!(
            "PE {}, SIMD {}: NF {} x SF {} = {} cycles per vector, {} vector(s) = {} cycles per frame.",
            l.pe,
            l.simd,
            l.nf(),
            l.sf(),
            l.vector_cycles(),
            l.vectors,
            l.cycles()
        ),
    ]);
    if l.xnor {
        h.push(format!(
            "XNOR-popcount: accumulator P in [0, {}]; thresholds in the popcount domain (T_pc = ceil((T+K)/2) for >=, floor((T+K)/2) for <=, K = {}).",
            l.mw, l.mw
        ));
    } else {
        h.push(format!(
            "Multiply-accumulate: accumulator in [{}, {}], true domain.",
            l.acc_lo, l.acc_hi
        ));
    }
    if layer.window.is_none() && l.mw_pad > l.mw {
        h.push(format!(
            "Input slots {}..{} are padding (zero bits); their weights are {}.",
            l.mw,
            l.mw_pad - 1,
            if l.xnor {
                "bit 1 (XNOR with 0 adds nothing)"
            } else {
                "0 or meet a zero input"
            }
        ));
    }
    if l.mh_pad > l.mh {
        h.push(format!(
            "Output channels {}..{} are padding{}.",
            l.mh,
            l.mh_pad - 1,
            if l.nsteps() > 0 {
                " and emit zero bits"
            } else {
                " (don't care)"
            }
        ));
    }
    h
}

fn layer_file(hw: &HwNetwork, layer: &HwLayer, l: &HwMvtu, module: &str) -> Result<Vec<u8>> {
    let ww = l.simd * l.wbits() as usize;
    let tw = l.tmem_width().max(1);
    let (nsteps, tbits, obias) = match &l.activation {
        HwActivation::Thresholds(t) => (t.nsteps(), t.tbits, t.out_bias),
        HwActivation::Identity => (0, 1, 0),
    };
    let params = vec![
        param("MW", l.mw_pad),
        param("MH", l.mh_pad),
        param("PE", l.pe),
        param("SIMD", l.simd),
        param("WBITS", l.wbits()),
        param("IBITS", l.ibits()),
        param("WTYPE", type_code(l.weight_dtype)),
        param("ITYPE", type_code(l.input_dtype)),
        param("ACC_BITS", l.acc_bits),
        param("NSTEPS", nsteps),
        param("OBITS", l.obits()),
        param("TBITS", tbits),
        param("OUT_BIAS", vint(obias)),
        param("XNOR_FANIN", l.mw),
        param("PE_GROUP", MVTU_PE_GROUP),
    ];
    let digits = |p: usize| format!("{p:03}");
    let waw = clog2_or_1(l.nf() * l.sf());
    let groups = l.pe.div_ceil(MVTU_PE_GROUP);
    let logic = l.weight_storage == WeightStorage::Logic;
    let wlogic = if logic {
        (0..l.pe)
            .map(|p| WeightLogic {
                addr: format!("wl_addr_{}", digits(p)),
                data: format!("wl_data_{}", digits(p)),
                aw: waw,
                ahi: (p / MVTU_PE_GROUP + 1) * waw - 1,
                alo: p / MVTU_PE_GROUP * waw,
                hi: (p + 1) * ww - 1,
                lo: p * ww,
                cases: weight_words(l, p)
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| w.to_hex().chars().any(|c| c != '0'))
                    .map(|(a, w)| (format!("{waw}'d{a}"), format!("{ww}'h{}", w.to_hex())))
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let wroms = (0..l.pe)
        .filter(|_| !logic)
        .map(|p| Rom {
            inst: format!("u_wrom_{}", digits(p)),
            init: rom_init(layer, 'w', p, l.weight_mem.tiling),
            hi: (p + 1) * ww - 1,
            lo: p * ww,
            ahi: (p / MVTU_PE_GROUP + 1) * waw - 1,
            alo: p / MVTU_PE_GROUP * waw,
        })
        .collect();
    let troms = if nsteps > 0 {
        (0..l.pe)
            .map(|p| Rom {
                inst: format!("u_trom_{}", digits(p)),
                init: rom_init(layer, 't', p, l.threshold_mem.and_then(|m| m.tiling)),
                hi: (p + 1) * tw - 1,
                lo: p * tw,
                ahi: 0,
                alo: 0,
            })
            .collect()
    } else {
        Vec::new()
    };
    let in_elems = layer.in_elems_of_unit();
    let widths = [
        in_elems * l.ibits() as usize,
        l.pe * l.obits() as usize,
        groups * waw,
        l.pe * ww,
        clog2_or_1(l.nf()),
        l.pe * tw,
    ];
    let col = widths
        .iter()
        .map(|&b| format!("[{}:0]", b - 1).len())
        .max()
        .unwrap_or(0);
    let t = LayerTemplate {
        header: layer_header(hw, layer, l),
        module: module.to_string(),
        core: if layer.is_vvau() {
            "bnn_vvau"
        } else {
            "bnn_mvtu"
        },
        core_inst: if layer.is_vvau() { "u_vvau" } else { "u_mvtu" },
        in_elems,
        blank: " ".repeat(col),
        r_in: range(widths[0], col),
        r_out: range(widths[1], col),
        r_waddr: range(widths[2], col),
        r_wdata: range(widths[3], col),
        r_taddr: range(widths[4], col),
        r_tdata: range(widths[5], col),
        simd: l.simd,
        pe: l.pe,
        ibits: l.ibits(),
        obits: l.obits(),
        wbits: l.wbits(),
        sf: l.sf(),
        ww,
        tw,
        wdepth: l.nf() * l.sf(),
        tdepth: l.nf(),
        tword: match nsteps {
            0 => String::new(),
            1 => "{dir, T'[0]}".to_string(),
            2 => "{dir, T'[1], T'[0]}".to_string(),
            n => format!("{{dir, T'[{}], ..., T'[0]}}", n - 1),
        },
        tbits,
        params,
        wroms,
        wlogic,
        troms,
        wstyle: l.weight_mem.kind.name(),
        wreason: l.weight_mem.describe("ram_style", l.nf() * l.sf(), ww),
        tstyle: l.threshold_mem.map_or("", |m| m.kind.name()),
        treason: l.threshold_mem.map_or(String::new(), |m| {
            m.describe("threshold_ram_style", l.nf(), tw)
        }),
    };
    render(&t, module)
}

/// The `bnn_swg` parameters of a window generator.
fn swg_params(w: &HwWindow) -> Vec<Param> {
    let g = &w.geom;
    let bits = g.cw * w.word_bits();
    let mut pad = Bits::zero(bits);
    let eb = w.ebits as usize;
    for (s, &v) in w.pad.iter().enumerate() {
        pad.set(s * eb, eb, v);
    }
    let mut params = vec![
        param("IH", g.ih),
        param("IW", g.iw),
        param("CW", g.cw),
        param("WBITS", w.word_bits()),
        param("KH", g.kh),
        param("KW", g.kw),
        param("SH", g.sh),
        param("SW", g.sw),
        param("PH", g.ph),
        param("PW", g.pw),
        param("DEPTH", w.depth),
        param("RAM_STYLE", format!("\"{}\"", w.buffer_kind().name())),
        param("PAD", format!("{bits}'h{}", pad.to_hex())),
    ];
    if w.depthwise {
        params.push(param("DEPTHWISE", 1));
    }
    params
}

/// The `bnn_gap` instance of global-pool layer `i` (parameters as `cyclesim::gap_params`).
fn gap_block(i: usize, l: &HwLayer, g: &HwGap, input: &str, output: &str) -> Block {
    let p = crate::cyclesim::gap_params(g);
    Block {
        comment: format!(
            "Layer {i} \"{}\": global pool, per channel the sum of {} pixels ({} lane(s) of {} \
             per word, {} word(s) per pixel) as {}; the division by {} is folded into what follows.",
            l.name,
            g.pixels,
            g.lanes,
            g.in_element.name(),
            g.cw,
            g.out_dtype,
            g.pixels
        ),
        module: "bnn_gap".into(),
        inst: format!("u_l{i}_gap"),
        params: vec![
            param("CW", p.cw),
            param("LANES", p.lanes),
            param("PIXELS", p.pixels),
            param("CHANNELS", p.channels),
            param("ITYPE", p.itype),
            param("IBITS", p.ibits),
            param("ABITS", p.abits),
        ],
        input: input.to_string(),
        output: output.to_string(),
    }
}

fn stream_desc(f: &StreamFormat) -> String {
    format!(
        "{} x {} ({} bits each), {} words per frame",
        f.elements_per_word,
        f.element.name(),
        f.element.bits(),
        f.words_per_frame
    )
}

/// The top level, and the links its protocol monitors watch.
fn top_file(hw: &HwNetwork, top: &str, modules: &[String]) -> Result<(Vec<u8>, Vec<String>)> {
    let input = hw.input_stream();
    let output = hw.output_stream();
    let mut wires = Vec::new();
    let mut blocks = Vec::new();
    let mut input_wiring = Vec::new();
    let mut output_wiring = Vec::new();

    // Input port -> "in" stream of the first layer's width.
    let in_w = input.used_bits();
    wires.push(wire("in", in_w));
    if in_w < input.tdata_bits {
        input_wiring.push(format!("assign in_tdata = s_axis_tdata[{}:0];", in_w - 1));
        input_wiring.push(format!(
            "wire   unused_s_axis_tdata = &{{1'b0, s_axis_tdata[{}:{in_w}]}};  // TDATA padding bits",
            input.tdata_bits - 1
        ));
    } else {
        input_wiring.push("assign in_tdata = s_axis_tdata;".into());
    }
    input_wiring.push("assign in_tvalid = s_axis_tvalid;".into());
    input_wiring.push("assign s_axis_tready = in_tready;".into());

    let mut cur = "in".to_string();
    for (i, l) in hw.layers.iter().enumerate() {
        if let Some(w) = &l.window {
            let g = &w.geom;
            let out = format!("l{i}_swg");
            wires.push(wire(out.clone(), w.word_bits()));
            blocks.push(Block {
                comment: format!(
                    "Layer {i} \"{}\": window generator, {}x{} windows stride {}x{} padding {}x{} \
                     over {}x{} pixels of {} word(s); {}-word line buffer.",
                    l.name, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.ih, g.iw, g.cw, w.depth
                ),
                module: "bnn_swg".into(),
                inst: format!("u_l{i}_swg"),
                params: swg_params(w),
                input: cur.clone(),
                output: out.clone(),
            });
            cur = out;
        }
        let out = format!("l{i}_{}", l.ident);
        wires.push(wire(out.clone(), l.out_word_bits()));
        match &l.kind {
            HwKind::Mvtu(m) | HwKind::Vvau(m) => blocks.push(Block {
                comment: format!(
                    "Layer {i} \"{}\": {} {} -> {}, PE {}, SIMD {}, NF {} x SF {}{} = {} cycles/frame.",
                    l.name,
                    l.kind_name(),
                    m.mw,
                    m.mh,
                    m.pe,
                    m.simd,
                    m.nf(),
                    m.sf(),
                    if m.vectors > 1 {
                        format!(" x {} pixels", m.vectors)
                    } else {
                        String::new()
                    },
                    m.cycles()
                ),
                module: modules[i].clone(),
                inst: format!("u_l{i}_{}", l.ident),
                params: vec![param("MEM_DIR", "MEM_DIR")],
                input: cur.clone(),
                output: out.clone(),
            }),
            HwKind::Pool(p) => blocks.push(Block {
                comment: format!(
                    "Layer {i} \"{}\": max over {} window positions, {} lane(s) of {} per word{}.",
                    l.name,
                    p.kk,
                    p.lanes,
                    p.element.name(),
                    if p.element.bits() == 1 && !p.element.signed() {
                        " (bitwise OR)"
                    } else {
                        ""
                    }
                ),
                module: "bnn_pool".into(),
                inst: format!("u_l{i}_pool"),
                params: vec![
                    param("CW", p.cw),
                    param("LANES", p.lanes),
                    param("EBITS", p.element.bits()),
                    param("SIGNED", u32::from(p.element.signed())),
                    param("KK", p.kk),
                ],
                input: cur.clone(),
                output: out.clone(),
            }),
            HwKind::Gap(g) => blocks.push(gap_block(i, l, g, &cur, &out)),
        }
        cur = out;
        if let Some(link) = hw.links.get(i) {
            if link.dwc() {
                let out = format!("link{i}_dwc");
                wires.push(wire(out.clone(), link.out_bits));
                blocks.push(Block {
                    comment: format!(
                        "Link {i}: width converter {} -> {} bits ({} elements per frame).",
                        link.in_bits, link.out_bits, link.elements
                    ),
                    module: "bnn_dwc".into(),
                    inst: format!("u_link{i}_dwc"),
                    params: vec![
                        param("IN_BITS", link.in_bits),
                        param("OUT_BITS", link.out_bits),
                    ],
                    input: cur.clone(),
                    output: out.clone(),
                });
                cur = out;
            }
            if let Some(depth) = link.fifo_depth {
                let out = format!("link{i}_fifo");
                wires.push(wire(out.clone(), link.out_bits));
                blocks.push(Block {
                    comment: format!(
                        "Link {i}: FIFO of one frame ({depth} words) so that layer {} runs ahead \
                         while layer {} replays its neuron folds.",
                        i,
                        i + 1
                    ),
                    module: "bnn_fifo".into(),
                    inst: format!("u_link{i}_fifo"),
                    params: vec![param("WIDTH", link.out_bits), param("DEPTH", depth)],
                    input: cur.clone(),
                    output: out.clone(),
                });
                cur = out;
            }
        }
    }
    if let Some(h) = &hw.head {
        wires.push(wire("head", h.idx_bits));
        blocks.push(Block {
            comment: format!(
                "Head: top-{} of {} values ({} per word), indices best first, ties to the lower index.",
                h.k, h.n, h.elems
            ),
            module: "bnn_topk".into(),
            inst: "u_head".into(),
            params: vec![
                param("N", h.n),
                param("ELEMS", h.elems),
                param("ELEM_BITS", h.elem_bits),
                param("SIGNED", u32::from(h.signed)),
                param("K", h.k),
                param("IDX_BITS", h.idx_bits),
            ],
            input: cur.clone(),
            output: "head".into(),
        });
        cur = "head".into();
    }
    let out_w = wires.last().expect("at least the input").bits;
    if out_w < output.tdata_bits {
        output_wiring.push(format!(
            "assign m_axis_tdata = {{{}'d0, {cur}_tdata}};  // TDATA padded with zero bits",
            output.tdata_bits - out_w
        ));
    } else {
        output_wiring.push(format!("assign m_axis_tdata = {cur}_tdata;"));
    }
    output_wiring.push(format!("assign m_axis_tvalid = {cur}_tvalid;"));
    output_wiring.push(format!("assign {cur}_tready = m_axis_tready;"));
    let monitors = monitors(&blocks, &wires, input.tdata_bits, output.tdata_bits);

    let mut header = vec![
        format!(
            "Generated by bnn-gen {VERSION} from network \"{}\". Do not edit.",
            hw.name
        ),
        String::new(),
        format!(
            "Streaming accelerator: {} layer(s){}; ideal initiation interval {} cycles per frame.",
            hw.layers.len(),
            if hw.head.is_some() {
                " and a top-k head"
            } else {
                ""
            },
            hw.ideal_ii()
        ),
        "Streams are LSB first: element i of a word at bits [i*b, (i+1)*b); bipolar +1 = bit 1."
            .into(),
        format!(
            "Input: {} words per frame of {} elements ({}); frame slot s in word s/{}, lane s%{}.",
            input.words_per_frame,
            input.elements_per_word,
            input.element.name(),
            input.elements_per_word,
            input.elements_per_word
        ),
    ];
    if let Some(t) = input.padding_text() {
        header.push(format!("Input {t} are padding and must be zero bits."));
    }
    header.push(match &hw.head {
        Some(h) => format!(
            "Output: {} word(s) per frame, the top-{} class indices, best first.",
            h.k, h.k
        ),
        None => format!(
            "Output: {} words per frame of {} elements ({}){}.",
            output.words_per_frame,
            output.elements_per_word,
            output.element.name(),
            output
                .padding_text()
                .map_or(String::new(), |t| format!("; {t} are padding"))
        ),
    });
    header.push("ROM contents: $readmemh(MEM_DIR/<file>), MEM_DIR relative to the tool's working directory.".into());

    let col = wires
        .iter()
        .map(|w| w.bits)
        .chain([input.tdata_bits, output.tdata_bits])
        .map(|b| format!("[{}:0]", b - 1).len())
        .max()
        .unwrap_or(0);
    for w in &mut wires {
        w.range = range(w.bits, col);
    }
    let t = TopTemplate {
        header,
        module: top.to_string(),
        blank: " ".repeat(col),
        r_in: range(input.tdata_bits, col),
        r_out: range(output.tdata_bits, col),
        in_desc: stream_desc(&input),
        out_desc: match &hw.head {
            Some(h) => format!("top-{} class indices, one per word", h.k),
            None => stream_desc(&output),
        },
        wires,
        input_wiring,
        blocks,
        output_wiring,
        monitors,
    };
    let links = t.monitors.iter().map(|m| m.link.clone()).collect();
    Ok((render(&t, top)?, links))
}

/// One protocol monitor per stream: the input port, every stream between two blocks, and the
/// output port. The `in` stream and the last block's output are the ports without their TDATA
/// padding, so the ports stand for them (with every TDATA bit).
fn monitors(blocks: &[Block], wires: &[Wire], in_bits: usize, out_bits: usize) -> Vec<Monitor> {
    let inst_of = |stream: &str, input: bool| {
        blocks
            .iter()
            .find(|b| {
                if input {
                    b.input == stream
                } else {
                    b.output == stream
                }
            })
            .map_or_else(String::new, |b| b.inst.clone())
    };
    let mut monitors = vec![Monitor {
        inst: "u_mon_s_axis".into(),
        stream: "s_axis".into(),
        bits: in_bits,
        link: format!("s_axis (input port -> {})", inst_of("in", true)),
    }];
    for w in &wires[1..wires.len().saturating_sub(1)] {
        monitors.push(Monitor {
            inst: format!("u_mon_{}", w.name),
            stream: w.name.clone(),
            bits: w.bits,
            link: format!(
                "{} ({} -> {})",
                w.name,
                inst_of(&w.name, false),
                inst_of(&w.name, true)
            ),
        });
    }
    let last = wires.last().map_or("in", |w| w.name.as_str());
    monitors.push(Monitor {
        inst: "u_mon_m_axis".into(),
        stream: "m_axis".into(),
        bits: out_bits,
        link: format!("m_axis ({} -> output port)", inst_of(last, false)),
    });
    monitors
}

fn link_text(hw: &HwNetwork, i: usize) -> String {
    let k = &hw.links[i];
    let (a, b) = (&hw.layers[k.from], &hw.layers[k.from + 1]);
    let mut parts = vec![format!(
        "{} -> {}: {} elements per frame, {}-bit words in, {}-bit words out",
        a.name, b.name, k.elements, k.in_bits, k.out_bits
    )];
    if k.dwc() {
        parts.push("a `bnn_dwc` width converter".into());
    }
    match (k.fifo_depth, &b.window) {
        (Some(d), _) => parts.push(format!("a {d}-word `bnn_fifo` (one frame of {})", b.name)),
        (None, Some(w)) => parts.push(format!(
            "no FIFO ({}'s window generator buffers {} words)",
            b.name, w.depth
        )),
        (None, None) => parts.push(format!(
            "no FIFO ({} has NF = 1 and reads every cycle)",
            b.name
        )),
    }
    parts.join("; ")
}

/// The simulation file list: `bnn_gen.f` plus the protocol monitors.
pub const SIM_FILE_LIST: &str = "bnn_gen_sim.f";

/// The define under which the generated top instantiates the protocol monitors.
pub const SIM_MONITOR_DEFINE: &str = "BNN_AXIS_MONITOR";

/// Generates every file of the design.
pub(super) fn generate(hw: HwNetwork) -> Result<Design> {
    let top = format!("{}_top", hw.ident);
    let modules = layer_modules(&hw, &top);
    let mut files = Vec::new();

    let mut rtl: Vec<String> = Vec::new();
    for name in hwlib::needed(&hw) {
        let text = hwlib::module(name).expect("a library module");
        files.push(GeneratedFile {
            path: format!("rtl/{name}"),
            contents: text.as_bytes().to_vec(),
        });
        rtl.push(format!("rtl/{name}"));
    }
    for (l, module) in hw.layers.iter().zip(&modules) {
        if let Some(m) = l.mvtu() {
            files.push(GeneratedFile {
                path: format!("rtl/{module}.v"),
                contents: layer_file(&hw, l, m, module)?,
            });
            rtl.push(format!("rtl/{module}.v"));
        }
    }
    let (top_text, monitored_links) = top_file(&hw, &top, &modules)?;
    files.push(GeneratedFile {
        path: format!("rtl/{top}.v"),
        contents: top_text,
    });
    rtl.push(format!("rtl/{top}.v"));

    for l in &hw.layers {
        let Some(m) = l.mvtu() else { continue };
        // Weights as logic live in the layer's RTL, not in .mem files.
        for p in (0..m.pe).filter(|_| m.weight_storage == WeightStorage::Rom) {
            files.extend(rom_files(
                &mem_file(l, 'w', p),
                &tile_stem(l, 'w', p),
                &weight_words(m, p),
                m.weight_mem.tiling,
            ));
        }
        if let Some(tmem) = m.threshold_mem.filter(|_| m.nsteps() > 0) {
            for p in 0..m.pe {
                files.extend(rom_files(
                    &mem_file(l, 't', p),
                    &tile_stem(l, 't', p),
                    &threshold_words(m, p),
                    tmem.tiling,
                ));
            }
        }
    }

    files.push(GeneratedFile {
        path: "bnn_gen.f".into(),
        contents: render(&FileListTemplate { files: &rtl }, "bnn_gen.f")?,
    });
    // Simulation: the same files plus the protocol monitors, switched on by the define (a line
    // that Verilator's -f and Icarus's -c both read).
    let (monitor_file, monitor_text) = hwlib::AXIS_MONITOR;
    files.push(GeneratedFile {
        path: format!("rtl/{monitor_file}"),
        contents: monitor_text.as_bytes().to_vec(),
    });
    let mut sim_files = vec![
        format!("+define+{SIM_MONITOR_DEFINE}"),
        format!("rtl/{monitor_file}"),
    ];
    sim_files.extend(rtl.iter().cloned());
    files.push(GeneratedFile {
        path: SIM_FILE_LIST.into(),
        contents: render(&FileListTemplate { files: &sim_files }, SIM_FILE_LIST)?,
    });
    files.push(GeneratedFile {
        path: "synth_yosys.ys".into(),
        contents: render(
            &YosysTemplate {
                version: VERSION,
                net_name: &hw.name,
                top: &top,
                files: &rtl,
                stat_file: super::yosys::STAT_FILE,
                weights_as_logic: hw.layers.iter().any(|l| {
                    l.mvtu()
                        .is_some_and(|m| m.weight_storage == WeightStorage::Logic)
                }),
            },
            "synth_yosys.ys",
        )?,
    });
    files.push(GeneratedFile {
        path: "vivado.tcl".into(),
        contents: render(
            &VivadoTemplate {
                version: VERSION,
                net_name: &hw.name,
                top: &top,
                files: &rtl,
                default_period: "10.0",
            },
            "vivado.tcl",
        )?,
    });

    let rep = report::build_report(&hw, &top, &modules);
    let (latency, latency_formula) = report::latency(&hw);
    let ii = hw.ideal_ii();
    let layers = hw
        .layers
        .iter()
        .zip(&modules)
        .zip(&rep.layers)
        .map(|((l, module), r)| {
            let dash = || "-".to_string();
            let buffer = l
                .window
                .as_ref()
                .map_or_else(dash, |w| format!("{} x {}", w.depth, w.word_bits()));
            let (luts, bram18) = match (&r.mvtu, &r.window) {
                (Some(m), w) => (
                    m.estimated_luts + w.as_ref().map_or(0, |w| w.estimated_luts),
                    m.estimated_bram18 + w.as_ref().map_or(0, |w| w.estimated_bram18),
                ),
                (None, Some(w)) => (w.estimated_luts, w.estimated_bram18),
                (None, None) => (0, 0),
            };
            match (&l.kind, r.mvtu.as_ref()) {
                (HwKind::Mvtu(m), Some(mr)) => LayerDoc {
                    name: l.name.clone(),
                    module: module.clone(),
                    kind: l.kind_name(),
                    shape: format!("{} x {} ({} x {})", m.mw, m.mh, m.mw_pad, m.mh_pad),
                    weights: m.weight_dtype.to_string(),
                    io: format!("{} -> {}", m.input_dtype, mr.output_datatype),
                    pe: m.pe.to_string(),
                    simd: m.simd.to_string(),
                    nf: m.nf().to_string(),
                    sf: m.sf().to_string(),
                    cycles: l.cycles(),
                    buffer,
                    luts,
                    bram18,
                },
                (HwKind::Gap(g), _) => LayerDoc {
                    name: l.name.clone(),
                    module: module.clone(),
                    kind: l.kind_name(),
                    shape: format!("sum of {} pixels", g.pixels),
                    weights: dash(),
                    io: format!("{} -> {}", g.in_element.name(), g.out_dtype),
                    pe: dash(),
                    simd: l.in_elems().to_string(),
                    nf: dash(),
                    sf: dash(),
                    cycles: l.cycles(),
                    buffer,
                    luts,
                    bram18,
                },
                _ => {
                    let g = &l.window.as_ref().expect("a pool has a window").geom;
                    let e = l.out_element().name();
                    LayerDoc {
                        name: l.name.clone(),
                        module: module.clone(),
                        kind: l.kind_name(),
                        shape: format!("{}x{} stride {}x{}", g.kh, g.kw, g.sh, g.sw),
                        weights: dash(),
                        io: format!("{e} -> {e}"),
                        pe: dash(),
                        simd: l.in_elems().to_string(),
                        nf: dash(),
                        sf: dash(),
                        cycles: l.cycles(),
                        buffer,
                        luts,
                        bram18,
                    }
                }
            }
        })
        .collect();
    let input = hw.input_stream();
    let output = hw.output_stream();
    let readme = ReadmeTemplate {
        version: VERSION,
        net_name: &hw.name,
        net_ident: &hw.ident,
        top: &top,
        has_head: hw.head.is_some(),
        any_thresholds: hw
            .layers
            .iter()
            .filter_map(HwLayer::mvtu)
            .any(|m| m.nsteps() > 0),
        classes: hw.head.map_or(0, |h| h.n),
        in_tdata_bits: input.tdata_bits,
        out_tdata_bits: output.tdata_bits,
        input: StreamDoc::new(&input, hw.input_is_image),
        output: StreamDoc::new(&output, false),
        layers,
        memories: mem_docs(&rep),
        links: (0..hw.links.len()).map(|i| link_text(&hw, i)).collect(),
        notes: &hw.notes,
        ii,
        fps_100: format!("{:.0}", 100e6 / ii.max(1) as f64),
        latency,
        latency_formula,
    };
    files.push(GeneratedFile {
        path: "README.md".into(),
        contents: render(&readme, "README.md")?,
    });
    files.push(GeneratedFile {
        path: "report.json".into(),
        contents: report::to_json(&rep).into_bytes(),
    });

    Ok(Design {
        hw,
        top,
        files,
        monitored_links,
    })
}
