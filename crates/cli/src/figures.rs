//! Figures of `mfcl basins --plot` and `mfcl sweep --plot`, drawn with the fonts, colours and
//! chart helpers of `mfcl plot` (see `plot.rs`).

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use mfcl_comparator::{
    BasinSample, FixedPoint, FixedPointReport, ReducedOde, Selection, Tally, dominant_feature,
    rest_norm,
};
use mfcl_model::Config;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use rayon::prelude::*;

use crate::plot::{
    Area, Chart, FAMILY, FEATURE_COLORS, FONT, TITLE, chart, free_corner, legend, legend_line,
    mesh, padded_range, subscript,
};
use crate::sweep::{Sweep, SweepPoint};

/// Size of the phase portrait: wider than tall, so that a square plot leaves room on its
/// right for the legend.
const PORTRAIT_SIZE: (u32, u32) = (1350, 1050);

/// Size of the sweep figure: three panels side by side.
const SWEEP_SIZE: (u32, u32) = (1950, 700);

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

/// Radius of fixed-point and sweep markers, in pixels.
const MARKER: i32 = 6;

/// Light grey of the flow arrows.
const FLOW_COLOR: RGBColor = RGBColor(175, 175, 175);

/// Grey of undecided trajectories, fixed points that select no feature, and `R`.
const NEUTRAL: RGBColor = RGBColor(90, 90, 90);

/// Red of the marks at swept values without a result.
const FAILURE_COLOR: RGBColor = RGBColor(200, 0, 0);

/// The phase portrait of `(m_1, m_2)` for a two-feature problem: the flow where the norm is
/// at rest, the sample trajectories coloured by the feature they select, and the fixed
/// points (filled: stable, hollow: unstable) with their sign images.
pub fn phase_portrait(
    path: &Path,
    config: &Config,
    report: &FixedPointReport,
    samples: &[BasinSample],
) -> anyhow::Result<()> {
    ensure_png("--plot", path)?;
    let problem = &config.problem;
    if problem.features() != 2 {
        bail!(
            "the phase portrait of (m_1, m_2) needs 2 features, the problem has {}",
            problem.features()
        );
    }
    let arrows = flow_field(&ReducedOde::new(problem)?);
    prepare_output(path)?;
    draw_portrait(path, config, report, samples, &arrows)
        .with_context(|| format!("cannot draw {}", path.display()))
}

/// Steady-state cosines, norm and growth rates against the swept value, with a gap and a
/// red × where a value has no steady state, and hollow markers on unstable steady states.
pub fn sweep_figure(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    ensure_png("--plot", path)?;
    prepare_output(path)?;
    draw_sweep(path, sweep).with_context(|| format!("cannot draw {}", path.display()))
}

/// The image encoder picks the format from the extension, and only PNG is built in;
/// `flag` is the option that named the path, for the message.
pub(crate) fn ensure_png(flag: &str, path: &Path) -> anyhow::Result<()> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        Ok(())
    } else {
        bail!(
            "{flag} {}: the figure is a PNG, its name must end in .png",
            path.display()
        )
    }
}

/// Creates the folder of `path` and registers the embedded font (registering it again
/// replaces it by itself, which is harmless).
pub(crate) fn prepare_output(path: &Path) -> anyhow::Result<()> {
    if let Some(directory) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("cannot create the folder {}", directory.display()))?;
    }
    register_font(FAMILY, FontStyle::Normal, FONT)
        .map_err(|_| anyhow!("the embedded font is not a valid TrueType font"))
}

/// One flow arrow: where it starts and `dm/dt` there.
struct Arrow {
    base: (f64, f64),
    velocity: (f64, f64),
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
    let root = BitMapBackend::new(path, PORTRAIT_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("Phase portrait of (m₁, m₂): {}", hidden_laws(config));
    let body = root.titled(&title, (FAMILY, TITLE))?;
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
    let tally = Tally::new(2, samples.iter().map(|s| s.selection));
    draw_portrait_legend(&right, top, &tally, report)?;
    root.present()?;
    Ok(())
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
fn selection_color(selection: Selection) -> RGBColor {
    match selection {
        Selection::Feature(k) => FEATURE_COLORS[k % FEATURE_COLORS.len()],
        Selection::Undecided => NEUTRAL,
    }
}

/// The drawn trajectories in `(m_1, m_2)`, coloured by the feature they select.
fn draw_paths(chart: &mut Chart<'_, '_>, drawn: &[&BasinSample]) -> anyhow::Result<()> {
    for sample in drawn {
        let color = selection_color(sample.selection);
        let path = sample.path.cosine().into_iter().map(|m| (m[0], m[1]));
        chart.draw_series(LineSeries::new(path, color.mix(0.6).stroke_width(2)))?;
    }
    Ok(())
}

/// A circle marker: where, how large (pixels), filled with what, ringed with what.
struct Marker {
    at: (f64, f64),
    radius: i32,
    fill: RGBColor,
    ring: RGBColor,
}

/// Circle markers: the fills first, then the rings on top.
fn draw_markers(chart: &mut Chart<'_, '_>, markers: &[Marker]) -> anyhow::Result<()> {
    chart.draw_series(
        markers
            .iter()
            .map(|m| Circle::new(m.at, m.radius, m.fill.filled())),
    )?;
    chart.draw_series(
        markers
            .iter()
            .map(|m| Circle::new(m.at, m.radius, m.ring.stroke_width(2))),
    )?;
    Ok(())
}

/// A circle for a legend: filled for stable points, a ring for unstable ones.
fn legend_marker(style: ShapeStyle) -> impl Fn((i32, i32)) -> Circle<(i32, i32), i32> {
    move |(x, y)| Circle::new((x + 12, y), MARKER, style)
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
                selection_color(dominant_feature(&point.state.overlaps, point.state.norm2))
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
    let shares = tally
        .selected
        .iter()
        .enumerate()
        .map(|(k, &fraction)| (Selection::Feature(k), fraction))
        .chain([(Selection::Undecided, tally.undecided)]);
    for (selection, fraction) in shares.filter(|&(_, f)| f > 0.0) {
        let name = match selection {
            Selection::Feature(k) => format!("selects feature {}", k + 1),
            Selection::Undecided => "undecided".to_owned(),
        };
        let label = format!("{name}: {:.1}%", 100.0 * fraction);
        legend_entry(&mut panel, &label, legend_line(selection_color(selection)))?;
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

/// A legend entry that stands for no series of its own: `symbol` and `label`.
fn legend_entry<'a, 'b: 'a, E>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    symbol: impl Fn((i32, i32)) -> E + 'a,
) -> anyhow::Result<()>
where
    E: IntoDynElement<'a, BitMapBackend<'b>, (i32, i32)>,
{
    chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
        .label(label)
        .legend(symbol);
    Ok(())
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
    /// The swept values without a result, marked with a red × below the data, and the
    /// legend entry of these marks.
    missing: Vec<f64>,
    missing_label: &'static str,
}

/// The three panels side by side under the title.
fn draw_sweep(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, SWEEP_SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "Steady states from the initial condition, by {}",
        sweep.param
    );
    let body = root.titled(&title, (FAMILY, TITLE))?;
    let x = padded_range(sweep.points.iter().map(|p| p.value));
    let panels = [
        cosine_panel(sweep),
        norm_panel(sweep),
        growth_rate_panel(sweep),
    ];
    for (panel, area) in panels.iter().zip(&body.split_evenly((1, panels.len()))) {
        draw_sweep_panel(area, &x, &sweep.param, panel)?;
    }
    root.present()?;
    Ok(())
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

/// The steady cosines `m_j`, signed.
fn cosine_panel(sweep: &Sweep) -> SweepPanel {
    let curves = (0..sweep.features)
        .map(|j| Curve {
            label: format!("m{}", subscript(j + 1)),
            color: FEATURE_COLORS[j % FEATURE_COLORS.len()],
            marker: marker_radius(j, sweep.features),
            points: steady_points(sweep, |f| f.state.cosine()[j]),
        })
        .collect();
    SweepPanel {
        caption: "steady cosine to each feature",
        y_desc: "m = Q/√R",
        curves,
        zero_line: None,
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
            points: steady_points(sweep, |f| f.state.norm2),
        }],
        zero_line: None,
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
    let mut y = padded_range(points.iter().map(|&(_, y)| y).chain(zero));
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
        chart
            .draw_series(DashedLineSeries::new(
                [(x.start, 0.0), (x.end, 0.0)],
                10,
                6,
                BLACK.stroke_width(1),
            ))?
            .label(label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLACK.stroke_width(1)));
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
    use mfcl_comparator::ComparatorError;
    use mfcl_model::OrderParameters;

    use super::*;

    fn two_features() -> Config {
        Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap()
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
                state: OrderParameters {
                    overlaps: vec![m, 0.5 * m],
                    norm2: 1.0 + value,
                },
                eigenvalues: Vec::new(),
                stable,
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
