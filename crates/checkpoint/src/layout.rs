//! The groups and attributes that run files and checkpoints share, in the current format
//! (written and read) and in formats 1 (read only, as one neuron), 2 (read only, its
//! generator implied) and 3 (read only, without provenance or checksums).

use hdf5::{Dataset, Group, Location};
use mfcl_model::Trajectory;
use mfcl_solver::{Generator, Histogram, Snapshot};

use crate::hdf::Ctx;
use crate::{FORMAT_VERSION, FileError, OLDEST_FORMAT_VERSION, Result};

/// The root attribute that records the format version.
pub(crate) const VERSION_ATTRIBUTE: &str = "format_version";

/// The root attribute that records the run's random generator, by [`Generator::name`].
const GENERATOR_ATTRIBUTE: &str = "generator";

/// The first format version that records the generator. Older files record none: every
/// run then drew with [`Generator::Ziggurat`].
const GENERATOR_VERSION: u32 = 3;

/// The first format version with checksums: Fletcher32 on every dataset, HDF5's own on
/// its metadata, and [`CHECKSUM_ATTRIBUTE`] over the header; also the first to record the
/// source revision and the run id.
pub(crate) const CHECKSUM_VERSION: u32 = 4;

/// The root attribute that holds the CRC-32 of the header (see [`attributes_checksum`]).
/// HDF5 checksums its metadata, but not the global heap where variable-length strings (the
/// config among them) live.
pub(crate) const CHECKSUM_ATTRIBUTE: &str = "header_checksum";

/// The root attribute that records the run id (see [`Header::run_id`]).
pub(crate) const RUN_ID_ATTRIBUTE: &str = "run_id";

/// The source revision of this build (see `build.rs`).
pub(crate) const SOURCE_REVISION: &str = env!("MFCL_SOURCE_REVISION");

/// What [`Header::source_revision`] says where the file does not say.
const UNKNOWN_REVISION: &str = "unknown";

/// A new run id: 128 random bits in hexadecimal, unique to one run among all.
pub(crate) fn new_run_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The CRC-32 of the attributes `(name, value)`, each name and value length-prefixed so
/// that no two lists give the same bytes.
pub(crate) fn attributes_checksum(attributes: &[(&str, &[u8])]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for (name, value) in attributes {
        for part in [name.as_bytes(), value] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    hasher.finalize()
}

/// The root attributes of a run file or checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The full effective config, as TOML.
    pub config: String,
    /// `"particles"` or `"sgd"`.
    pub solver: String,
    /// The run's seed.
    pub seed: u64,
    /// `K`, the neurons of the layer (the root attribute `neurons`; 1 for a format-1 file,
    /// which has none).
    pub neurons: usize,
    /// How the run draws its normal deviates (the root attribute `generator`;
    /// [`Generator::Ziggurat`] for a format-1 or format-2 file, which has none). With the
    /// config and the seed, it fixes every bit of the run.
    pub generator: Generator,
    /// The mfcl version that started the run.
    pub program_version: String,
    /// The source revision that mfcl was built from: a git commit, with `+modified` when
    /// the build had uncommitted changes, or `unknown` (also for a file of formats 1 to 3,
    /// which records none).
    pub source_revision: String,
    /// A random id made when the run started, the same in its run file, checkpoints and
    /// snapshot files and kept by resumes: it tells the run's snapshot files from others'.
    /// Empty for a file of formats 1 to 3, which records none; the run it is resumed into
    /// gets one.
    pub run_id: String,
    /// When the run was started (RFC 3339, UTC).
    pub created: String,
}

impl Header {
    /// A header for a run of `neurons` neurons drawing with `generator`, starting now with
    /// a new run id, by this mfcl.
    pub fn new(
        config: &str,
        solver: &str,
        seed: u64,
        neurons: usize,
        generator: Generator,
    ) -> Header {
        Header {
            config: config.to_owned(),
            solver: solver.to_owned(),
            seed,
            neurons,
            generator,
            program_version: env!("CARGO_PKG_VERSION").to_owned(),
            source_revision: SOURCE_REVISION.to_owned(),
            run_id: new_run_id(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// The header with a run id: its own, or a new one if it has none (read from a file of
    /// formats 1 to 3).
    pub(crate) fn identified(&self) -> Header {
        let mut header = self.clone();
        if header.run_id.is_empty() {
            header.run_id = new_run_id();
        }
        header
    }

    /// Writes the attributes in the current format, whatever format the header was read
    /// from, with their checksum. The header must have a run id (see [`Header::run_id`]).
    pub(crate) fn write(&self, ctx: &Ctx, root: &Location, format: &str) -> Result<()> {
        assert!(!self.run_id.is_empty(), "a header written without a run id");
        ctx.write_str(root, "format", format)?;
        ctx.write_scalar(root, VERSION_ATTRIBUTE, FORMAT_VERSION)?;
        ctx.write_str(root, "program_version", &self.program_version)?;
        ctx.write_str(root, "source_revision", &self.source_revision)?;
        ctx.write_str(root, RUN_ID_ATTRIBUTE, &self.run_id)?;
        ctx.write_str(root, "config", &self.config)?;
        ctx.write_str(root, "solver", &self.solver)?;
        ctx.write_scalar(root, "seed", self.seed)?;
        ctx.write_scalar(root, "neurons", self.neurons as u64)?;
        ctx.write_str(root, GENERATOR_ATTRIBUTE, self.generator.name())?;
        ctx.write_str(root, "created", &self.created)?;
        ctx.write_scalar(
            root,
            CHECKSUM_ATTRIBUTE,
            self.checksum(format, FORMAT_VERSION),
        )
    }

    /// The checksum of the header as a file of `format` and `version` records it.
    fn checksum(&self, format: &str, version: u32) -> u32 {
        attributes_checksum(&[
            ("format", format.as_bytes()),
            (VERSION_ATTRIBUTE, &version.to_le_bytes()),
            ("program_version", self.program_version.as_bytes()),
            ("source_revision", self.source_revision.as_bytes()),
            (RUN_ID_ATTRIBUTE, self.run_id.as_bytes()),
            ("config", self.config.as_bytes()),
            ("solver", self.solver.as_bytes()),
            ("seed", &self.seed.to_le_bytes()),
            ("neurons", &(self.neurons as u64).to_le_bytes()),
            (GENERATOR_ATTRIBUTE, self.generator.name().as_bytes()),
            ("created", self.created.as_bytes()),
        ])
    }

    /// Checks the format and version before anything else is read; returns the header, the
    /// file's format version and the layout of the rest of the file.
    pub(crate) fn read(
        ctx: &Ctx,
        root: &Location,
        format: &'static str,
    ) -> Result<(Header, u32, Layout)> {
        let found = ctx.read_str(root, "format").unwrap_or_default();
        if found != format {
            return Err(FileError::WrongFormat {
                path: ctx.path.clone(),
                expected: format,
                found,
            });
        }
        let version = ctx.read_scalar(root, VERSION_ATTRIBUTE)?;
        let layout = Layout::of_version(ctx, version)?;
        let neurons = match layout {
            Layout::SingleNeuron => 1,
            Layout::Layer => {
                let neurons: u64 = ctx.read_scalar(root, "neurons")?;
                usize::try_from(neurons)
                    .ok()
                    .filter(|&k| k > 0)
                    .ok_or_else(|| ctx.damaged(format!("{neurons} neurons")))?
            }
        };
        let checksummed = version >= CHECKSUM_VERSION;
        let (source_revision, run_id) = if checksummed {
            (
                ctx.read_str(root, "source_revision")?,
                ctx.read_str(root, RUN_ID_ATTRIBUTE)?,
            )
        } else {
            (UNKNOWN_REVISION.to_owned(), String::new())
        };
        let header = Header {
            config: ctx.read_str(root, "config")?,
            solver: ctx.read_str(root, "solver")?,
            seed: ctx.read_scalar(root, "seed")?,
            neurons,
            generator: read_generator(ctx, root, version)?,
            program_version: ctx.read_str(root, "program_version")?,
            source_revision,
            run_id,
            created: ctx.read_str(root, "created")?,
        };
        if checksummed {
            let recorded: u32 = ctx.read_scalar(root, CHECKSUM_ATTRIBUTE)?;
            if recorded != header.checksum(format, version) {
                return Err(ctx.damaged("header checksum mismatch"));
            }
        }
        Ok((header, version, layout))
    }
}

/// The generator that a file of format `version` records.
fn read_generator(ctx: &Ctx, root: &Location, version: u32) -> Result<Generator> {
    if version < GENERATOR_VERSION {
        return Ok(Generator::Ziggurat);
    }
    let name = ctx
        .read_optional_str(root, GENERATOR_ATTRIBUTE)?
        .ok_or_else(|| {
            ctx.damaged(format!(
                "format version {version} without the root attribute {GENERATOR_ATTRIBUTE}"
            ))
        })?;
    Generator::from_name(&name).ok_or_else(|| FileError::UnknownGenerator {
        path: ctx.path.clone(),
        name,
    })
}

/// The layout of a file's datasets, by the format version it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Format 1, one neuron: `x` and `R` scalars per coordinate and per sample, scalar
    /// self-term and noise coefficients.
    SingleNeuron,
    /// Formats 2 to 4, a layer of `K` neurons: a trailing axis of length `K` on `x`, `Q`
    /// and the histograms, `(K, K)` matrices for `R` and the self-term and noise.
    Layer,
}

impl Layout {
    /// The layout of format version `found`, or [`FileError::FormatVersion`] if this mfcl
    /// does not read it.
    pub fn of_version(ctx: &Ctx, found: u32) -> Result<Layout> {
        match found {
            OLDEST_FORMAT_VERSION => Ok(Layout::SingleNeuron),
            // Format 3 added the generator attribute, format 4 checksums and provenance:
            // neither changed a dataset.
            2..=FORMAT_VERSION => Ok(Layout::Layer),
            _ => Err(FileError::FormatVersion {
                path: ctx.path.clone(),
                found,
            }),
        }
    }
}

/// What a run file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunContents {
    /// Root attributes.
    pub header: Header,
    /// The file's format version: [`FORMAT_VERSION`], or an older one still read
    /// ([`OLDEST_FORMAT_VERSION`] and up).
    pub format_version: u32,
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
    /// Empty datasets for `p` features and `K` neurons: `t` (T), `overlaps` and `cosine`
    /// (T, p, K), `norm2` (T, K, K).
    pub fn create(
        ctx: &Ctx,
        root: &Group,
        features: usize,
        neurons: usize,
    ) -> Result<TrajectoryDatasets> {
        let group = ctx.h5(root.create_group("trajectory"))?;
        let (p, k) = (features, neurons);
        Ok(TrajectoryDatasets {
            t: ctx.extendable::<f64>(&group, "t", &[])?,
            overlaps: ctx.extendable::<f64>(&group, "overlaps", &[p, k])?,
            norm2: ctx.extendable::<f64>(&group, "norm2", &[k, k])?,
            cosine: ctx.extendable::<f64>(&group, "cosine", &[p, k])?,
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

    /// Appends rows `from..` of `trajectory` (to datasets of the current format).
    pub fn append(&self, ctx: &Ctx, trajectory: &Trajectory, from: usize) -> Result<()> {
        let rows = trajectory.len();
        if from >= rows {
            return Ok(());
        }
        let k = trajectory.neurons;
        let p = trajectory.overlaps[0].len() / k;
        let cosine = trajectory.cosine();
        ctx.h5(self.t.resize(rows))?;
        ctx.h5(self.t.write_slice(&trajectory.t[from..], from..rows))?;
        for (dataset, samples, row) in [
            (&self.overlaps, &trajectory.overlaps[from..], (p, k)),
            (&self.norm2, &trajectory.norm2[from..], (k, k)),
            (&self.cosine, &cosine[from..], (p, k)),
        ] {
            let values: Vec<f64> = samples.iter().flatten().copied().collect();
            ctx.h5(dataset.resize((rows, row.0, row.1)))?;
            let view = ndarray::ArrayView3::from_shape((rows - from, row.0, row.1), &values)
                .map_err(|e| ctx.damaged(format!("trajectory rows: {e}")))?;
            ctx.h5(dataset.write_slice(view, (from..rows, .., ..)))?;
        }
        Ok(())
    }

    /// The trajectory of a file in `layout` whose header says `neurons`.
    pub fn read(&self, ctx: &Ctx, layout: Layout, neurons: usize) -> Result<Trajectory> {
        let (t, _) = ctx.read_dataset::<f64>(&self.t)?;
        let (norm2, norm2_shape) = ctx.read_dataset::<f64>(&self.norm2)?;
        let (overlaps, shape) = ctx.read_dataset::<f64>(&self.overlaps)?;
        let (rows, k) = (t.len(), neurons);
        let p = shape.get(1).copied().unwrap_or(0);
        // Format 1 has no neuron axes: its (T, p) and (T,) are (T, p, 1) and (T, 1, 1).
        let (overlaps_expected, norm2_expected) = match layout {
            Layout::SingleNeuron => (vec![rows, p], vec![rows]),
            Layout::Layer => (vec![rows, p, k], vec![rows, k, k]),
        };
        if p == 0 || shape != overlaps_expected || norm2_shape != norm2_expected {
            return Err(ctx.damaged(format!(
                "trajectory datasets have inconsistent shapes (overlaps {:?}, norm2 {:?}, {} \
                 times, {k} neurons)",
                shape, norm2_shape, rows
            )));
        }
        Ok(Trajectory {
            // As `Trajectory::push` leaves it: 0 until the first sample.
            neurons: if rows == 0 { 0 } else { k },
            t,
            overlaps: overlaps.chunks(p * k).map(<[f64]>::to_vec).collect(),
            norm2: norm2.chunks(k * k).map(<[f64]>::to_vec).collect(),
        })
    }
}

/// Writes snapshot number `index` into `/snapshots`: `x` (M, K), `xi` (M, p), and for the
/// `A` patterns of `ξ` and the `K` neurons, `atoms` (A, p), `edges` (K, B + 1) (each
/// neuron's bins, common to the patterns) and `counts` (A, K, B).
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
    let histograms = &snapshot.histograms;
    let k = snapshot.neurons;
    let (bins, width) = histograms
        .first()
        .map_or((0, 0), |h| (h.counts.len(), h.atom.len()));
    // The layout holds one histogram per (pattern, neuron), pattern-major, the edges of a
    // neuron shared by its patterns: refuse to write anything else as if it were that.
    let regular = k > 0
        && bins > 0
        && histograms.len().is_multiple_of(k)
        && histograms.iter().enumerate().all(|(i, h)| {
            let (first_of_pattern, first_of_neuron) = (&histograms[i - i % k], &histograms[i % k]);
            h.neuron == i % k
                && h.counts.len() == bins
                && h.edges.len() == bins + 1
                && h.edges == first_of_neuron.edges
                && h.atom.len() == width
                && h.atom == first_of_pattern.atom
        });
    if !regular {
        return Err(ctx.damaged(format!(
            "snapshot {index}: its histograms are not one per pattern and neuron, with the \
             same bins for each neuron"
        )));
    }
    let patterns = histograms.len() / k;
    let kept = snapshot.x.len() / k;
    let p = snapshot.xi.len().checked_div(kept).unwrap_or(0);
    let group = ctx.h5(snapshots.create_group(&format!("{index:06}")))?;
    ctx.write_scalar(&group, "t", snapshot.t)?;
    ctx.write_scalar(&group, "step", snapshot.step)?;
    ctx.write_scalar(&group, "stride", snapshot.stride as u64)?;
    ctx.write_array(&group, "x", &snapshot.x, &[kept, k])?;
    ctx.write_array(&group, "xi", &snapshot.xi, &[kept, p])?;
    let edges: Vec<f64> = histograms[..k]
        .iter()
        .flat_map(|h| h.edges.iter().copied())
        .collect();
    ctx.write_array(&group, "edges", &edges, &[k, bins + 1])?;
    let counts: Vec<u64> = histograms
        .iter()
        .flat_map(|h| h.counts.iter().copied())
        .collect();
    ctx.write_array(&group, "counts", &counts, &[patterns, k, bins])?;
    let atoms: Vec<f32> = histograms
        .iter()
        .step_by(k)
        .flat_map(|h| h.atom.iter().copied())
        .collect();
    ctx.write_array(&group, "atoms", &atoms, &[patterns, width])
}

/// Every snapshot under `/snapshots` of a file in `layout`, in order (none if the group is
/// absent).
pub(crate) fn read_snapshots(ctx: &Ctx, root: &Group, layout: Layout) -> Result<Vec<Snapshot>> {
    if !root.link_exists("snapshots") {
        return Ok(Vec::new());
    }
    let snapshots = ctx.h5(root.group("snapshots"))?;
    let mut names = ctx.h5(snapshots.member_names())?;
    names.sort();
    names
        .iter()
        .map(|name| read_snapshot(ctx, &ctx.h5(snapshots.group(name))?, name, layout))
        .collect()
}

/// Snapshot number `index` under `/snapshots` of a file in `layout`.
pub(crate) fn read_snapshot_at(
    ctx: &Ctx,
    root: &Group,
    index: usize,
    layout: Layout,
) -> Result<Snapshot> {
    let name = format!("{index:06}");
    let group = ctx.h5(root.group(&format!("snapshots/{name}")))?;
    read_snapshot(ctx, &group, &name, layout)
}

/// The snapshot group `name`.
fn read_snapshot(ctx: &Ctx, group: &Group, name: &str, layout: Layout) -> Result<Snapshot> {
    let (x, mut x_shape) = ctx.read_array::<f64>(group, "x")?;
    let (xi, xi_shape) = ctx.read_array::<f32>(group, "xi")?;
    let (edges, mut edges_shape) = ctx.read_array::<f64>(group, "edges")?;
    let (counts, mut counts_shape) = ctx.read_array::<u64>(group, "counts")?;
    let (atoms, atoms_shape) = ctx.read_array::<f32>(group, "atoms")?;
    // Format 1 has no neuron axes: its x (M), edges (B + 1) and counts (A, B) are
    // (M, 1), (1, B + 1) and (A, 1, B), in the same order.
    if layout == Layout::SingleNeuron {
        x_shape.push(1);
        edges_shape.insert(0, 1);
        counts_shape.insert(counts_shape.len().min(1), 1);
    }
    let shapes = (
        &x_shape[..],
        &xi_shape[..],
        &edges_shape[..],
        &counts_shape[..],
        &atoms_shape[..],
    );
    let (&[m, k], &[m_xi, _], &[k_edges, e], &[a, k_counts, b], &[a_atoms, width]) = shapes else {
        return Err(ctx.damaged(format!("snapshot {name}: datasets of the wrong rank")));
    };
    if k == 0 || b == 0 || (m, k, k, e, a) != (m_xi, k_edges, k_counts, b + 1, a_atoms) {
        return Err(ctx.damaged(format!(
            "snapshot {name}: shapes disagree (x {x_shape:?}, xi {xi_shape:?}, edges \
             {edges_shape:?}, counts {counts_shape:?}, atoms {atoms_shape:?})"
        )));
    }
    let histograms = (0..a)
        .flat_map(|pattern| (0..k).map(move |neuron| (pattern, neuron)))
        .map(|(pattern, neuron)| {
            let histogram = pattern * k + neuron;
            Histogram {
                atom: atoms[pattern * width..(pattern + 1) * width].to_vec(),
                neuron,
                edges: edges[neuron * e..(neuron + 1) * e].to_vec(),
                counts: counts[histogram * b..(histogram + 1) * b].to_vec(),
            }
        })
        .collect();
    Ok(Snapshot {
        step: ctx.read_scalar(group, "step")?,
        t: ctx.read_scalar(group, "t")?,
        stride: ctx.read_scalar::<u64>(group, "stride")? as usize,
        neurons: k,
        x,
        xi,
        histograms,
    })
}
