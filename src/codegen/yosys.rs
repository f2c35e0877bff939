//! Resource counts from yosys: running the generated `synth_yosys.ys` and parsing its `stat`
//! output (`DIR/yosys_stat.txt`), so `build --synth` (and later `verify`) can put them in
//! `report.json`.

use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The stat file `synth_yosys.ys` writes (relative to the build directory).
pub const STAT_FILE: &str = "yosys_stat.txt";
/// The log `run_yosys` writes.
pub const LOG_FILE: &str = "yosys.log";

/// Xilinx 7-series cell counts of a synthesized design.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResourceCounts {
    /// LUT1..LUT6.
    pub luts: u64,
    /// FDRE, FDSE, FDCE, FDPE.
    pub ffs: u64,
    pub bram36: u64,
    pub bram18: u64,
    /// 2·RAMB36 + RAMB18.
    pub bram18_equivalent: u64,
    /// Distributed-RAM cells (RAM32M, RAM64X1D, ...).
    pub lutram_cells: u64,
    /// Shift-register LUTs (SRL16E, SRLC32E).
    pub srl_cells: u64,
    pub dsp: u64,
    pub carry4: u64,
    /// Every cell type and its count.
    pub cells: BTreeMap<String, u64>,
}

impl ResourceCounts {
    fn from_cells(cells: BTreeMap<String, u64>) -> Self {
        let sum = |p: &dyn Fn(&str) -> bool| {
            cells
                .iter()
                .filter(|(k, _)| p(k))
                .map(|(_, v)| *v)
                .sum::<u64>()
        };
        let bram36 = sum(&|k| k.starts_with("RAMB36"));
        let bram18 = sum(&|k| k.starts_with("RAMB18"));
        ResourceCounts {
            luts: sum(&|k| matches!(k, "LUT1" | "LUT2" | "LUT3" | "LUT4" | "LUT5" | "LUT6")),
            ffs: sum(&|k| matches!(k, "FDRE" | "FDSE" | "FDCE" | "FDPE")),
            bram36,
            bram18,
            bram18_equivalent: 2 * bram36 + bram18,
            lutram_cells: sum(&|k| k.starts_with("RAM") && !k.starts_with("RAMB")),
            srl_cells: sum(&|k| k.starts_with("SRL")),
            dsp: sum(&|k| k.starts_with("DSP48")),
            carry4: sum(&|k| k == "CARRY4"),
            cells,
        }
    }
}

/// Parses the text of yosys `stat`: the `design hierarchy` totals when present, else the section
/// of module `top` (or the only section).
pub fn parse_stat(text: &str, top: Option<&str>) -> Result<ResourceCounts> {
    // Split into sections "=== name ===".
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("=== ").and_then(|r| r.strip_suffix(" ===")) {
            sections.push((name.trim().to_string(), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let bad = |m: String| Error::invalid("yosys stat", m);
    let chosen = sections
        .iter()
        .find(|(n, _)| n == "design hierarchy")
        .or_else(|| top.and_then(|t| sections.iter().find(|(n, _)| n == t)))
        .or_else(|| (sections.len() == 1).then(|| &sections[0]))
        .ok_or_else(|| bad(format!("no statistics for module {top:?} found")))?;
    let mut cells = BTreeMap::new();
    let mut in_cells = false;
    for line in &chosen.1 {
        let t = line.trim();
        if t.starts_with("Number of cells:") {
            in_cells = true;
            continue;
        }
        if !in_cells {
            continue;
        }
        let mut parts = t.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(count), None) if count.chars().all(|c| c.is_ascii_digit()) => {
                let n: u64 = count
                    .parse()
                    .map_err(|_| bad(format!("bad count in \"{t}\"")))?;
                *cells.entry(name.to_string()).or_insert(0) += n;
            }
            _ => {
                if !cells.is_empty() {
                    break; // the cell list ended
                }
            }
        }
    }
    if !in_cells {
        return Err(bad("no \"Number of cells\" line".into()));
    }
    Ok(ResourceCounts::from_cells(cells))
}

/// Reads and parses `DIR/yosys_stat.txt`.
pub fn yosys_stat(dir: &Path, top: Option<&str>) -> Result<ResourceCounts> {
    let path = dir.join(STAT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    parse_stat(&text, top).map_err(|e| match e {
        Error::Invalid { message, .. } => Error::invalid(path.display().to_string(), message),
        other => other,
    })
}

/// Runs `yosys -s synth_yosys.ys` in `dir` (log in `DIR/yosys.log`) and parses the counts.
pub fn run_yosys(dir: &Path, top: &str) -> Result<ResourceCounts> {
    let log = dir.join(LOG_FILE);
    let out = Command::new("yosys")
        .args(["-q", "-l", LOG_FILE, "-s", "synth_yosys.ys"])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            Error::Unsupported(format!(
                "cannot run yosys ({e}); install it (Debian: apt-get install yosys)"
            ))
        })?;
    if !out.status.success() {
        return Err(Error::Unsupported(format!(
            "yosys failed ({}); see {}:\n{}",
            out.status,
            log.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    yosys_stat(dir, Some(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAT: &str = "
7. Printing statistics.

=== tiny_top ===

   Number of wires:                117
   Number of memories:               0
   Number of cells:                126
     CARRY4                          3
     FDRE                           45
     FDSE                            2
     LUT2                           12
     LUT6                            1
     RAM32M                          6
     RAMB18E1                        1
     RAMB36E1                        2

";

    #[test]
    fn parses_a_flat_stat() {
        let c = parse_stat(FLAT, Some("tiny_top")).unwrap();
        assert_eq!(
            (c.luts, c.ffs, c.bram36, c.bram18, c.bram18_equivalent),
            (13, 47, 2, 1, 5)
        );
        assert_eq!((c.lutram_cells, c.carry4), (6, 3));
        assert_eq!(c.cells.len(), 8);
    }

    #[test]
    fn prefers_the_hierarchy_totals() {
        let text = format!(
            "{FLAT}=== sub ===\n   Number of cells: 1\n     LUT1 1\n\n=== design hierarchy ===\n\n   tiny_top 1\n   sub 1\n\n   Number of cells: 127\n     LUT1 1\n     LUT6 1\n"
        );
        let c = parse_stat(&text, Some("tiny_top")).unwrap();
        assert_eq!(c.luts, 2);
        assert!(parse_stat("nothing", None).is_err());
    }
}
