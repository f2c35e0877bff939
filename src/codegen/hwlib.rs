//! The hand-written RTL library (`hw/*.v`), embedded in the binary so `bnn-gen build` works from
//! any directory. `build` copies the modules a design needs into `DIR/rtl/`.

use crate::hwir::{HwKind, HwLayer, HwNetwork};

/// Every library module: file name and text, leaves first (a valid compile order).
pub const MODULES: [(&str, &str); 14] = [
    ("bnn_resize.v", include_str!("../../hw/bnn_resize.v")),
    ("bnn_rom.v", include_str!("../../hw/bnn_rom.v")),
    ("bnn_addtree.v", include_str!("../../hw/bnn_addtree.v")),
    ("bnn_dot.v", include_str!("../../hw/bnn_dot.v")),
    ("bnn_thresh.v", include_str!("../../hw/bnn_thresh.v")),
    ("bnn_mvtu.v", include_str!("../../hw/bnn_mvtu.v")),
    ("bnn_vvau.v", include_str!("../../hw/bnn_vvau.v")),
    ("bnn_dwc.v", include_str!("../../hw/bnn_dwc.v")),
    ("bnn_fifo.v", include_str!("../../hw/bnn_fifo.v")),
    (
        "bnn_topk_merge.v",
        include_str!("../../hw/bnn_topk_merge.v"),
    ),
    ("bnn_topk.v", include_str!("../../hw/bnn_topk.v")),
    ("bnn_swg.v", include_str!("../../hw/bnn_swg.v")),
    ("bnn_pool.v", include_str!("../../hw/bnn_pool.v")),
    ("bnn_gap.v", include_str!("../../hw/bnn_gap.v")),
];

/// The simulation-only AXI-Stream protocol monitor (`hw/bnn_axis_monitor.v`): shipped with every
/// design as `rtl/bnn_axis_monitor.v` but listed only in the simulation file list `bnn_gen_sim.f`,
/// never in `bnn_gen.f` or the synthesis scripts (it uses `$display` and `initial`).
pub const AXIS_MONITOR: (&str, &str) = (
    "bnn_axis_monitor.v",
    include_str!("../../hw/bnn_axis_monitor.v"),
);

/// The text of library module file `name` (e.g. `"bnn_mvtu.v"`).
pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The library files design `hw` needs, in compile order: the MVTU and its parts always, the
/// width converter, FIFO, top-k head, window generator, max-pool, global pool and VVAU
/// (depthwise) when used.
pub fn needed(hw: &HwNetwork) -> Vec<&'static str> {
    let dwc = hw.links.iter().any(|k| k.dwc());
    let fifo = hw.links.iter().any(|k| k.fifo_depth.is_some());
    let topk = hw.head.is_some();
    let swg = hw.layers.iter().any(|l| l.window.is_some());
    let pool = hw.layers.iter().any(|l| matches!(l.kind, HwKind::Pool(_)));
    let gap = hw.layers.iter().any(|l| matches!(l.kind, HwKind::Gap(_)));
    let vvau = hw.layers.iter().any(HwLayer::is_vvau);
    MODULES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| match *n {
            "bnn_dwc.v" => dwc,
            "bnn_fifo.v" => fifo,
            "bnn_topk.v" | "bnn_topk_merge.v" => topk,
            "bnn_swg.v" => swg,
            "bnn_pool.v" => pool,
            "bnn_gap.v" => gap,
            "bnn_vvau.v" => vvau,
            _ => true,
        })
        .collect()
}
