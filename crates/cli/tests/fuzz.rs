//! Damaged files never crash mfcl and never give wrong numbers (issue 19, item 6): single-byte
//! flips and truncations of a run file, its checkpoint and one of its snapshot files, each
//! followed by every command that reads them, on a fresh copy of the run. Every outcome must
//! be exit 0 with the undamaged run's results, or exit 2 with a message; never another exit
//! code (a panic's 101, an abort's 134, a segfault's signal), never a hang, never other numbers.
//!
//! The damage is drawn from a seeded generator, so a failure reproduces: the report names the
//! seed, the file and the offset; `MFCL_FUZZ_SEED=S` draws another set.

mod common;

use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Single-byte flips, half of them in HDF5's metadata (superblock, object headers, heaps,
/// B-trees: everything outside the datasets' raw data), half in raw data.
const FLIPS: usize = 300;
/// Truncations at a random length.
const TRUNCATIONS: usize = 50;
/// The damage drawn unless `MFCL_FUZZ_SEED` says otherwise.
const SEED: u64 = 19;
/// A command still running after this is taken to hang.
const PATIENCE: Duration = Duration::from_secs(60);

/// A tiny run: 5 samples, snapshots at t = 0, 0.5 and 1, checkpoints at 0.5 and 1.
const RUN: [&str; 5] = [
    "run.particles=1000",
    "run.t_end=1",
    "run.record_every=0.25",
    "run.snapshot_every=0.5",
    "run.checkpoint_every=0.5",
];
/// `resume` extends the finished run to this time: it reads the checkpoint and the snapshot
/// files and rebuilds the run file whatever the damage.
const EXTENDED_T_END: &str = "1.5";

/// The files damaged, by their names in a run's folder.
const TARGETS: [&str; 3] = ["p.h5", "p.checkpoint.h5", "p.snapshots/000001.h5"];

/// The undamaged run `root/base/p.h5` that each test copies and damages; its folder.
fn base_run(root: &Path) -> PathBuf {
    let base = root.join("base");
    std::fs::create_dir_all(&base).unwrap();
    let run = base.join("p.h5");
    let mut args = vec!["run", "--out", arg(&run)];
    args.extend(RUN.iter().flat_map(|set| ["--set", set]));
    let output = common::mfcl(&args);
    assert!(output.status.success(), "{}", common::stderr(&output));
    base
}

#[test]
fn damaged_files_are_refused_or_read_right() {
    let seed = std::env::var("MFCL_FUZZ_SEED")
        .map(|s| s.parse().expect("MFCL_FUZZ_SEED is an integer"))
        .unwrap_or(SEED);
    let root = common::scratch("fuzz");
    let base = base_run(&root);

    let undamaged = copy_run(&base, &root.join("undamaged"));
    let truth = observe(&undamaged);
    for seen in &truth {
        assert_eq!(seen.code, Some(0), "{}: {}", seen.command, seen.stderr);
    }

    let cases = plan(seed, &base);
    let next = AtomicUsize::new(0);
    let verdicts = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let dir = copy_run(&base, &root.join(format!("case{}", case.index)));
                    case.damage.apply(&dir.join(TARGETS[case.target]));
                    let seen = observe(&dir);
                    let judged: Vec<_> = seen
                        .iter()
                        .zip(&truth)
                        .map(|(seen, truth)| (seen.command, judge(seen, truth)))
                        .collect();
                    // Kept for a look at what went wrong.
                    if judged.iter().all(|(_, verdict)| verdict.is_fine()) {
                        std::fs::remove_dir_all(&dir).unwrap();
                    }
                    verdicts.lock().unwrap().push((case, judged));
                }
            });
        }
    });

    let verdicts = verdicts.into_inner().unwrap();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<_, [usize; 4]>::new();
    for (case, judged) in &verdicts {
        for (command, verdict) in judged {
            counts.entry(*command).or_default()[verdict.column()] += 1;
            if !verdict.is_fine() {
                failures.push(format!("seed {seed}, {case}: mfcl {command}: {verdict}"));
            }
        }
    }
    eprintln!(
        "{} damaged copies (seed {seed}): exit 0 with the true results / exit 2 / other \
         results / other exit",
        verdicts.len()
    );
    for (command, [right, refused, wrong, crashed]) in &counts {
        eprintln!("  {command:<18} {right:>4} {refused:>4} {wrong:>4} {crashed:>4}");
    }
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// `resume` makes do without a missing snapshot file (the run file's copy) and a damaged
/// latest checkpoint (the previous one), says so, and ends where the intact run ends.
#[test]
fn resume_says_what_it_made_do_without() {
    let root = common::scratch("fallback");
    let base = base_run(&root);
    let intact = copy_run(&base, &root.join("intact"));
    let resume = |dir: &Path| {
        let run = dir.join("p.h5");
        let resumed = execute(
            "resume",
            &["resume", arg(&run), "--t-end", EXTENDED_T_END],
            |_| Vec::new(),
        );
        assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
        let results = exports(dir, ["resumed trajectory", "resumed snapshots"]);
        (resumed.stderr, results.map(|seen| seen.results))
    };
    let (_, truth) = resume(&intact);

    let damaged = copy_run(&base, &root.join("damaged"));
    std::fs::remove_file(damaged.join("p.snapshots/000001.h5")).unwrap();
    let checkpoint = damaged.join("p.checkpoint.h5");
    let x = raw_data_of(&checkpoint, "state/x");
    Damage::Flip {
        offset: x.start,
        mask: 0x10,
        metadata: false,
    }
    .apply(&checkpoint);
    let (stderr, results) = resume(&damaged);
    let dir = arg(&damaged);
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "warning: {dir}/p.checkpoint.h5 is damaged: checksum mismatch in state/x; \
                 resuming from the previous checkpoint {dir}/p.checkpoint.previous.h5 at t = \
                 0.5, 0.5 before"
            ),
            format!(
                "warning: {dir}/p.snapshots/000001.h5 is missing; rebuilding it from the run \
                 file's copy of snapshot 1"
            ),
        ]
    );
    assert!(
        results == truth,
        "the resumed run differs from the intact one's"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// A damaged copy of the run: which file, and how.
struct Case {
    index: usize,
    target: usize,
    damage: Damage,
}

enum Damage {
    /// The byte at `offset` XOR `mask`.
    Flip {
        offset: u64,
        mask: u8,
        metadata: bool,
    },
    /// The file cut to `length` bytes.
    Truncate { length: u64 },
}

impl Damage {
    fn apply(&self, path: &Path) {
        let mut bytes = std::fs::read(path).unwrap();
        match *self {
            Damage::Flip { offset, mask, .. } => bytes[offset as usize] ^= mask,
            Damage::Truncate { length } => bytes.truncate(length as usize),
        }
        std::fs::write(path, bytes).unwrap();
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let file = TARGETS[self.target];
        match self.damage {
            Damage::Flip {
                offset,
                mask,
                metadata,
            } => {
                let region = if metadata { "metadata" } else { "raw data" };
                write!(
                    f,
                    "case {}: {file} byte {offset} ^= {mask:#04x} ({region})",
                    self.index
                )
            }
            Damage::Truncate { length } => {
                write!(f, "case {}: {file} cut to {length} bytes", self.index)
            }
        }
    }
}

/// The damage of every case, drawn from `seed`: flips alternate between metadata and raw
/// data, and cases between the three files.
fn plan(seed: u64, base: &Path) -> Vec<Case> {
    let mut rng = SplitMix64(seed);
    let regions: Vec<[Vec<Range<u64>>; 2]> = TARGETS
        .iter()
        .map(|name| {
            let path = base.join(name);
            let data = raw_data(&path);
            let length = std::fs::metadata(&path).unwrap().len();
            [complement(&data, length), data]
        })
        .collect();
    (0..FLIPS + TRUNCATIONS)
        .map(|index| {
            let target = index % TARGETS.len();
            let damage = if index < FLIPS {
                let metadata = index % 2 == 0;
                let ranges = &regions[target][usize::from(!metadata)];
                Damage::Flip {
                    offset: pick(&mut rng, ranges),
                    mask: (rng.below(255) + 1) as u8,
                    metadata,
                }
            } else {
                let length = regions[target].iter().flatten().map(|r| r.end).max();
                Damage::Truncate {
                    length: rng.below(length.unwrap()),
                }
            };
            Case {
                index,
                target,
                damage,
            }
        })
        .collect()
}

/// Where the raw data of the dataset `name` of the HDF5 file `path` begins: its first chunk.
fn raw_data_of(path: &Path, name: &str) -> Range<u64> {
    let file = hdf5::File::open(path).unwrap();
    let chunk = file.dataset(name).unwrap().chunk_info(0).unwrap();
    chunk.addr..chunk.addr + chunk.size
}

/// The byte ranges of every dataset's raw data in the HDF5 file at `path`, sorted.
fn raw_data(path: &Path) -> Vec<Range<u64>> {
    fn visit(group: &hdf5::Group, ranges: &mut Vec<Range<u64>>) {
        for name in group.member_names().unwrap() {
            if let Ok(dataset) = group.dataset(&name) {
                match dataset.num_chunks() {
                    Some(chunks) => ranges.extend((0..chunks).map(|i| {
                        let chunk = dataset.chunk_info(i).unwrap();
                        chunk.addr..chunk.addr + chunk.size
                    })),
                    None => ranges.extend(
                        dataset
                            .offset()
                            .map(|start| start..start + dataset.storage_size()),
                    ),
                }
            } else {
                visit(&group.group(&name).unwrap(), ranges);
            }
        }
    }
    let mut ranges = Vec::new();
    visit(&hdf5::File::open(path).unwrap(), &mut ranges);
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    ranges
}

/// `0..length` less the sorted, disjoint `ranges`.
fn complement(ranges: &[Range<u64>], length: u64) -> Vec<Range<u64>> {
    let mut gaps = Vec::new();
    let mut from = 0;
    for range in ranges {
        gaps.push(from..range.start);
        from = range.end;
    }
    gaps.push(from..length);
    gaps.retain(|r| !r.is_empty());
    gaps
}

/// A byte drawn uniformly from `ranges`.
fn pick(rng: &mut SplitMix64, ranges: &[Range<u64>]) -> u64 {
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let mut at = rng.below(total);
    for range in ranges {
        let length = range.end - range.start;
        if at < length {
            return range.start + at;
        }
        at -= length;
    }
    unreachable!("a draw below the total falls in a range")
}

/// SplitMix64: a seeded generator with no dependency, good enough to spread offsets.
struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

/// A copy of the run's files in `base` at `dir`.
fn copy_run(base: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("p.snapshots")).unwrap();
    for entry in walk(base) {
        let relative = entry.strip_prefix(base).unwrap();
        std::fs::copy(&entry, dir.join(relative)).unwrap();
    }
    dir.to_path_buf()
}

/// The files under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// What one command did: its exit code (`None` if a signal ended it or it hung), what it
/// said on stderr, and its results to compare with the undamaged run's.
struct Seen {
    command: &'static str,
    code: Option<i32>,
    stderr: String,
    /// Why it has no exit code: the signal, or a hang.
    ended_by: String,
    results: Vec<u8>,
}

/// Every reading command on the run in `dir`, then `resume` and the exports of the resumed
/// run. Results are what a person would use: the printed summary and deviations, the
/// exported files and the figure; the folder's name is masked, and the line of `inspect`
/// that describes the checkpoint is left out (it says when the checkpoint is unreadable).
fn observe(dir: &Path) -> Vec<Seen> {
    let run = dir.join("p.h5");
    let masked = |stdout: Vec<u8>| {
        let text = String::from_utf8_lossy(&stdout).replace(arg(dir), "DIR");
        let kept: Vec<&str> = text
            .lines()
            .filter(|line| !line.starts_with("checkpoint"))
            .collect();
        kept.join("\n").into_bytes()
    };
    let inspect = execute("inspect", &["inspect", arg(&run)], masked);
    let compare = execute("compare", &["compare", arg(&run)], masked);
    let figure = dir.join("p.png");
    let plot = execute("plot", &["plot", arg(&run), "--out", arg(&figure)], |_| {
        std::fs::read(&figure).unwrap_or_default()
    });
    let [trajectory, snapshots] = exports(dir, ["export trajectory", "export snapshots"]);
    let resume = execute(
        "resume",
        &["resume", arg(&run), "--t-end", EXTENDED_T_END],
        |_| Vec::new(),
    );
    let resumed = resume.code == Some(0);
    let mut seen = vec![inspect, compare, plot, trajectory, snapshots, resume];
    if resumed {
        seen.extend(exports(dir, ["resumed trajectory", "resumed snapshots"]));
    }
    seen
}

/// `export` of the trajectory and of the snapshots, as CSV, into folders of `dir` named
/// after the `commands`.
fn exports(dir: &Path, commands: [&'static str; 2]) -> [Seen; 2] {
    let run = dir.join("p.h5");
    let [trajectory, snapshots] = commands;
    [(trajectory, "trajectory"), (snapshots, "snapshots")].map(|(command, what)| {
        let out = dir.join(command.replace(' ', "-"));
        let args = [
            "export",
            arg(&run),
            "--what",
            what,
            "--format",
            "csv",
            "--out",
            arg(&out),
        ];
        execute(command, &args, |_| {
            // The exported data; not a manifest or anything else that names the source.
            let mut bytes = Vec::new();
            for file in walk(&out) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                if name.starts_with("trajectory") || name.starts_with("snapshot") {
                    bytes.extend(name.as_bytes());
                    bytes.extend(std::fs::read(&file).unwrap());
                }
            }
            bytes
        })
    })
}

/// Runs `mfcl ARGS` on one thread, waiting at most [`PATIENCE`]; `results` makes the results
/// from its stdout once it has ended.
fn execute(command: &'static str, args: &[&str], results: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Seen {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Read as it comes, so that no output fills a pipe and blocks the child.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes)
                .map(|_| bytes)
                .unwrap_or_default()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > PATIENCE {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    let ended_by = match status {
        None => format!("still running after {PATIENCE:?}"),
        Some(status) => status
            .signal()
            .map(|signal| format!("signal {signal}"))
            .unwrap_or_default(),
    };
    let code = status.and_then(|status| status.code());
    Seen {
        command,
        code,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        ended_by,
        results: if code == Some(0) {
            results(stdout)
        } else {
            Vec::new()
        },
    }
}

/// How a command fared on a damaged copy.
enum Verdict {
    /// Exit 0 with the undamaged run's results.
    Right,
    /// Exit 2 with a message.
    Refused,
    /// Exit 0 with other results.
    Wrong,
    /// Another exit code, a signal, a hang, or exit 2 without a proper message.
    Crashed(String),
}

impl Verdict {
    fn is_fine(&self) -> bool {
        matches!(self, Verdict::Right | Verdict::Refused)
    }

    fn column(&self) -> usize {
        match self {
            Verdict::Right => 0,
            Verdict::Refused => 1,
            Verdict::Wrong => 2,
            Verdict::Crashed(_) => 3,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Verdict::Right => f.write_str("the true results"),
            Verdict::Refused => f.write_str("refused"),
            Verdict::Wrong => f.write_str("exit 0 with other results than the undamaged run's"),
            Verdict::Crashed(what) => f.write_str(what),
        }
    }
}

fn judge(seen: &Seen, truth: &Seen) -> Verdict {
    // Warnings and notes may come first; an error is one line, the last.
    let lines: Vec<&str> = seen.stderr.lines().collect();
    let proper = |line: &&str| ["warning: ", "note: "].iter().any(|p| line.starts_with(p));
    let message = match lines.split_last() {
        Some((last, before)) => last.starts_with("error: ") && before.iter().all(proper),
        None => false,
    };
    match seen.code {
        Some(0) if seen.results == truth.results => Verdict::Right,
        Some(0) => Verdict::Wrong,
        Some(2) if message => Verdict::Refused,
        Some(code) => Verdict::Crashed(format!("exit {code}: {}", seen.stderr.trim_end())),
        None => Verdict::Crashed(format!("{}: {}", seen.ended_by, seen.stderr.trim_end())),
    }
}
