//! `pareto.svg`: estimated LUT and block RAM of the Pareto points against frames per second at
//! the stated clock (log scale), with the device's limits as horizontal lines and the published
//! BNN-PYNQ design as a marked point. plotters' SVG backend, no font files (text is estimated
//! and written as SVG `<text>`).

use super::devices::BlockRam;
use super::explore::{Options, Point, Published};
use crate::error::{Error, Result};
use crate::ir::Network;
use plotters::prelude::*;
use std::path::Path;

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Unsupported(format!("{}: drawing the plot failed: {e}", path.display()))
}

/// One panel: `value(point)` against frames/s, the device limit `limit`, the published point.
#[allow(clippy::too_many_arguments)]
fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    points: &[(f64, f64)],
    limit: f64,
    max_util: f64,
    published: Option<(f64, f64, &str)>,
    x_range: (f64, f64),
) -> std::result::Result<(), String> {
    let y_max = points
        .iter()
        .map(|p| p.1)
        .chain(published.map(|p| p.1))
        .fold(limit, f64::max)
        * 1.08;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d((x_range.0..x_range.1).log_scale(), 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("frames/s (log scale)")
        .y_desc(unit)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| e.to_string())?;
    let (x0, x1) = x_range;
    chart
        .draw_series(LineSeries::new(
            [(x0, limit), (x1, limit)],
            RED.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label(format!("device limit {limit:.0}"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
    let util = limit * max_util;
    chart
        .draw_series(LineSeries::new([(x0, util), (x1, util)], RED.mix(0.5)))
        .map_err(|e| e.to_string())?
        .label(format!("{:.0} % of the device", max_util * 100.0))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.mix(0.5)));
    chart
        .draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
        .map_err(|e| e.to_string())?
        .label("bnn-gen Pareto points (estimate)")
        .legend(|(x, y)| Circle::new((x + 8, y), 3, BLUE.filled()));
    if let Some((x, y, label)) = published {
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (x, y),
                7,
                BLACK.filled(),
            )))
            .map_err(|e| e.to_string())?
            .label(label.to_string())
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 5, BLACK.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes the two-panel plot to `path`.
pub fn pareto_svg(
    path: &Path,
    net: &Network,
    points: &[Point],
    opts: &Options,
    published: Option<Published>,
) -> Result<()> {
    let d = &opts.device;
    let fps = |c: usize| opts.clock_mhz * 1e6 / c.max(1) as f64;
    let luts: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (fps(p.cost.cycles), d.luts_of(p.cost.totals.luts) as f64))
        .collect();
    let blocks: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (fps(p.cost.cycles), p.cost.blocks(d) as f64))
        .collect();
    // BNN-PYNQ's figures are xc7 LUT6 and RAMB36: comparable on an xc7 device only.
    let published = published.filter(|_| d.ram == BlockRam::Xc7);
    let xs = luts
        .iter()
        .map(|p| p.0)
        .chain(published.map(|p| fps(p.cycles)));
    let (lo, hi) = xs.fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 1.5, hi * 1.5)
    } else {
        (1.0, 10.0)
    };
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let root = root
        .titled(
            &format!(
                "{}: estimated cost of the Pareto points at {} MHz on {} ({})",
                net.name, opts.clock_mhz, d.name, d.description
            ),
            ("sans-serif", 20),
        )
        .map_err(|e| plot_error(path, e))?;
    let (left, right) = root.split_horizontally(600);
    let label = published.map(|p| p.label);
    panel(
        &left,
        &format!("{} against throughput", d.lut_unit()),
        d.lut_unit(),
        &luts,
        d.luts as f64,
        0.8,
        published.map(|p| (fps(p.cycles), p.luts as f64, label.unwrap_or_default())),
        (lo, hi),
    )
    .map_err(|e| plot_error(path, e))?;
    panel(
        &right,
        &format!("{} against throughput", d.ram_unit()),
        d.ram_unit(),
        &blocks,
        d.blocks as f64,
        0.8,
        published.map(|p| (fps(p.cycles), p.bram18 as f64, label.unwrap_or_default())),
        (lo, hi),
    )
    .map_err(|e| plot_error(path, e))?;
    root.present().map_err(|e| plot_error(path, e))?;
    Ok(())
}
