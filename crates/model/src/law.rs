//! Laws of the feature entries `ξ` and of the hidden variables `c` (MODEL.md §1), with
//! sampling for the simulators.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// Law of the i.i.d. entries of each feature vector `ξ_j` (unit variance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureLaw {
    /// ±1 with probability ½.
    Rademacher,
    /// N(0, 1).
    Gaussian,
    /// 0 with probability `1 − s`, ±1/√s with probability `s/2` each.
    Sparse(f64),
}

impl FeatureLaw {
    /// One draw.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            FeatureLaw::Rademacher => sign(rng),
            FeatureLaw::Gaussian => rng.sample(StandardNormal),
            FeatureLaw::Sparse(s) => sparse(s, rng),
        }
    }

    /// Atoms and probabilities of a discrete law; `None` for the Gaussian one.
    pub fn discrete_atoms(&self) -> Option<Vec<(f64, f64)>> {
        match *self {
            FeatureLaw::Rademacher => HiddenShape::Rademacher.discrete_atoms(),
            FeatureLaw::Sparse(s) => HiddenShape::Sparse(s).discrete_atoms(),
            FeatureLaw::Gaussian => None,
        }
    }

    /// The config spelling (`"sparse:0.2"`).
    pub fn name(&self) -> String {
        match self {
            FeatureLaw::Rademacher => "rademacher".into(),
            FeatureLaw::Gaussian => "gaussian".into(),
            FeatureLaw::Sparse(s) => format!("sparse:{s}"),
        }
    }
}

/// Shape of a hidden variable's law before scaling: every shape has mean 0 and variance 1.
#[derive(Debug, Clone, PartialEq)]
pub enum HiddenShape {
    /// ±1 with probability ½.
    Rademacher,
    /// N(0, 1).
    Gaussian,
    /// Uniform on `[−√3, √3]`.
    Uniform,
    /// 0 with probability `1 − s`, ±1/√s with probability `s/2` each.
    Sparse(f64),
    /// A finite law, already centred and normalised to unit variance; weights sum to 1.
    Atoms {
        /// Support points.
        values: Vec<f64>,
        /// Probabilities, summing to 1.
        weights: Vec<f64>,
    },
}

/// Law of one hidden coordinate `c_j = scale · u_j` with `u_j` of unit variance.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenLaw {
    /// The law of `u_j`.
    pub shape: HiddenShape,
    /// `scale_j`, so that `⟨c_j²⟩ = scale_j²`.
    pub scale: f64,
}

/// How a hidden law enters the quadrature of the coefficient functionals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HiddenQuadrature {
    /// A finite set of `(c, weight)` pairs: exact for discrete laws, Gauss–Legendre for the
    /// uniform law.
    Nodes(Vec<(f64, f64)>),
    /// A centred Gaussian of this variance: folded exactly into the Gaussian noise.
    Gaussian(f64),
}

/// Gauss–Legendre nodes used for a uniform hidden law at resolution 1. After the noise
/// integral the integrand is a Gaussian smoothing of `f` in `c`, hence entire, and the rule
/// converges geometrically; 32 nodes reach 1e-12 at the norms met in practice.
const UNIFORM_NODES: usize = 32;

impl HiddenShape {
    /// Builds a finite law from raw atoms and weights, centring and normalising it.
    ///
    /// Returns `None` if the law is degenerate (zero variance), which the config layer
    /// reports with the offending key.
    pub fn atoms(values: &[f64], weights: &[f64]) -> Option<HiddenShape> {
        let total: f64 = weights.iter().sum();
        let mean: f64 = values.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() / total;
        let var: f64 = values
            .iter()
            .zip(weights)
            .map(|(x, w)| w * (x - mean).powi(2))
            .sum::<f64>()
            / total;
        // Relative to the spread of the atoms, so that huge equal atoms are still caught.
        let size = values.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        if var.is_nan() || var <= 1e-24 * size * size {
            return None;
        }
        let sd = var.sqrt();
        Some(HiddenShape::Atoms {
            values: values.iter().map(|x| (x - mean) / sd).collect(),
            weights: weights.iter().map(|w| w / total).collect(),
        })
    }

    /// The config spelling of the law.
    pub fn name(&self) -> String {
        match self {
            HiddenShape::Rademacher => "rademacher".into(),
            HiddenShape::Gaussian => "gaussian".into(),
            HiddenShape::Uniform => "uniform".into(),
            HiddenShape::Sparse(s) => format!("sparse:{s}"),
            HiddenShape::Atoms { .. } => "atoms".into(),
        }
    }

    /// Support and probabilities of a discrete shape; `None` for continuous ones.
    pub fn discrete_atoms(&self) -> Option<Vec<(f64, f64)>> {
        match self {
            HiddenShape::Rademacher => Some(vec![(-1.0, 0.5), (1.0, 0.5)]),
            HiddenShape::Sparse(s) => {
                let a = 1.0 / s.sqrt();
                let mut atoms = vec![(-a, s / 2.0), (a, s / 2.0)];
                if *s < 1.0 {
                    atoms.push((0.0, 1.0 - s));
                }
                Some(atoms)
            }
            HiddenShape::Atoms { values, weights } => Some(
                values
                    .iter()
                    .copied()
                    .zip(weights.iter().copied())
                    .collect(),
            ),
            HiddenShape::Gaussian | HiddenShape::Uniform => None,
        }
    }

    /// `⟨u⁴⟩`: what distinguishes laws of equal variance.
    pub fn fourth_moment(&self) -> f64 {
        match self {
            HiddenShape::Gaussian => 3.0,
            HiddenShape::Uniform => 9.0 / 5.0,
            _ => self
                .discrete_atoms()
                .into_iter()
                .flatten()
                .map(|(x, w)| w * x.powi(4))
                .sum(),
        }
    }

    /// Whether `u` and `−u` have the same law, which makes `Q_j → −Q_j` a symmetry.
    pub fn is_symmetric(&self) -> bool {
        match self {
            HiddenShape::Atoms { values, weights } => values.iter().zip(weights).all(|(x, w)| {
                values
                    .iter()
                    .zip(weights)
                    .any(|(y, v)| (x + y).abs() < 1e-12 && (w - v).abs() < 1e-12)
            }),
            _ => true,
        }
    }
}

impl HiddenLaw {
    /// One draw of `c_j`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u = match &self.shape {
            HiddenShape::Rademacher => sign(rng),
            HiddenShape::Gaussian => rng.sample(StandardNormal),
            HiddenShape::Uniform => 3f64.sqrt() * (2.0 * rng.random::<f64>() - 1.0),
            HiddenShape::Sparse(s) => sparse(*s, rng),
            HiddenShape::Atoms { values, weights } => {
                let mut u: f64 = rng.random();
                let last = values.len() - 1;
                let mut k = 0;
                while k < last && u >= weights[k] {
                    u -= weights[k];
                    k += 1;
                }
                values[k]
            }
        };
        self.scale * u
    }

    /// `⟨c²⟩ = scale²`.
    pub fn second_moment(&self) -> f64 {
        self.scale * self.scale
    }

    /// `⟨c⁴⟩`.
    pub fn fourth_moment(&self) -> f64 {
        self.scale.powi(4) * self.shape.fourth_moment()
    }

    /// The representation used by the coefficient quadrature; `resolution > 1` refines it.
    pub(crate) fn quadrature(&self, resolution: f64) -> HiddenQuadrature {
        let scaled = |atoms: Vec<(f64, f64)>| {
            HiddenQuadrature::Nodes(
                atoms
                    .into_iter()
                    .map(|(x, w)| (self.scale * x, w))
                    .collect(),
            )
        };
        match &self.shape {
            HiddenShape::Gaussian => HiddenQuadrature::Gaussian(self.second_moment()),
            HiddenShape::Uniform => {
                let n = (UNIFORM_NODES as f64 * resolution).ceil() as usize;
                let half = 3f64.sqrt();
                scaled(
                    crate::quadrature::gauss_legendre(n)
                        .into_iter()
                        .map(|(x, w)| (half * x, w / 2.0))
                        .collect(),
                )
            }
            discrete => scaled(discrete.discrete_atoms().expect("discrete shape")),
        }
    }
}

fn sign<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    if rng.random::<bool>() { 1.0 } else { -1.0 }
}

/// 0 with probability `1 − s`, ±1/√s with probability `s/2` each.
fn sparse<R: Rng + ?Sized>(s: f64, rng: &mut R) -> f64 {
    let u: f64 = rng.random();
    if u < s / 2.0 {
        -1.0 / s.sqrt()
    } else if u < s {
        1.0 / s.sqrt()
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(atoms: &[(f64, f64)]) -> (f64, f64, f64) {
        let m0 = atoms.iter().map(|a| a.1).sum();
        let m1 = atoms.iter().map(|a| a.0 * a.1).sum();
        let m2 = atoms.iter().map(|a| a.0 * a.0 * a.1).sum();
        (m0, m1, m2)
    }

    #[test]
    fn discrete_shapes_are_standardised() {
        let shapes = [
            HiddenShape::Rademacher,
            HiddenShape::Sparse(0.3),
            HiddenShape::Sparse(1.0),
            HiddenShape::atoms(&[-1.0, 2.0], &[2.0, 1.0]).unwrap(),
            HiddenShape::atoms(&[3.0, 4.0, 10.0], &[1.0, 1.0, 1.0]).unwrap(),
        ];
        for shape in shapes {
            let (m0, m1, m2) = moments(&shape.discrete_atoms().unwrap());
            assert!((m0 - 1.0).abs() < 1e-15 && m1.abs() < 1e-15 && (m2 - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn uniform_nodes_integrate_its_moments() {
        let law = HiddenLaw {
            shape: HiddenShape::Uniform,
            scale: 2.0,
        };
        let HiddenQuadrature::Nodes(nodes) = law.quadrature(1.0) else {
            panic!()
        };
        let (m0, m1, m2) = moments(&nodes);
        let m4: f64 = nodes.iter().map(|(x, w)| w * x.powi(4)).sum();
        assert!((m0 - 1.0).abs() < 1e-14 && m1.abs() < 1e-14 && (m2 - 4.0).abs() < 1e-13);
        assert!((m4 - law.fourth_moment()).abs() < 1e-12);
    }

    #[test]
    fn degenerate_and_asymmetric_atoms() {
        assert!(HiddenShape::atoms(&[1.0, 1.0], &[1.0, 2.0]).is_none());
        assert!(
            !HiddenShape::atoms(&[-1.0, 2.0], &[2.0, 1.0])
                .unwrap()
                .is_symmetric()
        );
        assert!(
            HiddenShape::atoms(&[-1.0, 1.0, 0.0], &[1.0, 1.0, 3.0])
                .unwrap()
                .is_symmetric()
        );
    }
}
