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

/// `j` or `jk`, as subscripts: the index of a curve of a single neuron or of a layer.
fn curve_subscript(entry: usize, neurons: usize) -> String {
    match neurons {
        1 => subscript(entry + 1),
        k => subscript(entry / k + 1) + &subscript(entry % k + 1),
    }
}

/// The cosines `m_j(t)` (one neuron) or `m_jk(t)` (a layer) of the run (solid) and of the
/// ODE (dashed, black).
fn draw_cosines(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let run = trajectory.cosine();
    let reference = ode.map(Trajectory::cosine);
    curves_panel(
        area,
        ("cosine similarity to each feature", "cosine", "m"),
        (trajectory, &run),
        ode.zip(reference.as_ref()),
        true,
    )
}

/// The squared norm `R(t)` (one neuron) or the Gram matrix `R_kl(t)`, `k ≤ l` (a layer)
/// of the run (solid) and of the ODE (dashed, black).
fn draw_norm(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let upper = |t: &Trajectory| -> Vec<Vec<f64>> {
        let k = t.neurons.max(1);
        t.norm2
            .iter()
            .map(|r| {
                (0..k)
                    .flat_map(|a| (a..k).map(move |b| r[a * k + b]))
                    .collect()
            })
            .collect()
    };
    let run = upper(trajectory);
    let reference = ode.map(upper);
    let title = if trajectory.neurons > 1 {
        "Gram matrix R(t)"
    } else {
        "squared norm R(t)"
    };
    curves_panel(
        area,
        (title, "R", "R"),
        (trajectory, &run),
        ode.zip(reference.as_ref()),
        false,
    )
}

/// One panel of time series: every column of `run` (solid, one colour each) and of the
/// ODE's (dashed, black), with the legend where it hides the fewest points. `(title,
/// y label, curve name)`; `per_feature` says the columns are `m_j` / `m_jk` rather than
/// `R` / `R_kl`.
fn curves_panel(
    area: &Area<'_>,
    (title, y_label, name): (&str, &str, &str),
    (trajectory, run): (&Trajectory, &[Vec<f64>]),
    ode: Option<(&Trajectory, &Vec<Vec<f64>>)>,
    per_feature: bool,
) -> anyhow::Result<()> {
    let k = trajectory.neurons.max(1);
    let values = run
        .iter()
        .chain(ode.iter().flat_map(|(_, r)| r.iter()))
        .flatten()
        .copied();
    let x = time_range(trajectory);
    let y = if per_feature {
        padded_range(values.chain([0.0]))
    } else {
        padded_range(values)
    };
    let curves = std::iter::once((&trajectory.t, run)).chain(ode.map(|(o, r)| (&o.t, &r[..])));
    let points = curves.flat_map(|(times, rows)| {
        times
            .iter()
            .zip(rows)
            .flat_map(|(&t, m)| m.iter().map(move |&v| (t, v)))
    });
    let corner = free_corner(points, &x, &y);
    let mut chart = chart(area, title, x, y)?;
    mesh(&mut chart, "t", y_label)?;
    let columns = run.first().map_or(0, Vec::len);
    let label = |i: usize| -> String {
        match (per_feature, k) {
            (true, _) => format!("{name}{}", curve_subscript(i, k)),
            (false, 1) => name.to_owned(),
            (false, _) => {
                let (a, b) = upper_index(i, k);
                format!("{name}{}{}", subscript(a + 1), subscript(b + 1))
            }
        }
    };
    for i in 0..columns {
        let color = if per_feature || k > 1 {
            FEATURE_COLORS[i % FEATURE_COLORS.len()]
        } else {
            RGBColor(90, 90, 90)
        };
        let points = trajectory.t.iter().zip(run).map(|(&t, m)| (t, m[i]));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(3)))?
            .label(format!("{} (run)", label(i)))
            .legend(legend_line(color));
    }
    if let Some((ode, reference)) = ode {
        for i in 0..columns {
            let points: Vec<(f64, f64)> = ode
                .t
                .iter()
                .zip(reference)
                .map(|(&t, m)| (t, m[i]))
                .collect();
            let series = chart.draw_series(dashed_series(points, ODE_STYLE))?;
            // One legend entry for the ODE of every curve.
            if i == 0 {
                series.label("reduced ODE").legend(legend_dash(ODE_STYLE));
            }
        }
    }
    legend(&mut chart, corner)
}

/// `(k, l)` of the `i`-th entry of the upper triangle `k ≤ l`, row by row.
fn upper_index(i: usize, neurons: usize) -> (usize, usize) {
    let mut i = i;
    for a in 0..neurons {
        let row = neurons - a;
        if i < row {
            return (a, a + i);
        }
        i -= row;
    }
    (neurons, neurons)
}

/// One density panel: a caption and, per drawn snapshot, `(bin centre, density)` points.
struct Panel {
    caption: String,
    /// The quantity on the x axis: `x`, or `x_k` for one neuron of a layer.
    x_label: String,
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

/// The panels of a layer: one per neuron, all `ξ`-patterns together.
fn neuron_panels(snapshots: &[&Snapshot], neurons: usize) -> Vec<Panel> {
    (0..neurons)
        .map(|k| Panel {
            caption: format!("density of x{}", subscript(k + 1)),
            x_label: format!("x{}", subscript(k + 1)),
            curves: snapshots
                .iter()
                .map(|s| {
                    let mine: Vec<_> = s.histograms.iter().filter(|h| h.neuron == k).collect();
                    let Some(first) = mine.first() else {
                        return Vec::new();
                    };
                    let counts: Vec<u64> = (0..first.counts.len())
                        .map(|b| mine.iter().map(|h| h.counts[b]).sum())
                        .collect();
                    density(&first.edges, &counts)
                })
                .collect(),
        })
        .collect()
}

/// The panels of one neuron: one per `ξ`-atom while there are at most [`MAX_PANELS`], else one for all
/// coordinates together.
fn panels(snapshots: &[&Snapshot]) -> Vec<Panel> {
    let neurons = snapshots.first().map_or(1, |s| s.neurons.max(1));
    if neurons > 1 {
        return neuron_panels(snapshots, neurons);
    }
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
        return vec![Panel {
            caption,
            x_label: "x".to_owned(),
            curves,
        }];
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
                x_label: "x".to_owned(),
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
        mesh(&mut chart, &panel.x_label, "density")?;
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
                neurons: 1,
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
