//! The AXI-Stream protocol monitors (`hw/bnn_axis_monitor.v`, docs/hardware.md "Protocol
//! monitors"):
//!
//! - a fixture with one wrong producer per rule (`tests/hw/axis_monitor_faults.v`) must be caught
//!   on the right link at the right cycle, in Icarus (four-state: all four rules) and in
//!   Verilator (two-state: every rule but X/Z, which it cannot see);
//! - `verify` of w2a2 with a wrong FIFO (`tests/hw/faulty_fifo.v`: right words, right timing,
//!   tdata unstable while stalled) must fail with a protocol violation naming the link and the
//!   cycle, although golden, the cycle simulator and the RTL agree on every word;
//! - a clean `verify` reports no violation on any of the monitored streams, and the generated
//!   top with its monitors is lint-clean.
//!
//! Required tools: verilator (5.x) and iverilog; a missing tool fails the test with a hint.

mod common;

use bnn_gen::codegen;
use bnn_gen::ir::Network;
use bnn_gen::verify::{self, Bench, FailureKind, MonitorLog, Rule, Simulator, VerifyOptions, When};
use bnn_gen::{frontend, passes};
use common::{check_cmd, require_tool, root, run_cmd, tail, target_dir};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn require(tool: &str) {
    require_tool(tool, "tests/axis_monitor.rs", "verilator iverilog");
}

/// `<target>/axis-monitor-tests/<name>` (kept: bnn-gen reuses an unchanged Verilator build).
fn work_dir(name: &str) -> PathBuf {
    target_dir().join("axis-monitor-tests").join(name)
}

fn path(p: &str) -> String {
    root().join(p).to_string_lossy().into_owned()
}

fn example(name: &str) -> Network {
    let p = root().join("examples").join(name).join("net.toml");
    let mut net = frontend::load(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    passes::lower(&mut net).expect("the example lowers");
    net
}

/// The first violation printed on each fixture link.
fn first_per_link(log: &MonitorLog, link: &str) -> Option<(Rule, When)> {
    log.violations
        .iter()
        .filter(|v| v.link == format!("{link} (fixture -> fixture)"))
        .min_by_key(|v| v.when)
        .map(|v| (v.rule, v.when))
}

#[test]
fn fixture_violations_in_icarus() {
    require("iverilog");
    let dir = work_dir("fixture-icarus");
    fs::create_dir_all(&dir).unwrap();
    let vvp = dir.join("faults.vvp");
    check_cmd(
        Command::new("iverilog")
            .args(["-g2005", "-Wall", "-s", "axis_monitor_faults_tb", "-o"])
            .arg(&vvp)
            .args([
                path("hw/bnn_axis_monitor.v"),
                path("tests/hw/axis_monitor_faults.v"),
                path("tests/hw/axis_monitor_faults_tb.v"),
            ]),
    )
    .unwrap();
    let log = check_cmd(Command::new("vvp").arg("-n").arg(&vvp)).unwrap();
    let m = MonitorLog::parse(&log);
    assert_eq!(m.links.len(), 5, "{log}");
    let want = [
        ("tdata_bad", Some((Rule::TdataChanged, When::Cycle(1)))),
        ("valid_bad", Some((Rule::TvalidWithdrawn, When::Cycle(6)))),
        (
            "reset_bad",
            Some((Rule::HandshakeInReset, When::ResetEdge(2))),
        ),
        ("x_bad", Some((Rule::XOnTvalidTready, When::Cycle(3)))),
        ("clean", None),
    ];
    for (link, first) in want {
        assert_eq!(first_per_link(&m, link), first, "link {link}:\n{log}");
    }
    // tdata_bad breaks the rule every few cycles: 8 printed, then one "suppressed" note.
    assert_eq!(
        m.violations
            .iter()
            .filter(|v| v.link.starts_with("tdata_bad"))
            .count(),
        8
    );
    assert_eq!(m.suppressed, ["tdata_bad (fixture -> fixture)"]);
    assert_eq!(m.first().unwrap().when, When::ResetEdge(2));
}

#[test]
fn fixture_violations_in_verilator() {
    require("verilator");
    let dir = work_dir("fixture-verilator");
    let obj = dir.join("obj");
    let _ = fs::remove_dir_all(&obj);
    fs::create_dir_all(&dir).unwrap();
    let makeflags = common::quick_makeflags(common::verilator_runtime().as_deref());
    // The same X handling as `verify`: random values for x and power-up state.
    check_cmd(
        Command::new("verilator")
            .args(["--cc", "--exe", "--build", "-Wall", "--prefix", "Vtop"])
            .args(["--x-assign", "unique", "--x-initial", "unique"])
            .args(["--top-module", "axis_monitor_faults", "-Mdir"])
            .arg(&obj)
            .args(["-MAKEFLAGS", &makeflags])
            .args(["-CFLAGS", "-DIN_BITS=8", "-CFLAGS", "-DOUT_BITS=8"])
            .args([
                path("hw/bnn_axis_monitor.v"),
                path("tests/hw/axis_monitor_faults.v"),
                path("sim/axis_tb.cpp"),
            ]),
    )
    .unwrap();
    fs::write(dir.join("in.hex"), "01\n02\n03\n").unwrap();
    let mut log = String::new();
    for seed in [1, 2, 3] {
        let (st, text) = run_cmd(
            Command::new(obj.join("Vtop"))
                .current_dir(&dir)
                .args([
                    "--in",
                    "in.hex",
                    "--out",
                    "out.txt",
                    "--in-cycles",
                    "in.txt",
                ])
                .args(["--expect", "3", "--timeout", "100", "--extra", "20"])
                .arg("+verilator+rand+reset+2")
                .arg(format!("+verilator+seed+{seed}")),
        )
        .unwrap();
        assert!(st.success(), "{}", tail(&text, 20));
        let m = MonitorLog::parse(&text);
        assert_eq!(m.links.len(), 5, "{text}");
        let want = [
            ("tdata_bad", Some((Rule::TdataChanged, When::Cycle(1)))),
            ("valid_bad", Some((Rule::TvalidWithdrawn, When::Cycle(6)))),
            (
                "reset_bad",
                Some((Rule::HandshakeInReset, When::ResetEdge(2))),
            ),
            // Two-state: the x is a random 0 or 1, never seen as X.
            ("x_bad", None),
            ("clean", None),
        ];
        for (link, first) in want {
            assert_eq!(
                first_per_link(&m, link),
                first,
                "seed {seed}, link {link}:\n{text}"
            );
        }
        log = text;
    }
    eprintln!("{}", tail(&log, 12));
}

/// The design of `net` with `bnn_fifo` replaced by the faulty wrapper around the real one.
fn with_faulty_fifo(net: &Network) -> codegen::Design {
    let mut design = codegen::generate(net).unwrap();
    let fifo = design
        .files
        .iter_mut()
        .find(|f| f.path == "rtl/bnn_fifo.v")
        .expect("the network has a FIFO link");
    let real = String::from_utf8(fifo.contents.clone()).unwrap();
    assert!(real.contains("module bnn_fifo #("));
    let faulty = real.replace("module bnn_fifo #(", "module bnn_fifo_real #(")
        + &fs::read_to_string(root().join("tests/hw/faulty_fifo.v")).unwrap();
    fifo.contents = faulty.into_bytes();
    design
}

#[test]
fn verify_names_the_link_and_cycle_of_a_violation() {
    // w2a2: the FIFO before fc1, the slowest layer, holds words while fc1 replays its folds,
    // so its output is stalled with tvalid high many times per frame. (In tiny the layer after
    // the FIFO is faster than the one before: that link never stalls.)
    let net = example("w2a2");
    let frames = bnn_gen::synth::frames_for(&net, 10, 5);
    for simulator in [Simulator::Verilator, Simulator::Icarus] {
        require(match simulator {
            Simulator::Verilator => "verilator",
            Simulator::Icarus => "iverilog",
        });
        let options = VerifyOptions {
            stall: 0.2,
            simulator,
            dir: Some(work_dir(&format!("faulty-fifo-{simulator}"))),
            verilator_runtime: common::verilator_runtime(),
            ..VerifyOptions::default()
        };
        let design = with_faulty_fifo(&net);
        let link = design
            .monitored_links
            .iter()
            .find(|l| l.contains("_fifo ("))
            .expect("a monitored FIFO output")
            .clone();
        let bench = Bench::from_design(&net, design, &options).unwrap();
        let report = bench.verify(frames.view(), &options).unwrap();
        eprintln!("{report}");
        let fail = report.failure.as_ref().expect("the violation fails verify");
        assert_eq!(fail.kind, FailureKind::ProtocolViolation, "{fail}");
        let cycle = fail.cycle.expect("a violation after reset has a cycle");
        assert!(
            fail.message
                .contains(&format!("on link {link} at cycle {cycle}")),
            "{fail}"
        );
        assert!(fail.message.contains("tdata-changed"), "{fail}");
        assert!(fail.message.contains("help:"), "{fail}");
        // The words are right: without the monitors this fault would pass.
        assert!(report.to_string().contains("FAIL"));
    }
}

#[test]
fn clean_verify_reports_no_violation_and_lints_clean() {
    require("iverilog");
    require("verilator");
    let net = example("tiny");
    // Icarus (four-state): all four rules, X/Z included.
    let options = VerifyOptions {
        frames: Some(20),
        stall: 0.3,
        simulator: Simulator::Icarus,
        dir: Some(work_dir("clean-icarus")),
        ..VerifyOptions::default()
    };
    let report = verify::run(&net, &options).unwrap();
    let text = report.to_string();
    eprintln!("{text}");
    assert!(report.passed(), "{text}");
    let design = codegen::generate(&net).unwrap();
    assert_eq!(report.monitored_links, design.monitored_links.len());
    // tiny: the two ports and the streams between fc0, its width converter, its FIFO and fc1.
    assert!(report.monitored_links >= 4, "{:?}", design.monitored_links);
    assert!(
        text.contains(&format!(
            "no AXI-Stream violation on the {} monitored streams",
            report.monitored_links
        )),
        "{text}"
    );

    // The generated top with its monitors: lint-clean in Verilator (-Wall) and Icarus, and the
    // synthesis file list does not see them.
    let dir = report.dir.clone();
    let lint = check_cmd(
        Command::new("verilator")
            .args(["--lint-only", "-Wall", "-f", codegen::SIM_FILE_LIST])
            .args(["--top-module", &design.top])
            .current_dir(&dir),
    )
    .unwrap();
    assert!(!lint.contains("%Warning"), "{lint}");
    let icarus = check_cmd(
        Command::new("iverilog")
            .args(["-g2005", "-Wall", "-o", "/dev/null", "-s", &design.top])
            .args(["-c", codegen::SIM_FILE_LIST])
            .current_dir(&dir),
    )
    .unwrap();
    assert!(!icarus.contains("warning"), "{icarus}");
    let synth_list = fs::read_to_string(dir.join("bnn_gen.f")).unwrap();
    assert!(!synth_list.contains("monitor"), "{synth_list}");
    let sim_list = fs::read_to_string(dir.join(codegen::SIM_FILE_LIST)).unwrap();
    assert!(sim_list.starts_with("+define+BNN_AXIS_MONITOR\nrtl/bnn_axis_monitor.v\n"));
}
