//! The figures' shared chart module: the embedded font, colours, text sizes, axes, legends
//! and the checks on an output path. One file per figure beside it.

pub mod fractions;
pub mod portrait;
pub mod run;
pub mod sweep;

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use mfcl_checkpoint::{FileKind, identify, write_whole};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
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

// Text sizes, in pixels: title (at most; see [`titled`]), panel captions, axis
// descriptions, ticks and legends.
const TITLE: u32 = 30;
/// The smallest title size [`titled`] shrinks a long title to.
const MIN_TITLE: u32 = 20;
pub(crate) const CAPTION: u32 = 24;
/// The smallest caption size [`chart`] shrinks a long caption to.
const MIN_CAPTION: u32 = 16;
const LABEL: u32 = 20;
pub(crate) const TICKS: u32 = 17;

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

/// Margin around a chart, in pixels.
pub(crate) const CHART_MARGIN: u32 = 18;

/// A chart with the figure's fonts and a light grid; a caption too wide for the panel is
/// set smaller (see [`fitting_size`]).
pub(crate) fn chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    x: Range<f64>,
    y: Range<f64>,
) -> anyhow::Result<Chart<'a, 'b>> {
    let room = area.dim_in_pixel().0.saturating_sub(2 * CHART_MARGIN);
    let size = fitting_size(area, caption, room, (MIN_CAPTION, CAPTION))?;
    let chart = ChartBuilder::on(area)
        .caption(caption, (FAMILY, size))
        .margin(CHART_MARGIN)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    Ok(chart)
}

/// Axis descriptions, tick labels and a light grid.
pub(crate) fn mesh(chart: &mut Chart<'_, '_>, x: &str, y: &str) -> anyhow::Result<()> {
    // Plotters' default number of ticks.
    mesh_with_ticks(chart, (x, y), (11, 11))
}

/// [`mesh`] with at most `(x, y)` ticks on each axis: fewer for narrow panels, whose
/// labels would otherwise touch.
pub(crate) fn mesh_with_ticks(
    chart: &mut Chart<'_, '_>,
    (x, y): (&str, &str),
    (x_ticks, y_ticks): (usize, usize),
) -> anyhow::Result<()> {
    let (x_power, y_power) = (axis_power(&chart.x_range()), axis_power(&chart.y_range()));
    let (x_scale, y_scale) = (10f64.powi(-x_power), 10f64.powi(-y_power));
    chart
        .configure_mesh()
        .x_labels(x_ticks)
        .y_labels(y_ticks)
        .x_desc(with_power(x, x_power))
        .y_desc(with_power(y, y_power))
        .axis_desc_style((FAMILY, LABEL))
        .label_style((FAMILY, TICKS))
        .x_label_formatter(&|v| tick(v * x_scale))
        .y_label_formatter(&|v| tick(v * y_scale))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    Ok(())
}

/// The power of ten that the ticks of an axis over `range` are given in: 0 (plain numbers)
/// unless they would reach 10⁵, whose digits run into the axis description, or stay below
/// 10⁻³, where they are mostly zeros.
pub(crate) fn axis_power(range: &Range<f64>) -> i32 {
    let largest = range.start.abs().max(range.end.abs());
    if largest >= 1e5 || (largest > 0.0 && largest < 1e-3) {
        // A whole number well within i32 for any finite `largest`.
        largest.log10().floor() as i32
    } else {
        0
    }
}

/// An axis description with the power of ten of its ticks: `R (×10⁶)`.
pub(crate) fn with_power(description: &str, power: i32) -> String {
    if power == 0 {
        return description.to_owned();
    }
    let digits: String = power
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            d => char::from_u32(0x2070 + d.to_digit(10).unwrap_or(0)).unwrap_or(d),
        })
        .collect();
    format!("{description} (×10{digits})")
}

/// A tick label without trailing zeros: `2`, `0.98`, not `2.0`, `0.980`.
pub(crate) fn tick(value: f64) -> String {
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
        .legend_area_size(LEGEND_LINE + 10)
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

/// Dash and gap lengths, in pixels, of the dashed lines (the reduced ODE, `κ = 0`).
pub(crate) const DASH: (u32, u32) = (10, 6);

/// Length of the line that stands for a series in a legend: two dashes and the gap
/// between, so that a dashed series shows as dashed there too.
const LEGEND_LINE: i32 = (2 * DASH.0 + DASH.1) as i32;

/// The short line that stands for a series in a legend.
pub(crate) fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new([(x, y), (x + LEGEND_LINE, y)], color.stroke_width(3))
}

/// A dashed series, with the figure's dash and gap.
pub(crate) fn dashed_series<I>(points: I, style: ShapeStyle) -> DashedLineSeries<I::IntoIter, u32>
where
    I: IntoIterator<Item = (f64, f64)>,
    I::IntoIter: Clone,
{
    DashedLineSeries::new(points, DASH.0, DASH.1, style)
}

/// The legend symbol of a [`dashed_series`] drawn in `style`: the same dash and gap, so that
/// the legend shows what the plot shows.
pub(crate) fn legend_dash(
    style: ShapeStyle,
) -> impl Fn((i32, i32)) -> DashedPathElement<std::array::IntoIter<(i32, i32), 2>, u32> {
    move |(x, y)| DashedPathElement::new([(x, y), (x + LEGEND_LINE, y)], DASH.0, DASH.1, style)
}

/// `root` with `title` on top, in the title size or smaller where a long title (a long
/// file name, several notes) would not fit the width; below [`MIN_TITLE`] it is clipped.
pub(crate) fn titled<'b>(root: &Area<'b>, title: &str) -> anyhow::Result<Area<'b>> {
    // Some air on both sides.
    let room = root.dim_in_pixel().0 * 96 / 100;
    let size = fitting_size(root, title, room, (MIN_TITLE, TITLE))?;
    // Air above the title, which plotters sets flush with the top edge.
    Ok(root.margin(6, 0, 0, 0).titled(title, (FAMILY, size))?)
}

/// The largest text size from `largest` down to `smallest` at which `text` is at most
/// `room` pixels wide (`smallest` if none is).
fn fitting_size(
    area: &Area<'_>,
    text: &str,
    room: u32,
    (smallest, largest): (u32, u32),
) -> anyhow::Result<u32> {
    let mut size = largest;
    while size > smallest {
        let (width, _) = area.estimate_text_size(text, &(FAMILY, size).into_font().into())?;
        if width <= room {
            break;
        }
        size -= 1;
    }
    Ok(size)
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

/// Checks that the figure can be written at `path`, so that a command refuses before its
/// work (minutes, for basins and sweeps) rather than after it: the name ends in `.png`,
/// whatever is at `path` is a PNG image that mfcl may replace (DESIGN.md: commands write
/// only their own files, anything else is refused and left untouched), and the folder
/// exists or can be created (it is created) and takes new files. `flag` is the option that
/// named the path, for the messages.
pub(crate) fn check_writable(flag: &str, path: &Path) -> anyhow::Result<()> {
    ensure_png(flag, path)?;
    let name = path.display();
    let refuse = |why: String| anyhow!("{flag} {name}: {why}");
    match identify(path) {
        FileKind::Missing => {}
        // Opening for writing without truncating changes nothing but proves the permission.
        FileKind::Png => {
            OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| refuse(format!("cannot replace {name}: {}", io_words(&e))))?;
        }
        FileKind::Folder => return Err(refuse(format!("{name} is a folder"))),
        kind => {
            return Err(refuse(format!(
                "{name} exists and is {kind}, not a PNG image; refusing to replace it"
            )));
        }
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if let Err(error) = std::fs::create_dir_all(folder) {
        // A file where a folder should be: say which, not "File exists".
        return Err(
            match folder.ancestors().find(|a| a.exists() && !a.is_dir()) {
                Some(file) => refuse(format!("{} is a file, not a folder", file.display())),
                None => refuse(format!(
                    "cannot create the folder {}: {}",
                    folder.display(),
                    io_words(&error)
                )),
            },
        );
    }
    probe(folder, path).map_err(|error| {
        // The folder exists, so "not found" means that it takes no new names (/proc).
        let why = if error.kind() == ErrorKind::NotFound {
            "it takes no new files".to_owned()
        } else {
            io_words(&error)
        };
        refuse(format!("cannot write in {}: {why}", folder.display()))
    })
}

/// Creates and removes an empty file beside `path` in `folder`: whether the folder takes new
/// files, which its permission bits do not tell (root ignores them; read-only mounts, full
/// disks and file systems such as /proc do not show in them). The name carries the process
/// id, so that it is no one else's file.
fn probe(folder: &Path, path: &Path) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let probe = folder.join(format!(".{name}.{}.probe", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// An I/O error as a person says it: `permission denied`, not `Permission denied (os error
/// 13)`.
fn io_words(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// Checks the output again right before drawing, since a file may have appeared at the
/// path during the work, and registers the embedded font (registering it again replaces it
/// by itself, which is harmless).
pub(crate) fn prepare_output(flag: &str, path: &Path) -> anyhow::Result<()> {
    check_writable(flag, path)?;
    register_font(FAMILY, FontStyle::Normal, FONT)
        .map_err(|_| anyhow!("the embedded font is not a valid TrueType font"))
}

/// Draws a figure of `size` pixels with `draw` in memory, then writes it to `path` as a PNG
/// through a temporary ([`write_whole`]): a figure that fails to draw or to be written
/// leaves nothing behind, and whatever was at `path` stays as it was; a symbolic link at
/// `path` is replaced, its target untouched.
pub(crate) fn save_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut pixels = vec![0; 3 * size.0 as usize * size.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root)?;
        root.present()?;
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .context("cannot encode the PNG")?;
    write_whole(path, &png)
        .map_err(|error| anyhow!("cannot write {}: {}", path.display(), io_words(&error)))
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
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(0.98), "0.98");
        assert_eq!(tick(-0.0), "0");
        assert_eq!(tick(-0.5), "−0.5");
        assert_eq!(axis_power(&(0.0..3.15e6)), 6);
        assert_eq!(axis_power(&(-2e-4..1e-4)), -4);
        assert_eq!(axis_power(&(0.0..99_999.0)), 0);
        assert_eq!(axis_power(&(0.0..0.0)), 0);
        assert_eq!(with_power("R", 6), "R (×10⁶)");
        assert_eq!(with_power("error", -12), "error (×10⁻¹²)");
        assert_eq!(with_power("t", 0), "t");
    }

    #[test]
    fn the_embedded_font_is_valid() {
        assert!(register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    }

    /// Draws on a white canvas of `size` and returns which pixels came out dark.
    fn dark_pixels(size: (u32, u32), draw: impl FnOnce(&Area<'_>)) -> Vec<Vec<bool>> {
        let mut buffer = vec![255; 3 * (size.0 * size.1) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
            draw(&area);
            area.present().unwrap();
        }
        buffer
            .chunks(3 * size.0 as usize)
            .map(|row| row.chunks(3).map(|pixel| pixel[0] < 128).collect())
            .collect()
    }

    /// `(first, length)` of each run of dark pixels in `row`.
    fn dark_runs(row: &[bool]) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (x, _) in row.iter().enumerate().filter(|&(_, &dark)| dark) {
            match runs.last_mut() {
                Some((first, length)) if *first + *length == x => *length += 1,
                _ => runs.push((x, 1)),
            }
        }
        runs
    }

    #[test]
    fn a_dashed_series_shows_dashed_in_the_legend() {
        let dark = dark_pixels((40, 9), |area| {
            area.draw(&legend_dash(BLACK.stroke_width(1))((2, 4)))
                .unwrap();
        });
        let runs = dark_runs(&dark[4]);
        assert_eq!(runs.len(), 2, "two dashes: {runs:?}");
        let gap = runs[1].0 - (runs[0].0 + runs[0].1);
        // Both ends of a drawn segment are lit: one pixel more dash, one less gap.
        assert_eq!((runs[0].1, gap), (DASH.0 as usize + 1, DASH.1 as usize - 1));
    }

    #[test]
    fn a_long_title_is_shrunk_to_fit_the_width() {
        let title = "a title that is far too long for 400 pixels at 30";
        let dark = dark_pixels((400, 60), |area| {
            assert!(register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
            titled(area, title).unwrap();
        });
        let columns =
            |xs: std::ops::Range<usize>| dark.iter().any(|row| xs.clone().any(|x| row[x]));
        assert!(columns(0..400), "the title is drawn");
        assert!(!columns(0..4) && !columns(396..400), "and not clipped");
    }
}
