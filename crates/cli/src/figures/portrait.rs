//! The phase portrait of `mfcl basins --plot`: the flow of `(m_1, m_2)` where the norm is at
//! rest, the basin samples coloured by the feature they select, and the fixed points.

use std::path::Path;

use anyhow::{Context, bail};
use mfcl_comparator::{
    BasinSample, FixedPointReport, ReducedOde, Selection, Tally, dominant_feature, rest_norm,
};
use mfcl_model::Config;
use plotters::prelude::*;
use rayon::prelude::*;

use super::{
    Area, Chart, FEATURE_COLORS, MARKER, Marker, NEUTRAL, chart, draw_markers, legend,
    legend_entry, legend_line, legend_marker, mesh, prepare_output, save_png, subscript, titled,
};

/// One flow arrow: where it starts and `dm/dt` there.
struct Arrow {
    base: (f64, f64),
    velocity: (f64, f64),
}

/// Size of the phase portrait: wider than tall, so that a square plot leaves room on its
/// right for the legend.
const PORTRAIT_SIZE: (u32, u32) = (1350, 1050);

/// Both axes of the phase portrait run over `−PORTRAIT_HALF_WIDTH..PORTRAIT_HALF_WIDTH`.
const PORTRAIT_HALF_WIDTH: f64 = 1.06;

/// The flow is drawn on a `FLOW_GRID × FLOW_GRID` grid of the square around the disc of
/// radius [`FLOW_RADIUS`], at the grid points inside that disc.
const FLOW_GRID: usize = 17;
const FLOW_RADIUS: f64 = 0.98;

/// Length of the longest flow arrow, in units of `m`: a little over half the grid spacing,
/// so that neighbouring arrows do not touch.
const ARROW_LENGTH: f64 = 0.075;

/// At most this many sample trajectories are drawn, evenly chosen, so that the flow and
/// the fixed points stay visible.
const MAX_PATHS: usize = 200;

/// Light grey of the flow arrows.
const FLOW_COLOR: RGBColor = RGBColor(175, 175, 175);

/// The phase portrait of `(m_1, m_2)` for a two-feature problem: the flow where the norm is
/// at rest, the sample trajectories coloured by the feature they select, and the fixed
/// points (filled: stable, hollow: unstable) with their sign images.
pub fn phase_portrait(
    path: &Path,
    config: &Config,
    report: &FixedPointReport,
    samples: &[BasinSample],
) -> anyhow::Result<()> {
    let problem = &config.problem;
    if problem.features() != 2 {
        bail!(
            "the phase portrait of (m_1, m_2) needs 2 features, the problem has {}",
            problem.features()
        );
    }
    prepare_output("--plot", path)?;
    let arrows = flow_field(&ReducedOde::new(problem)?);
    draw_portrait(path, config, report, samples, &arrows)
        .with_context(|| format!("cannot draw {}", path.display()))
}

/// `dm/dt` at the grid points of the disc of radius [`FLOW_RADIUS`] that have a norm at rest.
fn flow_field(ode: &ReducedOde) -> Vec<Arrow> {
    let step = 2.0 * FLOW_RADIUS / (FLOW_GRID - 1) as f64;
    let coordinate = |k: usize| -FLOW_RADIUS + k as f64 * step;
    let grid: Vec<(f64, f64)> = (0..FLOW_GRID)
        .flat_map(|a| (0..FLOW_GRID).map(move |b| (coordinate(a), coordinate(b))))
        // The tolerance keeps the points that lie on the circle up to rounding.
        .filter(|(x, y)| x * x + y * y <= FLOW_RADIUS * FLOW_RADIUS * (1.0 + 1e-12))
        .collect();
    grid.par_iter().filter_map(|&m| flow_at(ode, m)).collect()
}

/// The ODE's right-hand side at the cosines `m` and the squared norm `r`.
fn rhs_at(ode: &ReducedOde, m: (f64, f64), r: f64) -> [f64; 3] {
    let root = r.sqrt();
    let mut derivative = [0.0; 3];
    ode.rhs(&[m.0 * root, m.1 * root, r], &mut derivative);
    derivative
}

/// `dm/dt` at `m` with `R` at rest, or `None` where the norm has no rest in the scanned range.
fn flow_at(ode: &ReducedOde, m: (f64, f64)) -> Option<Arrow> {
    let r = rest_norm(ode, &[m.0, m.1])?;
    let [dq1, dq2, dr] = rhs_at(ode, m, r);
    // dm_j/dt = (dQ_j/dt)/√R − Q_j (dR/dt)/(2 R^{3/2}) with Q_j = m_j √R; the second term
    // is only the root's residual, kept so that the formula is the exact one.
    let root = r.sqrt();
    let velocity = (
        dq1 / root - m.0 * dr / (2.0 * r),
        dq2 / root - m.1 * dr / (2.0 * r),
    );
    (velocity.0.is_finite() && velocity.1.is_finite()).then_some(Arrow { base: m, velocity })
}

/// `c₁ = 2 × rademacher, c₂ = 2 × sparse:0.6`.
fn hidden_laws(config: &Config) -> String {
    let laws: Vec<String> = config
        .problem
        .hidden
        .iter()
        .enumerate()
        .map(|(j, law)| {
            format!(
                "c{} = {} × {}",
                subscript(j + 1),
                law.scale,
                law.shape.name()
            )
        })
        .collect();
    laws.join(", ")
}

/// The whole phase portrait: a square chart of the unit disc, its legend on the right.
fn draw_portrait(
    path: &Path,
    config: &Config,
    report: &FixedPointReport,
    samples: &[BasinSample],
    arrows: &[Arrow],
) -> anyhow::Result<()> {
    save_png(path, PORTRAIT_SIZE, |root| {
        root.fill(&WHITE)?;
        let title = format!("Phase portrait of (m₁, m₂): {}", hidden_laws(config));
        let body = titled(root, &title)?;
        let drawn = chosen(samples);
        let caption = if drawn.len() < samples.len() {
            format!(
                "{} starts, {} drawn; arrows: the flow where dR/dt = 0",
                samples.len(),
                drawn.len()
            )
        } else {
            format!("{} starts; arrows: the flow where dR/dt = 0", samples.len())
        };
        let (left, right) = body.split_horizontally(square_width(body.dim_in_pixel(), &caption)?);
        let axis = -PORTRAIT_HALF_WIDTH..PORTRAIT_HALF_WIDTH;
        let mut chart = chart(&left, &caption, axis.clone(), axis)?;
        mesh(&mut chart, "m₁", "m₂")?;
        draw_unit_circle(&mut chart)?;
        draw_arrows(&mut chart, arrows)?;
        draw_paths(&mut chart, &drawn)?;
        draw_fixed_points(&mut chart, config, report)?;
        // The legend's top is level with the plot's.
        let top = chart.plotting_area().get_base_pixel().1 - right.get_base_pixel().1;
        let tally = Tally::new(samples.iter().map(|s| s.selection.clone()));
        draw_portrait_legend(&right, top, &tally, report)?;
        Ok(())
    })
}

/// The width of an area of `size` on which [`chart`] has a square plotting area. The
/// chart's margins, label areas and caption are measured on a scratch canvas of that size,
/// since building a chart draws its caption.
fn square_width(size: (u32, u32), caption: &str) -> anyhow::Result<u32> {
    let mut scratch = vec![0; 3 * size.0 as usize * size.1 as usize];
    let probe = BitMapBackend::with_buffer(&mut scratch, size).into_drawing_area();
    let (width, height) = chart(&probe, caption, 0.0..1.0, 0.0..1.0)?
        .plotting_area()
        .dim_in_pixel();
    Ok(size.0 - width.saturating_sub(height))
}

/// Up to [`MAX_PATHS`] samples, evenly spread over all of them.
fn chosen(samples: &[BasinSample]) -> Vec<&BasinSample> {
    let count = samples.len();
    let drawn = count.min(MAX_PATHS);
    (0..drawn).map(|k| &samples[k * count / drawn]).collect()
}

/// The boundary of the reachable set `|m| ≤ 1`.
fn draw_unit_circle(chart: &mut Chart<'_, '_>) -> anyhow::Result<()> {
    let circle = (0..=360).map(|degree| {
        let angle = f64::from(degree).to_radians();
        (angle.cos(), angle.sin())
    });
    chart.draw_series(LineSeries::new(circle, BLACK.stroke_width(1)))?;
    Ok(())
}

/// The flow as arrows from the grid points, with length growing like the fourth root of
/// the speed so that slow regions (around fixed points) still show a direction.
fn draw_arrows(chart: &mut Chart<'_, '_>, arrows: &[Arrow]) -> anyhow::Result<()> {
    let speed = |a: &Arrow| a.velocity.0.hypot(a.velocity.1);
    let fastest = arrows.iter().map(speed).fold(0.0, f64::max);
    let style = FLOW_COLOR.stroke_width(2);
    let mut elements = Vec::new();
    for arrow in arrows.iter().filter(|a| speed(a) > 0.0) {
        let length = ARROW_LENGTH * (speed(arrow) / fastest).powf(0.25);
        elements.extend(arrow_lines(arrow, length));
    }
    chart.draw_series(
        elements
            .into_iter()
            .map(|line| PathElement::new(line, style)),
    )?;
    Ok(())
}

/// The shaft and the two strokes of the head of one arrow of `length`.
fn arrow_lines(arrow: &Arrow, length: f64) -> [Vec<(f64, f64)>; 3] {
    let (x, y) = arrow.base;
    let speed = arrow.velocity.0.hypot(arrow.velocity.1);
    let (ux, uy) = (arrow.velocity.0 / speed, arrow.velocity.1 / speed);
    let tip = (x + length * ux, y + length * uy);
    // The head's strokes point back from the tip at ±25° from the shaft.
    let head = 0.35 * length;
    let (sin, cos) = 25f64.to_radians().sin_cos();
    let stroke = |s: f64| {
        let (bx, by) = (-ux * cos - s * uy * sin, -uy * cos + s * ux * sin);
        vec![tip, (tip.0 + head * bx, tip.1 + head * by)]
    };
    [vec![(x, y), tip], stroke(1.0), stroke(-1.0)]
}

/// The colour of feature `k`, or grey for none.
fn selection_color(selection: &Selection) -> RGBColor {
    selection
        .single_feature()
        .map_or(NEUTRAL, |k| FEATURE_COLORS[k % FEATURE_COLORS.len()])
}

/// The drawn trajectories in `(m_1, m_2)`, coloured by the feature they select.
fn draw_paths(chart: &mut Chart<'_, '_>, drawn: &[&BasinSample]) -> anyhow::Result<()> {
    for sample in drawn {
        let color = selection_color(&sample.selection);
        let path = sample.path.cosine().into_iter().map(|m| (m[0], m[1]));
        chart.draw_series(LineSeries::new(path, color.mix(0.6).stroke_width(2)))?;
    }
    Ok(())
}

/// `m` and, for each feature whose hidden law is symmetric, its image with `m_j → −m_j`:
/// the report lists one point per orbit of the sign symmetries.
fn sign_images(config: &Config, m: &[f64]) -> Vec<(f64, f64)> {
    let signs = |j: usize| -> &[f64] {
        if config.problem.hidden[j].shape.is_symmetric() && m[j] != 0.0 {
            &[1.0, -1.0]
        } else {
            &[1.0]
        }
    };
    signs(0)
        .iter()
        .flat_map(|s0| signs(1).iter().map(move |s1| (s0 * m[0], s1 * m[1])))
        .collect()
}

/// The fixed points and their sign images: stable ones filled with the colour of the
/// feature they select, unstable ones hollow.
fn draw_fixed_points(
    chart: &mut Chart<'_, '_>,
    config: &Config,
    report: &FixedPointReport,
) -> anyhow::Result<()> {
    let markers: Vec<Marker> = report
        .fixed_points
        .iter()
        .flat_map(|point| {
            let fill = if point.stable {
                selection_color(&dominant_feature(
                    &point.state.overlaps,
                    point.state.norm2[0],
                ))
            } else {
                WHITE
            };
            sign_images(config, &point.state.cosine())
                .into_iter()
                .map(move |at| Marker {
                    at,
                    radius: MARKER,
                    fill,
                    ring: BLACK,
                })
        })
        .collect();
    draw_markers(chart, &markers)
}

/// The legend of the phase portrait, on its own panel right of the plot, `top` pixels
/// down (plotters keeps a chart's legend inside its plotting area, which the disc fills):
/// the flow, the fraction of all samples (not only the drawn ones) that select each
/// feature, and the kinds of fixed points.
fn draw_portrait_legend(
    area: &Area<'_>,
    top: i32,
    tally: &Tally,
    report: &FixedPointReport,
) -> anyhow::Result<()> {
    let mut panel = ChartBuilder::on(area).build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    let arrow = FLOW_COLOR.stroke_width(2);
    legend_entry(&mut panel, "flow of m where dR/dt = 0", move |(x, y)| {
        let points = [
            (x, y),
            (x + 22, y),
            (x + 16, y - 5),
            (x + 22, y),
            (x + 16, y + 5),
        ];
        PathElement::new(points, arrow)
    })?;
    let shares = (0..2)
        .map(|k| {
            (
                Selection::feature(k),
                tally.fraction(&Selection::feature(k)),
            )
        })
        .chain([(Selection::Undecided, tally.undecided)]);
    for (selection, fraction) in shares.filter(|(_, f)| f.count > 0) {
        let name = match selection.single_feature() {
            Some(k) => format!("selects feature {}", k + 1),
            None => "undecided".to_owned(),
        };
        let label = format!("{name}: {:.1}%", 100.0 * fraction.value);
        legend_entry(&mut panel, &label, legend_line(selection_color(&selection)))?;
    }
    for (stable, name, style) in [
        (true, "stable fixed point", NEUTRAL.filled()),
        (false, "unstable fixed point", BLACK.stroke_width(2)),
    ] {
        if report.fixed_points.iter().any(|p| p.stable == stable) {
            legend_entry(&mut panel, name, legend_marker(style))?;
        }
    }
    legend(&mut panel, SeriesLabelPosition::Coordinate(10, top))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_features() -> Config {
        Config::parse(include_str!("../../../../data/configs/two_features.toml")).unwrap()
    }

    #[test]
    fn the_flow_carries_a_small_cosine_towards_its_feature() {
        let config = two_features();
        let ode = ReducedOde::new(&config.problem).unwrap();
        // Both features are learnable: m_1 grows on the m_1 axis, and m_2 stays 0.
        let arrow = flow_at(&ode, (0.3, 0.0)).unwrap();
        assert!(arrow.velocity.0 > 0.0);
        assert!(arrow.velocity.1.abs() < 1e-12);
    }
}
