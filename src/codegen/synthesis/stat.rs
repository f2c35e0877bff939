//! Cell counts from yosys: per-module `stat` (JSON from yosys 0.7x, text from Debian's 0.23), the
//! top module's instances (`dump TOP/c:*`), subtree sums, and the resource classes of each
//! target.

use super::Fpga;
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// Cell type → count.
pub type CellMap = BTreeMap<String, u64>;

/// Local cells of every module (submodule instances appear as cells of the submodule's type).
pub type Modules = BTreeMap<String, CellMap>;

fn bad(m: impl Into<String>) -> Error {
    Error::invalid("yosys stat", m)
}

/// Parses `stat -json` (yosys 0.7x): `modules.<name>.num_cells_by_type`.
pub fn parse_json(text: &str) -> Result<Modules> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let modules = v["modules"]
        .as_object()
        .ok_or_else(|| bad("no \"modules\" object"))?;
    let mut out = Modules::new();
    for (name, m) in modules {
        let mut cells = CellMap::new();
        if let Some(by_type) = m["num_cells_by_type"].as_object() {
            for (t, n) in by_type {
                cells.insert(
                    t.clone(),
                    n.as_u64().ok_or_else(|| bad(format!("bad count of {t}")))?,
                );
            }
        }
        out.insert(name.clone(), cells);
    }
    Ok(out)
}

/// Parses the text of `stat` in yosys 0.23's format: sections `=== name ===`, each with
/// `Number of cells: N` followed by `TYPE COUNT` lines. The `design hierarchy` section is skipped.
pub fn parse_text(text: &str) -> Result<Modules> {
    let mut out = Modules::new();
    let mut current: Option<String> = None;
    let mut in_cells = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("=== ").and_then(|r| r.strip_suffix(" ===")) {
            let name = name.trim().to_string();
            in_cells = false;
            current = (name != "design hierarchy").then(|| {
                out.entry(name.clone()).or_default();
                name
            });
            continue;
        }
        let Some(module) = &current else { continue };
        if t.starts_with("Number of cells:") {
            in_cells = true;
            continue;
        }
        if !in_cells {
            continue;
        }
        let mut parts: Vec<&str> = t.split_whitespace().collect();
        match parts.pop().map(str::parse::<u64>) {
            Some(Ok(n)) if !parts.is_empty() => {
                *out.get_mut(module)
                    .expect("inserted")
                    .entry(parts.join(" "))
                    .or_insert(0) += n;
            }
            _ => in_cells = false,
        }
    }
    if out.is_empty() {
        return Err(bad("no module statistics found"));
    }
    Ok(out)
}

/// The instances of the top module from `dump TOP/c:*`: (instance name, cell type).
pub fn parse_dump_cells(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("cell ")?;
            let (ty, name) = rest.trim_end().rsplit_once(' ')?;
            Some((unescape(name), unescape(ty)))
        })
        .collect()
}

/// yosys public names start with a backslash in dumps.
fn unescape(s: &str) -> String {
    s.strip_prefix('\\').unwrap_or(s).to_string()
}

/// The source module of a (possibly derived) module name: `$paramod\tiny_fc0\MEM_DIR=...` and
/// `$paramod$<hash>\bnn_rom` give `tiny_fc0` and `bnn_rom`.
pub fn base_module(name: &str) -> &str {
    match name.strip_prefix("$paramod") {
        Some(rest) => {
            let rest = rest.trim_start_matches(|c| c != '\\');
            let rest = rest.strip_prefix('\\').unwrap_or(rest);
            rest.split('\\').next().unwrap_or(rest)
        }
        None => name.strip_prefix('\\').unwrap_or(name),
    }
}

/// The leaf (primitive) cells of `module`'s subtree.
pub fn leaf_cells(modules: &Modules, module: &str) -> CellMap {
    let mut out = CellMap::new();
    add_leaves(modules, module, 1, &mut out, 0);
    out
}

fn add_leaves(modules: &Modules, module: &str, times: u64, out: &mut CellMap, depth: usize) {
    let Some(cells) = modules.get(module) else {
        return;
    };
    if depth > 64 {
        return; // recursive hierarchies do not occur in synthesized designs; never loop
    }
    for (ty, n) in cells {
        if modules.contains_key(ty) {
            add_leaves(modules, ty, times * n, out, depth + 1);
        } else {
            *out.entry(ty.clone()).or_insert(0) += times * n;
        }
    }
}

/// The resource counts of a set of leaf cells on one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    /// LUT1..LUT6 (xc7), LUT4 (ECP5), SB_LUT4 (iCE40).
    pub luts: u64,
    /// Flip-flops: FD* (xc7), TRELLIS_FF (ECP5), SB_DFF* (iCE40).
    pub ffs: u64,
    /// Block RAM by primitive: RAMB36E1/RAMB18E1, DP16KD, SB_RAM40_4K (and SB_SPRAM256KA).
    pub bram: BTreeMap<String, u64>,
    /// Distributed (LUT) RAM cells: RAM32M, RAM64X1D, ... (xc7), TRELLIS_DPR16X4 (ECP5).
    pub lutram: u64,
    /// Shift-register LUTs (xc7 SRL16E/SRLC32E).
    pub srl: u64,
    /// DSP48E1 (xc7), MULT18X18D (ECP5), SB_MAC16 (iCE40).
    pub dsp: u64,
    /// Carry cells: CARRY4 (xc7), CCU2C (ECP5, two LUT4 positions each), SB_CARRY (iCE40).
    pub carry: u64,
}

impl Counts {
    pub fn of(fpga: Fpga, cells: &CellMap) -> Self {
        let mut c = Counts::default();
        for (ty, &n) in cells {
            let t = ty.as_str();
            match fpga {
                Fpga::Xc7 => {
                    if matches!(t, "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6") {
                        c.luts += n;
                    } else if t.starts_with("FD") {
                        c.ffs += n;
                    } else if t.starts_with("RAMB") {
                        *c.bram.entry(ty.clone()).or_insert(0) += n;
                    } else if t.starts_with("RAM") {
                        c.lutram += n;
                    } else if t.starts_with("SRL") {
                        c.srl += n;
                    } else if t.starts_with("DSP48") {
                        c.dsp += n;
                    } else if t == "CARRY4" {
                        c.carry += n;
                    }
                }
                Fpga::Ecp5 => match t {
                    "LUT4" => c.luts += n,
                    "TRELLIS_FF" => c.ffs += n,
                    "DP16KD" | "PDPW16KD" => *c.bram.entry(ty.clone()).or_insert(0) += n,
                    "TRELLIS_DPR16X4" => c.lutram += n,
                    "MULT18X18D" => c.dsp += n,
                    "CCU2C" => c.carry += n,
                    _ => {}
                },
                Fpga::Ice40 => {
                    if t == "SB_LUT4" {
                        c.luts += n;
                    } else if t.starts_with("SB_DFF") {
                        c.ffs += n;
                    } else if t.starts_with("SB_RAM40_4K") || t == "SB_SPRAM256KA" {
                        *c.bram.entry(ty.clone()).or_insert(0) += n;
                    } else if t == "SB_MAC16" {
                        c.dsp += n;
                    } else if t == "SB_CARRY" {
                        c.carry += n;
                    }
                }
            }
        }
        c
    }

    /// Block RAM as text: "2 RAMB36E1 + 1 RAMB18E1", "0".
    pub fn bram_text(&self) -> String {
        let parts: Vec<String> = self
            .bram
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        if parts.is_empty() {
            "0".into()
        } else {
            parts.join(" + ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT_023: &str = "
=== $paramod\\tiny_fc0\\MEM_DIR=t24'0110 ===

   Number of wires:                 14
   Number of cells:                  3
     $paramod$231033a7\\bnn_mvtu      2
     LUT2                            5

=== $paramod$231033a7\\bnn_mvtu ===

   Number of cells:                  2
     FDRE                            4
     RAMB18E1                        1

=== tiny_top ===

   Number of cells:                  2
     $paramod\\tiny_fc0\\MEM_DIR=t24'0110      1
     LUT6                            1

=== design hierarchy ===

   tiny_top                          1
   Number of cells:                 99
     LUT6                           99
";

    #[test]
    fn subtree_sums_from_023_text() {
        let m = parse_text(TEXT_023).unwrap();
        assert_eq!(m.len(), 3);
        let all = leaf_cells(&m, "tiny_top");
        assert_eq!(all["LUT2"], 5);
        assert_eq!(all["FDRE"], 8);
        assert_eq!(all["RAMB18E1"], 2);
        let c = Counts::of(Fpga::Xc7, &all);
        assert_eq!((c.luts, c.ffs, c.bram["RAMB18E1"]), (6, 8, 2));
        let layer = leaf_cells(&m, "$paramod\\tiny_fc0\\MEM_DIR=t24'0110");
        assert_eq!(Counts::of(Fpga::Xc7, &layer).luts, 5);
    }

    #[test]
    fn json_and_dump() {
        let json = r#"{"modules": {"top": {"num_cells_by_type": {"LUT4": 3, "sub": 2}},
                       "sub": {"num_cells_by_type": {"TRELLIS_FF": 4, "DP16KD": 1, "CCU2C": 2}}}}"#;
        let m = parse_json(json).unwrap();
        let c = Counts::of(Fpga::Ecp5, &leaf_cells(&m, "top"));
        assert_eq!((c.luts, c.ffs, c.bram["DP16KD"], c.carry), (3, 8, 2, 4));
        assert_eq!(c.bram_text(), "2 DP16KD");
        let dump = "  cell $paramod\\tiny_fc0\\MEM_DIR=t24'0110 \\u_l0_fc0\n    parameter x\n  cell LUT4 $abc$1\n";
        assert_eq!(
            parse_dump_cells(dump),
            vec![
                (
                    "u_l0_fc0".to_string(),
                    "$paramod\\tiny_fc0\\MEM_DIR=t24'0110".to_string()
                ),
                ("$abc$1".to_string(), "LUT4".to_string())
            ]
        );
        assert_eq!(
            base_module("$paramod\\tiny_fc0\\MEM_DIR=t24'0110"),
            "tiny_fc0"
        );
        assert_eq!(base_module("$paramod$231033a7\\bnn_mvtu"), "bnn_mvtu");
        assert_eq!(base_module("tiny_top"), "tiny_top");
    }
}
