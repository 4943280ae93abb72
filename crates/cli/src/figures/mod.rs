//! The figures' shared chart module: the embedded font, colours, text sizes, axes, legends
//! and the checks on an output path. One file per figure beside it.

pub mod portrait;
pub mod run;
pub mod sweep;

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// DejaVu Sans cut down to Latin, Greek, sub- and superscripts and a few symbols (see
/// `assets/README.md`): text needs no system fonts, hence no fontconfig or freetype.
pub(crate) const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// The font family name under which [`FONT`] is registered.
pub(crate) const FAMILY: &str = "sans-serif";

/// One colour per feature (the "tab10" colours).
pub(crate) const FEATURE_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

/// One colour per drawn snapshot, dark to light with time: viridis from 0 to 0.85 (its last,
// Text sizes, in pixels: title, panel captions, axis descriptions, ticks and legends.
pub(crate) const TITLE: u32 = 30;
const CAPTION: u32 = 24;
const LABEL: u32 = 20;
const TICKS: u32 = 17;

/// A part of the figure.
pub(crate) type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;

/// A panel with plain `(f64, f64)` coordinates.
pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// `lo..hi` around `values` with 5% air on each side (a unit band around a constant).
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    // No finite value (lo = +∞), or a single one.
    if lo >= hi {
        let centre = if lo.is_finite() { lo } else { 0.0 };
        return centre - 0.5..centre + 0.5;
    }
    let air = 0.05 * (hi - lo);
    lo - air..hi + air
}

/// A chart with the figure's fonts and a light grid.
pub(crate) fn chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    x: Range<f64>,
    y: Range<f64>,
) -> anyhow::Result<Chart<'a, 'b>> {
    let chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, CAPTION))
        .margin(18)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    Ok(chart)
}

/// Axis descriptions, tick labels and a light grid.
pub(crate) fn mesh(chart: &mut Chart<'_, '_>, x: &str, y: &str) -> anyhow::Result<()> {
    chart
        .configure_mesh()
        .x_desc(x)
        .y_desc(y)
        .axis_desc_style((FAMILY, LABEL))
        .label_style((FAMILY, TICKS))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    Ok(())
}

/// A tick label without trailing zeros: `2`, `0.98`, not `2.0`, `0.980`.
fn tick(value: &f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.replace('-', "−")
    }
}

/// The legend box: white, framed, in the figure's font.
pub(crate) fn legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .label_font((FAMILY, TICKS))
        .draw()?;
    Ok(())
}

/// Where on the right of a time panel the legend covers the fewest points of the curves:
/// the top, bottom or middle third of `y`, counting the points in the last 30% of `x`
/// (ties go to the top, then the bottom).
pub(crate) fn free_corner(
    points: impl IntoIterator<Item = (f64, f64)>,
    x: &Range<f64>,
    y: &Range<f64>,
) -> SeriesLabelPosition {
    let right = x.start + 0.7 * (x.end - x.start);
    let mut counts = [0usize; 3]; // bottom, middle, top third
    for (_, value) in points.into_iter().filter(|&(t, _)| t >= right) {
        let third = 3.0 * (value - y.start) / (y.end - y.start);
        counts[(third.max(0.0) as usize).min(2)] += 1;
    }
    [
        (counts[2], SeriesLabelPosition::UpperRight),
        (counts[0], SeriesLabelPosition::LowerRight),
        (counts[1], SeriesLabelPosition::MiddleRight),
    ]
    .into_iter()
    .min_by_key(|&(count, _)| count)
    .map_or(SeriesLabelPosition::UpperRight, |(_, corner)| corner)
}

/// The short line that stands for a series in a legend.
pub(crate) fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
}

/// `j` as a subscript: `₁`, `₂`, ….
pub(crate) fn subscript(j: usize) -> String {
    j.to_string()
        .chars()
        .map(|d| char::from_u32(0x2080 + d.to_digit(10).unwrap_or(0)).unwrap_or(d))
        .collect()
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

/// Radius of fixed-point and sweep markers, in pixels.
pub(crate) const MARKER: i32 = 6;

/// Grey of undecided trajectories, fixed points that select no feature, and `R`.
pub(crate) const NEUTRAL: RGBColor = RGBColor(90, 90, 90);

/// A circle for a legend: filled for stable points, a ring for unstable ones.
pub(crate) fn legend_marker(style: ShapeStyle) -> impl Fn((i32, i32)) -> Circle<(i32, i32), i32> {
    move |(x, y)| Circle::new((x + 12, y), MARKER, style)
}

/// A legend entry that stands for no series of its own: `symbol` and `label`.
pub(crate) fn legend_entry<'a, 'b: 'a, E>(
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

/// A circle marker: where, how large (pixels), filled with what, ringed with what.
pub(crate) struct Marker {
    pub at: (f64, f64),
    pub radius: i32,
    pub fill: RGBColor,
    pub ring: RGBColor,
}

/// Circle markers: the fills first, then the rings on top.
pub(crate) fn draw_markers(chart: &mut Chart<'_, '_>, markers: &[Marker]) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_well() {
        assert_eq!(subscript(12), "₁₂");
        assert_eq!(tick(&2.0), "2");
        assert_eq!(tick(&0.98), "0.98");
        assert_eq!(tick(&-0.0), "0");
        assert_eq!(tick(&-0.5), "−0.5");
    }

    #[test]
    fn the_embedded_font_is_valid() {
        assert!(register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    }
}
