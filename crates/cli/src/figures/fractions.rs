//! The figure of `mfcl basins --param KEY --values A:B:K --plot`: fractions of starts
//! against the scanned value, with their Wilson intervals, and the values where the state
//! of coinciding neurons changes stability.

use std::path::Path;

use anyhow::Context;
use mfcl_comparator::{CONFIDENCE, Fraction};
use plotters::prelude::*;

use super::{
    Chart, FEATURE_COLORS, MARKER, Marker, NEUTRAL, chart, dashed_series, draw_markers,
    free_corner, legend, legend_dash, legend_line, mesh, padded_range, prepare_output, save_png,
    titled,
};

/// One scanned value and a fraction there.
pub struct FractionPoint {
    /// The value of the key.
    pub value: f64,
    /// The fraction of starts.
    pub fraction: Fraction,
}

/// One curve: a legend label and a point per scanned value.
pub struct FractionCurve {
    /// The legend entry.
    pub label: String,
    /// In the order of the values.
    pub points: Vec<FractionPoint>,
}

/// Everything the figure shows.
pub struct FractionPlot {
    /// The figure's title.
    pub title: String,
    /// The dotted config key on the x axis.
    pub param: String,
    /// The curves.
    pub curves: Vec<FractionCurve>,
    /// Vertical dashed lines: a legend label and the value.
    pub thresholds: Vec<(String, f64)>,
}

/// Size of the figure.
const SIZE: (u32, u32) = (1300, 800);

/// Half the width of an error bar's caps, in pixels.
const CAP: i32 = 6;

/// The fractions against the scanned value, each point with its [`CONFIDENCE`] Wilson
/// interval as an error bar, and a dashed vertical line per threshold.
pub fn fractions_figure(path: &Path, plot: &FractionPlot) -> anyhow::Result<()> {
    prepare_output("--plot", path)?;
    draw(path, plot).with_context(|| format!("cannot draw {}", path.display()))
}

fn draw(path: &Path, plot: &FractionPlot) -> anyhow::Result<()> {
    save_png(path, SIZE, |root| {
        root.fill(&WHITE)?;
        let body = titled(root, &plot.title)?;
        let x = padded_range(
            plot.curves
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.value))
                .chain(plot.thresholds.iter().map(|&(_, v)| v)),
        );
        let y = -0.02..1.1;
        let points: Vec<(f64, f64)> = plot
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| (p.value, p.fraction.value)))
            .collect();
        let corner = free_corner(points, &x, &y);
        let caption = format!(
            "fraction of starts; error bars: {:.0}% Wilson intervals",
            100.0 * CONFIDENCE
        );
        let mut chart = chart(&body, &caption, x, y.clone())?;
        mesh(&mut chart, &plot.param, "fraction of starts")?;
        for (label, value) in &plot.thresholds {
            let style = NEUTRAL.stroke_width(2);
            chart
                .draw_series(dashed_series([(*value, y.start), (*value, 1.0)], style))?
                .label(format!("{label} at {value:.3}"))
                .legend(legend_dash(style));
        }
        for (k, curve) in plot.curves.iter().enumerate() {
            let color = FEATURE_COLORS[k % FEATURE_COLORS.len()];
            let line: Vec<(f64, f64)> = curve
                .points
                .iter()
                .map(|p| (p.value, p.fraction.value))
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    line,
                    color.stroke_width(2),
                )))?
                .label(&curve.label)
                .legend(legend_line(color));
            draw_error_bars(&mut chart, &curve.points, color)?;
            let markers: Vec<Marker> = curve
                .points
                .iter()
                .map(|p| Marker {
                    at: (p.value, p.fraction.value),
                    radius: MARKER,
                    fill: color,
                    ring: color,
                })
                .collect();
            draw_markers(&mut chart, &markers)?;
        }
        legend(&mut chart, corner)?;
        Ok(())
    })
}

/// Each point's Wilson interval: a vertical bar with caps at both ends.
fn draw_error_bars(
    chart: &mut Chart<'_, '_>,
    points: &[FractionPoint],
    color: RGBColor,
) -> anyhow::Result<()> {
    let style = color.stroke_width(2);
    chart.draw_series(points.iter().map(|p| {
        let (lo, hi) = p.fraction.confidence_interval;
        PathElement::new([(p.value, lo), (p.value, hi)], style)
    }))?;
    let ends = points.iter().flat_map(|p| {
        let (lo, hi) = p.fraction.confidence_interval;
        [(p.value, lo), (p.value, hi)]
    });
    chart.draw_series(
        ends.map(|end| EmptyElement::at(end) + PathElement::new([(-CAP, 0), (CAP, 0)], style)),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_is_drawn() {
        let point = |value: f64, count: usize| FractionPoint {
            value,
            fraction: Fraction::new(count, 40),
        };
        let plot = FractionPlot {
            title: "finding4: basins by model.decorrelation".into(),
            param: "model.decorrelation".into(),
            curves: vec![FractionCurve {
                label: "distinct".into(),
                points: vec![point(0.0, 20), point(0.5, 30), point(1.0, 40)],
            }],
            thresholds: vec![("coinciding neurons lose stability".into(), 0.72)],
        };
        let path = std::env::temp_dir()
            .join(format!("mfcl-fractions-{}", std::process::id()))
            .join("scan.png");
        fractions_figure(&path, &plot).unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
