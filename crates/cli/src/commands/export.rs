//! `mfcl export RUN.h5 --what trajectory|snapshots --format csv|npy --out DIR`: the run
//! file's contents as plain CSV or NumPy `.npy` files, for tools that read neither HDF5
//! nor mfcl.

use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use mfcl_checkpoint::{FileKind, Header, identify, write_whole};
use mfcl_model::Trajectory;
use mfcl_solver::Snapshot;

use crate::failure::Failure;
use crate::run_file::{Run, read_run_file};

/// Arguments of `mfcl export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The run file.
    run: PathBuf,
    /// What to export.
    #[arg(long, value_enum)]
    what: What,
    /// The file format.
    #[arg(long, value_enum)]
    format: Format,
    /// The folder to write into (created if missing). Earlier exports of the same files are
    /// replaced; any other file of the same name is refused, untouched.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// What `--what` selects.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum What {
    /// `t`, `Q_j`, `R`, `m_j` per recorded sample.
    Trajectory,
    /// Every measure snapshot: the stored coordinates and the histograms per ξ-atom.
    Snapshots,
}

/// What `--format` selects.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated text with a header line; numbers round-trip exactly.
    Csv,
    /// NumPy arrays (format 1.0, little-endian, C order).
    Npy,
}

/// The file in an export folder that names the run exported there and the files written.
const MANIFEST: &str = "mfcl-export.json";

/// `mfcl export`.
pub fn export(args: &ExportArgs) -> Result<(), Failure> {
    let Run { contents, .. } = read_run_file(&args.run)?;
    let out_name = args.out.display();
    // A run's snapshot folder holds only its snapshots: an export there would make the run
    // refuse to write into it again.
    if args.out.extension().is_some_and(|e| e == "snapshots") {
        return Err(Failure::input(anyhow!(
            "--out {out_name}: that is the name of a run's snapshot folder; choose another folder"
        )));
    }
    match identify(&args.out) {
        FileKind::Folder | FileKind::Missing => {}
        kind => {
            return Err(Failure::input(anyhow!(
                "--out {out_name}: it is {kind}, not a folder"
            )));
        }
    }
    let source = Source::of(&args.run, &contents.header);
    let earlier = Manifest::read(&args.out, &source).map_err(Failure::input)?;
    let export = |folder: &mut Folder| match args.what {
        What::Trajectory => folder.trajectory(&contents.trajectory, args.format),
        What::Snapshots => folder.snapshots(&contents.snapshots, args.format),
    };
    // Every file is checked before anything is written: a refused export leaves the folder
    // as it was.
    let mut plan = Folder::new(&args.out, &earlier.files, false);
    export(&mut plan).map_err(Failure::input)?;
    let names = plan.names;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the folder {out_name}"))
        .map_err(Failure::input)?;
    // The manifest first, naming every file about to be written: an export cut short is
    // then still this run's, and a second try replaces what the first wrote.
    let mut files = earlier.files.clone();
    for name in &names {
        if !files.contains(name) {
            files.push(name.clone());
        }
    }
    Manifest { source, files }
        .write(&args.out)
        .map_err(Failure::input)?;
    export(&mut Folder::new(&args.out, &earlier.files, true)).map_err(Failure::input)?;
    let written = names.len();
    let files = if written == 1 { "file" } else { "files" };
    println!("wrote {written} {files} to {}", args.out.display());
    Ok(())
}

/// The run an export comes from: its path as given, and what tells it from every other run
/// (the header's start time, seed and run id).
#[derive(Debug, Clone, PartialEq)]
struct Source {
    path: String,
    created: String,
    seed: u64,
    run_id: String,
}

impl Source {
    fn of(path: &Path, header: &Header) -> Source {
        Source {
            path: path.display().to_string(),
            created: header.created.clone(),
            seed: header.seed,
            run_id: header.run_id.clone(),
        }
    }

    /// Whether `self` and `other` are the same run, wherever its file is now.
    fn same_run(&self, other: &Source) -> bool {
        (&self.created, self.seed, &self.run_id) == (&other.created, other.seed, &other.run_id)
    }
}

/// `mfcl-export.json`: the run exported into a folder, and the files its exports wrote.
struct Manifest {
    source: Source,
    files: Vec<String>,
}

impl Manifest {
    /// The files that earlier exports of `source` wrote into `folder` (none for a folder
    /// without a manifest). A manifest of another run, or a file of that name that is no
    /// manifest, is refused: the folder is another export's, or the user's.
    fn read(folder: &Path, source: &Source) -> anyhow::Result<Manifest> {
        let path = folder.join(MANIFEST);
        let fresh = Manifest {
            source: source.clone(),
            files: Vec::new(),
        };
        if path.symlink_metadata().is_err() {
            return Ok(fresh);
        }
        let not_ours = || {
            anyhow!(
                "{} is not a manifest of mfcl export: refusing to write into {} (choose \
                 another --out folder)",
                path.display(),
                folder.display()
            )
        };
        // A manifest is small; anything large is not one.
        let text = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() <= 1 << 24 => {
                std::fs::read_to_string(&path).map_err(|_| not_ours())?
            }
            _ => return Err(not_ours()),
        };
        let document: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_ours())?;
        let text_at = |key: &str| document["source"][key].as_str().map(str::to_owned);
        let earlier = Source {
            path: text_at("run_file").ok_or_else(not_ours)?,
            created: text_at("created").ok_or_else(not_ours)?,
            seed: document["source"]["seed"].as_u64().ok_or_else(not_ours)?,
            run_id: text_at("run_id").ok_or_else(not_ours)?,
        };
        let files = document["files"]
            .as_array()
            .and_then(|files| {
                files
                    .iter()
                    .map(|f| f.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(not_ours)?;
        if !earlier.same_run(source) {
            bail!(
                "{} holds an export of another run ({}, started {}, seed {}): refusing to mix \
                 its files with those of {} (choose another --out folder)",
                folder.display(),
                earlier.path,
                earlier.created,
                earlier.seed,
                source.path
            );
        }
        Ok(Manifest { files, ..fresh })
    }

    fn write(&self, folder: &Path) -> anyhow::Result<()> {
        let source = &self.source;
        let document = serde_json::json!({
            "written_by": format!("mfcl {}", env!("CARGO_PKG_VERSION")),
            "source": {
                "run_file": source.path,
                "created": source.created,
                "seed": source.seed,
                "run_id": source.run_id,
            },
            "files": self.files,
        });
        let path = folder.join(MANIFEST);
        let mut text = serde_json::to_string_pretty(&document)?;
        text.push('\n');
        write_whole(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// What is at `path` in words, if it is something an export of `bytes` must not replace:
/// `None` for nothing there, or an earlier export of the same kind. A symbolic link is
/// judged by what it points to, as a figure's is; writing then replaces the link itself.
fn foreign(path: &Path, bytes: &[u8]) -> Option<String> {
    let existing = match std::fs::read(path) {
        Ok(existing) => existing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) => return Some(identify(path).describe().to_owned()),
    };
    let first_line = |b: &[u8]| b.split(|&c| c == b'\n').next().map(<[u8]>::to_vec);
    let npy = bytes.starts_with(NPY_MAGIC);
    let ours = if npy {
        existing.starts_with(NPY_MAGIC)
    } else {
        first_line(&existing) == first_line(bytes)
    };
    (!ours).then(|| match identify(path) {
        FileKind::Text if !npy => "a text file with another header line".to_owned(),
        kind => kind.describe().to_owned(),
    })
}

/// The folder that the files go to: planned (every file checked, nothing written) or
/// written.
struct Folder<'a> {
    path: &'a Path,
    /// The files that earlier exports of the same run wrote, which may be replaced.
    listed: &'a [String],
    writes: bool,
    /// The names of the files, in order.
    names: Vec<String>,
}

impl<'a> Folder<'a> {
    fn new(path: &'a Path, listed: &'a [String], writes: bool) -> Folder<'a> {
        Folder {
            path,
            listed,
            writes,
            names: Vec::new(),
        }
    }

    /// Writes `name` in the folder with what `render` renders, through a temporary renamed
    /// into place. A file already there is replaced only if the manifest lists it and it
    /// is still an earlier export of the same file (an `.npy` array, or a CSV with the same
    /// header line): anything else is the user's, and is refused untouched. A plan renders
    /// only what such a check needs.
    fn file(
        &mut self,
        name: &str,
        render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        self.names.push(name.to_owned());
        let path: PathBuf = self.path.join(name);
        let present = path.symlink_metadata().is_ok();
        if present && !self.listed.iter().any(|listed| listed == name) {
            bail!(
                "{} exists and no {MANIFEST} there lists it as a file of an export of this run: \
                 refusing to replace it (choose another --out folder)",
                path.display()
            );
        }
        if !present && !self.writes {
            return Ok(());
        }
        let mut bytes = Vec::new();
        render(&mut bytes).with_context(|| format!("cannot render {}", path.display()))?;
        if let Some(what) = foreign(&path, &bytes) {
            bail!(
                "{} is {what}, not an earlier mfcl export: refusing to replace it (choose another --out folder)",
                path.display()
            );
        }
        if !self.writes {
            return Ok(());
        }
        write_whole(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    /// `trajectory.csv`, or `t.npy`, `overlaps.npy`, `norm2.npy`, `cosine.npy`; returns the
    /// number of files written. One neuron: columns `Q_j`, `R`, `m_j` and arrays `(T, p)`,
    /// `(T,)`; a layer: columns `Q_j_k`, `R_k_l` (`k ≤ l`), `m_j_k` (underscores, so that
    /// two-digit indices stay unambiguous) and arrays `(T, p, K)`, `(T, K, K)`.
    fn trajectory(&mut self, trajectory: &Trajectory, format: Format) -> anyhow::Result<usize> {
        let k = trajectory.neurons.max(1);
        let p = trajectory.overlaps.first().map_or(0, Vec::len) / k;
        let cosine = trajectory.cosine();
        match format {
            Format::Csv => {
                self.file("trajectory.csv", |out| {
                    let per_feature = |name: &'static str| -> Vec<String> {
                        (1..=p)
                            .flat_map(|j| {
                                (1..=k).map(move |l| match k {
                                    1 => format!("{name}_{j}"),
                                    _ => format!("{name}_{j}_{l}"),
                                })
                            })
                            .collect()
                    };
                    let gram: Vec<String> = match k {
                        1 => vec!["R".to_owned()],
                        _ => (1..=k)
                            .flat_map(|a| (a..=k).map(move |b| format!("R_{a}_{b}")))
                            .collect(),
                    };
                    let header: Vec<String> = std::iter::once("t".to_owned())
                        .chain(per_feature("Q"))
                        .chain(gram)
                        .chain(per_feature("m"))
                        .collect();
                    writeln!(out, "{}", header.join(","))?;
                    for (i, cosine) in cosine.iter().enumerate() {
                        let r = &trajectory.norm2[i];
                        let upper = (0..k).flat_map(|a| (a..k).map(move |b| r[a * k + b]));
                        let values = std::iter::once(trajectory.t[i])
                            .chain(trajectory.overlaps[i].iter().copied())
                            .chain(upper)
                            .chain(cosine.iter().copied());
                        write_csv_row(out, values)?;
                    }
                    Ok(())
                })?;
                Ok(1)
            }
            Format::Npy => {
                let rows = trajectory.len();
                let flat = |rows: &[Vec<f64>]| rows.concat();
                let (per_feature, gram): (Vec<usize>, Vec<usize>) = match k {
                    1 => (vec![rows, p], vec![rows]),
                    _ => (vec![rows, p, k], vec![rows, k, k]),
                };
                self.file("t.npy", |out| write_npy(out, &[rows], &trajectory.t))?;
                self.file("overlaps.npy", |out| {
                    write_npy(out, &per_feature, &flat(&trajectory.overlaps))
                })?;
                self.file("norm2.npy", |out| {
                    write_npy(out, &gram, &flat(&trajectory.norm2))
                })?;
                self.file("cosine.npy", |out| {
                    write_npy(out, &per_feature, &flat(&cosine))
                })?;
                Ok(4)
            }
        }
    }

    /// `snapshots.csv` (index, step, t, stride) and, per snapshot `NNNNNN`, its stored
    /// coordinates and histograms; returns the number of files written.
    fn snapshots(&mut self, snapshots: &[Snapshot], format: Format) -> anyhow::Result<usize> {
        self.file("snapshots.csv", |out| {
            writeln!(out, "index,step,t,stride")?;
            for (index, s) in snapshots.iter().enumerate() {
                writeln!(out, "{index},{},{},{}", s.step, s.t, s.stride)?;
            }
            Ok(())
        })?;
        let mut written = 1;
        for (index, snapshot) in snapshots.iter().enumerate() {
            let prefix = format!("snapshot_{index:06}");
            written += match format {
                Format::Csv => self.snapshot_csv(&prefix, snapshot)?,
                Format::Npy => self.snapshot_npy(&prefix, snapshot)?,
            };
        }
        Ok(written)
    }

    /// `PREFIX_x.csv` (`x,xi_1..xi_p`; `x_1..x_K` for a layer) and `PREFIX_histogram.csv`
    /// (`atom_1..atom_p,[neuron,]bin_lo,bin_hi,count`; no atom columns for a continuous
    /// feature law, whose histograms cover every coordinate; the `neuron` column, 1-based,
    /// for a layer only).
    fn snapshot_csv(&mut self, prefix: &str, snapshot: &Snapshot) -> anyhow::Result<usize> {
        let (p, k) = (features(snapshot), snapshot.neurons.max(1));
        self.file(&format!("{prefix}_x.csv"), |out| {
            let weights: Vec<String> = match k {
                1 => vec!["x".to_owned()],
                _ => (1..=k).map(|l| format!("x_{l}")).collect(),
            };
            let header: Vec<String> = weights
                .into_iter()
                .chain((1..=p).map(|j| format!("xi_{j}")))
                .collect();
            writeln!(out, "{}", header.join(","))?;
            for (x, xi) in snapshot.x.chunks(k).zip(snapshot.xi.chunks(p.max(1))) {
                write_csv_row(
                    out,
                    x.iter().copied().chain(xi.iter().map(|&v| f64::from(v))),
                )?;
            }
            Ok(())
        })?;
        self.file(&format!("{prefix}_histogram.csv"), |out| {
            let width = snapshot.histograms.first().map_or(0, |h| h.atom.len());
            let header: Vec<String> = (1..=width)
                .map(|j| format!("atom_{j}"))
                .chain((k > 1).then(|| "neuron".to_owned()))
                .chain(["bin_lo", "bin_hi", "count"].map(String::from))
                .collect();
            writeln!(out, "{}", header.join(","))?;
            for histogram in &snapshot.histograms {
                for (bin, count) in histogram.edges.windows(2).zip(&histogram.counts) {
                    for atom in &histogram.atom {
                        write!(out, "{atom},")?;
                    }
                    if k > 1 {
                        write!(out, "{},", histogram.neuron + 1)?;
                    }
                    writeln!(out, "{},{},{count}", bin[0], bin[1])?;
                }
            }
            Ok(())
        })?;
        Ok(2)
    }

    /// `PREFIX_x.npy` (M, or (M, K) for a layer), `PREFIX_xi.npy` (M, p), `PREFIX_edges.npy`
    /// (B + 1, or (K, B + 1): each neuron's bins), `PREFIX_counts.npy` (A, B, or (A, K, B))
    /// and `PREFIX_atoms.npy` (A, p; (1, 0) for a continuous feature law): the arrays of the
    /// run file's snapshot group.
    fn snapshot_npy(&mut self, prefix: &str, snapshot: &Snapshot) -> anyhow::Result<usize> {
        let (p, k) = (features(snapshot), snapshot.neurons.max(1));
        let kept = snapshot.x.len() / k;
        let histograms = &snapshot.histograms;
        let patterns = histograms.len() / k;
        let bins = histograms.first().map_or(0, |h| h.counts.len());
        let width = histograms.first().map_or(0, |h| h.atom.len());
        let edges: Vec<f64> = histograms
            .iter()
            .take(k)
            .flat_map(|h| h.edges.iter().copied())
            .collect();
        let counts: Vec<u64> = histograms
            .iter()
            .flat_map(|h| h.counts.iter().copied())
            .collect();
        let atoms: Vec<f32> = histograms
            .iter()
            .step_by(k)
            .flat_map(|h| h.atom.iter().copied())
            .collect();
        let (x_shape, edges_shape, counts_shape) = match k {
            1 => (vec![kept], vec![edges.len()], vec![patterns, bins]),
            _ => (vec![kept, k], vec![k, bins + 1], vec![patterns, k, bins]),
        };
        let file = |name: &str| format!("{prefix}_{name}.npy");
        self.file(&file("x"), |out| write_npy(out, &x_shape, &snapshot.x))?;
        self.file(&file("xi"), |out| write_npy(out, &[kept, p], &snapshot.xi))?;
        self.file(&file("edges"), |out| write_npy(out, &edges_shape, &edges))?;
        self.file(&file("counts"), |out| {
            write_npy(out, &counts_shape, &counts)
        })?;
        self.file(&file("atoms"), |out| {
            write_npy(out, &[patterns, width], &atoms)
        })?;
        Ok(5)
    }
}

/// `p`: the `ξ` values stored per coordinate.
fn features(snapshot: &Snapshot) -> usize {
    snapshot.xi.len() / (snapshot.x.len() / snapshot.neurons.max(1)).max(1)
}

/// One CSV line. `{}` prints the shortest text that parses back to the same number.
fn write_csv_row(
    out: &mut impl Write,
    values: impl IntoIterator<Item = f64>,
) -> std::io::Result<()> {
    let mut separator = "";
    for value in values {
        write!(out, "{separator}{value}")?;
        separator = ",";
    }
    writeln!(out)
}

/// The first bytes of every `.npy` file.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// A number type that `.npy` files store.
trait NpyElement: Copy {
    /// NumPy's type string: byte order, kind, size.
    const DESCR: &'static str;
    /// The little-endian bytes.
    fn write_le(self, out: &mut impl Write) -> std::io::Result<()>;
}

macro_rules! npy_element {
    ($($type:ty => $descr:literal),*) => {$(
        impl NpyElement for $type {
            const DESCR: &'static str = $descr;
            fn write_le(self, out: &mut impl Write) -> std::io::Result<()> {
                out.write_all(&self.to_le_bytes())
            }
        }
    )*};
}
npy_element!(f64 => "<f8", f32 => "<f4", u64 => "<u8");

/// An array in NumPy's `.npy` format, version 1.0: the magic string, the version, the
/// header length, a Python dict literal with the type, order and shape padded so that the
/// data starts on a 64-byte boundary, then the data in C order.
fn write_npy<T: NpyElement>(
    out: &mut impl Write,
    shape: &[usize],
    data: &[T],
) -> std::io::Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    // A 1-tuple needs its trailing comma in Python: `(5,)`.
    let shape = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        T::DESCR
    );
    // Magic (6) + version (2) + length (2) + header + newline, to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    header.push('\n');
    let length = u16::try_from(header.len()).expect("a shape of a few numbers fits a 1.0 header");
    out.write_all(NPY_MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    data.iter().try_for_each(|&v| v.write_le(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_align_the_data_to_64_bytes() {
        for shape in [vec![5], vec![3, 2], vec![0, 7]] {
            let data = vec![1.5f64; shape.iter().product()];
            let mut bytes = Vec::new();
            write_npy(&mut bytes, &shape, &data).unwrap();
            let header_length = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + header_length) % 64, 0);
            assert_eq!(bytes.len(), 10 + header_length + 8 * data.len());
            let header = std::str::from_utf8(&bytes[10..10 + header_length]).unwrap();
            assert!(header.ends_with('\n'));
            assert!(header.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': ("));
        }
        let mut bytes = Vec::new();
        write_npy(&mut bytes, &[2], &[7u64, 8]).unwrap();
        assert!(
            String::from_utf8_lossy(&bytes)
                .contains("'descr': '<u8', 'fortran_order': False, 'shape': (2,), }")
        );
        assert_eq!(
            &bytes[bytes.len() - 16..bytes.len() - 8],
            &7u64.to_le_bytes()
        );
    }
}
