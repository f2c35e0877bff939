//! nextpnr: devices, the fit check before placement, and the results of its `--report` JSON
//! (Fmax of `ap_clk`, the critical path named by module and signal, device utilisation).

use super::stat::Counts;
use super::Fpga;
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// A device nextpnr knows, with the capacities the fit check uses.
#[derive(Clone, Copy, Debug)]
pub struct DeviceInfo {
    /// nextpnr's device flag without the dashes (`85k`, `up5k`).
    pub flag: &'static str,
    /// The part name (`LFE5U-85F`, `iCE40UP5K`).
    pub part: &'static str,
    /// LUT4 positions (ECP5: TRELLIS_COMB; iCE40: logic cells).
    pub luts: u64,
    pub ffs: u64,
    /// DP16KD / SB_RAM40_4K blocks.
    pub bram: u64,
    /// MULT18X18D / SB_MAC16.
    pub dsp: u64,
    /// Package nextpnr uses when none is given (the one we pass explicitly for the defaults).
    pub default_package: &'static str,
}

const fn dev(
    flag: &'static str,
    part: &'static str,
    luts: u64,
    bram: u64,
    dsp: u64,
    default_package: &'static str,
) -> DeviceInfo {
    DeviceInfo {
        flag,
        part,
        luts,
        ffs: luts,
        bram,
        dsp,
        default_package,
    }
}

/// ECP5 devices (Lattice DS1044: LUT4s, sysMEM EBR blocks, 18×18 multipliers).
pub const ECP5: &[DeviceInfo] = &[
    dev("12k", "LFE5U-12F", 12_096, 32, 28, "CABGA381"),
    dev("25k", "LFE5U-25F", 24_288, 56, 28, "CABGA381"),
    dev("45k", "LFE5U-45F", 43_848, 108, 72, "CABGA381"),
    dev("85k", "LFE5U-85F", 83_640, 208, 156, "CABGA381"),
    dev("um-25k", "LFE5UM-25F", 24_288, 56, 28, "CABGA381"),
    dev("um-45k", "LFE5UM-45F", 43_848, 108, 72, "CABGA381"),
    dev("um-85k", "LFE5UM-85F", 83_640, 208, 156, "CABGA381"),
    dev("um5g-25k", "LFE5UM5G-25F", 24_288, 56, 28, "CABGA381"),
    dev("um5g-45k", "LFE5UM5G-45F", 43_848, 108, 72, "CABGA381"),
    dev("um5g-85k", "LFE5UM5G-85F", 83_640, 208, 156, "CABGA381"),
];

/// iCE40 devices (logic cells, 4 kbit EBRs, SB_MAC16 DSPs).
pub const ICE40: &[DeviceInfo] = &[
    dev("up5k", "iCE40UP5K", 5_280, 30, 8, "sg48"),
    dev("up3k", "iCE40UP3K", 2_800, 20, 4, "sg48"),
    dev("u4k", "iCE5LP4K", 3_520, 20, 4, "sg48"),
    dev("lp384", "iCE40LP384", 384, 0, 0, "qn32"),
    dev("lp1k", "iCE40LP1K", 1_280, 16, 0, "tq144"),
    dev("hx1k", "iCE40HX1K", 1_280, 16, 0, "tq144"),
    dev("lp4k", "iCE40LP4K", 3_520, 20, 0, "tq144"),
    dev("hx4k", "iCE40HX4K", 3_520, 20, 0, "tq144"),
    dev("lp8k", "iCE40LP8K", 7_680, 32, 0, "ct256"),
    dev("hx8k", "iCE40HX8K", 7_680, 32, 0, "ct256"),
];

/// The devices of a P&R target.
pub fn devices(fpga: Fpga) -> &'static [DeviceInfo] {
    match fpga {
        Fpga::Ecp5 => ECP5,
        Fpga::Ice40 => ICE40,
        Fpga::Xc7 => &[],
    }
}

/// Looks a device up by nextpnr flag (`85k`, `--85k`) or part name (`LFE5U-85F`, `iCE40UP5K`),
/// case-insensitively.
pub fn lookup(fpga: Fpga, name: &str) -> Option<DeviceInfo> {
    let n = name.trim().trim_start_matches('-').to_ascii_lowercase();
    devices(fpga)
        .iter()
        .find(|d| d.flag == n || d.part.to_ascii_lowercase() == n)
        .copied()
}

/// The first resource the synthesized design needs more of than the device has, as a sentence
/// naming the resource and both numbers.
pub fn does_not_fit(fpga: Fpga, d: &DeviceInfo, c: &Counts) -> Option<String> {
    let bram: u64 = c.bram.values().sum();
    // ECP5: a CCU2C takes two LUT4 positions, a TRELLIS_DPR16X4 a whole slice's (2 LUT4 + RAMW).
    let (lut_need, lut_what) = match fpga {
        Fpga::Ecp5 => (
            c.luts + 2 * c.carry + 2 * c.lutram,
            format!(
                "{} LUT4 positions ({} LUT4 + 2 × {} CCU2C + 2 × {} DPR16X4)",
                c.luts + 2 * c.carry + 2 * c.lutram,
                c.luts,
                c.carry,
                c.lutram
            ),
        ),
        _ => (c.luts, format!("{} LUT4", c.luts)),
    };
    let (bram_name, dsp_name) = match fpga {
        Fpga::Ecp5 => ("DP16KD block RAMs", "MULT18X18D multipliers"),
        _ => ("SB_RAM40_4K block RAMs", "SB_MAC16 DSPs"),
    };
    let checks = [
        (lut_need, d.luts, lut_what, "LUT4s"),
        (c.ffs, d.ffs, format!("{} flip-flops", c.ffs), "flip-flops"),
        (bram, d.bram, format!("{bram} {bram_name}"), bram_name),
        (c.dsp, d.dsp, format!("{} {dsp_name}", c.dsp), dsp_name),
    ];
    checks
        .into_iter()
        .find(|(need, have, _, _)| need > have)
        .map(|(_, have, what, unit)| {
            format!(
                "the design does not fit the {}: it needs {what}, the device has {have} {unit}",
                d.part
            )
        })
}

/// One end of the critical path, named as the RTL names it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PathEnd {
    /// nextpnr's cell name (the hierarchical yosys name of the flip-flop, RAM or port).
    pub cell: String,
    /// The block of the generated top: `layer fc0`, `link fc0 -> fc1`, `head`, `top`.
    pub block: String,
    /// The instance path inside the top (`u_l0_fc0.u_mvtu.g_pe[3].u_dot`).
    pub instance: String,
    /// The signal (register, memory or port) at this end.
    pub signal: String,
    /// The RTL source of the net at this end, if nextpnr knows it (`rtl/bnn_dot.v:57.5-57.20`).
    pub source: Option<String>,
    /// The Verilog module of that source (`bnn_dot`).
    pub module: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    pub start: PathEnd,
    pub end: PathEnd,
    /// Total, logic and routing delay in ns.
    pub delay_ns: f64,
    pub logic_ns: f64,
    pub routing_ns: f64,
}

/// What the `--report` JSON of one run gives.
#[derive(Clone, Debug, Default)]
pub struct PnrResult {
    pub fmax_mhz: Option<f64>,
    pub critical_path: Option<CriticalPath>,
    /// Resource → (used, available).
    pub utilization: BTreeMap<String, [u64; 2]>,
}

/// Names the top-level blocks of the generated design (`u_l<i>_*` are layer `i`, `u_link<i>_*`
/// link `i`, `u_head` the top-k head).
pub struct Blocks {
    pub layers: Vec<String>,
    pub links: Vec<String>,
}

impl Blocks {
    pub fn block_of(&self, first: &str) -> String {
        let idx = |s: &str| -> Option<usize> { s.split('_').next().and_then(|n| n.parse().ok()) };
        if let Some(rest) = first.strip_prefix("u_link") {
            if let Some(i) = idx(rest) {
                return format!(
                    "link {}",
                    self.links.get(i).cloned().unwrap_or(i.to_string())
                );
            }
        }
        if let Some(rest) = first.strip_prefix("u_l") {
            if let Some(i) = idx(rest) {
                return format!(
                    "layer {}",
                    self.layers.get(i).cloned().unwrap_or(i.to_string())
                );
            }
        }
        if first == "u_head" {
            return "head (top-k)".into();
        }
        "top".into()
    }
}

/// Splits a hierarchical name at the last `.` outside brackets.
fn split_hier(name: &str) -> (&str, &str) {
    let mut depth = 0i32;
    let mut at = None;
    for (i, ch) in name.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => at = Some(i),
            _ => {}
        }
    }
    match at {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => ("", name),
    }
}

/// The signal a packed cell stands for: yosys names a flip-flop `<q>_TRELLIS_FF_Q...`, nextpnr
/// adds `$...` suffixes; a port's I/O buffer is `<port>$tr_io` / `<port>$sb_io`.
fn signal_of(local: &str) -> String {
    let mut s = local.trim_start_matches('\\');
    for cut in [
        "_TRELLIS_",
        "_SB_",
        "_DP16KD",
        "_MULT18",
        "_CCU2C",
        "_LUT4",
        "_PFUMX",
        "_L6MUX",
        "_FD",
        "_RAMB",
        "$",
    ] {
        if let Some(i) = s.find(cut) {
            if i > 0 {
                s = &s[..i];
            }
        }
    }
    s.to_string()
}

fn source_module(src: &str) -> Option<String> {
    let file = src.split(':').next()?;
    let stem = std::path::Path::new(file).file_stem()?.to_str()?;
    file.starts_with("rtl/").then(|| stem.to_string())
}

fn path_end(cell: &str, net: Option<&str>, sources: &[String], blocks: &Blocks) -> PathEnd {
    // Prefer the net name (a register's output net is the register's name) where the cell is a
    // nextpnr-made one.
    let name = if cell.starts_with('$') {
        net.unwrap_or(cell)
    } else {
        cell
    };
    let (instance, local) = split_hier(name);
    let first = name.split('.').next().unwrap_or(name);
    let source = sources.iter().find(|s| s.starts_with("rtl/")).cloned();
    PathEnd {
        cell: cell.to_string(),
        block: blocks.block_of(first),
        instance: instance.to_string(),
        signal: signal_of(local)
            .split('[')
            .next()
            .unwrap_or_default()
            .to_string(),
        module: source.as_deref().and_then(source_module),
        source,
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses nextpnr's `--report` JSON.
pub fn parse_report(text: &str, blocks: &Blocks) -> Result<PnrResult> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid("nextpnr report", format!("not JSON: {e}")))?;
    let mut r = PnrResult::default();
    if let Some(fmax) = v["fmax"].as_object() {
        // The clock is ap_clk (nextpnr names its global net `$glbnet$ap_clk$...`).
        let achieved = |k: &str| fmax[k]["achieved"].as_f64();
        r.fmax_mhz = fmax
            .keys()
            .find(|k| k.contains("ap_clk"))
            .and_then(|k| achieved(k))
            .or_else(|| {
                fmax.keys()
                    .filter_map(|k| achieved(k))
                    .min_by(|a, b| a.total_cmp(b))
            });
    }
    if let Some(util) = v["utilization"].as_object() {
        for (k, u) in util {
            let used = u["used"].as_u64().unwrap_or(0);
            if used > 0 {
                r.utilization
                    .insert(k.clone(), [used, u["available"].as_u64().unwrap_or(0)]);
            }
        }
    }
    // The clock-to-clock path (not the ones from or to unconstrained ports, `<async>`).
    let paths = v["critical_paths"].as_array().cloned().unwrap_or_default();
    let path = paths
        .iter()
        .find(|p| {
            let (f, t) = (
                p["from"].as_str().unwrap_or(""),
                p["to"].as_str().unwrap_or(""),
            );
            f.contains("ap_clk") && t.contains("ap_clk")
        })
        .or_else(|| paths.first());
    if let Some(segs) = path.and_then(|p| p["path"].as_array()) {
        if let (Some(first), Some(last)) = (segs.first(), segs.last()) {
            let (mut logic, mut routing) = (0.0, 0.0);
            for s in segs {
                let d = s["delay"].as_f64().unwrap_or(0.0);
                if s["type"] == "routing" {
                    routing += d;
                } else {
                    logic += d;
                }
            }
            let routes: Vec<&serde_json::Value> =
                segs.iter().filter(|s| s["type"] == "routing").collect();
            let first_net = routes.first();
            // The last net with an RTL source names the logic that feeds the end register.
            let last_net = routes
                .iter()
                .rev()
                .find(|s| strings(&s["sources"]).iter().any(|x| x.starts_with("rtl/")))
                .or(routes.last());
            let start = path_end(
                first["from"]["cell"].as_str().unwrap_or(""),
                first_net.and_then(|s| s["net"].as_str()),
                &first_net
                    .map(|s| strings(&s["sources"]))
                    .unwrap_or_default(),
                blocks,
            );
            let end = path_end(
                last["to"]["cell"].as_str().unwrap_or(""),
                None,
                &last_net.map(|s| strings(&s["sources"])).unwrap_or_default(),
                blocks,
            );
            let ns = |x: f64| (x * 1000.0).round() / 1000.0;
            r.critical_path = Some(CriticalPath {
                start,
                end,
                delay_ns: ns(logic + routing),
                logic_ns: ns(logic),
                routing_ns: ns(routing),
            });
        }
    }
    Ok(r)
}

/// A nextpnr log's sign that the design did not fit: the utilisation line over 100 % or the
/// "no BELs remaining" placement error.
pub fn overflow(log: &str) -> Option<String> {
    log.lines()
        .map(str::trim)
        .find(|l| {
            l.strip_suffix('%')
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|p| p.parse::<u64>().ok())
                .is_some_and(|p| p > 100)
                || l.contains("no BELs remaining")
                || l.contains("Unable to place cell")
        })
        .map(|l| l.trim_start_matches("Info:").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks() -> Blocks {
        Blocks {
            layers: vec!["fc0".into(), "fc1".into()],
            links: vec!["fc0 -> fc1".into()],
        }
    }

    #[test]
    fn names_the_path_ends() {
        let report = r#"{"fmax": {"$glbnet$ap_clk$TRELLIS_IO_IN": {"achieved": 51.9, "constraint": 100}},
          "utilization": {"TRELLIS_COMB": {"used": 1185, "available": 83640}, "DP16KD": {"used": 0, "available": 208}},
          "critical_paths": [
            {"from": "<async>", "to": "posedge $glbnet$ap_clk", "path": []},
            {"from": "posedge $glbnet$ap_clk$TRELLIS_IO_IN", "to": "posedge $glbnet$ap_clk$TRELLIS_IO_IN", "path": [
              {"delay": 0.5, "type": "clk-to-q", "from": {"cell": "u_head.g_lane[0].g_ent[0].ov_TRELLIS_FF_Q_2", "port": "Q"}, "to": {"cell": "x", "port": "Q"}},
              {"delay": 1.0, "type": "routing", "net": "u_head.g_lane[0].g_ent[0].ov[3]", "sources": ["rtl/bnn_topk.v:126.31-126.33"], "from": {"cell": "a"}, "to": {"cell": "b"}},
              {"delay": 2.0, "type": "logic", "from": {"cell": "b"}, "to": {"cell": "c"}},
              {"delay": 1.5, "type": "routing", "net": "n", "sources": ["rtl/bnn_dot.v:70.1-70.9"], "from": {"cell": "c"}, "to": {"cell": "u_l1_fc1.u_mvtu.acc_TRELLIS_FF_Q_12"}},
              {"delay": 0.1, "type": "setup", "from": {"cell": "c"}, "to": {"cell": "u_l1_fc1.u_mvtu.acc_TRELLIS_FF_Q_12"}}
            ]}]}"#;
        let r = parse_report(report, &blocks()).unwrap();
        assert_eq!(r.fmax_mhz, Some(51.9));
        assert_eq!(r.utilization["TRELLIS_COMB"], [1185, 83640]);
        assert!(!r.utilization.contains_key("DP16KD"));
        let p = r.critical_path.unwrap();
        assert_eq!(p.start.block, "head (top-k)");
        assert_eq!(p.start.instance, "u_head.g_lane[0].g_ent[0]");
        assert_eq!(p.start.signal, "ov");
        assert_eq!(p.start.module.as_deref(), Some("bnn_topk"));
        assert_eq!(p.end.block, "layer fc1");
        assert_eq!(p.end.instance, "u_l1_fc1.u_mvtu");
        assert_eq!(p.end.signal, "acc");
        assert_eq!(p.end.module.as_deref(), Some("bnn_dot"));
        assert!((p.delay_ns - 5.1).abs() < 1e-9 && (p.routing_ns - 2.5).abs() < 1e-9);
        assert_eq!(blocks().block_of("u_link0_fifo"), "link fc0 -> fc1");
    }

    #[test]
    fn fit_check_and_log_overflow() {
        let d = lookup(Fpga::Ice40, "iCE40UP5K").unwrap();
        assert_eq!(d.flag, "up5k");
        assert_eq!(lookup(Fpga::Ecp5, "--85k").unwrap().part, "LFE5U-85F");
        assert!(lookup(Fpga::Ecp5, "up5k").is_none());
        let c = Counts {
            luts: 22_640,
            ..Counts::default()
        };
        let m = does_not_fit(Fpga::Ice40, &d, &c).unwrap();
        assert!(m.contains("22640 LUT4") && m.contains("5280"), "{m}");
        assert!(does_not_fit(Fpga::Ecp5, &lookup(Fpga::Ecp5, "85k").unwrap(), &c).is_none());
        let log = "Info: Device utilisation:\nInfo: \t          ICESTORM_LC:  9000/ 5280   170%\n";
        assert!(overflow(log).unwrap().contains("ICESTORM_LC"));
        assert!(overflow("Info:   TRELLIS_COMB: 10/83640 0%").is_none());
    }
}
