//! mfcl-model: the learning problem of MODEL.md and the coefficient functionals
//! `g_j`, `g_0`, `v` through which every level of description (SGD, particles, ODE)
//! sees it.
//!
//! Pure computation: no I/O, no threads, no files.

#![warn(missing_docs)]

mod activation;
mod coefficients;
mod config;
mod law;
mod layer;
mod linalg;
mod problem;
mod quadrature;
mod trajectory;

pub use activation::Activation;
pub use coefficients::{Coefficients, QuadratureOptions};
pub use config::{Config, ConfigError, FORMAT_VERSION, RunSettings, SolverKind};
pub use law::{FeatureLaw, HiddenLaw, HiddenShape};
pub use linalg::symmetric_eigen;
pub use problem::{Noise, OrderParameters, Problem, Regularizer};
pub use trajectory::{Time, Trajectory};
