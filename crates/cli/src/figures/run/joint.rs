//! A layer's joint measure: the density of `(x_a, x_b)` for one pair of neurons, per
//! `ξ`-pattern, as heat maps. A snapshot stores its coordinates (all, or a regular
//! subsample) with each one's `ξ`, so the pairs are binned here, one row of heat maps per
//! snapshot, with a colour bar shared by the row.

use std::ops::Range;

use mfcl_solver::Snapshot;
use plotters::prelude::*;

use super::{MAX_PANELS, pattern_label};
use crate::figures::{
    Area, CAPTION, CHART_MARGIN, FAMILY, TICKS, axis_power, chart, mesh_with_ticks, padded_range,
    subscript, tick, with_power,
};
use crate::output;

/// Height of one row of heat maps, in pixels: at the width of four panels, their plot
/// areas come out about square.
pub const ROW: u32 = 370;

/// Width of the colour bar at the right of a row, its tick labels included, in pixels.
const BAR: u32 = 150;

/// Fewest and most bins per axis of a heat map.
const BINS: (usize, usize) = (10, 60);

/// Sequential colours from zero density (white) to the row's largest (dark blue): white,
/// then ColorBrewer's YlGnBu, evenly spaced. Empty cells stay white like the background.
const HEAT_COLORS: [RGBColor; 10] = [
    RGBColor(255, 255, 255),
    RGBColor(255, 255, 217),
    RGBColor(237, 248, 177),
    RGBColor(199, 233, 180),
    RGBColor(127, 205, 187),
    RGBColor(65, 182, 196),
    RGBColor(29, 145, 192),
    RGBColor(34, 94, 168),
    RGBColor(37, 52, 148),
    RGBColor(8, 29, 88),
];

/// The colour of `fraction ∈ [0, 1]` of the largest density, interpolated in
/// [`HEAT_COLORS`].
fn heat_color(fraction: f64) -> RGBColor {
    let last = HEAT_COLORS.len() - 1;
    let position = fraction.clamp(0.0, 1.0) * last as f64;
    // In 0..=last, as position is.
    let below = (position.floor() as usize).min(last - 1);
    let weight = position - below as f64;
    let (RGBColor(r0, g0, b0), RGBColor(r1, g1, b1)) = (HEAT_COLORS[below], HEAT_COLORS[below + 1]);
    let mix = |a: u8, b: u8| (f64::from(a) + weight * (f64::from(b) - f64::from(a))).round() as u8;
    RGBColor(mix(r0, r1), mix(g0, g1), mix(b0, b1))
}

/// A density on `bins × bins` equal cells covering `x × y`: in each cell, the fraction of
/// the points that fall in it divided by its area, so that it integrates to 1.
#[derive(Debug)]
struct JointDensity {
    x: Range<f64>,
    y: Range<f64>,
    bins: usize,
    /// `values[i * bins + j]`: the cell of the `i`-th `x` bin and the `j`-th `y` bin.
    values: Vec<f64>,
}

impl JointDensity {
    /// The normalised histogram of `points`, which lie in `x × y` (a point on an upper edge
    /// counts in the last cell); zero everywhere without points.
    fn new(points: &[(f64, f64)], x: Range<f64>, y: Range<f64>, bins: usize) -> JointDensity {
        let bin = |v: f64, range: &Range<f64>| {
            // `as` saturates: a point on the lower edge or below rounds to bin 0.
            let at = (v - range.start) / (range.end - range.start) * bins as f64;
            (at as usize).min(bins - 1)
        };
        let mut values = vec![0.0; bins * bins];
        for &(u, v) in points {
            values[bin(u, &x) * bins + bin(v, &y)] += 1.0;
        }
        let mut density = JointDensity { x, y, bins, values };
        if !points.is_empty() {
            let scale = 1.0 / (points.len() as f64 * density.cell_area());
            density.values.iter_mut().for_each(|v| *v *= scale);
        }
        density
    }

    /// The area of one cell.
    fn cell_area(&self) -> f64 {
        (self.x.end - self.x.start) * (self.y.end - self.y.start) / (self.bins * self.bins) as f64
    }

    /// `(x range, y range)` of cell `(i, j)`.
    fn cell(&self, i: usize, j: usize) -> (Range<f64>, Range<f64>) {
        let edge = |range: &Range<f64>, k: usize| {
            range.start + (range.end - range.start) * k as f64 / self.bins as f64
        };
        (
            edge(&self.x, i)..edge(&self.x, i + 1),
            edge(&self.y, j)..edge(&self.y, j + 1),
        )
    }

    /// The largest value (0 without points).
    fn max(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }
}

/// Bins per axis for about `points` points per heat map: Rice's rule `2 n^{1/3}`, which
/// keeps the cells fine where points are many and the counts steady where they are few,
/// within [`BINS`].
fn bins_for(points: usize) -> usize {
    let rice = (2.0 * (points as f64).cbrt()).round() as usize;
    rice.clamp(BINS.0, BINS.1)
}

/// A snapshot's stored pairs `(x_a, x_b)` with a caption: one group per `ξ`-pattern while
/// there are at most [`MAX_PANELS`], else one group of all (the caption says how many
/// patterns it holds), as for a continuous feature law.
fn groups(snapshot: &Snapshot, (a, b): (usize, usize)) -> Vec<(String, Vec<(f64, f64)>)> {
    let k = snapshot.neurons;
    let count = snapshot.x.len() / k;
    let p = snapshot.xi.len().checked_div(count).unwrap_or(0);
    let pair = |i: usize| (snapshot.x[i * k + a], snapshot.x[i * k + b]);
    let atoms: Vec<&[f32]> = snapshot
        .histograms
        .iter()
        .filter(|h| h.neuron == 0)
        .map(|h| h.atom.as_slice())
        .collect();
    if atoms.len() > MAX_PANELS || atoms.first().is_none_or(|atom| atom.is_empty()) {
        let caption = if atoms.len() > 1 {
            format!("all {} ξ-patterns together", atoms.len())
        } else {
            "all ξ together".to_owned()
        };
        return vec![(caption, (0..count).map(pair).collect())];
    }
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = atoms
        .iter()
        .map(|atom| (pattern_label(atom), Vec::new()))
        .collect();
    for i in 0..count {
        let xi = &snapshot.xi[i * p..(i + 1) * p];
        // ξ is stored as the same f32 as the atoms: equal, not close.
        if let Some(g) = atoms.iter().position(|&atom| atom == xi) {
            groups[g].1.push(pair(i));
        }
    }
    groups
}

/// One row: the density of `(x_a, x_b)` given each `ξ`-pattern at `snapshot`, over the
/// same axes and colour scale, and the colour bar. The panels are a quarter of the width
/// each whatever their number, centred, so that a heat map keeps its shape.
pub fn draw_row(
    area: &Area<'_>,
    snapshot: &Snapshot,
    (a, b): (usize, usize),
) -> anyhow::Result<()> {
    let groups = groups(snapshot, (a, b));
    let all = || groups.iter().flat_map(|(_, pairs)| pairs.iter());
    let x = padded_range(all().map(|&(u, _)| u));
    let y = padded_range(all().map(|&(_, v)| v));
    let bins = bins_for(all().count() / groups.len().max(1));
    let densities: Vec<JointDensity> = groups
        .iter()
        .map(|(_, pairs)| JointDensity::new(pairs, x.clone(), y.clone(), bins))
        .collect();
    let top = densities
        .iter()
        .map(JointDensity::max)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);

    let (width, _) = area.dim_in_pixel();
    let panel = width.saturating_sub(BAR) / MAX_PANELS as u32;
    let used = panel * groups.len() as u32 + BAR;
    let left = width.saturating_sub(used) / 2;
    let row = area.margin(0, 0, left, width.saturating_sub(used + left));
    let (maps, bar) = row.split_horizontally(panel * groups.len() as u32);
    let (x_label, y_label) = (
        format!("x{}", subscript(a + 1)),
        format!("x{}", subscript(b + 1)),
    );
    let t = output::time(snapshot.t);
    for (((caption, _), density), area) in groups
        .iter()
        .zip(&densities)
        .zip(maps.split_evenly((1, groups.len())))
    {
        let mut chart = chart(&area, &format!("{caption}, t = {t}"), x.clone(), y.clone())?;
        mesh_with_ticks(&mut chart, (&x_label, &y_label), (6, 11))?;
        let cells = (0..bins).flat_map(|i| (0..bins).map(move |j| (i, j)));
        chart.draw_series(cells.filter_map(|(i, j)| {
            let value = density.values[i * bins + j];
            (value > 0.0).then(|| {
                let (u, v) = density.cell(i, j);
                Rectangle::new(
                    [(u.start, v.start), (u.end, v.end)],
                    heat_color(value / top).filled(),
                )
            })
        }))?;
    }
    colour_bar(&bar, top)
}

/// The colour scale of a row, `0..top`, with its ticks on the right; its caption and
/// bottom space match the heat maps', so that the bar spans their height.
fn colour_bar(area: &Area<'_>, top: f64) -> anyhow::Result<()> {
    let power = axis_power(&(0.0..top));
    let scale = 10f64.powi(-power);
    let mut chart = ChartBuilder::on(area)
        .caption(with_power("density", power), (FAMILY, CAPTION))
        .margin(CHART_MARGIN)
        .x_label_area_size(50)
        .right_y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .x_labels(0)
        .label_style((FAMILY, TICKS))
        .y_label_formatter(&|v| tick(v * scale))
        .draw()?;
    const STEPS: usize = 120;
    chart.draw_series((0..STEPS).map(|s| {
        let (lo, hi) = (s as f64 / STEPS as f64, (s + 1) as f64 / STEPS as f64);
        Rectangle::new(
            [(0.0, lo * top), (1.0, hi * top)],
            heat_color(0.5 * (lo + hi)).filled(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of `n` values in `[0, 1)`: the fractional parts of `k·φ`.
    fn spread(n: usize, offset: f64) -> Vec<f64> {
        let golden = 0.5 * (5f64.sqrt() - 1.0);
        (0..n)
            .map(|k| (offset + k as f64 * golden).fract())
            .collect()
    }

    #[test]
    fn a_joint_density_integrates_to_one() {
        let points: Vec<(f64, f64)> = spread(5000, 0.1)
            .into_iter()
            .zip(spread(5000, 0.7))
            .map(|(u, v)| (3.0 * u - 1.0, u * v))
            .collect();
        let density = JointDensity::new(&points, -1.0..2.0, 0.0..1.0, 17);
        let total: f64 = density.values.iter().sum::<f64>() * density.cell_area();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        // The points on the upper edges count too.
        let edges = JointDensity::new(&[(2.0, 1.0), (-1.0, 0.0)], -1.0..2.0, 0.0..1.0, 4);
        assert_eq!(edges.values[15] * edges.cell_area(), 0.5);
        assert_eq!(edges.values[0] * edges.cell_area(), 0.5);
        let empty = JointDensity::new(&[], 0.0..1.0, 0.0..1.0, 3);
        assert_eq!(empty.max(), 0.0);
    }

    /// Every pair of two samples is independent data: the joint density is the product of
    /// its marginals, and these are the samples' own binned densities.
    #[test]
    fn independent_data_has_the_product_of_its_marginals() {
        let (us, vs) = (spread(60, 0.3), spread(45, 0.2));
        let (x, y) = (-0.5..1.5, 0.0..2.0);
        let points: Vec<(f64, f64)> = us
            .iter()
            .flat_map(|&u| vs.iter().map(move |&v| (u, 2.0 * v * v)))
            .collect();
        let bins = 8;
        let density = JointDensity::new(&points, x.clone(), y.clone(), bins);
        let (dx, dy) = (2.0 / bins as f64, 2.0 / bins as f64);
        let marginal_x: Vec<f64> = (0..bins)
            .map(|i| (0..bins).map(|j| density.values[i * bins + j]).sum::<f64>() * dy)
            .collect();
        let marginal_y: Vec<f64> = (0..bins)
            .map(|j| (0..bins).map(|i| density.values[i * bins + j]).sum::<f64>() * dx)
            .collect();
        for (i, mx) in marginal_x.iter().enumerate() {
            for (j, my) in marginal_y.iter().enumerate() {
                assert!((density.values[i * bins + j] - mx * my).abs() < 1e-12);
            }
        }
        // The x marginal is the binned density of the us alone.
        for (i, &m) in marginal_x.iter().enumerate() {
            let cell = density.cell(i, 0).0;
            let inside = us.iter().filter(|u| cell.contains(u)).count();
            assert!((m - inside as f64 / (us.len() as f64 * dx)).abs() < 1e-12);
        }
    }

    /// A snapshot of three neurons on two Rademacher features, from its stored
    /// coordinates: `x = (i, 10 i, 100 i)` for coordinate `i`, whose `ξ` cycles through
    /// the four patterns.
    fn snapshot(patterns: &[[f32; 2]]) -> Snapshot {
        let count = 8;
        let histograms = patterns
            .iter()
            .flat_map(|atom| {
                (0..3).map(|neuron| mfcl_solver::Histogram {
                    atom: atom.to_vec(),
                    neuron,
                    edges: vec![0.0, 1.0],
                    counts: vec![0],
                })
            })
            .collect();
        Snapshot {
            step: 0,
            t: 0.0,
            stride: 1,
            neurons: 3,
            x: (0..count)
                .flat_map(|i| [i as f64, 10.0 * i as f64, 100.0 * i as f64])
                .collect(),
            xi: (0..count)
                .flat_map(|i| patterns[i % patterns.len()])
                .collect(),
            histograms,
        }
    }

    #[test]
    fn pairs_are_grouped_by_their_own_pattern() {
        let patterns = [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]];
        let groups = groups(&snapshot(&patterns), (2, 0));
        let captions: Vec<&str> = groups.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            captions,
            [
                "ξ = (−1, −1)",
                "ξ = (+1, −1)",
                "ξ = (−1, +1)",
                "ξ = (+1, +1)"
            ]
        );
        assert_eq!(groups[1].1, [(100.0, 1.0), (500.0, 5.0)]);
        assert_eq!(groups[3].1, [(300.0, 3.0), (700.0, 7.0)]);
    }

    #[test]
    fn many_patterns_are_drawn_together() {
        let patterns: Vec<[f32; 2]> = (0..5).map(|k| [k as f32, 0.0]).collect();
        let groups = groups(&snapshot(&patterns), (0, 1));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].0, "all 5 ξ-patterns together");
        assert_eq!(groups[0].1.len(), 8);
    }

    #[test]
    fn bins_follow_the_number_of_points() {
        assert_eq!(bins_for(0), BINS.0);
        assert_eq!(bins_for(500), 16);
        assert_eq!(bins_for(16384), 51);
        assert_eq!(bins_for(10_000_000), BINS.1);
    }

    #[test]
    fn the_colour_scale_runs_from_white_to_dark_blue() {
        assert_eq!(heat_color(0.0), RGBColor(255, 255, 255));
        assert_eq!(heat_color(1.0), RGBColor(8, 29, 88));
        assert_eq!(heat_color(2.0), RGBColor(8, 29, 88));
        // Halfway between two anchors, halfway between their colours.
        let RGBColor(r, _, _) = heat_color(0.5 / 9.0);
        assert_eq!(r, 255);
        let RGBColor(_, _, b) = heat_color(0.5 / 9.0);
        assert_eq!(b, 236);
    }
}
