//! Figures of `mfcl basins --plot` and `mfcl sweep --plot`.

use std::path::Path;

use mfcl_comparator::{BasinSample, FixedPointReport};
use mfcl_model::Config;

use crate::sweep::Sweep;

/// The phase portrait of `(m_1, m_2)` for a two-feature problem.
pub fn phase_portrait(
    _path: &Path,
    _config: &Config,
    _report: &FixedPointReport,
    _samples: &[BasinSample],
) -> anyhow::Result<()> {
    anyhow::bail!("not drawn yet")
}

/// Steady-state cosines, norm and growth rates against the swept value.
pub fn sweep_figure(_path: &Path, _sweep: &Sweep) -> anyhow::Result<()> {
    anyhow::bail!("not drawn yet")
}
