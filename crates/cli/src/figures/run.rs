//! The figure of `mfcl plot`: the cosines and the norm against time, with the reduced ODE
//! dashed where one exists, and the density of `x` per `ξ`-atom at up to six snapshots. For
//! a layer, also the cosines between neurons, the density of each neuron's `x_k`, and the
//! joint density of one pair `(x_a, x_b)` per `ξ`-pattern (see [`joint`]).

mod joint;

use std::ops::Range;
use std::path::Path;

use anyhow::anyhow;
use mfcl_model::Trajectory;
use mfcl_solver::Snapshot;
use plotters::prelude::*;

use super::{
    Area, FEATURE_COLORS, chart, dashed_series, free_corner, legend, legend_dash, legend_line,
    mesh, padded_range, save_png, subscript, titled,
};
use crate::output;

/// Figure size in pixels (one neuron).
const SIZE: (u32, u32) = (1500, 1050);

/// Heights in pixels of a layer's figure, whose width is `SIZE.0`: the title band, the row
/// of time panels, the row of per-neuron densities, and each row of joint densities.
const LAYER_TITLE: u32 = 50;
const LAYER_TIME_ROW: u32 = 420;
const LAYER_DENSITY_ROW: u32 = 380;

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

/// The whole figure of one neuron: time series on top, densities below (when there are
/// snapshots).
pub fn draw(
    out: &Path,
    title: &str,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
    snapshots: &[Snapshot],
) -> anyhow::Result<()> {
    save_png(out, SIZE, |root| {
        root.fill(&WHITE)?;
        let body = titled(root, title)?;
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
            draw_densities(&bottom, &chosen(snapshots))?;
        }
        Ok(())
    })
}

/// What a layer's figure shows of the measure.
pub struct Layer<'a> {
    /// The two neurons `(a, b)` of the joint density, 0-based and distinct.
    pub pair: (usize, usize),
    /// The snapshots of the per-neuron densities, in time order (at most [`MAX_SNAPSHOTS`]).
    pub marginals: Vec<&'a Snapshot>,
    /// The snapshots of the joint density, one row each, in time order.
    pub joint: Vec<&'a Snapshot>,
}

/// The height of a layer's figure: its title and time panels, and with snapshots the
/// per-neuron densities and one row per joint snapshot.
fn layer_height(joint_rows: usize) -> u32 {
    let density = if joint_rows == 0 {
        0
    } else {
        LAYER_DENSITY_ROW + joint_rows as u32 * joint::ROW
    };
    LAYER_TITLE + LAYER_TIME_ROW + density
}

/// The whole figure of a layer: `m_jk`, `R_kl` and the cosines between neurons against
/// time; then the density of each `x_k`; then the joint density of `(x_a, x_b)` per
/// `ξ`-pattern, one row per chosen snapshot.
pub fn draw_layer(
    out: &Path,
    title: &str,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
    layer: &Layer<'_>,
) -> anyhow::Result<()> {
    let size = (SIZE.0, layer_height(layer.joint.len()));
    save_png(out, size, |root| {
        root.fill(&WHITE)?;
        let body = titled(root, title)?;
        // The title band is whatever `titled` took; the time panels take up the difference
        // from LAYER_TITLE, so that the rows below have their heights.
        let below = size.1 - LAYER_TITLE - LAYER_TIME_ROW;
        let (time_row, rest) = body.split_vertically(body.dim_in_pixel().1.saturating_sub(below));
        let [cosine_area, norm_area, between_area]: [_; 3] = time_row
            .split_evenly((1, 3))
            .try_into()
            .map_err(|_| anyhow!("three panels expected"))?;
        draw_cosines(&cosine_area, trajectory, ode)?;
        draw_norm(&norm_area, trajectory, ode)?;
        draw_neuron_cosines(&between_area, trajectory, ode)?;
        if !layer.joint.is_empty() {
            let (density_row, joint_rows) = rest.split_vertically(LAYER_DENSITY_ROW);
            draw_densities(&density_row, &layer.marginals)?;
            let rows = joint_rows.split_evenly((layer.joint.len(), 1));
            for (snapshot, row) in layer.joint.iter().zip(&rows) {
                joint::draw_row(row, snapshot, layer.pair)?;
            }
        }
        Ok(())
    })
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

/// What one time panel shows: its caption and y axis, one name per column, whether `y = 0`
/// is kept in view (cosines), and whether its single curve is grey (one neuron's `R`).
struct Curves<'a> {
    title: &'a str,
    y_label: &'a str,
    names: Vec<String>,
    with_zero: bool,
    neutral: bool,
}

/// The cosines `m_j(t)` (one neuron) or `m_jk(t)` (a layer) of the run (solid) and of the
/// ODE (dashed, black).
fn draw_cosines(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let k = trajectory.neurons.max(1);
    let run = trajectory.cosine();
    let reference = ode.map(Trajectory::cosine);
    let columns = run.first().map_or(0, Vec::len);
    let curves = Curves {
        title: "cosine similarity to each feature",
        y_label: "cosine",
        names: (0..columns)
            .map(|i| format!("m{}", curve_subscript(i, k)))
            .collect(),
        with_zero: true,
        neutral: false,
    };
    curves_panel(
        area,
        &curves,
        (trajectory, &run),
        ode.zip(reference.as_ref()),
    )
}

/// The pairs `(k, l)`, `k ≤ l` (with the diagonal) or `k < l` (without), row by row.
fn neuron_pairs(neurons: usize, diagonal: bool) -> Vec<(usize, usize)> {
    let skip = usize::from(!diagonal);
    (0..neurons)
        .flat_map(|a| (a + skip..neurons).map(move |b| (a, b)))
        .collect()
}

/// `kl` as subscripts, 1-based.
fn pair_subscript((a, b): (usize, usize)) -> String {
    subscript(a + 1) + &subscript(b + 1)
}

/// The squared norm `R(t)` (one neuron) or the Gram matrix `R_kl(t)`, `k ≤ l` (a layer)
/// of the run (solid) and of the ODE (dashed, black).
fn draw_norm(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let k = trajectory.neurons.max(1);
    let pairs = neuron_pairs(k, true);
    let entries = |t: &Trajectory| -> Vec<Vec<f64>> {
        t.norm2
            .iter()
            .map(|r| pairs.iter().map(|&(a, b)| r[a * k + b]).collect())
            .collect()
    };
    let run = entries(trajectory);
    let reference = ode.map(entries);
    let curves = if k > 1 {
        Curves {
            title: "Gram matrix R(t)",
            y_label: "R",
            names: pairs
                .iter()
                .map(|&pair| format!("R{}", pair_subscript(pair)))
                .collect(),
            with_zero: false,
            neutral: false,
        }
    } else {
        Curves {
            title: "squared norm R(t)",
            y_label: "R",
            names: vec!["R".to_owned()],
            with_zero: false,
            neutral: true,
        }
    };
    curves_panel(
        area,
        &curves,
        (trajectory, &run),
        ode.zip(reference.as_ref()),
    )
}

/// The cosines between the neurons of a layer, `R_kl / √(R_kk R_ll)` for `k < l`, of the
/// run (solid) and of the ODE (dashed, black).
fn draw_neuron_cosines(
    area: &Area<'_>,
    trajectory: &Trajectory,
    ode: Option<&Trajectory>,
) -> anyhow::Result<()> {
    let k = trajectory.neurons;
    let pairs = neuron_pairs(k, false);
    let entries = |t: &Trajectory| -> Vec<Vec<f64>> {
        t.norm2
            .iter()
            .map(|r| {
                pairs
                    .iter()
                    .map(|&(a, b)| r[a * k + b] / (r[a * k + a] * r[b * k + b]).sqrt())
                    .collect()
            })
            .collect()
    };
    let run = entries(trajectory);
    let reference = ode.map(entries);
    let curves = Curves {
        title: "cosine between neurons",
        y_label: "cosine",
        names: pairs
            .iter()
            .map(|&(a, b)| {
                format!(
                    "R{}/√(R{}R{})",
                    pair_subscript((a, b)),
                    pair_subscript((a, a)),
                    pair_subscript((b, b))
                )
            })
            .collect(),
        with_zero: true,
        neutral: false,
    };
    curves_panel(
        area,
        &curves,
        (trajectory, &run),
        ode.zip(reference.as_ref()),
    )
}

/// One panel of time series: every column of `run` (solid, one colour each) and of the
/// ODE's (dashed, black), with the legend where it hides the fewest points.
fn curves_panel(
    area: &Area<'_>,
    curves: &Curves<'_>,
    (trajectory, run): (&Trajectory, &[Vec<f64>]),
    ode: Option<(&Trajectory, &Vec<Vec<f64>>)>,
) -> anyhow::Result<()> {
    let values = run
        .iter()
        .chain(ode.iter().flat_map(|(_, r)| r.iter()))
        .flatten()
        .copied();
    let x = time_range(trajectory);
    let y = if curves.with_zero {
        padded_range(values.chain([0.0]))
    } else {
        padded_range(values)
    };
    let series = std::iter::once((&trajectory.t, run)).chain(ode.map(|(o, r)| (&o.t, &r[..])));
    let points = series.flat_map(|(times, rows)| {
        times
            .iter()
            .zip(rows)
            .flat_map(|(&t, m)| m.iter().map(move |&v| (t, v)))
    });
    let corner = free_corner(points, &x, &y);
    let mut chart = chart(area, curves.title, x, y)?;
    mesh(&mut chart, "t", curves.y_label)?;
    for (i, name) in curves.names.iter().enumerate() {
        let color = if curves.neutral {
            RGBColor(90, 90, 90)
        } else {
            FEATURE_COLORS[i % FEATURE_COLORS.len()]
        };
        let points = trajectory.t.iter().zip(run).map(|(&t, m)| (t, m[i]));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(3)))?
            .label(format!("{name} (run)"))
            .legend(legend_line(color));
    }
    if let Some((ode, reference)) = ode {
        for i in 0..curves.names.len() {
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

/// One density panel: a caption and, per drawn snapshot, `(bin centre, density)` points.
struct Panel {
    caption: String,
    /// The quantity on the x axis: `x`, or `x_k` for one neuron of a layer.
    x_label: String,
    curves: Vec<Vec<(f64, f64)>>,
}

/// Up to [`MAX_SNAPSHOTS`] snapshots, evenly spread, first and last included.
pub fn chosen(snapshots: &[Snapshot]) -> Vec<&Snapshot> {
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

/// `ξ₁ = +1` or `ξ = (+1, −1)`: a pattern of atoms as a caption names it.
fn pattern_label(atom: &[f32]) -> String {
    match atom {
        [value] => format!("ξ₁ = {}", atom_label(*value)),
        _ => {
            let values: Vec<String> = atom.iter().map(|&v| atom_label(v)).collect();
            format!("ξ = ({})", values.join(", "))
        }
    }
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
                [_] => format!("density of x given {}", pattern_label(atom)),
                _ => format!("x given {}", pattern_label(atom)),
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
/// the first panel carries the legend. One neuron's panels share the density axis, so that
/// the patterns compare; a layer's neurons have each their own, as one may shrink to a
/// spike while another stays spread.
fn draw_densities(area: &Area<'_>, chosen: &[&Snapshot]) -> anyhow::Result<()> {
    let panels = panels(chosen);
    let highest = |panels: &[Panel]| {
        panels
            .iter()
            .flat_map(|p| p.curves.iter().flatten())
            .map(|&(_, d)| d)
            .fold(0.0, f64::max)
    };
    let shared = highest(&panels);
    let layer = chosen.first().is_some_and(|s| s.neurons > 1);
    let areas = area.split_evenly((1, panels.len().max(1)));
    for (index, (panel, area)) in panels.iter().zip(&areas).enumerate() {
        let y_max = if layer {
            highest(std::slice::from_ref(panel))
        } else {
            shared
        };
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
