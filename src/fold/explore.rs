//! `bnn-gen explore`: the cheapest design for each of a sweep of targets between the full
//! unfolding and the fully folded design, reduced to the Pareto front of (cycles per frame,
//! LUT, BRAM), written as `pareto.csv`, `pareto.json`, `pareto.svg` and one folded `net.toml`
//! per point (`point-<k>/net.toml`, ready for `bnn-gen build --synth xc7`).

use super::devices::Device;
use super::model::{LayerFold, NetCost, Problem};
use super::pruning::Pruned;
use super::search::Searcher;
use crate::error::{Error, Result};
use crate::ir::Network;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Sweep settings.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The clock the frame rates are stated at.
    pub clock_mhz: f64,
    /// The device whose shares weigh LUT against BRAM, and whose limits the plot draws.
    pub device: Device,
    /// Targets to solve for (geometrically spaced).
    pub targets: usize,
    /// Price the net after `build`'s dead-channel removal (`false`: `--no-prune`).
    pub prune: bool,
}

/// One Pareto point.
#[derive(Clone, Debug)]
pub struct Point {
    pub folds: Vec<LayerFold>,
    pub cost: NetCost,
}

/// A published design to mark on the plot (BNN-PYNQ's LFC and CNV).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Published {
    pub label: &'static str,
    pub cycles: usize,
    pub luts: u64,
    pub bram18: u64,
}

/// BNN-PYNQ's published figures (`../shared/reference/finn-facts.md`: Pynq-Z1, Vivado 2018.2,
/// the folding of `bnn/src/network/*/hw/config.h`) for a network named `lfc` or `cnv`; the
/// cycles are that folding's ideal cycles per frame in bnn-gen's hardware (LFC 512, as BNN-PYNQ
/// states; CNV's folding runs at 32,768 here).
pub fn published(net: &Network) -> Option<Published> {
    match net.name.as_str() {
        "lfc" => Some(Published {
            label: "BNN-PYNQ LFC-W1A1 (Vivado, Pynq-Z1)",
            cycles: 512,
            luts: 28_360,
            bram18: 220,
        }),
        "cnv" => Some(Published {
            label: "BNN-PYNQ CNV-W1A1 (Vivado, Pynq-Z1)",
            cycles: 32_768,
            luts: 26_072,
            bram18: 248,
        }),
        _ => None,
    }
}

/// Sweeps `net` (lowered, not pruned: the dead-channel removal runs here unless `opts.prune` is
/// off); `progress(done, total)` after each target.
pub fn explore(
    net: &Network,
    opts: &Options,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Point>> {
    if !(opts.clock_mhz.is_finite() && opts.clock_mhz > 0.0) {
        return Err(Error::invalid(
            "--clock-mhz",
            format!("expected a positive clock in MHz, found {}", opts.clock_mhz),
        ));
    }
    if opts.targets < 2 {
        return Err(Error::invalid(
            "--targets",
            format!("expected at least 2 targets, found {}", opts.targets),
        ));
    }
    let pruned = Pruned::for_search(net, opts.prune)?;
    let problem = Problem::pruned(&pruned)?;
    let searcher = Searcher::new(&problem, opts.device);
    let fast = problem
        .evaluate(&searcher.unfolded())
        .map_err(Error::Unsupported)?
        .cycles;
    let slow = problem
        .evaluate(&problem.folded())
        .map_err(Error::Unsupported)?
        .cycles
        .max(fast);
    let n = opts.targets;
    let mut targets: Vec<usize> = (0..n)
        .map(|k| {
            let r = (slow as f64 / fast as f64).powf(k as f64 / (n - 1) as f64);
            ((fast as f64 * r).floor() as usize).clamp(fast, slow)
        })
        .collect();
    targets.dedup();
    let mut found: Vec<Point> = Vec::new();
    for (k, &t) in targets.iter().enumerate() {
        if let Some(s) = searcher.solve(t) {
            if !found.iter().any(|p| p.folds == s.folds) {
                found.push(Point {
                    folds: s.folds,
                    cost: s.cost,
                });
            }
        }
        progress(k + 1, targets.len());
    }
    Ok(pareto(found))
}

/// The points no other point beats in all of cycles, LUT and BRAM, by cycles ascending.
pub fn pareto(mut points: Vec<Point>) -> Vec<Point> {
    let key = |p: &Point| (p.cost.cycles, p.cost.totals.luts, p.cost.totals.bram18);
    let dominated = |p: &Point, all: &[Point]| {
        let (c, l, b) = key(p);
        all.iter().any(|q| {
            let (qc, ql, qb) = key(q);
            qc <= c && ql <= l && qb <= b && (qc, ql, qb) != (c, l, b)
        })
    };
    let keep: Vec<bool> = points.iter().map(|p| !dominated(p, &points)).collect();
    let mut it = keep.iter();
    points.retain(|_| *it.next().unwrap_or(&false));
    points.sort_by_key(key);
    points.dedup_by_key(|p| key(p));
    points
}

fn folding_text(net: &Network, folds: &[LayerFold]) -> String {
    net.layers
        .iter()
        .zip(folds)
        .filter(|(l, _)| l.op.matvec().is_some())
        .map(|(l, f)| {
            format!(
                "{}:{}/{}/{}/{}",
                l.name,
                f.pe,
                f.simd,
                style(f.ram_style),
                style(f.threshold_ram_style)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn style(s: crate::ir::RamStyle) -> &'static str {
    use crate::ir::RamStyle::*;
    match s {
        Auto => "auto",
        Block => "block",
        Distributed => "distributed",
        Logic => "logic",
    }
}

/// Writes `pareto.csv`, `pareto.json`, `pareto.svg` and, when the network came from a
/// `net.toml` (`source`: its path and text), `point-<k>/net.toml` for every point. `net` is the
/// network [`explore`] was given (the dead-channel removal is run again, as there). Returns the
/// files written.
pub fn write(
    dir: &Path,
    net: &Network,
    points: &[Point],
    opts: &Options,
    source: Option<(&Path, &str)>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let pruned = Pruned::for_search(net, opts.prune)?;
    let net = &pruned.net;
    let mut files = Vec::new();
    let d = &opts.device;
    let fps = |c: usize| opts.clock_mhz * 1e6 / c.max(1) as f64;
    let mut toml_paths = Vec::new();
    for (k, p) in points.iter().enumerate() {
        let Some((src, text)) = source else {
            toml_paths.push(String::new());
            continue;
        };
        let rel = format!("point-{k}/net.toml");
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().expect("a parent"))
            .map_err(|e| Error::io(&path, e))?;
        let problem = Problem::pruned(&pruned)?;
        let mut built = net.clone();
        super::apply(&mut built, &p.folds);
        let design = super::Design {
            folds: p.folds.clone(),
            cost: p.cost.clone(),
            device: *d,
            target: Some(p.cost.cycles),
            clock_mhz: Some(opts.clock_mhz),
            max_util: None,
            reasons: super::reasons_for(&problem, &p.folds, &p.cost, Some(p.cost.cycles), d),
            net: built,
            pruning: pruned.summary(),
        };
        let body = super::emit::folded_toml(
            text,
            src,
            &path,
            net,
            &design,
            None,
            &format!("bnn-gen explore: Pareto point {k} of {}", points.len()),
        )?;
        std::fs::write(&path, body).map_err(|e| Error::io(&path, e))?;
        files.push(path);
        toml_paths.push(rel);
    }

    let mut csv = String::from(
        "point,cycles_per_frame,fps,est_luts,est_ffs,est_bram18,est_dsp,device_luts,device_blocks,folding,net_toml\n",
    );
    for (k, p) in points.iter().enumerate() {
        let c = &p.cost;
        let _ = writeln!(
            csv,
            "{k},{},{:.1},{},{},{},{},{},{},{},{}",
            c.cycles,
            fps(c.cycles),
            c.totals.luts,
            c.totals.ffs,
            c.totals.bram18,
            c.totals.dsps,
            d.luts_of(c.totals.luts),
            c.blocks(d),
            folding_text(net, &p.folds),
            toml_paths[k]
        );
    }
    let csv_path = dir.join("pareto.csv");
    std::fs::write(&csv_path, csv).map_err(|e| Error::io(&csv_path, e))?;
    files.push(csv_path);

    let json_points: Vec<serde_json::Value> = points
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let c = &p.cost;
            let layers: Vec<serde_json::Value> = net
                .layers
                .iter()
                .zip(&p.folds)
                .zip(&c.layers)
                .map(|((l, f), lc)| {
                    let mvtu = l.op.matvec().is_some();
                    serde_json::json!({
                        "name": l.name,
                        "pe": mvtu.then_some(f.pe),
                        "simd": mvtu.then_some(f.simd),
                        "ram_style": mvtu.then(|| style(f.ram_style)),
                        "threshold_ram_style": mvtu.then(|| style(f.threshold_ram_style)),
                        "cycles_per_frame": lc.cycles,
                        "est_luts": lc.luts,
                        "est_bram18": lc.bram18,
                    })
                })
                .collect();
            serde_json::json!({
                "point": k,
                "cycles_per_frame": c.cycles,
                "fps": fps(c.cycles),
                "est_luts": c.totals.luts,
                "est_ffs": c.totals.ffs,
                "est_bram18": c.totals.bram18,
                "est_dsp": c.totals.dsps,
                "device_luts": d.luts_of(c.totals.luts),
                "device_blocks": c.blocks(d),
                "net_toml": (!toml_paths[k].is_empty()).then(|| toml_paths[k].clone()),
                "layers": layers,
            })
        })
        .collect();
    let json = serde_json::json!({
        "network": net.name,
        "clock_mhz": opts.clock_mhz,
        "device": {
            "name": d.name,
            "luts": d.luts,
            "lut_kind": d.lut_unit(),
            "blocks": d.blocks,
            "block_kind": d.ram_unit(),
            "dsps": d.dsps,
        },
        "cost_model": "docs/cost-model.md: the whole design (MVTUs, window generators, pools, FIFOs, width converters, head; FF of the MVTUs and global pools only), LUT6/FF/RAMB18 of yosys xc7; device_* columns converted",
        "published": published(net).map(|p| serde_json::json!({
            "label": p.label, "cycles_per_frame": p.cycles, "luts": p.luts, "bram18": p.bram18,
        })),
        "points": json_points,
    });
    let json_path = dir.join("pareto.json");
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| Error::Unsupported(format!("pareto.json: {e}")))?;
    std::fs::write(&json_path, text + "\n").map_err(|e| Error::io(&json_path, e))?;
    files.push(json_path);

    let svg_path = dir.join("pareto.svg");
    super::plot::pareto_svg(&svg_path, net, points, opts, published(net))?;
    files.push(svg_path);
    Ok(files)
}
