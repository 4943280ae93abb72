//! One module per subcommand, each owning its arguments, its work and its output.

pub mod basins;
pub mod check;
pub mod coefficients;
pub mod compare;
pub mod export;
pub mod fixed_points;
pub mod inspect;
pub mod ode;
pub mod plot;
pub mod run;
pub mod sweep;
