//! The figure of `mfcl sweep --plot`: steady-state cosines, norm (one neuron) or
//! neuron–neuron cosines and stability (a layer), and growth rates against the swept value.

use std::ops::Range;
use std::path::Path;

use anyhow::Context;
use mfcl_comparator::{ComparatorError, FixedPoint};
use plotters::prelude::*;

use crate::output::neuron_cosines;

use super::{
    Area, Chart, FEATURE_COLORS, MARKER, Marker, NEUTRAL, chart, dashed_series, draw_markers,
    free_corner, legend, legend_dash, legend_entry, legend_line, legend_marker, mesh, padded_range,
    prepare_output, save_png, subscript, titled,
};

/// One value of the swept key and what the ODE reached there.
pub struct SweepPoint {
    /// The value of the key.
    pub value: f64,
    /// The polished steady state, or why there is none.
    pub steady: Result<FixedPoint, ComparatorError>,
    /// The growth rates `κ_j` at the uninformative state, where it has a steady norm.
    pub growth_rates: Option<Vec<f64>>,
}

/// A whole sweep, in the order of the values.
pub struct Sweep {
    /// The dotted config key.
    pub param: String,
    /// Number of features `p`.
    pub features: usize,
    /// Number of neurons `K`.
    pub neurons: usize,
    /// One entry per value.
    pub points: Vec<SweepPoint>,
}

/// Size of a single neuron's sweep figure: three panels side by side.
const SWEEP_SIZE: (u32, u32) = (1950, 700);
/// Size of a layer's sweep figure: four panels, two by two.
const LAYER_SWEEP_SIZE: (u32, u32) = (1600, 1300);

/// Red of the marks at swept values without a result.
const FAILURE_COLOR: RGBColor = RGBColor(200, 0, 0);

/// Steady-state cosines, norm and growth rates against the swept value, with a gap and a
/// red × where a value has no steady state, and hollow markers on unstable steady states.
pub fn sweep_figure(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    prepare_output("--plot", path)?;
    draw_sweep(path, sweep).with_context(|| format!("cannot draw {}", path.display()))
}

/// One curve of a sweep panel: per swept value, the point and whether it is stable, or
/// `None` where there is nothing to show (a gap in the line).
struct Curve {
    label: String,
    color: RGBColor,
    /// Marker radius in pixels: earlier curves get larger markers, so that equal values of
    /// several features (say equal growth rates) show as rings around each other.
    marker: i32,
    points: Vec<(f64, Option<(f64, bool)>)>,
}

/// One sweep panel.
struct SweepPanel {
    caption: &'static str,
    y_desc: &'static str,
    curves: Vec<Curve>,
    /// A dashed line at `y = 0`, with this legend entry.
    zero_line: Option<&'static str>,
    /// Values the `y` axis covers whatever the data: a bounded quantity on its whole range,
    /// so that rounding residues around a constant are not blown up to fill the panel.
    covers: &'static [f64],
    /// The swept values without a result, marked with a red × below the data, and the
    /// legend entry of these marks.
    missing: Vec<f64>,
    missing_label: &'static str,
}

/// The panels under the title: for one neuron the cosines, the norm and the growth rates
/// side by side; for a layer the cosines `m_jk`, the neuron–neuron cosines, the largest
/// real part of the eigenvalues at the steady state and the growth rates, two by two.
fn draw_sweep(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    let (size, panels, grid) = if sweep.neurons <= 1 {
        let panels = vec![
            cosine_panel(sweep),
            norm_panel(sweep),
            growth_rate_panel(sweep),
        ];
        (SWEEP_SIZE, panels, (1, 3))
    } else {
        let panels = vec![
            cosine_panel(sweep),
            neuron_cosine_panel(sweep),
            eigenvalue_panel(sweep),
            growth_rate_panel(sweep),
        ];
        (LAYER_SWEEP_SIZE, panels, (2, 2))
    };
    save_png(path, size, |root| {
        root.fill(&WHITE)?;
        let title = format!(
            "Steady states from the initial condition, by {}",
            sweep.param
        );
        let body = titled(root, &title)?;
        let x = padded_range(sweep.points.iter().map(|p| p.value));
        for (panel, area) in panels.iter().zip(&body.split_evenly(grid)) {
            draw_sweep_panel(area, &x, &sweep.param, panel)?;
        }
        Ok(())
    })
}

/// The swept values whose steady state failed.
fn no_steady_state(sweep: &Sweep) -> Vec<f64> {
    sweep
        .points
        .iter()
        .filter(|p| p.steady.is_err())
        .map(|p| p.value)
        .collect()
}

/// `value(steady state)` and its stability at every swept value that has a steady state.
fn steady_points(
    sweep: &Sweep,
    value: impl Fn(&FixedPoint) -> f64,
) -> Vec<(f64, Option<(f64, bool)>)> {
    sweep
        .points
        .iter()
        .map(|p| {
            (
                p.value,
                p.steady.as_ref().ok().map(|f| (value(f), f.stable)),
            )
        })
        .collect()
}

/// The steady cosines, signed: `m_j` for one neuron, `m_jk` (feature `j`, neuron `k`), one
/// curve per pair, for a layer.
fn cosine_panel(sweep: &Sweep) -> SweepPanel {
    let k = sweep.neurons.max(1);
    let count = sweep.features * k;
    let curves = (0..count)
        .map(|i| {
            let (j, a) = (i / k, i % k);
            let label = if k == 1 {
                format!("m{}", subscript(j + 1))
            } else {
                format!("m{}{}", subscript(j + 1), subscript(a + 1))
            };
            Curve {
                label,
                color: FEATURE_COLORS[i % FEATURE_COLORS.len()],
                marker: marker_radius(i, count),
                points: steady_points(sweep, |f| f.state.cosine()[i]),
            }
        })
        .collect();
    let (caption, y_desc) = if k == 1 {
        ("steady cosine to each feature", "m = Q/√R")
    } else {
        // The legend names the pairs: the font has subscript digits only.
        ("steady cosine of each neuron to each feature", "m = Q/√R")
    };
    SweepPanel {
        caption,
        y_desc,
        curves,
        zero_line: None,
        covers: &[],
        missing: no_steady_state(sweep),
        missing_label: "no steady state",
    }
}

/// A layer's steady neuron–neuron cosines `R_kl / √(R_kk R_ll)`, one curve per pair
/// `k < l`: 0 for neurons on distinct features, ±1 for neurons that coincide.
fn neuron_cosine_panel(sweep: &Sweep) -> SweepPanel {
    let k = sweep.neurons;
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let curves = pairs
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| Curve {
            label: format!("cos(w{}, w{})", subscript(a + 1), subscript(b + 1)),
            color: if pairs.len() == 1 {
                NEUTRAL
            } else {
                FEATURE_COLORS[i % FEATURE_COLORS.len()]
            },
            marker: marker_radius(i, pairs.len()),
            points: steady_points(sweep, |f| neuron_cosines(&f.state)[a * k + b]),
        })
        .collect();
    SweepPanel {
        caption: "steady cosine between neurons",
        // The legend names the pairs: the font has subscript digits only.
        y_desc: "cosine between neurons",
        curves,
        zero_line: None,
        covers: &[-1.0, 1.0],
        missing: no_steady_state(sweep),
        missing_label: "no steady state",
    }
}

/// The largest real part of the eigenvalues of the Jacobian at the steady state: the
/// steady state is stable where it is negative.
fn eigenvalue_panel(sweep: &Sweep) -> SweepPanel {
    let largest = |f: &FixedPoint| f.eigenvalues.first().map_or(f64::NAN, |e| e.0);
    SweepPanel {
        caption: "stability of the steady state",
        y_desc: "largest Re λ of the Jacobian",
        curves: vec![Curve {
            label: "max Re λ".into(),
            color: NEUTRAL,
            marker: MARKER,
            points: steady_points(sweep, largest),
        }],
        zero_line: Some("Re λ = 0: stable below"),
        covers: &[],
        missing: no_steady_state(sweep),
        missing_label: "no steady state",
    }
}

/// The steady squared norm `R`.
fn norm_panel(sweep: &Sweep) -> SweepPanel {
    SweepPanel {
        caption: "steady squared norm",
        y_desc: "R",
        curves: vec![Curve {
            label: "R".into(),
            color: NEUTRAL,
            marker: MARKER,
            points: steady_points(sweep, |f| f.state.norm2[0]),
        }],
        zero_line: None,
        covers: &[],
        missing: no_steady_state(sweep),
        missing_label: "no steady state",
    }
}

/// The growth rates `κ_j` at the uninformative state, which do not depend on the steady
/// state; a value without an uninformative state has none.
fn growth_rate_panel(sweep: &Sweep) -> SweepPanel {
    let rates = |p: &SweepPoint, j: usize| p.growth_rates.as_ref().map(|k| (k[j], true));
    let curves = (0..sweep.features)
        .map(|j| Curve {
            label: format!("κ{}", subscript(j + 1)),
            color: FEATURE_COLORS[j % FEATURE_COLORS.len()],
            marker: marker_radius(j, sweep.features),
            points: sweep
                .points
                .iter()
                .map(|p| (p.value, rates(p, j)))
                .collect(),
        })
        .collect();
    SweepPanel {
        caption: "growth rate at the uninformative state",
        y_desc: "κ",
        curves,
        zero_line: Some("κ = 0: learnable above"),
        covers: &[],
        missing: sweep
            .points
            .iter()
            .filter(|p| p.growth_rates.is_none())
            .map(|p| p.value)
            .collect(),
        missing_label: "no uninformative state",
    }
}

/// [`MARKER`] for the last of `count` curves, two pixels more for each earlier one (up to
/// three steps).
fn marker_radius(j: usize, count: usize) -> i32 {
    MARKER + 2 * (count - 1 - j).min(3) as i32
}

/// The runs of consecutive points of a curve, split where a value has no point.
fn runs(points: &[(f64, Option<(f64, bool)>)]) -> Vec<Vec<(f64, f64)>> {
    points
        .split(|(_, point)| point.is_none())
        .map(|run| {
            run.iter()
                .filter_map(|&(x, point)| point.map(|(y, _)| (x, y)))
                .collect()
        })
        .filter(|run: &Vec<_>| !run.is_empty())
        .collect()
}

/// One sweep panel: lines with gaps, filled (stable) or hollow (unstable) markers, the
/// zero line, and the marks of missing values in a band below the data.
fn draw_sweep_panel(
    area: &Area<'_>,
    x: &Range<f64>,
    x_desc: &str,
    panel: &SweepPanel,
) -> anyhow::Result<()> {
    let points: Vec<(f64, f64)> = panel
        .curves
        .iter()
        .flat_map(|c| c.points.iter().filter_map(|&(x, p)| p.map(|(y, _)| (x, y))))
        .collect();
    let zero = panel.zero_line.map(|_| 0.0);
    let covered = panel.covers.iter().copied();
    let mut y = padded_range(points.iter().map(|&(_, y)| y).chain(zero).chain(covered));
    let band = 0.08 * (y.end - y.start);
    if !panel.missing.is_empty() {
        y.start -= band;
    }
    // The zero line counts as data at the right edge, where the legend would go.
    let zero_end = zero.map(|z| (x.end, z));
    let corner = free_corner(points.iter().copied().chain(zero_end), x, &y);
    let mut chart = chart(area, panel.caption, x.clone(), y.clone())?;
    mesh(&mut chart, x_desc, panel.y_desc)?;
    if let Some(label) = panel.zero_line {
        let style = BLACK.stroke_width(1);
        chart
            .draw_series(dashed_series([(x.start, 0.0), (x.end, 0.0)], style))?
            .label(label)
            .legend(legend_dash(style));
    }
    for curve in &panel.curves {
        draw_curve(&mut chart, curve)?;
    }
    let unstable = panel
        .curves
        .iter()
        .flat_map(|c| &c.points)
        .any(|&(_, p)| p.is_some_and(|(_, stable)| !stable));
    if unstable {
        let ring = legend_marker(NEUTRAL.stroke_width(2));
        legend_entry(&mut chart, "unstable steady state", ring)?;
    }
    if !panel.missing.is_empty() {
        let at = y.start + 0.5 * band;
        chart
            .draw_series(panel.missing.iter().map(|&v| failure_mark((v, at))))?
            .label(panel.missing_label)
            .legend(|(x, y)| failure_mark((x + 12, y)));
    }
    legend(&mut chart, corner)
}

/// The red × of a swept value without a result.
fn failure_mark<C>(at: C) -> Cross<C, i32> {
    Cross::new(at, MARKER, FAILURE_COLOR.stroke_width(2))
}

/// A curve's line, with gaps, and its markers.
fn draw_curve(chart: &mut Chart<'_, '_>, curve: &Curve) -> anyhow::Result<()> {
    let style = curve.color.stroke_width(2);
    chart
        .draw_series(
            runs(&curve.points)
                .into_iter()
                .map(|r| PathElement::new(r, style)),
        )?
        .label(&curve.label)
        .legend(legend_line(curve.color));
    let markers: Vec<Marker> = curve
        .points
        .iter()
        .filter_map(|&(x, p)| p.map(|(y, stable)| (x, y, stable)))
        .map(|(x, y, stable)| Marker {
            at: (x, y),
            radius: curve.marker,
            fill: if stable { curve.color } else { WHITE },
            ring: curve.color,
        })
        .collect();
    draw_markers(chart, &markers)
}

#[cfg(test)]
mod tests {
    use mfcl_model::OrderParameters;

    use super::*;

    #[test]
    fn curves_break_where_a_value_has_no_point() {
        let points = [
            (0.0, Some((1.0, true))),
            (1.0, None),
            (2.0, Some((2.0, true))),
            (3.0, Some((3.0, false))),
            (4.0, None),
        ];
        assert_eq!(
            runs(&points),
            [vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]
        );
    }

    #[test]
    fn figures_are_pngs() {
        let sweep = Sweep {
            param: "train.learning_rate".into(),
            features: 1,
            neurons: 1,
            points: Vec::new(),
        };
        let error = sweep_figure(Path::new("sweep.svg"), &sweep).unwrap_err();
        assert!(error.to_string().contains("must end in .png"), "{error}");
    }

    #[test]
    fn a_sweep_with_failures_and_unstable_states_is_drawn() {
        let point = |value: f64, m: f64, stable: bool| SweepPoint {
            value,
            steady: Ok(FixedPoint {
                state: OrderParameters::single(vec![m, 0.5 * m], 1.0 + value),
                eigenvalues: Vec::new(),
                stable,
                learned: vec![Some(0)],
            }),
            growth_rates: Some(vec![1.0 - value, 0.5 - value]),
        };
        let failed = SweepPoint {
            value: 0.5,
            steady: Err(ComparatorError::NotConverged {
                t: 1e4,
                reason: "still moving".into(),
            }),
            growth_rates: None,
        };
        let sweep = Sweep {
            param: "model.noise.augment".into(),
            features: 2,
            neurons: 1,
            points: vec![
                point(0.0, 0.9, true),
                point(0.25, 0.8, true),
                failed,
                point(0.75, 0.4, false),
                point(1.0, 0.0, true),
            ],
        };
        let path = std::env::temp_dir()
            .join(format!("mfcl-figures-{}", std::process::id()))
            .join("sweep.png");
        sweep_figure(&path, &sweep).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
