//! `bnn-gen build --target verilog`: golden-file snapshots, Verilator lint of every dense example,
//! yosys synthesis, determinism and the overwrite guard, and an end-to-end smoke test that runs the
//! generated design in Verilator (with `sim/axis_tb.cpp`) and compares every output with the golden
//! model, for networks with dividing and non-dividing folding, XNOR, W2A2 and top-k heads.
//!
//! Required tools: verilator (5.x) and yosys; a missing tool fails the test with a hint (never a
//! skip). Work files go to `<target>/build-tests/<test>/`.

mod common;

use bnn_gen::codegen::{self, bits::Bits, stream, BuildOptions, Design};
use bnn_gen::datatype::DataType;
use bnn_gen::golden::GoldenModel;
use bnn_gen::ir::{Network, Op, WeightStorage};
use bnn_gen::synth::{self, ActSpec, DenseSpec, MlpSpec};
use bnn_gen::{frontend, passes};
use common::{require_tool, root, run_cmd, target_dir};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// infrastructure
// ---------------------------------------------------------------------------------------------

/// A fresh, empty work directory for `test`/`name`.
fn work_dir(test: &str, name: &str) -> PathBuf {
    let d = target_dir().join("build-tests").join(test).join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(d.parent().unwrap()).unwrap();
    d
}

fn require(tool: &str) {
    require_tool(tool, "tests/build.rs", "verilator yosys");
}

fn run(cmd: &mut Command) -> String {
    let desc = format!("{cmd:?}");
    let (status, text) = run_cmd(cmd).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "command failed ({status}): {desc}\n{text}"
    );
    text
}

fn lowered(mut net: Network) -> Network {
    passes::lower(&mut net).expect("lowers");
    net
}

fn example(name: &str) -> Network {
    lowered(
        synth::example(name)
            .unwrap_or_else(|| panic!("synth example {name}"))
            .0,
    )
}

fn digits_cnn() -> Network {
    lowered(frontend::load(&root().join("examples/digits-cnn/net.toml")).expect("digits-cnn loads"))
}

fn digits_mlp() -> Network {
    lowered(frontend::load(&root().join("examples/digits-mlp/net.toml")).expect("digits-mlp loads"))
}

fn dense(
    out_features: usize,
    weight_dtype: DataType,
    activation: ActSpec,
    pe: usize,
    simd: usize,
) -> DenseSpec {
    DenseSpec {
        out_features,
        weight_dtype,
        activation,
        pe,
        simd,
    }
}

/// W1A1 with folding that does not divide: MW 20 / SIMD 8, MH 10 / PE 4, a link of 10 channels
/// padded to 12 (PE 4, SIMD 6), a falling (`acc ≤ T`) channel mix via batch-norm with α, top-2.
fn odd_xnor() -> Network {
    lowered(synth::mlp(
        &MlpSpec {
            name: "odd-xnor".into(),
            in_features: 20,
            input_dtype: DataType::Bipolar,
            layers: vec![
                dense(
                    10,
                    DataType::Bipolar,
                    ActSpec::BatchNorm {
                        quantizer: bnn_gen::ir::Quantizer::Sign,
                        alpha: true,
                        bias: true,
                    },
                    4,
                    8,
                ),
                dense(7, DataType::Bipolar, ActSpec::SIGN, 3, 6),
                dense(5, DataType::Bipolar, ActSpec::None, 2, 4),
            ],
            head: Some(2),
        },
        0xD1CE,
    ))
}

/// A weight ROM deep enough to be tiled: 18432 words of 2 bits per PE (MW 1024 / SIMD 2 × MH
/// 36 / PE 1) become two banks, 16384 × 1 twice and 2048 × 9 once (`hwir::BlockTiling`).
fn deep_rom() -> Network {
    lowered(synth::mlp(
        &MlpSpec {
            name: "deep-rom".into(),
            in_features: 1024,
            input_dtype: DataType::Bipolar,
            layers: vec![
                dense(36, DataType::Bipolar, ActSpec::SIGN, 1, 2),
                dense(10, DataType::Bipolar, ActSpec::None, 2, 4),
            ],
            head: None,
        },
        0xDEE9,
    ))
}

/// W2A2 with non-dividing folding and explicit thresholds (uint2 out, then int2 out with bias −2
/// and falling channels), raw int accumulators out, no head.
fn odd_w2a2() -> Network {
    lowered(synth::mlp(
        &MlpSpec {
            name: "odd-w2a2".into(),
            in_features: 20,
            input_dtype: DataType::UInt(2),
            layers: vec![
                dense(
                    10,
                    DataType::Int(2),
                    ActSpec::thresholds(DataType::UInt(2)),
                    4,
                    8,
                ),
                dense(
                    9,
                    DataType::Ternary,
                    ActSpec::Thresholds {
                        out_dtype: DataType::Int(2),
                        falling: true,
                    },
                    2,
                    3,
                ),
                dense(6, DataType::Int(2), ActSpec::None, 4, 5),
            ],
            head: None,
        },
        0x2A2A,
    ))
}

// ---------------------------------------------------------------------------------------------
// golden files
// ---------------------------------------------------------------------------------------------

fn text(design: &Design, path: &str) -> String {
    String::from_utf8(
        design
            .file(path)
            .unwrap_or_else(|| panic!("{path} generated"))
            .to_vec(),
    )
    .unwrap()
}

#[test]
fn snapshots_digits_mlp() {
    let design = codegen::generate(&digits_mlp()).unwrap();
    insta::assert_snapshot!("digits_mlp_top_v", text(&design, "rtl/digits_mlp_top.v"));
    insta::assert_snapshot!("digits_mlp_fc2_v", text(&design, "rtl/digits_mlp_fc2.v"));
    insta::assert_snapshot!("digits_mlp_report_json", text(&design, "report.json"));
}

#[test]
fn snapshots_odd_folding() {
    let design = codegen::generate(&odd_xnor()).unwrap();
    insta::assert_snapshot!("odd_xnor_top_v", text(&design, "rtl/odd_xnor_top.v"));
    insta::assert_snapshot!("odd_xnor_fc0_v", text(&design, "rtl/odd_xnor_fc0.v"));
    insta::assert_snapshot!("odd_xnor_report_json", text(&design, "report.json"));
    let design = codegen::generate(&odd_w2a2()).unwrap();
    insta::assert_snapshot!("odd_w2a2_top_v", text(&design, "rtl/odd_w2a2_top.v"));
    insta::assert_snapshot!("odd_w2a2_report_json", text(&design, "report.json"));
}

/// A global average pool between a conv layer (5 bipolar channels at PE 3: padded slots, which
/// `bnn_gap` masks) and a dense layer: the `bnn_gap` instance in the top and the report's
/// `global_pool` section (where the division by H·W went).
#[test]
fn snapshots_global_pool() {
    use bnn_gen::ir::Shape;
    use bnn_gen::synth::{ConvSpec, LayerSpec, NetSpec};
    let spec = NetSpec {
        name: "gap-small".into(),
        input_shape: Shape::Image { h: 3, w: 5, c: 2 },
        input_dtype: DataType::Bipolar,
        layers: vec![
            LayerSpec::Conv(ConvSpec {
                out_channels: 5,
                kernel: [3, 3],
                stride: [1, 1],
                padding: [1, 1],
                pad_value: Some(1),
                weight_dtype: DataType::Bipolar,
                activation: ActSpec::SIGN,
                pe: 3,
                simd: 2,
            }),
            LayerSpec::GlobalAvgPool,
            LayerSpec::Dense(dense(4, DataType::Bipolar, ActSpec::SIGN, 2, 5)),
            LayerSpec::Dense(dense(3, DataType::Ternary, ActSpec::None, 3, 2)),
        ],
        head: None,
    };
    let design = codegen::generate(&lowered(synth::network(&spec, 0x6A9))).unwrap();
    insta::assert_snapshot!("gap_small_top_v", text(&design, "rtl/gap_small_top.v"));
    insta::assert_snapshot!("gap_small_report_json", text(&design, "report.json"));
}

/// `odd_w2a2` with its first two layers' weights as logic (`weight_storage = "logic"`), every
/// third weight of the ternary layer zeroed (so some words are all zero and fall to the `case`
/// default). The last layer keeps its ROM, so one design holds both.
fn odd_w2a2_logic() -> Network {
    let mut net = odd_w2a2();
    net.name = "odd-w2a2-logic".into();
    for (i, layer) in net.layers.iter_mut().take(2).enumerate() {
        let Op::MatVec(mv) = &mut layer.op else {
            unreachable!("dense layers")
        };
        mv.folding.weight_storage = WeightStorage::Logic;
        if i == 1 {
            for (k, w) in mv.weights.iter_mut().enumerate() {
                if k % 3 != 0 || k < 6 {
                    *w = 0;
                }
            }
        }
    }
    net
}

/// Weights as logic: the constant tables of a W2A2 layer and of a sparse ternary one, no `.mem`
/// files for them (the ROM layer keeps its files), `report.json` says `constants`, and the RTL
/// passes Verilator's `-Wall` lint.
#[test]
fn snapshots_weights_as_logic() {
    let net = odd_w2a2_logic();
    let design = codegen::generate(&net).unwrap();
    insta::assert_snapshot!(
        "odd_w2a2_logic_fc0_v",
        text(&design, "rtl/odd_w2a2_logic_fc0.v")
    );
    insta::assert_snapshot!(
        "odd_w2a2_logic_fc1_v",
        text(&design, "rtl/odd_w2a2_logic_fc1.v")
    );
    let mems: Vec<&str> = design
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| p.starts_with("mem/") && p.contains("_w"))
        .collect();
    assert!(
        !mems.is_empty() && mems.iter().all(|p| p.starts_with("mem/fc2_w")),
        "{mems:?}"
    );
    let report = text(&design, "report.json");
    assert_eq!(
        report.matches("\"style\": \"constants\"").count(),
        2,
        "{report}"
    );
    require("verilator");
    lint("lint", &net);
}

/// Every `.mem` file has exactly DEPTH words of the ROM's width in hex and a final newline (a
/// tiled ROM: each tile file its bank's words of its slice's width, and together they hold
/// every bit once), and the report parses as JSON with the promised fields.
#[test]
fn memory_files_and_report_are_well_formed() {
    let mut tiled = 0;
    for net in [
        deep_rom(),
        digits_mlp(),
        odd_xnor(),
        odd_w2a2(),
        example("w2a2"),
        digits_cnn(),
        example("cnv-small"),
    ] {
        let design = codegen::generate(&net).unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(design.file("report.json").unwrap()).unwrap();
        // synthesis results come only from `build --synth`
        assert!(report.get("synthesis").is_none() && report.get("yosys").is_none());
        assert_eq!(report["top"], design.top.as_str());
        for layer in report["layers"].as_array().unwrap() {
            for key in ["weight_memory", "threshold_memory"] {
                let m = &layer["mvtu"][key];
                if m.is_null() {
                    continue;
                }
                let (roms, width, depth) = (
                    m["roms"].as_u64().unwrap() as usize,
                    m["width_bits"].as_u64().unwrap() as usize,
                    m["depth_words"].as_u64().unwrap() as usize,
                );
                let pattern = m["files"].as_str().unwrap();
                let check = |name: &str, depth: usize, width: usize| {
                    let body =
                        std::str::from_utf8(design.file(name).unwrap_or_else(|| panic!("{name}")))
                            .unwrap();
                    assert!(body.ends_with('\n'), "{name}: final newline");
                    let lines: Vec<&str> = body.lines().collect();
                    assert_eq!(lines.len(), depth, "{name}: depth");
                    for l in lines {
                        assert_eq!(l.len(), width.div_ceil(4), "{name}: digits");
                        Bits::from_hex(l, width).unwrap_or_else(|e| panic!("{name}: {e}"));
                    }
                };
                for p in 0..roms {
                    let name = format!("mem/{}", pattern.replace("PPP", &format!("{p:03}")));
                    let t = &m["tiling"];
                    if t.is_null() {
                        assert!(!name.contains("NNN"), "{name}");
                        check(&name, depth, width);
                        continue;
                    }
                    tiled += 1;
                    let field = |k: &str| t[k].as_u64().unwrap() as usize;
                    let tiling = bnn_gen::hwir::BlockTiling {
                        bank_depth: field("bank_depth"),
                        banks: field("banks"),
                        tile_width: field("tile_width"),
                        last_tile_width: field("last_tile_width"),
                        tiles: field("tiles_per_rom"),
                    };
                    assert_eq!(
                        bnn_gen::hwir::BlockTiling::for_rom(depth, width),
                        Some(tiling)
                    );
                    for tile in tiling.tiles(depth, width) {
                        let file = name.replace("NNN", &format!("{:03}", tile.index));
                        check(&file, tile.depth, tile.width);
                    }
                    // the whole-ROM file is not written: the tiles are what the RTL reads
                    let whole = name.replace("_tNNN", "");
                    assert!(design.file(&whole).is_none(), "{whole}");
                }
            }
        }
        let ii = report["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["cycles_per_frame"].as_u64().unwrap())
            .max();
        assert_eq!(report["ideal_ii_cycles"].as_u64(), ii);
    }
    assert_eq!(tiled, 1, "deep-rom's first layer is the one tiled ROM");
}

/// Conv and pool layers: the top with its window generators and pool, a conv layer wrapper and
/// the report (line buffer depths, layouts) of the trained digits CNN (padding with pad values 0
/// and +1, a 2x2 pool, a top-k head), and the top of cnv-small (uint8 input, bipolar pad −1).
#[test]
fn snapshots_conv() {
    let design = codegen::generate(&digits_cnn()).unwrap();
    insta::assert_snapshot!("digits_cnn_top_v", text(&design, "rtl/digits_cnn_top.v"));
    insta::assert_snapshot!(
        "digits_cnn_conv1_v",
        text(&design, "rtl/digits_cnn_conv1.v")
    );
    insta::assert_snapshot!("digits_cnn_report_json", text(&design, "report.json"));
    let design = codegen::generate(&example("cnv-small")).unwrap();
    insta::assert_snapshot!("cnv_small_top_v", text(&design, "rtl/cnv_small_top.v"));
    // The bipolar pad value −1 is bit 0 on the true channels; +1 (digits-cnn conv1) is bit 1.
    let top = text(&design, "rtl/cnv_small_top.v");
    assert!(top.contains("bnn_swg") && top.contains("bnn_pool"), "{top}");
}

// ---------------------------------------------------------------------------------------------
// determinism and the overwrite guard
// ---------------------------------------------------------------------------------------------

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().display().to_string(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn builds_are_deterministic_and_guarded() {
    let net = odd_xnor();
    let a = work_dir("determinism", "a");
    let b = work_dir("determinism", "b");
    codegen::build(&net, &a, BuildOptions::default()).unwrap();
    codegen::build(&net, &b, BuildOptions::default()).unwrap();
    let ta = tree(&a);
    assert_eq!(ta, tree(&b), "two builds differ");
    assert!(ta.iter().any(|(p, _)| p == codegen::MARKER));
    // Rebuilding into its own directory is allowed, also for another network (no stale files).
    codegen::build(&odd_w2a2(), &a, BuildOptions::default()).unwrap();
    codegen::build(&net, &a, BuildOptions::default()).unwrap();
    assert_eq!(tree(&a), ta, "a rebuild leaves exactly the same tree");
    // A foreign non-empty directory is refused, unless forced; an empty one is fine.
    let foreign = work_dir("determinism", "foreign");
    fs::create_dir_all(&foreign).unwrap();
    codegen::build(&net, &foreign, BuildOptions::default()).unwrap();
    fs::remove_file(foreign.join(codegen::MARKER)).unwrap();
    fs::write(foreign.join("precious.txt"), "keep me").unwrap();
    let err = codegen::build(&net, &foreign, BuildOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        fs::read_to_string(foreign.join("precious.txt")).unwrap(),
        "keep me"
    );
    codegen::build(&net, &foreign, BuildOptions { force: true }).unwrap();
    assert_eq!(
        fs::read_to_string(foreign.join("precious.txt")).unwrap(),
        "keep me"
    );
    assert!(foreign.join(codegen::MARKER).is_file());
}

#[test]
fn cli_build_refuses_then_forces() {
    let dir = work_dir("cli", "digits");
    let bin = env!("CARGO_BIN_EXE_bnn-gen");
    let net = root().join("examples/digits-mlp/net.toml");
    let status = |args: &[&str]| {
        Command::new(bin)
            .arg("build")
            .arg(&net)
            .args(["--target", "verilog", "-o"])
            .arg(&dir)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(status(&[]).status.success());
    assert!(dir.join("rtl/digits_mlp_top.v").is_file());
    assert!(
        status(&[]).status.success(),
        "rebuild into its own directory"
    );
    fs::remove_file(dir.join(codegen::MARKER)).unwrap();
    let out = status(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(status(&["--force"]).status.success());
}

// ---------------------------------------------------------------------------------------------
// Verilator lint and yosys
// ---------------------------------------------------------------------------------------------

fn lint(test: &str, net: &Network) {
    let dir = work_dir(test, &net.name);
    let design = codegen::build(net, &dir, BuildOptions::default()).unwrap();
    run(Command::new("verilator")
        .args([
            "--lint-only",
            "-Wall",
            "-f",
            "bnn_gen.f",
            "--top-module",
            &design.top,
        ])
        .current_dir(&dir));
}

#[test]
fn verilator_lint_every_example() {
    require("verilator");
    lint("lint", &digits_mlp());
    lint("lint", &digits_cnn());
    for name in ["tiny", "w2a2", "lfc", "cnv-small", "cnv"] {
        lint("lint", &example(name));
    }
    lint("lint", &odd_xnor());
    lint("lint", &odd_w2a2());
}

#[test]
fn yosys_synthesizes_a_tiny_network() {
    require("yosys");
    let net = example("tiny");
    let dir = work_dir("yosys", "tiny");
    let design = codegen::build(&net, &dir, BuildOptions::default()).unwrap();
    let counts = codegen::synth_yosys(&dir, &design.top).unwrap();
    assert!(counts.luts > 0 && counts.ffs > 0, "{counts:?}");
    // the counts are the script's own `stat` output
    let stat = fs::read_to_string(dir.join(codegen::yosys::STAT_FILE)).unwrap();
    assert!(stat.contains("LUT"), "{stat}");
    eprintln!("tiny: yosys {counts:?}");
}

/// The memory-heavy layer of CNV: conv5 (PE 1, SIMD 32) has one weight ROM of 18,432 words of 32
/// bits. yosys must map it to block RAM (exactly 16 RAMB36: 589,824 bits), not to logic; this
/// synthesizes the layer wrapper alone (about 15 s).
#[test]
fn yosys_maps_cnv_conv5_weights_to_block_ram() {
    require("yosys");
    let net = example("cnv");
    let dir = work_dir("yosys", "cnv");
    let design = codegen::build(&net, &dir, BuildOptions::default()).unwrap();
    let layer = design
        .hw
        .layers
        .iter()
        .find(|l| l.name == "conv5")
        .and_then(|l| l.mvtu())
        .expect("conv5");
    assert_eq!(layer.nf() * layer.sf(), 18432);
    let module = "cnv_conv5";
    let mut script = String::new();
    for f in [
        "bnn_resize",
        "bnn_rom",
        "bnn_addtree",
        "bnn_dot",
        "bnn_thresh",
        "bnn_mvtu",
        module,
    ] {
        script.push_str(&format!("read_verilog -defer rtl/{f}.v\n"));
    }
    script.push_str(&format!(
        "hierarchy -check -top {module}\nsynth_xilinx -family xc7 -top {module} -noiopad -noclkbuf\n\
         tee -o conv5_stat.txt stat\n"
    ));
    fs::write(dir.join("conv5.ys"), script).unwrap();
    let t = std::time::Instant::now();
    run(Command::new("yosys")
        .args(["-q", "-s", "conv5.ys"])
        .current_dir(&dir));
    let stat = fs::read_to_string(dir.join("conv5_stat.txt")).unwrap();
    // The last (whole-design) count of each cell type.
    let count = |cell: &str| -> u64 {
        stat.lines()
            .rev()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some(cell)).then(|| it.next()?.parse().ok())?
            })
            .next()
            .unwrap_or(0)
    };
    let (b36, b18) = (count("RAMB36E1"), count("RAMB18E1"));
    eprintln!(
        "cnv conv5: {b36} RAMB36 + {b18} RAMB18, {} LUT6, yosys {:.1} s",
        count("LUT6"),
        t.elapsed().as_secs_f64()
    );
    assert!(
        2 * b36 + b18 >= 32,
        "conv5's weights are not in block RAM:\n{stat}"
    );
}

// ---------------------------------------------------------------------------------------------
// end-to-end smoke test in Verilator
// ---------------------------------------------------------------------------------------------

struct SimResult {
    /// Output words with the cycle of their handshake.
    outputs: Vec<(Bits, u64)>,
    /// Cycle of every input handshake.
    in_cycles: Vec<u64>,
}

/// Builds `net` into a fresh directory and verilates its top with the generic harness
/// (`sim/axis_tb.cpp`).
fn verilate(test: &str, net: &Network) -> (Design, PathBuf) {
    let dir = work_dir(test, &net.name);
    let design = codegen::build(net, &dir, BuildOptions::default()).unwrap();
    let (fin, fout) = (design.hw.input_stream(), design.hw.output_stream());
    let tb = root().join("sim/axis_tb.cpp");
    run(Command::new("verilator")
        .args([
            "--cc", "--exe", "--build", "-O2", "-Wall", "--prefix", "Vtop",
        ])
        .args(["--top-module", &design.top])
        .args(["-CFLAGS", &format!("-DIN_BITS={}", fin.tdata_bits)])
        .args(["-CFLAGS", &format!("-DOUT_BITS={}", fout.tdata_bits)])
        .args(["-CFLAGS", "-O1", "--build-jobs", "2"])
        .args(["-f", "bnn_gen.f"])
        .arg(&tb)
        .current_dir(&dir));
    (design, dir)
}

/// Streams `frames` through the verilated design in `dir` (from `dir`, so that `mem/` is found),
/// with the given stall probability on both streams.
fn simulate(design: &Design, dir: &Path, frames: &[Vec<i64>], stall: f64, seed: u32) -> SimResult {
    let hw = &design.hw;
    let (fin, fout) = (hw.input_stream(), hw.output_stream());
    let mut hex = String::new();
    for f in frames {
        for w in stream::pack_input(hw, f).unwrap() {
            hex.push_str(&w.to_hex());
            hex.push('\n');
        }
    }
    fs::write(dir.join("in.hex"), hex).unwrap();
    let expect = frames.len() * fout.words_per_frame;
    let ii = hw.ideal_ii().max(fin.words_per_frame) as u64;
    let timeout = 10_000 + (frames.len() as u64 + 4) * ii * if stall > 0.0 { 8 } else { 2 };
    run(Command::new(dir.join("obj_dir/Vtop"))
        .args([
            "--in",
            "in.hex",
            "--out",
            "out.txt",
            "--in-cycles",
            "in_cycles.txt",
        ])
        .args([
            "--expect",
            &expect.to_string(),
            "--timeout",
            &timeout.to_string(),
        ])
        .args([
            "--stall",
            &stall.to_string(),
            "--seed",
            &seed.to_string(),
            "--extra",
            "50",
        ])
        .current_dir(dir));
    let outputs = fs::read_to_string(dir.join("out.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut it = l.split_whitespace();
            let w = Bits::from_hex(it.next().unwrap(), fout.tdata_bits).unwrap();
            (w, it.next().unwrap().parse().unwrap())
        })
        .collect();
    let in_cycles = fs::read_to_string(dir.join("in_cycles.txt"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    SimResult { outputs, in_cycles }
}

/// Runs `n` random frames through the generated design, once without stalls and once with random
/// stalls on both streams, and compares every frame with the golden model; without stalls also
/// checks the steady-state cycles per frame against the ideal II and the single-frame latency
/// against the report's estimate. Returns (cycles per frame, latency) measured without stalls.
fn smoke(test: &str, net: &Network, n: usize) -> (f64, u64) {
    require("verilator");
    assert!(n >= 4);
    let golden = GoldenModel::new(net).unwrap();
    let data = synth::frames_for(net, n, 0x5EED);
    let len = net.input.shape.len();
    let frames: Vec<Vec<i64>> = (0..n)
        .map(|f| data.as_slice().unwrap()[f * len..(f + 1) * len].to_vec())
        .collect();
    let (design, dir) = verilate(test, net);
    let report: serde_json::Value =
        serde_json::from_slice(design.file("report.json").unwrap()).unwrap();
    let fout = design.hw.output_stream();
    let wpf = fout.words_per_frame;
    let mut measured = (0.0, 0);
    for (stall, seed) in [(0.0, 1u32), (0.3, 7)] {
        let sim = simulate(&design, &dir, &frames, stall, seed);
        assert_eq!(sim.outputs.len(), n * wpf, "{}: output words", net.name);
        for (f, frame) in frames.iter().enumerate() {
            let words: Vec<Bits> = sim.outputs[f * wpf..(f + 1) * wpf]
                .iter()
                .map(|(w, _)| w.clone())
                .collect();
            let got = stream::unpack_output(&design.hw, &words).unwrap();
            let want = golden.infer(frame);
            assert_eq!(
                got, want,
                "{}: frame {f} (stall {stall}) differs from the golden model",
                net.name
            );
            // The design's own bit-level model agrees too.
            assert_eq!(design.hw.model(frame), want);
            // Spare TDATA bits are zero.
            for w in &words {
                for b in fout.used_bits()..fout.tdata_bits {
                    assert_eq!(w.get(b, 1), 0, "{}: spare output bit {b}", net.name);
                }
            }
        }
        if stall == 0.0 {
            let last = |f: usize| sim.outputs[(f + 1) * wpf - 1].1;
            let half = n / 2;
            let per_frame = (last(n - 1) - last(half)) as f64 / (n - 1 - half) as f64;
            let latency = last(0) - sim.in_cycles[0];
            let ii = report["ideal_ii_cycles"].as_u64().unwrap() as f64;
            let est = report["latency_cycles_estimate"].as_u64().unwrap();
            eprintln!(
                "{}: {n} frames bit-exact; {per_frame:.1} cycles/frame measured vs ideal II {ii}; \
                 latency {latency} cycles measured vs estimate {est}",
                net.name
            );
            let wpf_in = design.hw.input_stream().words_per_frame as f64;
            let head_words = design.hw.head.map_or(0.0, |h| h.k as f64);
            assert!(
                per_frame <= ii.max(wpf_in).max(head_words) * 1.05 + 2.0,
                "{}: throughput {per_frame} cycles/frame, ideal {ii}",
                net.name
            );
            assert!(
                latency.abs_diff(est) <= 2,
                "{}: latency {latency} cycles, estimate {est}",
                net.name
            );
            measured = (per_frame, latency);
        }
    }
    measured
}

#[test]
fn smoke_non_dividing_folding() {
    smoke("smoke", &odd_xnor(), 60);
    smoke("smoke", &odd_w2a2(), 60);
}

// The examples' Verilator runs (outputs, cycles per frame, latency estimate) are in
// `tests/verify.rs` (tiny, w2a2, digits-mlp, lfc); building them here too would cost CI a second
// Verilator compile of each. The smoke runs here are the nets verify.rs does not build.

/// Random dense networks from `synth::random_mlp_spec` (every datatype, random folding that often
/// does not divide, heads with k ≥ 1, thresholds or raw accumulators last).
#[test]
fn smoke_random_networks() {
    let limits = synth::RandomLimits {
        max_layers: 3,
        max_features: 40,
        max_bits: 4,
        ..synth::RandomLimits::default()
    };
    for seed in [3u64, 11, 17, 29] {
        let spec = synth::random_mlp_spec(seed, &limits);
        let mut net = synth::mlp(&spec, seed);
        net.name = format!("rand{seed}");
        smoke("smoke-random", &lowered(net), 24);
    }
}
