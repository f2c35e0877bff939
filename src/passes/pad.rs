//! Lowers a lowered network to the *hardware IR* the Verilog backend emits: every matrix padded
//! to whole folds, thresholds moved into the hardware's accumulator domain, conv and max-pool
//! layers given their sliding-window generator, and the stream width and element count of every
//! link fixed.
//!
//! # Layers in hardware
//!
//! - **dense** → one `bnn_mvtu` (with its weight and threshold ROMs), one vector per frame;
//! - **conv2d** → `bnn_swg` (im2col window generator with the padding built in) → `bnn_mvtu`, one
//!   vector (window) per output pixel, `NF·SF` cycles each;
//! - **maxpool** → `bnn_swg` → `bnn_pool` (lane-wise max over the window; OR for binary).
//! - **depthwise** (`conv2d` with `groups = in_channels`) → `bnn_swg` in its depthwise order →
//!   `bnn_vvau`, PE channels per word, one kernel position per beat.
//!
//! # 1×1 convolutions
//!
//! A 1×1 stride-1 unpadded conv2d reads every input word once, in stream order: its window
//! generator would be a pass-through with a line buffer. It gets none; its MVTU reads the stream
//! directly, one vector (pixel) of `SF` words at a time (`HwLayer::bypassed_window` keeps what
//! was saved for `report.json`). With NF > 1 the MVTU replays each pixel from its input buffer
//! and takes no input during the other neuron folds, so it gets the FIFO rule of a dense layer:
//! one vector (`SF` words) in front.
//!
//! # Padding (see `docs/hardware.md`)
//!
//! The MVTU needs `SIMD | MW` and `PE | MH`, the window generator whole words per pixel. When the
//! folding does not divide, tensors are padded and the padding is made invisible:
//!
//! - **Channel padding is per pixel.** A tensor of `C` channels travels with `C_slots ≥ C`
//!   element slots per pixel; slots `C..C_slots` carry the all-zero bit pattern. Flat vectors
//!   from the host are one pixel (padding at the end of the frame).
//! - **Padded weight columns contribute nothing.** A zero bit pattern is the value 0 for binary,
//!   `uintN` and `intN` inputs, so any weight works there; it is −1 for a bipolar input, so the
//!   padded weight is 0 whenever the weight datatype has a 0 (ternary, binary, `uintN`, `intN`).
//!   The only weight type without a 0 is bipolar, and bipolar × bipolar runs in XNOR mode: the
//!   padded weight bit is 1 (+1), and XNOR(0, 1) = 0 adds nothing to the popcount.
//! - **Spatial (conv) padding is a real value**: the window generator emits the declared pad value
//!   (0 for multi-bit inputs, the `pad_value` of net.toml for bipolar ones: −1 is bit 0, +1 is
//!   bit 1, never FINN's implicit −1 of finn#996) on the true channels and zero bits on the padded
//!   channel slots, so the padded slots still contribute nothing.
//! - **XNOR thresholds move to the popcount domain with the true fan-in K** (`KH·KW·C` for conv,
//!   padded border positions included, channel slots not): `acc = 2P − K`, so `acc ≥ T ⟺ P ≥
//!   ⌈(T+K)/2⌉` and `acc ≤ T ⟺ P ≤ ⌊(T+K)/2⌋`, and the MVTU's `XNOR_FANIN` is K. Multi-bit paths
//!   keep the true accumulator domain.
//! - **Padded output channels emit the all-zero bit pattern**: their thresholds are "always met"
//!   (the hardware accumulator's minimum) for the first `c` steps and "never met" (maximum + 1) for
//!   the rest, with `c` the count that encodes to zero bits (`(c + OUT_BIAS) mod 2^OBITS = 0`: 0
//!   for bipolar and unsigned outputs, 2^(n−1) for `intN` with bias −2^(n−1)). Padded rows have
//!   padded weights. Without an activation (the last layer) the padded channels are don't-care
//!   padding, which the report lists. A max-pool keeps zero slots zero.
//!
//! # Links
//!
//! The data-width converter between two layers (`bnn_dwc`) is a plain bit-stream converter, so a
//! frame must be whole words on both sides. The channel slots of each tensor are the smallest
//! `C_slots ≥ C` that is a multiple of the producer's PE (max-pools pass the producer's words
//! through unchanged, so the PE of the MVTU before them) and of the consumer's SIMD (a conv layer:
//! whole words per pixel), or, for a dense consumer, with `pixels · C_slots` a multiple of SIMD.
//! This is the plain ⌈C/PE⌉·PE in the usual cases; when it is more, NF or SF grows beyond the
//! ceiling and [`HwNetwork::notes`] says so.

use crate::datatype::DataType;
use crate::error::{Error, Result};
use crate::hwir::*;
use crate::hwir::{mask, pad_weight};
use crate::ir::*;
use crate::passes::window::Window;
use ndarray::Array2;

/// What reads a tensor: the first MVTU after it (max-pools pass tensors through).
#[derive(Clone, Copy)]
enum Consumer {
    None,
    /// A conv layer with this SIMD: whole words per pixel.
    Conv(usize),
    /// A dense layer with this SIMD, reading a tensor of this many pixels.
    Dense(usize, usize),
}

/// Lowers `net` (already through [`super::lower`]) to the hardware IR.
///
/// Errors: a batch-norm activation (run `passes::lower` first), a network without layers, an MVTU
/// fed with raw accumulators, a top-k head over an image with padded channels.
pub fn pad(net: &Network) -> Result<HwNetwork> {
    let input_dtype = net.input.dtype.as_data().ok_or_else(|| {
        Error::invalid("network input", "the input must have a declared datatype")
    })?;
    let n = net.layers.len();
    if n == 0 {
        return Err(Error::Unsupported(format!(
            "network \"{}\" has no layers: the Verilog backend needs at least one layer",
            net.name
        )));
    }
    // Channel slots of every tensor (module docs, "Links").
    let mut notes = Vec::new();
    let layouts = tensor_layouts(
        net,
        &|i| match &net.layers[i].op {
            Op::MatVec(mv) | Op::Depthwise(mv) => (mv.folding.pe, mv.folding.simd),
            Op::MaxPool(_) | Op::GlobalAvgPool(_) => (1, 1),
        },
        Some(&mut notes),
    );

    let mut layers: Vec<HwLayer> = Vec::with_capacity(n);
    let mut used = std::collections::BTreeSet::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let mut ident = verilog_ident(&layer.name);
        while !used.insert(ident.clone()) {
            ident = format!("{ident}_{i}");
        }
        let (lin, lout) = (layouts[i], layouts[i + 1]);
        // The element type coming in: the host's or the previous layer's output.
        let in_element = match layers.last() {
            None => HwElement::Data(input_dtype),
            Some(prev) => prev.out_element(),
        };
        let mut bypassed = None;
        let (window, kind) = match &layer.op {
            Op::MatVec(mv) => {
                let in_dtype = match in_element {
                    HwElement::Data(d) => d,
                    _ => {
                        return Err(Error::Unsupported(format!(
                            "layer \"{}\": its input is raw accumulators (the previous layer has \
                             no activation); the Verilog backend needs a declared datatype",
                            layer.name
                        )))
                    }
                };
                match mv.conv {
                    None => {
                        let m = pad_mvtu(
                            layer,
                            mv,
                            in_dtype,
                            &|j| lin.slot(j),
                            lin.total_slots(),
                            lout.slots,
                            1,
                        )?;
                        (None, HwKind::Mvtu(Box::new(m)))
                    }
                    Some(g) => {
                        let Shape::Image { h, w, c } = layer.input.shape else {
                            return Err(Error::invalid(
                                format!("layer \"{}\"", layer.name),
                                "a conv2d layer needs an image input",
                            ));
                        };
                        let (cs, simd) = (lin.slots, mv.folding.simd);
                        let geom = Window::of_conv((h, w), cs / simd, &g);
                        let pad_bits = in_dtype.encode(g.pad_value);
                        let pad = (0..cs).map(|s| if s < c { pad_bits } else { 0 }).collect();
                        // The MVTU reads one window every NF·SF cycles.
                        let nf = lout.slots / mv.folding.pe;
                        let rule_depth = geom.depth_for(nf);
                        let window = HwWindow {
                            geom,
                            elems: simd,
                            ebits: in_dtype.bits(),
                            depth: buffer_depth(layer, &geom, mv.folding.buffer_depth, rule_depth)?,
                            rule_depth,
                            pad,
                            depthwise: false,
                        };
                        let m = pad_mvtu(
                            layer,
                            mv,
                            in_dtype,
                            &|j| (j / c) * cs + j % c,
                            geom.window_words() * simd,
                            lout.slots,
                            lout.pixels,
                        )?;
                        if g.is_pointwise() {
                            // The generator would pass every word through once, in order: the
                            // MVTU reads the stream itself (module docs, "1×1 convolutions").
                            bypassed = Some(window);
                            (None, HwKind::Mvtu(Box::new(m)))
                        } else {
                            (Some(window), HwKind::Mvtu(Box::new(m)))
                        }
                    }
                }
            }
            Op::Depthwise(mv) => {
                let HwElement::Data(in_dtype) = in_element else {
                    return Err(Error::Unsupported(format!(
                        "layer \"{}\": its input is raw accumulators (the previous layer has no \
                         activation); the Verilog backend needs a declared datatype",
                        layer.name
                    )));
                };
                let (window, m) = depthwise_unit(layer, mv, in_dtype, lin, lout)?;
                (Some(window), HwKind::Vvau(Box::new(m)))
            }
            Op::MaxPool(p) => {
                let Shape::Image { h, w, .. } = layer.input.shape else {
                    return Err(Error::invalid(
                        format!("layer \"{}\"", layer.name),
                        "a maxpool layer needs an image input",
                    ));
                };
                // Words pass through unchanged: the producer's word, or a whole pixel from the host.
                let lanes = layers.last().map_or(lin.slots, HwLayer::out_elems);
                let geom = Window {
                    ih: h,
                    iw: w,
                    cw: lin.slots / lanes,
                    kh: p.kernel[0],
                    kw: p.kernel[1],
                    sh: p.stride[0],
                    sw: p.stride[1],
                    ph: 0,
                    pw: 0,
                };
                // The pool reads every cycle.
                let rule_depth = geom.depth_for(1);
                let window = HwWindow {
                    geom,
                    elems: lanes,
                    ebits: in_element.bits(),
                    depth: buffer_depth(layer, &geom, p.buffer_depth, rule_depth)?,
                    rule_depth,
                    pad: vec![0; lin.slots],
                    depthwise: false,
                };
                let pool = HwPool {
                    lanes,
                    cw: geom.cw,
                    kk: geom.kh * geom.kw,
                    element: in_element,
                    pixels: lout.pixels,
                };
                (Some(window), HwKind::Pool(pool))
            }
            Op::GlobalAvgPool(g) => (
                None,
                HwKind::Gap(pad_gap(layer, g, in_element, lin, &layers)?),
            ),
        };
        layers.push(HwLayer {
            name: layer.name.clone(),
            ident,
            window,
            bypassed_window: bypassed,
            kind,
            input: lin,
            output: lout,
        });
    }

    let links = (0..n - 1)
        .map(|i| {
            let (a, b) = (&layers[i], &layers[i + 1]);
            debug_assert_eq!(a.out_element().bits(), b.in_ebits());
            let rule = rule_fifo_depth(b);
            Ok(HwLink {
                from: i,
                elements: layouts[i + 1].total_slots(),
                in_bits: a.out_word_bits(),
                out_bits: b.in_word_bits(),
                fifo_depth: match (rule, fifo_depth_of(&net.layers[i + 1])) {
                    (_, None) => rule,
                    (Some(_), Some(d)) => Some(d),
                    (None, Some(d)) => return Err(no_fifo_here(&net.layers[i + 1], b, d)),
                },
                rule_fifo_depth: rule,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(d) = fifo_depth_of(&net.layers[0]) {
        return Err(Error::invalid(
            format!("layer \"{}\" fifo_depth", net.layers[0].name),
            format!(
                "{d} words, but the first layer reads the input port directly and has no FIFO \
                 in front\nhelp: remove fifo_depth from this layer"
            ),
        ));
    }

    let head = match net.head {
        None => None,
        Some(h) => {
            let last = layers.last().expect("at least one layer");
            if last.output.pixels > 1 && last.output.padded() {
                return Err(Error::Unsupported(format!(
                    "the top-k head reads layer \"{}\", an image whose {} channels travel in {} \
                     slots per pixel; choose a PE that divides the channel count",
                    last.name, last.output.channels, last.output.slots
                )));
            }
            let classes = last.output.elements();
            Some(HwHead {
                k: h.k,
                n: classes,
                elems: last.out_elems(),
                elem_bits: last.out_element().bits(),
                signed: last.out_element().signed(),
                // bnn_topk needs at least clog2(N) bits; TDATA is a multiple of 8.
                idx_bits: round8(unsigned_bits(classes as u64 - 1) as usize),
            })
        }
    };

    Ok(HwNetwork {
        name: net.name.clone(),
        ident: verilog_ident(&net.name),
        input_dtype,
        input_elements: net.input.shape.len(),
        input_is_image: matches!(net.input.shape, Shape::Image { .. }),
        input_layout: layouts[0],
        layers,
        links,
        head,
        notes,
    })
}

/// The analytic depth of the FIFO in front of layer `b`, if it gets one: a dense (or 1×1 conv,
/// module docs) consumer with
/// NF > 1 reads its input only during the first neuron fold, and a FIFO of one frame (SF words)
/// lets the producer run a whole frame ahead. A consumer with NF = 1 reads every cycle, and a
/// window generator buffers its input itself: no FIFO. `bnn-gen fold --size-fifos` measures how
/// much of the frame is needed (`docs/folding.md`).
pub fn rule_fifo_depth(b: &HwLayer) -> Option<usize> {
    match (&b.window, &b.kind) {
        (None, HwKind::Mvtu(m)) if m.nf() > 1 => Some(m.sf().max(2)),
        _ => None,
    }
}

/// `net.toml`'s `fifo_depth` of a layer.
fn fifo_depth_of(layer: &Layer) -> Option<usize> {
    match &layer.op {
        Op::MatVec(mv) | Op::Depthwise(mv) => mv.folding.fifo_depth,
        Op::MaxPool(_) | Op::GlobalAvgPool(_) => None,
    }
}

/// `fifo_depth` on a layer the rule gives no FIFO.
fn no_fifo_here(layer: &Layer, b: &HwLayer, d: usize) -> Error {
    let why = match (&b.window, b.mvtu()) {
        (Some(_), _) => "its window generator buffers the input itself (see buffer_depth)".into(),
        (None, Some(m)) => format!(
            "it has NF = {} and reads its input every cycle, so it gets no FIFO",
            m.nf()
        ),
        (None, None) => "it gets no FIFO".into(),
    };
    Error::invalid(
        format!("layer \"{}\" fifo_depth", layer.name),
        format!("{d} words, but {why}\nhelp: remove fifo_depth from this layer"),
    )
}

/// The window generator's buffer depth: `net.toml`'s `buffer_depth` if given (at least
/// [`Window::min_depth`], below which the generator deadlocks), else the analytic `rule`.
fn buffer_depth(layer: &Layer, geom: &Window, given: Option<usize>, rule: usize) -> Result<usize> {
    match given {
        None => Ok(rule),
        Some(d) if d >= geom.min_depth() => Ok(d),
        Some(d) => Err(Error::invalid(
            format!("layer \"{}\" buffer_depth", layer.name),
            format!(
                "{d} words is less than one window's span in this folding ({} words of {} \
                 channel words per pixel): the window generator would deadlock\nhelp: use at \
                 least {}, remove buffer_depth for the analytic depth ({rule}), or let `bnn-gen \
                 fold --size-fifos` choose it",
                geom.min_depth(),
                geom.cw,
                geom.min_depth()
            ),
        )),
    }
}

/// The channel slots of every tensor (module docs, "Links") for the folding `fold(i)` = (PE,
/// SIMD) of every MVTU layer `i` (not called for max-pools): tensor `t` is the input of layer
/// `t`, the last one the network's output. With `notes`, appends a remark for every tensor that
/// needs more slots than the producer's PE alone asks for. Shared by [`pad`] and the
/// auto-folding's cost model (`crate::fold`), so that both see the same link padding.
pub fn tensor_layouts(
    net: &Network,
    fold: &dyn Fn(usize) -> (usize, usize),
    mut notes: Option<&mut Vec<String>>,
) -> Vec<Layout> {
    let n = net.layers.len();
    // Tensor t is the input of layer t (t < n) or the network output (t = n).
    let shape = |t: usize| -> Shape {
        if t < n {
            net.layers[t].input.shape
        } else {
            net.layers[n - 1].output.shape
        }
    };
    let matvec = |i: usize| -> Option<&MatVec> { net.layers[i].op.matvec() };

    let mut layouts: Vec<Layout> = Vec::with_capacity(n + 1);
    for t in 0..=n {
        let s = shape(t);
        if t > 0 && matvec(t - 1).is_none() {
            // A max-pool keeps its input's slots.
            let slots = layouts[t - 1].slots;
            layouts.push(Layout {
                pixels: s.pixels(),
                channels: s.channels(),
                slots,
            });
            continue;
        }
        let mut j = t;
        while j < n && matvec(j).is_none() {
            j += 1;
        }
        let consumer = if j == n {
            Consumer::None
        } else {
            let mv = matvec(j).expect("j is an MVTU");
            match mv.conv {
                // The depthwise window generator's word is PE channels of one pixel.
                Some(_) if matches!(net.layers[j].op, Op::Depthwise(_)) => {
                    Consumer::Conv(fold(j).0)
                }
                Some(_) => Consumer::Conv(fold(j).1),
                None => Consumer::Dense(fold(j).1, shape(j).pixels()),
            }
        };
        if t == 0 && j == 0 && matches!(consumer, Consumer::Dense(..)) {
            // The host feeds a dense layer: one flat vector, padded at the end.
            let (simd, len) = (fold(0).1, s.len());
            layouts.push(Layout {
                pixels: 1,
                channels: len,
                slots: len.div_ceil(simd) * simd,
            });
            continue;
        }
        let unit = if t == 0 { 1 } else { fold(t - 1).0 };
        let c = s.channels();
        let fits = |cs: usize| {
            cs.is_multiple_of(unit)
                && match consumer {
                    Consumer::None => true,
                    Consumer::Conv(simd) => cs.is_multiple_of(simd),
                    Consumer::Dense(simd, pixels) => (pixels * cs).is_multiple_of(simd),
                }
        };
        let slots = (c..)
            .find(|&cs| fits(cs))
            .expect("a common multiple exists");
        let plain = c.div_ceil(unit) * unit;
        if let (true, Some(notes)) = (slots > plain, notes.as_deref_mut()) {
            let producer = if t == 0 {
                "the input".to_string()
            } else {
                format!("layer {}", net.layers[t - 1].name)
            };
            let reader = match consumer {
                Consumer::None => String::new(),
                _ => format!(" and SIMD of layer {}", net.layers[j].name),
            };
            notes.push(format!(
                "{producer} carries {c} channels in {slots} slots per pixel (not {plain}): the \
                 smallest count that fits the PE{reader}; a SIMD that divides the channel count \
                 avoids the extra folds"
            ));
        }
        layouts.push(Layout {
            pixels: s.pixels(),
            channels: c,
            slots,
        });
    }

    layouts
}

/// The `bnn_gap` of a global average pool: it reads the producer's words unchanged (a whole
/// pixel per word from the host), as a max-pool does, and keeps their slots; its output is one
/// pixel of the same slots, the sums in the type of [`GlobalAvgPool::sum_dtype`].
fn pad_gap(
    layer: &Layer,
    g: &GlobalAvgPool,
    in_element: HwElement,
    lin: Layout,
    before: &[HwLayer],
) -> Result<HwGap> {
    let HwElement::Data(in_dtype) = in_element else {
        return Err(Error::Unsupported(format!(
            "layer \"{}\": its input is raw accumulators (the previous layer has no activation); \
             a global average pool needs a declared datatype",
            layer.name
        )));
    };
    debug_assert_eq!(lin.pixels, g.pixels());
    let lanes = before.last().map_or(lin.slots, HwLayer::out_elems);
    Ok(HwGap {
        lanes,
        cw: lin.slots / lanes,
        pixels: g.pixels(),
        channels: lin.channels,
        in_element,
        out_dtype: g.sum_dtype(in_dtype),
    })
}

/// The window generator and the VVAU of depthwise layer `layer` (see `docs/hardware.md`, "The
/// VVAU").
///
/// The generator runs in its depthwise order with words of PE channels (CW = C_slots / PE):
/// per output pixel, for each channel word (the VVAU's neuron fold), the kernel positions in
/// (ky, kx) order innermost (`docs/swg-pool-spec.md`, "Depthwise order"), so the VVAU meets
/// each fold's window beat by beat with SIMD = 1. Channels may be padded (PE ∤ C): the padded
/// slots carry zero bits in and out, as for an MVTU, which needs the same slot count on both
/// sides.
fn depthwise_unit(
    layer: &Layer,
    mv: &MatVec,
    in_dtype: DataType,
    lin: Layout,
    lout: Layout,
) -> Result<(HwWindow, HwMvtu)> {
    let at = format!("layer \"{}\"", layer.name);
    let (Shape::Image { h, w, c }, Some(g)) = (layer.input.shape, mv.conv) else {
        return Err(Error::invalid(
            at,
            "a depthwise convolution needs an image input and a window",
        ));
    };
    let (pe, simd) = (mv.folding.pe, mv.folding.simd);
    if simd != 1 {
        return Err(Error::Unsupported(format!(
            "{at}: a depthwise layer in hardware needs simd = 1, found {simd}: the window \
             generator emits one kernel position per word, and packing several per VVAU beat is \
             not implemented yet\nhelp: set simd = 1 on this layer (and raise pe for speed)"
        )));
    }
    let cs = lin.slots;
    if lout.slots != cs {
        return Err(Error::Unsupported(format!(
            "{at}: its {c} channels travel in {cs} slots per pixel in and {} out; a depthwise \
             layer meets each channel slot with itself, so both sides need the same slots\nhelp: \
             choose a PE for this layer that divides {c}, or a SIMD for the next layer that \
             divides {cs}",
            lout.slots
        )));
    }
    let geom = Window::of_conv((h, w), cs / pe, &g);
    let pad_bits = in_dtype.encode(g.pad_value);
    // The VVAU reads one window (CW·KH·KW words) in as many cycles: one word per cycle.
    let rule_depth = geom.depth_for(1);
    let window = HwWindow {
        geom,
        elems: pe,
        ebits: in_dtype.bits(),
        depth: buffer_depth(layer, &geom, mv.folding.buffer_depth, rule_depth)?,
        rule_depth,
        pad: (0..cs).map(|s| if s < c { pad_bits } else { 0 }).collect(),
        depthwise: true,
    };
    // Row = channel, column = kernel position: the weight matrix keeps its IR shape.
    let kk = geom.kh * geom.kw;
    let m = pad_mvtu(layer, mv, in_dtype, &|j| j, kk, cs, lout.pixels)?;
    Ok((window, m))
}

/// The hardware MVTU of `layer`: true column `j` of the weights goes to padded column
/// `col_slot(j)`, every other column holds the pad weight.
fn pad_mvtu(
    layer: &Layer,
    mv: &MatVec,
    in_dtype: DataType,
    col_slot: &dyn Fn(usize) -> usize,
    mw_pad: usize,
    mh_pad: usize,
    vectors: usize,
) -> Result<HwMvtu> {
    let (mh, mw) = (mv.rows(), mv.cols());
    debug_assert_eq!(mw_pad % mv.folding.simd, 0);
    debug_assert_eq!(mh_pad % mv.folding.pe, 0);
    let xnor = mv.weight_dtype == DataType::Bipolar && in_dtype == DataType::Bipolar;
    let k = mw as i64;
    let (acc_lo, acc_hi) = if xnor { (0, k) } else { mv.acc_range(in_dtype) };
    let pw = pad_weight(mv.weight_dtype);
    let mut weights = Array2::from_elem((mh_pad, mw_pad), pw);
    for j in 0..mw {
        let d = col_slot(j);
        for r in 0..mh {
            weights[[r, d]] = mv.weights[[r, j]];
        }
    }
    let (activation, output, acc_bits) = match &mv.activation {
        Activation::BatchNorm(_) => {
            return Err(Error::Unsupported(format!(
                "layer \"{}\": batch-norm must be folded into thresholds first (passes::lower)",
                layer.name
            )))
        }
        Activation::Identity => {
            // XNOR: the output 2P − K lies in [−K, K]; the popcount [0, K] fits that too.
            let (lo, hi) = if xnor { (-k, k) } else { (acc_lo, acc_hi) };
            let bits = signed_bits(lo, hi).max(2);
            (HwActivation::Identity, HwElement::Acc(bits), bits)
        }
        Activation::Thresholds(t) => {
            let steps = t.steps();
            let out_bias = if t.out_dtype == DataType::Bipolar {
                0
            } else {
                t.out_bias
            };
            let obits = t.out_dtype.bits();
            let mut values = Array2::<i64>::zeros((mh_pad, steps));
            let mut le: Vec<bool> = t.compare.iter().map(|&c| c == Compare::Le).collect();
            le.resize(mh_pad, false);
            for (c, &falling) in le.iter().enumerate().take(mh) {
                let mut row: Vec<i64> = t
                    .values
                    .row(c)
                    .iter()
                    .map(|&v| match (xnor, falling) {
                        (false, _) => v,
                        // acc = 2P − K ≥ T ⟺ P ≥ ⌈(T + K) / 2⌉
                        (true, false) => (v + k).div_euclid(2) + (v + k).rem_euclid(2),
                        // acc = 2P − K ≤ T ⟺ P ≤ ⌊(T + K) / 2⌋
                        (true, true) => (v + k).div_euclid(2),
                    })
                    .collect();
                row.sort_unstable();
                values
                    .row_mut(c)
                    .iter_mut()
                    .zip(row)
                    .for_each(|(d, s)| *d = s);
            }
            // Padded channels: `zero` thresholds always met, the rest never, so the count
            // encodes to the all-zero bit pattern.
            let zero = (0..=steps as i64)
                .find(|&c| ((c + out_bias) as u64) & mask(obits) == 0)
                .ok_or_else(|| {
                    Error::Unsupported(format!(
                        "layer \"{}\": no threshold count gives the zero bit pattern for padded \
                         channels ({steps} thresholds, output bias {out_bias}, {obits} bits)",
                        layer.name
                    ))
                })? as usize;
            for c in mh..mh_pad {
                for j in 0..steps {
                    values[[c, j]] = if j < zero { acc_lo } else { acc_hi + 1 };
                }
            }
            // TBITS holds the values the ROMs store: a falling (`le`) channel stores T + 1 (one
            // comparator per threshold, `HwThresholds::rom_value`), which may need one more bit.
            let (tlo, thi) = values
                .rows()
                .into_iter()
                .zip(&le)
                .flat_map(|(row, &falling)| row.into_iter().map(move |&v| v + i64::from(falling)))
                .fold((0i64, 0i64), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let tbits = signed_bits(tlo, thi);
            let acc_bits = signed_bits(acc_lo, acc_hi).max(2);
            (
                HwActivation::Thresholds(HwThresholds {
                    values,
                    le,
                    tbits,
                    out_bias,
                    out_dtype: t.out_dtype,
                }),
                HwElement::Data(t.out_dtype),
                acc_bits,
            )
        }
    };

    let mut m = HwMvtu {
        mw,
        mh,
        mw_pad,
        mh_pad,
        pe: mv.folding.pe,
        simd: mv.folding.simd,
        vectors,
        input_dtype: in_dtype,
        weight_dtype: mv.weight_dtype,
        xnor,
        acc_bits,
        acc_lo,
        acc_hi,
        weights,
        activation,
        output,
        weight_storage: mv.folding.weight_storage,
        weight_mem: HwMemory::choose(RamStyle::Auto, 1, 1),
        threshold_mem: None,
    };
    // Each ROM's primitive: net.toml's style, or the size rule on its words × bits.
    let (words, bits) = (m.nf() * m.sf(), m.simd * m.wbits() as usize);
    m.weight_mem = match mv.folding.weight_storage {
        WeightStorage::Rom => HwMemory::choose(mv.folding.ram_style, words, bits),
        // Constants in the RTL: LUTs, never block RAM (the loader refuses a ram_style here).
        WeightStorage::Logic => HwMemory::choose(RamStyle::Logic, words, bits),
    };
    if m.nsteps() > 0 {
        let (words, bits) = (m.nf(), m.tmem_width());
        m.threshold_mem = Some(HwMemory::choose(
            mv.folding.threshold_ram_style,
            words,
            bits,
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, ActSpec, DenseSpec, MlpSpec, RandomLimits, Rng};

    fn lowered(spec: &MlpSpec, seed: u64) -> Network {
        let mut net = synth::mlp(spec, seed);
        crate::passes::lower(&mut net).unwrap();
        net
    }

    #[test]
    fn helpers() {
        assert_eq!(signed_bits(0, 0), 1);
        assert_eq!(signed_bits(-1, 0), 1);
        assert_eq!(signed_bits(0, 1), 2);
        assert_eq!(signed_bits(-2, 1), 2);
        assert_eq!(signed_bits(0, 784), 11);
        assert_eq!(signed_bits(-1024, 1024), 12);
        assert_eq!(signed_bits(-1025, 0), 12);
        assert_eq!(round8(1), 8);
        assert_eq!(round8(64), 64);
        assert_eq!(round8(65), 72);
        assert_eq!(verilog_ident("cnv-small"), "cnv_small");
        assert_eq!(verilog_ident("1x"), "_1x");
    }

    /// The padded, hardware-domain form of one layer equals `Thresholds::apply` (or the raw
    /// accumulator) on the true accumulator for every input vector (all of them when few, else
    /// many random ones), for random datatypes, non-dividing folding and falling thresholds; and
    /// padded channels are all-zero bits.
    #[test]
    fn padded_layer_equals_the_true_layer() {
        let dts = [
            DataType::Bipolar,
            DataType::BINARY,
            DataType::Ternary,
            DataType::UInt(2),
            DataType::Int(2),
            DataType::Int(3),
            DataType::UInt(3),
        ];
        let out_dts = [
            DataType::Bipolar,
            DataType::BINARY,
            DataType::UInt(2),
            DataType::Int(2),
            DataType::Int(3),
        ];
        let mut rng = Rng::new(0xBAD5EED);
        for case in 0..300 {
            let in_dtype = rng.pick(&dts[..]);
            let in_dtype = if in_dtype == DataType::Ternary {
                DataType::Bipolar
            } else {
                in_dtype
            };
            let weight_dtype = if rng.chance(0.4) {
                DataType::Bipolar
            } else {
                rng.pick(&dts[..])
            };
            let mw = rng.range_usize(1, 12);
            let mh = rng.range_usize(1, 9);
            let last = rng.chance(0.25);
            let activation = if last {
                ActSpec::None
            } else if rng.chance(0.3) {
                ActSpec::BatchNorm {
                    quantizer: crate::ir::Quantizer::Sign,
                    alpha: true,
                    bias: true,
                }
            } else {
                ActSpec::Thresholds {
                    out_dtype: rng.pick(&out_dts[..]),
                    falling: true,
                }
            };
            let spec = MlpSpec {
                name: format!("case{case}"),
                in_features: mw,
                input_dtype: in_dtype,
                layers: vec![DenseSpec {
                    out_features: mh,
                    weight_dtype,
                    activation,
                    pe: rng.range_usize(1, mh),
                    simd: rng.range_usize(1, mw),
                }],
                head: None,
            };
            let net = lowered(&spec, case);
            let hw = pad(&net).unwrap();
            let layer = hw.layers[0].mvtu().unwrap();
            let Op::MatVec(mv) = &net.layers[0].op else {
                unreachable!()
            };
            assert_eq!(layer.mw_pad % layer.simd, 0);
            assert_eq!(layer.mh_pad % layer.pe, 0);
            assert_eq!(
                layer.xnor,
                in_dtype == DataType::Bipolar && weight_dtype == DataType::Bipolar
            );

            let values: Vec<i64> = (in_dtype.min()..=in_dtype.max())
                .filter(|&v| in_dtype.contains(v))
                .collect();
            let total = (values.len() as f64).powi(mw as i32);
            let vectors: Vec<Vec<i64>> = if total <= 4096.0 {
                (0..total as usize)
                    .map(|mut i| {
                        (0..mw)
                            .map(|_| {
                                let v = values[i % values.len()];
                                i /= values.len();
                                v
                            })
                            .collect()
                    })
                    .collect()
            } else {
                (0..2000)
                    .map(|_| (0..mw).map(|_| rng.pick(&values[..])).collect())
                    .collect()
            };
            for x in vectors {
                let mut bits = vec![0u64; layer.mw_pad];
                for (b, &v) in bits.iter_mut().zip(&x) {
                    *b = in_dtype.encode(v);
                }
                for r in 0..layer.mh_pad {
                    let acc_hw = layer.hw_acc(r, &bits);
                    assert!((layer.acc_lo..=layer.acc_hi).contains(&acc_hw));
                    assert!(signed_bits(acc_hw, acc_hw) <= layer.acc_bits);
                    let out = layer.hw_out(r, acc_hw);
                    if r >= layer.mh {
                        if !last {
                            assert_eq!(out, 0, "case {case}: padded channel {r}");
                        }
                        continue;
                    }
                    let acc: i64 = mv
                        .weights
                        .row(r)
                        .iter()
                        .zip(&x)
                        .map(|(&w, &v)| i64::from(w) * v)
                        .sum();
                    let expected = match &mv.activation {
                        Activation::Thresholds(t) => t.apply(r, acc),
                        _ => acc,
                    };
                    assert_eq!(
                        layer.output.decode(out),
                        expected,
                        "case {case}: {spec:?} row {r} x {x:?} acc {acc} hw acc {acc_hw}"
                    );
                    if let HwActivation::Thresholds(t) = &layer.activation {
                        for j in 0..t.nsteps() {
                            let v = t.rom_value(r, j);
                            assert!(signed_bits(v, v) <= t.tbits);
                        }
                    }
                }
            }
        }
    }

    /// The bit-level pipeline model equals the golden model on random networks (all datatypes,
    /// random folding, heads), including the padded links.
    #[test]
    fn pipeline_model_equals_golden() {
        let limits = RandomLimits {
            max_layers: 4,
            max_features: 40,
            max_bits: 4,
            ..RandomLimits::default()
        };
        for seed in 0..150 {
            let spec = synth::random_mlp_spec(seed, &limits);
            let net = lowered(&spec, seed);
            let hw = pad(&net).unwrap();
            for link in &hw.links {
                let (a, b) = (
                    hw.layers[link.from].mvtu().unwrap(),
                    hw.layers[link.from + 1].mvtu().unwrap(),
                );
                assert_eq!(a.mh_pad, b.mw_pad);
                assert_eq!(link.elements % a.pe, 0);
                assert_eq!(link.elements % b.simd, 0);
            }
            let golden = crate::golden::GoldenModel::new(&net).unwrap();
            let frames = synth::frames_for(&net, 20, seed);
            let len = net.input.shape.len();
            let data = frames.as_slice().unwrap();
            for f in 0..20 {
                let frame = &data[f * len..(f + 1) * len];
                assert_eq!(
                    hw.model(frame),
                    golden.infer(frame),
                    "seed {seed} frame {f}: {spec:?}"
                );
            }
        }
    }

    #[test]
    fn link_padding_uses_a_common_multiple() {
        let spec = MlpSpec {
            name: "odd".into(),
            in_features: 20,
            input_dtype: DataType::Bipolar,
            layers: vec![
                DenseSpec {
                    out_features: 10,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::SIGN,
                    pe: 4,
                    simd: 8,
                },
                DenseSpec {
                    out_features: 6,
                    weight_dtype: DataType::Bipolar,
                    activation: ActSpec::None,
                    pe: 3,
                    simd: 6,
                },
            ],
            head: Some(2),
        };
        let hw = pad(&lowered(&spec, 1)).unwrap();
        let m = |hw: &HwNetwork, i: usize| hw.layers[i].mvtu().unwrap().clone();
        assert_eq!(m(&hw, 0).mw_pad, 24);
        assert_eq!(m(&hw, 0).mh_pad, 12);
        assert_eq!(m(&hw, 1).mw_pad, 12);
        assert_eq!(m(&hw, 1).mh_pad, 6);
        assert!(hw.notes.is_empty(), "{:?}", hw.notes);
        let head = hw.head.unwrap();
        assert_eq!((head.n, head.elems, head.idx_bits), (6, 3, 8));
        // lcm(4, 8) = 8 > ceil: 10 channels -> 16 elements, NF 4 instead of 3.
        let mut spec2 = spec.clone();
        spec2.layers[1].simd = 8;
        let hw = pad(&lowered(&spec2, 1)).unwrap();
        assert_eq!(m(&hw, 0).mh_pad, 16);
        assert_eq!(m(&hw, 1).mw_pad, 16);
        assert_eq!(hw.notes.len(), 1);
    }

    /// Conv and pool networks: the bit-level pipeline model (window generators with their pad
    /// pixels, per-pixel channel slots, pools on encoded elements) equals the golden model on
    /// random conv nets (odd sizes, strides, padding with any pad value, 1x1 kernels, SIMD that
    /// does not divide the channels, multi-bit activations).
    #[test]
    fn conv_pipeline_model_equals_golden() {
        let limits = RandomLimits {
            max_layers: 5,
            max_features: 24,
            max_image: 9,
            max_channels: 6,
            max_bits: 4,
        };
        let mut windows = 0;
        for seed in 0..200 {
            let spec = synth::random_cnn_spec(seed, &limits);
            let mut net = synth::network(&spec, seed);
            crate::passes::lower(&mut net).unwrap();
            let hw = match pad(&net) {
                Ok(hw) => hw,
                Err(e) => panic!("seed {seed}: {e}\n{spec:?}"),
            };
            windows += hw.layers.iter().filter(|l| l.window.is_some()).count();
            for l in &hw.layers {
                assert_eq!(
                    l.input.total_slots() % l.in_elems(),
                    0,
                    "seed {seed} {}",
                    l.name
                );
                if l.window.is_some() {
                    assert_eq!(l.input.slots % l.in_elems(), 0, "seed {seed} {}", l.name);
                }
                assert_eq!(l.output.total_slots() % l.out_elems(), 0);
            }
            for k in &hw.links {
                assert_eq!(
                    k.elements * hw.layers[k.from].out_element().bits() as usize % k.in_bits,
                    0
                );
                assert_eq!(
                    k.elements * hw.layers[k.from].out_element().bits() as usize % k.out_bits,
                    0
                );
            }
            let golden = crate::golden::GoldenModel::new(&net).unwrap();
            let frames = synth::frames_for(&net, 6, seed);
            let len = net.input.shape.len();
            let data = frames.as_slice().unwrap();
            for f in 0..6 {
                let frame = &data[f * len..(f + 1) * len];
                assert_eq!(
                    hw.model(frame),
                    golden.infer(frame),
                    "seed {seed} frame {f}: {spec:?}"
                );
            }
        }
        assert!(windows > 150, "{windows} window generators");
    }

    /// BNN-PYNQ's CNV: the slots are the plain channel counts, and the first layer's window is a
    /// 3-channel pixel per word.
    #[test]
    fn cnv_layout() {
        let (mut net, _) = synth::example("cnv").unwrap();
        crate::passes::lower(&mut net).unwrap();
        let hw = pad(&net).unwrap();
        assert!(hw.notes.is_empty(), "{:?}", hw.notes);
        let kinds: Vec<_> = hw.layers.iter().map(HwLayer::kind_name).collect();
        assert_eq!(
            kinds,
            [
                "conv2d", "conv2d", "maxpool", "conv2d", "conv2d", "maxpool", "conv2d", "conv2d",
                "dense", "dense", "dense"
            ]
        );
        let conv5 = hw.layers[7].mvtu().unwrap();
        assert_eq!(
            (conv5.pe, conv5.simd, conv5.nf(), conv5.sf()),
            (1, 32, 256, 72)
        );
        assert_eq!(conv5.nf() * conv5.sf(), 18432);
        let w0 = hw.layers[0].window.as_ref().unwrap();
        assert_eq!((w0.elems, w0.geom.cw, w0.word_bits()), (3, 1, 24));
        assert_eq!(hw.layers[2].in_elems(), 32);
        assert_eq!(hw.input_stream().words_per_frame, 1024);
    }
}
