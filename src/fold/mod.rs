//! Automatic folding (`bnn-gen fold`) and design-space exploration (`bnn-gen explore`): PE, SIMD
//! and ROM styles for every MVTU, chosen with the calibrated cost model (`src/codegen/cost.rs`)
//! and the exact cycles of the generated hardware. See `docs/folding.md`.
//!
//! - [`model`]: cycles and cost of a folding, as `passes::pad` would build it;
//! - [`pruning`]: the dead-channel removal `build` applies, run once before the search;
//! - [`search`]: the cheapest folding for a target, the fastest for a device;
//! - [`setfolding`]: FINN's SetFolding, the baseline;
//! - [`devices`]: the device presets;
//! - [`emit`]: the folded `net.toml`;
//! - [`fifos`]: FIFO and window-buffer sizing with the cycle simulator (`--size-fifos`);
//! - [`explore`]: the Pareto sweep and its CSV, JSON and SVG.

pub mod devices;
pub mod emit;
pub mod explore;
pub mod fifos;
pub mod model;
mod plot;
pub mod pruning;
pub mod search;
pub mod setfolding;

use crate::error::{Error, Result};
use crate::ir::{Network, Op};
pub use devices::Device;
pub use model::{LayerFold, NetCost, Problem};
pub use pruning::Pruned;
use search::{Searcher, Solution};
use std::fmt::Write;

/// A throughput target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Frames per second at a clock (MHz): at most ⌊clock / fps⌋ cycles per frame.
    Fps { fps: f64, clock_mhz: f64 },
    /// At most this many cycles per frame.
    Cycles(u64),
}

impl Target {
    /// The largest cycles per frame that meet the target.
    pub fn cycles(&self) -> Result<usize> {
        match *self {
            Target::Fps { fps, clock_mhz } => {
                if !(fps.is_finite() && fps > 0.0) {
                    return Err(Error::invalid(
                        "--target-fps",
                        format!("expected a positive frame rate, found {fps}"),
                    ));
                }
                if !(clock_mhz.is_finite() && clock_mhz > 0.0) {
                    return Err(Error::invalid(
                        "--clock-mhz",
                        format!("expected a positive clock in MHz, found {clock_mhz}"),
                    ));
                }
                let c = (clock_mhz * 1e6 / fps).floor();
                if c < 1.0 {
                    return Err(Error::invalid(
                        "--target-fps",
                        format!(
                            "{fps} frames/s at {clock_mhz} MHz is less than one cycle per frame\n\
                             help: no design runs faster than one frame per cycle; lower \
                             --target-fps or raise --clock-mhz"
                        ),
                    ));
                }
                Ok(c.min(usize::MAX as f64) as usize)
            }
            Target::Cycles(0) => Err(Error::invalid(
                "--target-cycles",
                "expected a positive number of cycles per frame, found 0",
            )),
            Target::Cycles(c) => Ok(c as usize),
        }
    }

    /// The clock for frame-rate figures, if the target has one.
    pub fn clock_mhz(&self) -> Option<f64> {
        match *self {
            Target::Fps { clock_mhz, .. } => Some(clock_mhz),
            Target::Cycles(_) => None,
        }
    }
}

/// What `fold` is asked for: a target, a device, or both (the cheapest design meeting the
/// target, checked against the device).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    pub target: Option<Target>,
    pub device: Option<Device>,
    /// Largest share of each device resource to use, in percent (default 80: place and route
    /// needs headroom).
    pub max_util: f64,
    /// Price the net after the dead-channel removal, as `build` builds it (default; `false` is
    /// `--no-prune`, which `build` must then be given too).
    pub prune: bool,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            target: None,
            device: None,
            max_util: 80.0,
            prune: true,
        }
    }
}

/// A chosen folding with its estimate.
#[derive(Clone, Debug)]
pub struct Design {
    /// Per layer (max-pools: PE = SIMD = 1, unused).
    pub folds: Vec<LayerFold>,
    pub cost: NetCost,
    /// The device whose resource shares the search weighed (the requested one, else the
    /// reference xc7z020).
    pub device: Device,
    /// The target in cycles per frame, if one was asked for.
    pub target: Option<usize>,
    pub clock_mhz: Option<f64>,
    /// With `--device`: the share limit, in percent.
    pub max_util: Option<f64>,
    /// Why each layer got its folding (one line per layer).
    pub reasons: Vec<String>,
    /// The network `build` makes of the folded net.toml: after the dead-channel removal (unless
    /// `--no-prune`), with the folding applied. The estimate is of this network.
    pub net: Network,
    /// What the dead-channel removal removed, when it removed anything (one line).
    pub pruning: Option<String>,
}

/// Sets the folding of every MVTU layer of `net` to `folds`. FIFO and window-buffer depths
/// set for the old folding are dropped (back to the analytic rule): they were sized for other
/// word widths and rates (`--size-fifos` sizes the new ones).
pub fn apply(net: &mut Network, folds: &[LayerFold]) {
    for (layer, f) in net.layers.iter_mut().zip(folds) {
        match &mut layer.op {
            Op::MatVec(mv) | Op::Depthwise(mv) => {
                mv.folding.pe = f.pe;
                mv.folding.simd = f.simd;
                mv.folding.ram_style = f.ram_style;
                mv.folding.threshold_ram_style = f.threshold_ram_style;
                mv.folding.fifo_depth = None;
                mv.folding.buffer_depth = None;
            }
            Op::MaxPool(p) => p.buffer_depth = None,
            Op::GlobalAvgPool(_) => {}
        }
    }
}

/// Chooses PE, SIMD and ROM styles for every MVTU and VVAU layer of `net` (lowered, not pruned:
/// the dead-channel removal runs here unless `req.prune` is off, see [`pruning`]): the cheapest
/// design meeting the target, or the fastest that fits the device.
pub fn fold(net: &Network, req: &Request) -> Result<Design> {
    if !(req.max_util.is_finite() && req.max_util > 0.0 && req.max_util <= 100.0) {
        return Err(Error::invalid(
            "--max-util",
            format!("expected a percentage in (0, 100], found {}", req.max_util),
        ));
    }
    let target = req.target.map(|t| t.cycles()).transpose()?;
    let clock = req.target.and_then(|t| t.clock_mhz());
    let pruned = Pruned::for_search(net, req.prune)?;
    let problem = Problem::pruned(&pruned)?;
    let device = req
        .device
        .unwrap_or_else(|| Device::by_name(devices::REFERENCE).expect("the reference preset"));
    let mut searcher = Searcher::new(&problem, device);
    if req.device.is_some() && target.is_none() {
        searcher.objective = search::Objective::Peak;
    }
    let util = req.max_util / 100.0;
    let solution = match target {
        Some(t) => {
            let s = searcher
                .solve(t)
                .ok_or_else(|| infeasible_target(&searcher, t, clock))?;
            if req.device.is_some() && !searcher.fits(&s.cost, util) {
                return Err(too_big_for_target(&searcher, &s, t, req.max_util));
            }
            s
        }
        None => match req.device {
            Some(_) => searcher
                .fastest_fitting(util)
                .ok_or_else(|| too_small(&searcher, req.max_util))?,
            None => {
                return Err(Error::invalid(
                    "bnn-gen fold",
                    "nothing to fold for\nhelp: give --target-fps F --clock-mhz C, \
                     --target-cycles N or --device D",
                ))
            }
        },
    };
    let reasons = reasons_for(&problem, &solution.folds, &solution.cost, target, &device);
    let mut built = pruned.net.clone();
    apply(&mut built, &solution.folds);
    Ok(Design {
        folds: solution.folds,
        cost: solution.cost,
        device,
        target,
        clock_mhz: clock,
        max_util: req.device.map(|_| req.max_util),
        reasons,
        net: built,
        pruning: pruned.summary(),
    })
}

/// The net's own folding as a [`Design`] (`fold --size-fifos` without a target or device:
/// only the buffers are sized; `fold --estimate`), after `build`'s dead-channel removal unless
/// `!prune`.
pub fn keep(net: &Network, prune: bool) -> Result<Design> {
    let pruned = Pruned::as_built(net, prune)?;
    let problem = Problem::new(&pruned.net)?;
    let folds = problem.current();
    let cost = problem.evaluate(&folds).map_err(Error::Unsupported)?;
    let device = Device::by_name(devices::REFERENCE).expect("the reference preset");
    let reasons = reasons_for(&problem, &folds, &cost, None, &device)
        .into_iter()
        .map(|r| r.replace("the cheapest fold that keeps up", "as in net.toml"))
        .collect();
    Ok(Design {
        folds,
        cost,
        device,
        target: None,
        clock_mhz: None,
        max_util: None,
        reasons,
        net: pruned.net.clone(),
        pruning: pruned.summary(),
    })
}

fn fps(cycles: usize, clock_mhz: f64) -> f64 {
    clock_mhz * 1e6 / cycles.max(1) as f64
}

/// The target is faster than the fully unfolded design.
fn infeasible_target(s: &Searcher, target: usize, clock: Option<f64>) -> Error {
    let best = s
        .problem
        .evaluate(&s.unfolded())
        .map(|c| c.cycles)
        .unwrap_or(0);
    let (rate, help) = match clock {
        Some(c) => (
            format!(" ({:.0} frames/s at {c} MHz)", fps(best, c)),
            format!(
                "ask for at most {:.0} frames/s at {c} MHz, or a faster clock",
                fps(best, c).floor()
            ),
        ),
        None => (
            String::new(),
            format!("ask for --target-cycles {best} or more"),
        ),
    };
    Error::Unsupported(format!(
        "no folding of {} reaches {target} cycles per frame: the fully unfolded design (every \
         layer at PE = MH, SIMD = MW) needs {best} cycles per frame{rate}\nhelp: {help}",
        s.problem.net.name
    ))
}

fn usage(s: &Searcher, c: &NetCost) -> String {
    let d = &s.device;
    let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
    let luts = d.luts_of(c.totals.luts);
    let blocks = c.blocks(d);
    format!(
        "{luts} {} ({:.0} % of {}), {blocks} {} ({:.0} % of {}), {} DSP ({:.0} % of {})",
        d.lut_unit(),
        pct(luts, d.luts),
        d.luts,
        d.ram_unit(),
        pct(blocks, d.blocks),
        d.blocks,
        c.totals.dsps,
        pct(c.totals.dsps, d.dsps),
        d.dsps
    )
}

/// Even the fully folded design does not fit.
fn too_small(s: &Searcher, max_util: f64) -> Error {
    let folded = s.restyle(&s.problem.folded());
    let need = folded.map_or_else(|| "?".to_string(), |f| usage(s, &f.cost));
    Error::Unsupported(format!(
        "{} does not fit {} ({}) within {max_util} % of each resource: even fully folded (PE = \
         SIMD = 1, the cheapest design) it needs an estimated {need}\nhelp: choose a larger \
         device (--device: {}) or raise --max-util",
        s.problem.net.name,
        s.device.name,
        s.device.description,
        Device::names()
    ))
}

/// The cheapest design for the target does not fit the device.
fn too_big_for_target(s: &Searcher, sol: &Solution, target: usize, max_util: f64) -> Error {
    let mut peak = Searcher::new(s.problem, s.device);
    peak.objective = search::Objective::Peak;
    let fastest = peak
        .fastest_fitting(max_util / 100.0)
        .map(|f| {
            format!(
                "the fastest design that fits needs {} cycles per frame (--target-cycles {0})",
                f.cost.cycles
            )
        })
        .unwrap_or_else(|| "no folding fits this device, even fully folded".to_string());
    Error::Unsupported(format!(
        "the cheapest design of {} meeting {target} cycles per frame needs an estimated {}: \
         more than {max_util} % of {}\nhelp: {fastest}; or choose a larger device",
        s.problem.net.name,
        usage(s, &sol.cost),
        s.device.name
    ))
}

/// One line per layer: why it got its folding.
pub(crate) fn reasons_for(
    p: &Problem,
    folds: &[LayerFold],
    cost: &NetCost,
    target: Option<usize>,
    device: &Device,
) -> Vec<String> {
    let bottleneck = cost.bottleneck();
    (0..p.len())
        .map(|i| {
            let c = &cost.layers[i];
            let f = &folds[i];
            let mut why = Vec::new();
            let pace = match target {
                Some(t) => format!("{} cycles/frame (target {t})", c.cycles),
                None => format!("{} cycles/frame", c.cycles),
            };
            if !p.is_mvtu(i) {
                let kind = match p.net.layers[i].op {
                    Op::GlobalAvgPool(_) => "global average pool",
                    _ => "max-pool",
                };
                why.push(format!("{kind} at the producer's PE: {pace}"));
            } else {
                why.push(format!(
                    "PE {} SIMD {} (NF {} x SF {}): {pace}, est. {} {}, {} {}",
                    f.pe,
                    f.simd,
                    c.nf,
                    c.sf,
                    device.luts_of(c.luts),
                    device.lut_unit(),
                    c.blocks(device),
                    device.ram_unit()
                ));
                let (mh, mw) = (p.rows(i), p.cols(i));
                if c.mw_pad > mw {
                    why.push(format!(
                        "inputs padded {mw} -> {} (non-dividing SIMD or link padding; the padded \
                         lanes' cycles and cost are counted)",
                        c.mw_pad
                    ));
                }
                if c.mh_pad > mh {
                    why.push(format!("outputs padded {mh} -> {}", c.mh_pad));
                }
            }
            if i == bottleneck {
                why.push("the bottleneck".to_string());
            } else if p.is_mvtu(i) {
                why.push("the cheapest fold that keeps up".to_string());
            }
            why.join("; ")
        })
        .collect()
}

impl Design {
    /// The per-layer table `bnn-gen fold` prints.
    pub fn table(&self, net: &Network) -> String {
        let d = &self.device;
        let bottleneck = self.cost.bottleneck();
        let mut rows: Vec<Vec<String>> = vec![[
            "layer",
            "kind",
            "PE",
            "SIMD",
            "NF x SF",
            "cycles",
            &format!("est. {}", d.lut_unit()),
            &format!("est. {}", d.ram_unit()),
            "ROMs (w/t)",
            "",
        ]
        .map(String::from)
        .to_vec()];
        for (i, layer) in net.layers.iter().enumerate() {
            let c = &self.cost.layers[i];
            let f = &self.folds[i];
            let mvtu = matches!(layer.op, Op::MatVec(_) | Op::Depthwise(_));
            let kind = |k: Option<crate::hwir::MemKind>| k.map_or("-", |k| k.name());
            rows.push(vec![
                layer.name.clone(),
                match &layer.op {
                    Op::MatVec(mv) if mv.conv.is_some() => "conv2d",
                    Op::MatVec(_) => "dense",
                    Op::Depthwise(_) => "depthwise",
                    Op::MaxPool(_) => "maxpool",
                    Op::GlobalAvgPool(_) => "globalavgpool",
                }
                .to_string(),
                if mvtu { f.pe.to_string() } else { "-".into() },
                if mvtu { f.simd.to_string() } else { "-".into() },
                if mvtu {
                    format!("{}x{}", c.nf, c.sf)
                } else {
                    "-".into()
                },
                c.cycles.to_string(),
                d.luts_of(c.luts).to_string(),
                c.blocks(d).to_string(),
                if mvtu {
                    format!("{}/{}", kind(c.weight_kind), kind(c.threshold_kind))
                } else {
                    "-".into()
                },
                if i == bottleneck {
                    "<- bottleneck".into()
                } else {
                    String::new()
                },
            ]);
        }
        // the links' width converters and FIFOs, and the head (src/codegen/stream_cost.rs)
        let link_luts: u64 = self.cost.links.iter().map(|k| k.luts).sum();
        let link_blocks: u64 = self
            .cost
            .links
            .iter()
            .flat_map(|k| &k.block_roms)
            .map(|r| r.count * d.rom_blocks(r.depth, r.width))
            .sum();
        let fifos = self
            .cost
            .links
            .iter()
            .filter(|k| k.fifo_depth.is_some())
            .count();
        let dwcs = self
            .cost
            .links
            .iter()
            .filter(|k| k.in_bits != k.out_bits)
            .count();
        let mut extra = vec![(
            "links".to_string(),
            format!("{fifos} FIFO, {dwcs} DWC"),
            link_luts,
            link_blocks,
        )];
        if self.cost.head_luts > 0 {
            extra.push(("head".into(), "top-k".into(), self.cost.head_luts, 0));
        }
        for (name, kind, luts, blocks) in extra {
            let mut r = vec![name, kind];
            r.extend(["-", "-", "-", "-"].map(String::from));
            r.extend([d.luts_of(luts).to_string(), blocks.to_string()]);
            r.extend(["-".to_string(), String::new()]);
            rows.push(r);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|k| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        if let Some(p) = &self.pruning {
            let _ = writeln!(out, "{p}");
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }

    /// One line: cycles, frame rate, totals and device shares.
    pub fn summary(&self) -> String {
        let d = &self.device;
        let c = &self.cost;
        let pct = |a: u64, b: u64| 100.0 * a as f64 / b.max(1) as f64;
        let luts = d.luts_of(c.totals.luts);
        let blocks = c.blocks(d);
        let rate = self
            .clock_mhz
            .map(|m| format!(" = {:.0} frames/s at {m} MHz", fps(c.cycles, m)))
            .unwrap_or_default();
        let goal = match (self.target, self.max_util) {
            (Some(t), _) => format!("target {t} cycles/frame"),
            (None, Some(u)) => format!("fastest within {u} % of {}", d.name),
            (None, None) => "the folding of net.toml".to_string(),
        };
        format!(
            "{} cycles/frame{rate} ({goal}); est. {luts} {} ({:.1} % of {}), {blocks} {} \
             ({:.1} %), {} DSP, {} FF (whole design: MVTUs, window generators, pools, FIFOs, \
             width converters, head; FF of the MVTUs and global pools only; cost model of \
             docs/cost-model.md)",
            c.cycles,
            d.lut_unit(),
            pct(luts, d.luts),
            d.name,
            d.ram_unit(),
            pct(blocks, d.blocks),
            c.totals.dsps,
            c.totals.ffs,
        )
    }
}

/// SetFolding against bnn-gen's search for one target (`scripts/bench-fold`).
#[derive(Clone, Debug)]
pub struct Comparison {
    pub target: usize,
    /// The baseline's folding and estimate (its cycles may exceed the target: SetFolding's
    /// balancing pass relaxes a target it cannot meet).
    pub baseline: Option<(Vec<LayerFold>, NetCost)>,
    pub baseline_seconds: f64,
    /// bnn-gen's; `None` when the target is beyond the full unfolding.
    pub bnn_gen: Option<(Vec<LayerFold>, NetCost)>,
    pub bnn_gen_seconds: f64,
}

/// Runs SetFolding and bnn-gen's search on `net` (lowered) for `target` cycles per frame, each
/// from scratch, timed; both costed by the same model, weighed by `device`, on the same net
/// (after the dead-channel removal unless `!prune`).
pub fn compare(net: &Network, target: usize, device: Device, prune: bool) -> Result<Comparison> {
    let pruned = Pruned::for_search(net, prune)?;
    let t0 = std::time::Instant::now();
    let problem = Problem::pruned(&pruned)?;
    let folds = setfolding::set_folding(&problem, target);
    let baseline = problem.evaluate(&folds).ok().map(|c| (folds, c));
    let baseline_seconds = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let problem = Problem::pruned(&pruned)?;
    let searcher = Searcher::new(&problem, device);
    let bnn_gen = searcher.solve(target).map(|s| (s.folds, s.cost));
    Ok(Comparison {
        target,
        baseline,
        baseline_seconds,
        bnn_gen,
        bnn_gen_seconds: t1.elapsed().as_secs_f64(),
    })
}
