//! The figure of `mfcl plot`: the cosines and the norm against time, with the reduced ODE
//! dashed where one exists, and the density of `x` per `ξ`-atom at up to six snapshots.

use std::ops::Range;
use std::path::Path;

use anyhow::anyhow;
use mfcl_model::Trajectory;
use mfcl_solver::Snapshot;
use plotters::prelude::*;

use super::{
    Area, FEATURE_COLORS, chart, dashed_series, free_corner, legend, legend_dash, legend_line,
    mesh, padded_range, subscript, titled,
};
use crate::output;

/// Figure size in pixels.
const SIZE: (u32, u32) = (1500, 1050);

/// At most this many snapshots are drawn, evenly chosen, so the curves stay apart.
const MAX_SNAPSHOTS: usize = 6;

/// At most this many `ξ`-atom panels; with more atoms (p ≥ 3 Rademacher features) one panel
/// shows the density of all coordinates together.
const MAX_PANELS: usize = 4;

/// One colour per drawn snapshot, dark to light with time: viridis from 0 to 0.85 (its last,
/// yellow colours are hard to see on white).
const TIME_COLORS: [RGBColor; MAX_SNAPSHOTS] = [
    RGBColor(68, 1, 84),
    RGBColor(68, 58, 131),
    RGBColor(48, 106, 142),
    RGBColor(32, 146, 140),
    RGBColor(59, 187, 117),
    RGBColor(155, 217, 60),
];

/// The reduced ODE's curves: dashed, black, thinner than the run's.
const ODE_STYLE: ShapeStyle = ShapeStyle {
    color: RGBAColor(0, 0, 0, 1.0),
    filled: false,
    stroke_width: 2,
};

/// The whole figure: time series on top, densities below (when there are snapshots).
pub fn draw(
    out: &Path,
    title: &str,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
    snapshots: &[Snapshot],
) -> anyhow::Result<()> {
    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let body = titled(&root, title)?;
    let (top, bottom) = if snapshots.is_empty() {
        (body, None)
    } else {
        let (top, bottom) = body.split_vertically(SIZE.1 * 46 / 100);
        (top, Some(bottom))
    };
    let [cosine_area, norm_area]: [_; 2] = top
        .split_evenly((1, 2))
        .try_into()
        .map_err(|_| anyhow!("two panels expected"))?;
    draw_cosines(&cosine_area, trajectory, ode)?;
    draw_norm(&norm_area, trajectory, ode)?;
    if let Some(bottom) = bottom {
        draw_densities(&bottom, snapshots)?;
    }
    root.present()?;
    Ok(())
}

/// The time axis of both top panels.
fn time_range(trajectory: &Trajectory) -> Range<f64> {
    let t_end = trajectory.t.last().copied().unwrap_or(0.0);
    0.0..if t_end > 0.0 { t_end } else { 1.0 }
}

/// The cosines `m_j(t)` of the run (solid) and of the ODE (dashed, black).
fn draw_cosines(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let run = trajectory.cosine();
    let reference = ode.map(Trajectory::cosine);
    let values = run
        .iter()
        .chain(reference.iter().flatten())
        .flatten()
        .copied();
    let (x, y) = (time_range(trajectory), padded_range(values.chain([0.0])));
    // The legend goes where it hides the fewest points of the run's curves and the ODE's.
    let curves =
        std::iter::once((&trajectory.t, &run)).chain(ode.map(|o| &o.t).zip(reference.as_ref()));
    let points = curves.flat_map(|(times, cosines)| {
        times
            .iter()
            .zip(cosines)
            .flat_map(|(&t, m)| m.iter().map(move |&v| (t, v)))
    });
    let corner = free_corner(points, &x, &y);
    let mut chart = chart(area, "cosine similarity to each feature", x, y)?;
    mesh(&mut chart, "t", "cosine")?;
    let p = run.first().map_or(0, Vec::len);
    for j in 0..p {
        let color = FEATURE_COLORS[j % FEATURE_COLORS.len()];
        let points = trajectory.t.iter().zip(&run).map(|(&t, m)| (t, m[j]));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(3)))?
            .label(format!("m{} (run)", subscript(j + 1)))
            .legend(legend_line(color));
    }
    if let (Some(ode), Some(reference)) = (ode, &reference) {
        for j in 0..p {
            let points: Vec<(f64, f64)> = ode
                .t
                .iter()
                .zip(reference)
                .map(|(&t, m)| (t, m[j]))
                .collect();
            let series = chart.draw_series(dashed_series(points, ODE_STYLE))?;
            // One legend entry for the ODE of all features.
            if j == 0 {
                series.label("reduced ODE").legend(legend_dash(ODE_STYLE));
            }
        }
    }
    legend(&mut chart, corner)
}

/// The squared norm `R(t)` of the run (solid) and of the ODE (dashed, black).
fn draw_norm(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let values = trajectory
        .norm2
        .iter()
        .chain(ode.iter().flat_map(|o| &o.norm2))
        .copied();
    let (x, y) = (time_range(trajectory), padded_range(values));
    // The legend goes where it hides the fewest points of the run's curve and the ODE's.
    let points = std::iter::once(trajectory)
        .chain(ode)
        .flat_map(|curve| curve.t.iter().copied().zip(curve.norm2.iter().copied()));
    let corner = free_corner(points, &x, &y);
    let mut chart = chart(area, "squared norm R(t)", x, y)?;
    mesh(&mut chart, "t", "R")?;
    let color = RGBColor(90, 90, 90);
    chart
        .draw_series(LineSeries::new(
            trajectory
                .t
                .iter()
                .copied()
                .zip(trajectory.norm2.iter().copied()),
            color.stroke_width(3),
        ))?
        .label("R (run)")
        .legend(legend_line(color));
    if let Some(ode) = ode {
        let points: Vec<(f64, f64)> = ode
            .t
            .iter()
            .copied()
            .zip(ode.norm2.iter().copied())
            .collect();
        chart
            .draw_series(dashed_series(points, ODE_STYLE))?
            .label("reduced ODE")
            .legend(legend_dash(ODE_STYLE));
    }
    legend(&mut chart, corner)
}

/// One density panel: a caption and, per drawn snapshot, `(bin centre, density)` points.
struct Panel {
    caption: String,
    curves: Vec<Vec<(f64, f64)>>,
}

/// Up to [`MAX_SNAPSHOTS`] snapshots, evenly spread, first and last included.
fn chosen(snapshots: &[Snapshot]) -> Vec<&Snapshot> {
    let count = snapshots.len();
    if count <= MAX_SNAPSHOTS {
        return snapshots.iter().collect();
    }
    (0..MAX_SNAPSHOTS)
        .map(|k| &snapshots[(k * (count - 1) + (MAX_SNAPSHOTS - 1) / 2) / (MAX_SNAPSHOTS - 1)])
        .collect()
}

/// Density `count / (total · bin width)` at the bin centres, over the bins from the first
/// to the last non-empty one; nothing for an empty histogram.
fn density(edges: &[f64], counts: &[u64]) -> Vec<(f64, f64)> {
    let total: u64 = counts.iter().sum();
    let Some(first) = counts.iter().position(|&c| c > 0) else {
        return Vec::new();
    };
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(first);
    (first..=last)
        .map(|b| {
            let width = edges[b + 1] - edges[b];
            let centre = 0.5 * (edges[b] + edges[b + 1]);
            (centre, counts[b] as f64 / (total as f64 * width))
        })
        .collect()
}

/// `+1`, `−1`, `+1.291`: an atom value as it reads best.
fn atom_label(value: f32) -> String {
    let text = if value.fract() == 0.0 {
        format!("{:+}", value as i64)
    } else {
        format!("{value:+.3}")
    };
    text.replace('-', "−")
}

/// The panels: one per `ξ`-atom while there are at most [`MAX_PANELS`], else one for all
/// coordinates together.
fn panels(snapshots: &[&Snapshot]) -> Vec<Panel> {
    let patterns = snapshots.first().map_or(0, |s| s.histograms.len());
    if patterns == 0 {
        return Vec::new();
    }
    if patterns > MAX_PANELS || snapshots[0].histograms[0].atom.is_empty() {
        let caption = if patterns > 1 {
            format!("density of x, all {patterns} ξ-patterns together")
        } else {
            "density of x".to_owned()
        };
        let curves = snapshots
            .iter()
            .map(|s| {
                let bins = s.histograms[0].counts.len();
                let counts: Vec<u64> = (0..bins)
                    .map(|b| s.histograms.iter().map(|h| h.counts[b]).sum())
                    .collect();
                density(&s.histograms[0].edges, &counts)
            })
            .collect();
        return vec![Panel { caption, curves }];
    }
    (0..patterns)
        .map(|k| {
            let atom = &snapshots[0].histograms[k].atom;
            // Short captions: up to four panels share the width.
            let caption = match atom.as_slice() {
                [value] => format!("density of x given ξ₁ = {}", atom_label(*value)),
                _ => {
                    let values: Vec<String> = atom.iter().map(|&v| atom_label(v)).collect();
                    format!("x given ξ = ({})", values.join(", "))
                }
            };
            Panel {
                caption,
                curves: snapshots
                    .iter()
                    .map(|s| density(&s.histograms[k].edges, &s.histograms[k].counts))
                    .collect(),
            }
        })
        .collect()
}

/// The density panels side by side, one curve per chosen snapshot, dark to light with time;
/// the first panel carries the legend.
fn draw_densities(area: &Area<'_>, snapshots: &[Snapshot]) -> anyhow::Result<()> {
    let chosen = chosen(snapshots);
    let panels = panels(&chosen);
    let y_max = panels
        .iter()
        .flat_map(|p| p.curves.iter().flatten())
        .map(|&(_, d)| d)
        .fold(0.0, f64::max);
    let areas = area.split_evenly((1, panels.len().max(1)));
    for (index, (panel, area)) in panels.iter().zip(&areas).enumerate() {
        let x = padded_range(panel.curves.iter().flatten().map(|&(x, _)| x));
        let mut chart = chart(
            area,
            &panel.caption,
            x,
            0.0..1.05 * y_max.max(f64::MIN_POSITIVE),
        )?;
        mesh(&mut chart, "x", "density")?;
        for ((snapshot, curve), &color) in chosen.iter().zip(&panel.curves).zip(&TIME_COLORS) {
            chart
                .draw_series(LineSeries::new(
                    curve.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(format!("t = {}", output::time(snapshot.t)))
                .legend(legend_line(color));
        }
        if index == 0 {
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_chosen_evenly_with_both_ends() {
        let snapshots: Vec<Snapshot> = (0..11)
            .map(|k| Snapshot {
                step: k,
                t: k as f64,
                stride: 1,
                x: Vec::new(),
                xi: Vec::new(),
                histograms: Vec::new(),
            })
            .collect();
        let times = |count: usize| -> Vec<f64> {
            chosen(&snapshots[..count]).iter().map(|s| s.t).collect()
        };
        assert_eq!(times(11), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(times(7), [0.0, 1.0, 2.0, 4.0, 5.0, 6.0]);
        assert_eq!(times(3), [0.0, 1.0, 2.0]);
    }

    #[test]
    fn densities_integrate_to_one_over_the_occupied_bins() {
        let edges = [0.0, 0.5, 1.5, 2.0, 4.0];
        let curve = density(&edges, &[0, 3, 1, 0]);
        assert_eq!(curve.len(), 2);
        assert_eq!(curve[0], (1.0, 3.0 / 4.0));
        let widths = [1.0, 0.5];
        let total: f64 = curve.iter().zip(widths).map(|(&(_, d), w)| d * w).sum();
        assert!((total - 1.0).abs() < 1e-15);
        assert!(density(&edges, &[0; 4]).is_empty());
    }

    #[test]
    fn labels_read_well() {
        assert_eq!(atom_label(1.0), "+1");
        assert_eq!(atom_label(-1.0), "−1");
        assert_eq!(atom_label(1.2909944), "+1.291");
    }
}
