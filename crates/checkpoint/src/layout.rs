//! The groups and attributes that run files and checkpoints share.

use hdf5::{Dataset, Group, Location};
use mfcl_model::Trajectory;
use mfcl_solver::{Histogram, Snapshot};

use crate::hdf::Ctx;
use crate::{FORMAT_VERSION, FileError, Result};

/// The root attributes of a run file or checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The full effective config, as TOML.
    pub config: String,
    /// `"particles"` or `"sgd"`.
    pub solver: String,
    /// The run's seed.
    pub seed: u64,
    /// The mfcl version that wrote the file.
    pub program_version: String,
    /// When the run was started (RFC 3339, UTC).
    pub created: String,
}

impl Header {
    /// A header for a run starting now.
    pub fn new(config: &str, solver: &str, seed: u64) -> Header {
        Header {
            config: config.to_owned(),
            solver: solver.to_owned(),
            seed,
            program_version: env!("CARGO_PKG_VERSION").to_owned(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    pub(crate) fn write(&self, ctx: &Ctx, root: &Location, format: &str) -> Result<()> {
        ctx.write_str(root, "format", format)?;
        ctx.write_scalar(root, "format_version", FORMAT_VERSION)?;
        ctx.write_str(root, "program_version", &self.program_version)?;
        ctx.write_str(root, "config", &self.config)?;
        ctx.write_str(root, "solver", &self.solver)?;
        ctx.write_scalar(root, "seed", self.seed)?;
        ctx.write_str(root, "created", &self.created)
    }

    /// Checks the format and version before anything else is read.
    pub(crate) fn read(ctx: &Ctx, root: &Location, format: &'static str) -> Result<Header> {
        let found = ctx.read_str(root, "format").unwrap_or_default();
        if found != format {
            return Err(FileError::WrongFormat {
                path: ctx.path.clone(),
                expected: format,
                found,
            });
        }
        let version: u32 = ctx.read_scalar(root, "format_version")?;
        if version != FORMAT_VERSION {
            return Err(FileError::FormatVersion {
                path: ctx.path.clone(),
                found: version,
            });
        }
        Ok(Header {
            config: ctx.read_str(root, "config")?,
            solver: ctx.read_str(root, "solver")?,
            seed: ctx.read_scalar(root, "seed")?,
            program_version: ctx.read_str(root, "program_version")?,
            created: ctx.read_str(root, "created")?,
        })
    }
}

/// What a run file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContents {
    /// Root attributes.
    pub header: Header,
    /// `/trajectory`.
    pub trajectory: Trajectory,
    /// `/snapshots`, in order.
    pub snapshots: Vec<Snapshot>,
    /// Why the run diverged, if it did (the root attribute `diverged`).
    pub diverged: Option<String>,
}

/// The extendable `/trajectory` datasets.
pub(crate) struct TrajectoryDatasets {
    t: Dataset,
    overlaps: Dataset,
    norm2: Dataset,
    cosine: Dataset,
}

impl TrajectoryDatasets {
    pub fn create(ctx: &Ctx, root: &Group, p: usize) -> Result<TrajectoryDatasets> {
        let group = ctx.h5(root.create_group("trajectory"))?;
        Ok(TrajectoryDatasets {
            t: ctx.extendable::<f64>(&group, "t", None)?,
            overlaps: ctx.extendable::<f64>(&group, "overlaps", Some(p))?,
            norm2: ctx.extendable::<f64>(&group, "norm2", None)?,
            cosine: ctx.extendable::<f64>(&group, "cosine", Some(p))?,
        })
    }

    pub fn open(ctx: &Ctx, root: &Group) -> Result<TrajectoryDatasets> {
        let group = ctx.h5(root.group("trajectory"))?;
        Ok(TrajectoryDatasets {
            t: ctx.h5(group.dataset("t"))?,
            overlaps: ctx.h5(group.dataset("overlaps"))?,
            norm2: ctx.h5(group.dataset("norm2"))?,
            cosine: ctx.h5(group.dataset("cosine"))?,
        })
    }

    /// Appends rows `from..` of `trajectory`.
    pub fn append(&self, ctx: &Ctx, trajectory: &Trajectory, from: usize) -> Result<()> {
        let rows = trajectory.len();
        if from >= rows {
            return Ok(());
        }
        let p = trajectory.overlaps[0].len();
        let flat = |rows: &[Vec<f64>]| rows.iter().flatten().copied().collect::<Vec<f64>>();
        let cosine = trajectory.cosine();
        ctx.h5(self.t.resize(rows))?;
        ctx.h5(self.t.write_slice(&trajectory.t[from..], from..rows))?;
        ctx.h5(self.norm2.resize(rows))?;
        ctx.h5(self
            .norm2
            .write_slice(&trajectory.norm2[from..], from..rows))?;
        for (dataset, values) in [
            (&self.overlaps, flat(&trajectory.overlaps[from..])),
            (&self.cosine, flat(&cosine[from..])),
        ] {
            ctx.h5(dataset.resize((rows, p)))?;
            let view = ndarray::ArrayView2::from_shape((rows - from, p), &values)
                .map_err(|e| ctx.damaged(format!("trajectory rows: {e}")))?;
            ctx.h5(dataset.write_slice(view, (from..rows, ..)))?;
        }
        Ok(())
    }

    pub fn read(&self, ctx: &Ctx) -> Result<Trajectory> {
        let t: Vec<f64> = ctx.h5(self.t.read_raw())?;
        let norm2: Vec<f64> = ctx.h5(self.norm2.read_raw())?;
        let overlaps: Vec<f64> = ctx.h5(self.overlaps.read_raw())?;
        let shape = self.overlaps.shape();
        let p = shape.get(1).copied().unwrap_or(0);
        if norm2.len() != t.len() || shape.first() != Some(&t.len()) || p == 0 {
            return Err(ctx.damaged("trajectory datasets have inconsistent lengths"));
        }
        Ok(Trajectory {
            t,
            overlaps: overlaps.chunks(p).map(<[f64]>::to_vec).collect(),
            norm2,
        })
    }
}

/// Writes snapshot number `index` into `/snapshots`.
pub(crate) fn write_snapshot(
    ctx: &Ctx,
    root: &Group,
    index: usize,
    snapshot: &Snapshot,
) -> Result<()> {
    let snapshots = match root.group("snapshots") {
        Ok(group) => group,
        Err(_) => ctx.h5(root.create_group("snapshots"))?,
    };
    let group = ctx.h5(snapshots.create_group(&format!("{index:06}")))?;
    ctx.write_scalar(&group, "t", snapshot.t)?;
    ctx.write_scalar(&group, "step", snapshot.step)?;
    ctx.write_scalar(&group, "stride", snapshot.stride as u64)?;
    let kept = snapshot.x.len();
    let p = snapshot.xi.len().checked_div(kept).unwrap_or(0);
    ctx.write_array(&group, "x", &snapshot.x, &[kept])?;
    ctx.write_array(&group, "xi", &snapshot.xi, &[kept, p])?;
    let histograms = &snapshot.histograms;
    let bins = histograms[0].counts.len();
    ctx.write_array(&group, "edges", &histograms[0].edges, &[bins + 1])?;
    let counts: Vec<u64> = histograms
        .iter()
        .flat_map(|h| h.counts.iter().copied())
        .collect();
    ctx.write_array(&group, "counts", &counts, &[histograms.len(), bins])?;
    let atom_width = histograms[0].atom.len();
    let atoms: Vec<f32> = histograms
        .iter()
        .flat_map(|h| h.atom.iter().copied())
        .collect();
    ctx.write_array(&group, "atoms", &atoms, &[histograms.len(), atom_width])
}

/// Every snapshot under `/snapshots`, in order (none if the group is absent).
pub(crate) fn read_snapshots(ctx: &Ctx, root: &Group) -> Result<Vec<Snapshot>> {
    let Ok(snapshots) = root.group("snapshots") else {
        return Ok(Vec::new());
    };
    let mut names = ctx.h5(snapshots.member_names())?;
    names.sort();
    names
        .iter()
        .map(|name| {
            let group = ctx.h5(snapshots.group(name))?;
            let (x, _) = ctx.read_array::<f64>(&group, "x")?;
            let (xi, _) = ctx.read_array::<f32>(&group, "xi")?;
            let (edges, _) = ctx.read_array::<f64>(&group, "edges")?;
            let (counts, shape) = ctx.read_array::<u64>(&group, "counts")?;
            let (atoms, atom_shape) = ctx.read_array::<f32>(&group, "atoms")?;
            let (patterns, bins) = (shape[0], shape.get(1).copied().unwrap_or(0));
            let width = atom_shape.get(1).copied().unwrap_or(0);
            if bins + 1 != edges.len() || atom_shape[0] != patterns {
                return Err(ctx.damaged(format!("snapshot {name}: histogram shapes disagree")));
            }
            let histograms = (0..patterns)
                .map(|k| Histogram {
                    atom: atoms[k * width..(k + 1) * width].to_vec(),
                    edges: edges.clone(),
                    counts: counts[k * bins..(k + 1) * bins].to_vec(),
                })
                .collect();
            Ok(Snapshot {
                step: ctx.read_scalar(&group, "step")?,
                t: ctx.read_scalar(&group, "t")?,
                stride: ctx.read_scalar::<u64>(&group, "stride")? as usize,
                x,
                xi,
                histograms,
            })
        })
        .collect()
}
