//! The file formats: a layer of `K` neurons written and read back in the current format
//! (checked against the datasets' shapes as h5py would see them), and the files of earlier
//! releases, read with the ziggurat generator they drew with, resumed to the trajectory
//! those releases produced, and upgraded by a resume: format 1 (one neuron;
//! `data/format1/`), read as `K = 1`, and format 2 (a layer; `data/format2/`).

#[path = "support/reseal.rs"]
mod reseal;

use std::path::{Path, PathBuf};

use mfcl_checkpoint::{
    Cadence, Checkpoint, FORMAT_VERSION, FileError, FileKind, Header, Recorder, RunContents,
    SolverState, checkpoint_path, claim_run, identify, load_checkpoint, read_run, snapshots_dir,
};
use mfcl_model::{Config, OrderParameters, Problem, Trajectory};
use mfcl_solver::{
    Generator, ParticleSystem, Population, Schedule, Sgd, Silent, Stepper, drive, drive_from,
};
use reseal::reseal_header;

/// The files of mfcl 0.1.0 (see `data/format1/README.md`).
const FORMAT1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/format1");
/// The files of the release before the batched deviates (see `data/format2/README.md`).
const FORMAT2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/format2");

/// An empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-formats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy in `dir` of the format-1 run `name`: its run file, checkpoint and snapshot folder.
fn copy_format1(name: &str, dir: &Path) -> PathBuf {
    copy_fixture(FORMAT1, name, dir)
}

/// A copy in `dir` of the run `name` in the fixture folder `fixtures`: its run file,
/// checkpoint and snapshot folder.
fn copy_fixture(fixtures: &str, name: &str, dir: &Path) -> PathBuf {
    let from = Path::new(fixtures).join(format!("{name}.h5"));
    let run = dir.join(format!("{name}.h5"));
    std::fs::copy(&from, &run).unwrap();
    std::fs::copy(checkpoint_path(&from), checkpoint_path(&run)).unwrap();
    std::fs::create_dir_all(snapshots_dir(&run)).unwrap();
    for entry in std::fs::read_dir(snapshots_dir(&from)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, snapshots_dir(&run).join(path.file_name().unwrap())).unwrap();
    }
    run
}

/// A format-1 fixture file.
fn format1(name: &str) -> PathBuf {
    Path::new(FORMAT1).join(name)
}

/// The largest `|a − b|` over every `Q_jk` and `R_kl` of two trajectories at the same times.
fn max_deviation(a: &Trajectory, b: &Trajectory) -> f64 {
    assert_eq!(a.t, b.t);
    assert_eq!(a.neurons, b.neurons);
    let rows = |t: &Trajectory| -> Vec<f64> {
        t.overlaps
            .iter()
            .chain(&t.norm2)
            .flatten()
            .copied()
            .collect()
    };
    rows(a)
        .iter()
        .zip(rows(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// A dataset's shape, read with HDF5 alone.
fn shape(file: &Path, dataset: &str) -> Vec<usize> {
    hdf5::File::open(file)
        .unwrap()
        .dataset(dataset)
        .unwrap()
        .shape()
}

/// The root attribute `generator` of a file, read with HDF5 alone.
fn generator_attribute(file: &Path) -> String {
    hdf5::File::open(file)
        .unwrap()
        .attr("generator")
        .unwrap()
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .to_string()
}

/// `header` as a file of formats 1 to 3 records it: without a run id. A run resumed from
/// one records a new one, and the rest unchanged.
fn without_run_id(header: &Header) -> Header {
    assert!(
        !header.run_id.is_empty(),
        "an upgraded run without a run id"
    );
    Header {
        run_id: String::new(),
        ..header.clone()
    }
}

/// The population of a checkpoint's state.
fn population(checkpoint: &Checkpoint) -> &Population {
    match &checkpoint.state {
        SolverState::Particles(state) => &state.population,
        SolverState::Sgd(state) => &state.population,
    }
}

/// A layer of two neurons on the two-feature problem, each leaning towards one feature.
fn layer_of_two() -> (Config, Problem, OrderParameters) {
    let config = Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap();
    let problem = Problem {
        neurons: 2,
        decorrelation: 1.0,
        ..config.problem.clone()
    };
    let init = OrderParameters {
        neurons: 2,
        overlaps: vec![0.3, 0.05, 0.05, 0.2],
        norm2: vec![1.0, 0.1, 0.1, 1.0],
    };
    (config, problem, init)
}

#[test]
fn a_layer_is_written_with_a_neuron_axis_and_read_back() {
    let (config, problem, init) = layer_of_two();
    let run = scratch("layer").join("layer.h5");
    let header = Header::new(&config.source, "particles", 1, 2, Generator::CURRENT);
    let steps = 6;
    let cadence = Cadence {
        snapshot_every: 3,
        checkpoint_every: 1000,
        checkpoint_every_secs: None,
        total_steps: steps,
    };
    let mut recorder = Recorder::start(
        &run,
        header.clone(),
        2,
        problem.feature_law,
        cadence,
        &Trajectory::default(),
        &[],
    )
    .unwrap();
    let mut system = ParticleSystem::new(&problem, &init, 3000, 0.01, 1);
    let schedule = Schedule {
        total_steps: steps,
        record_every: 2,
    };
    let trajectory = drive(&mut system, &schedule, &mut recorder).unwrap();
    recorder.finish().unwrap();

    let contents = read_run(&run).unwrap();
    assert_eq!(contents.format_version, FORMAT_VERSION);
    assert_eq!(contents.header, header);
    assert_eq!(contents.trajectory, trajectory);
    assert_eq!(identify(&run), FileKind::RunFile);
    let (t, p, k) = (trajectory.len(), 2, 2);
    assert_eq!(shape(&run, "trajectory/t"), [t]);
    assert_eq!(shape(&run, "trajectory/overlaps"), [t, p, k]);
    assert_eq!(shape(&run, "trajectory/norm2"), [t, k, k]);
    assert_eq!(shape(&run, "trajectory/cosine"), [t, p, k]);
    let file = hdf5::File::open(&run).unwrap();
    assert_eq!(
        file.attr("neurons").unwrap().read_scalar::<u64>().unwrap(),
        2
    );
    assert_eq!(contents.header.generator, Generator::BoxMuller);
    assert_eq!(generator_attribute(&run), "xoshiro256++x8/box-muller");
    // m_jk = Q_jk / √R_kk, in the file's (T, p, K) order.
    let cosine: Vec<f64> = file
        .dataset("trajectory/cosine")
        .unwrap()
        .read_raw()
        .unwrap();
    let last = trajectory.state(t - 1);
    for (j, l) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let expected = last.overlaps[j * k + l] / last.norm2[l * k + l].sqrt();
        assert_eq!(cosine[((t - 1) * p + j) * k + l], expected, "m_{j}{l}");
    }

    // Snapshots at steps 0, 3, 6, the last one the final population's.
    assert_eq!(contents.snapshots.len(), 3);
    let last = &contents.snapshots[2];
    assert_eq!(
        *last,
        system
            .state()
            .population
            .snapshot(problem.feature_law, 6, system.time())
    );
    assert_eq!(last.neurons, 2);
    assert_eq!(last.histograms.len(), 4 * 2);
    let group = "snapshots/000002";
    assert_eq!(shape(&run, &format!("{group}/x")), [3000, k]);
    assert_eq!(shape(&run, &format!("{group}/xi")), [3000, p]);
    assert_eq!(shape(&run, &format!("{group}/edges")), [k, 101]);
    assert_eq!(shape(&run, &format!("{group}/counts")), [4, k, 100]);
    assert_eq!(shape(&run, &format!("{group}/atoms")), [4, p]);
    // Each neuron's histograms count every particle once.
    for neuron in 0..2 {
        let total: u64 = last
            .histograms
            .iter()
            .filter(|h| h.neuron == neuron)
            .flat_map(|h| &h.counts)
            .sum();
        assert_eq!(total, 3000);
    }

    let checkpoint = load_checkpoint(&run).unwrap();
    assert_eq!(checkpoint.format_version, FORMAT_VERSION);
    assert_eq!(checkpoint.header, header);
    assert_eq!(checkpoint.trajectory, trajectory);
    assert_eq!(checkpoint.snapshots, contents.snapshots);
    assert_eq!(
        checkpoint.state,
        SolverState::Particles(system.state().clone())
    );
    let checkpoint = checkpoint_path(&run);
    assert_eq!(
        generator_attribute(&checkpoint),
        "xoshiro256++x8/box-muller"
    );
    // One chunk of 3000 particles: 8 lanes of 4 words.
    assert_eq!(shape(&checkpoint, "state/streams"), [1, 32]);
    assert_eq!(shape(&checkpoint, "state/x"), [3000, k]);
    assert_eq!(shape(&checkpoint, "state/previous/drive"), [p, k]);
    assert_eq!(shape(&checkpoint, "state/previous/self_term"), [k, k]);
    assert_eq!(shape(&checkpoint, "state/previous/noise"), [k, k]);
}

#[test]
fn format1_files_are_read_as_one_neuron() {
    for name in ["particles", "sgd"] {
        let run = format1(&format!("{name}.h5"));
        assert_eq!(identify(&run), FileKind::RunFile);
        assert_eq!(identify(&checkpoint_path(&run)), FileKind::Checkpoint);
        claim_run(&run, true).unwrap();
        let contents = read_run(&run).unwrap();
        assert_eq!(contents.format_version, 1);
        assert_eq!(contents.header.neurons, 1);
        assert_eq!(contents.header.generator, Generator::Ziggurat);
        assert_eq!(contents.header.solver, name);
        let trajectory = &contents.trajectory;
        let config = Config::parse(&contents.header.config).unwrap();
        let p = config.problem.features();
        assert_eq!(trajectory.neurons, 1);
        assert!(trajectory.overlaps.iter().all(|q| q.len() == p));
        assert!(trajectory.norm2.iter().all(|r| r.len() == 1));
        // The release's own cosines, m_j = Q_j / √R, from the Q and R read.
        let file = hdf5::File::open(&run).unwrap();
        let cosine: Vec<f64> = file
            .dataset("trajectory/cosine")
            .unwrap()
            .read_raw()
            .unwrap();
        let read: Vec<f64> = trajectory.cosine().concat();
        assert_eq!(cosine.len(), read.len());
        for (stored, read) in cosine.iter().zip(&read) {
            assert!((stored - read).abs() <= 1e-15, "{stored} against {read}");
        }

        let checkpoint = load_checkpoint(&run).unwrap();
        assert_eq!(checkpoint.format_version, 1);
        assert_eq!(checkpoint.header, contents.header);
        assert_eq!(&checkpoint.trajectory, trajectory);
        // Snapshot files and the run file's copies, both of format 1, agree.
        assert_eq!(checkpoint.snapshots, contents.snapshots);
        let population = match &checkpoint.state {
            SolverState::Particles(state) => {
                let previous = state.previous.as_ref().expect("coefficients of step 49");
                assert_eq!(
                    (
                        previous.drive.len(),
                        previous.self_term.len(),
                        previous.noise.len()
                    ),
                    (p, 1, 1)
                );
                &state.population
            }
            SolverState::Sgd(state) => &state.population,
        };
        assert_eq!((population.features, population.neurons), (p, 1));
        assert_eq!(population.generator, Generator::Ziggurat);
        // The state is the one the last sample describes.
        let last = trajectory.state(trajectory.len() - 1);
        let order = population.order_parameters();
        for (a, b) in order.coordinates().iter().zip(last.coordinates()) {
            assert!((a - b).abs() <= 1e-14, "{a} against {b}");
        }
        for snapshot in &contents.snapshots {
            assert_eq!(snapshot.neurons, 1);
            assert_eq!(snapshot.x.len() * p, snapshot.xi.len());
            let counted: u64 = snapshot.histograms.iter().flat_map(|h| &h.counts).sum();
            assert_eq!(counted as usize, population.len());
        }
    }
    // The particle checkpoint is at step 50, where the release also took its last snapshot:
    // the snapshot of the state read equals the one it wrote (x, labels, bins and counts).
    let checkpoint = load_checkpoint(&format1("particles.h5")).unwrap();
    let SolverState::Particles(state) = &checkpoint.state else {
        panic!("a particle checkpoint");
    };
    let config = Config::parse(&checkpoint.header.config).unwrap();
    let taken = checkpoint.snapshots.last().unwrap();
    assert_eq!(taken.step, 50);
    assert_eq!(
        state
            .population
            .snapshot(config.problem.feature_law, 50, taken.t),
        *taken
    );
}

/// Resumes the format-1 checkpoint of the run `name` through the library to the end of the
/// release's uninterrupted run `NAME_full.h5`; returns the trajectory and the release's.
fn resume_format1(name: &str) -> [Trajectory; 2] {
    let full = read_run(&format1(&format!("{name}_full.h5"))).unwrap();
    let config = Config::parse(&full.header.config).unwrap();
    let checkpoint = load_checkpoint(&format1(&format!("{name}.h5"))).unwrap();
    // The stopped run's samples are the first ones of the whole run's.
    assert_eq!(
        full.trajectory.t[..checkpoint.trajectory.len()],
        checkpoint.trajectory.t[..]
    );
    let resumed = match checkpoint.state {
        SolverState::Particles(state) => {
            let run = &config.run;
            let schedule = Schedule::new(run.t_end, run.dt, run.record_every);
            let mut system = ParticleSystem::resume(&config.problem, run.dt, state);
            drive_from(&mut system, &schedule, checkpoint.trajectory, &mut Silent).unwrap()
        }
        SolverState::Sgd(state) => {
            let run = &config.run;
            let dt = 1.0 / run.dimension as f64;
            let schedule = Schedule::new(run.t_end, dt, run.record_every);
            let mut sgd = Sgd::resume(&config.problem, state);
            drive_from(&mut sgd, &schedule, checkpoint.trajectory, &mut Silent).unwrap()
        }
    };
    [resumed, full.trajectory]
}

#[test]
fn format1_checkpoints_resume_to_the_previous_releases_trajectory() {
    for name in ["particles", "sgd"] {
        let [resumed, release] = resume_format1(name);
        let deviation = max_deviation(&resumed, &release);
        println!("{name}: max |resumed − release| over Q and R = {deviation:e}");
        assert!(deviation <= 1e-12, "{name}: {deviation:e}");
    }
}

/// What [`resume_to`] leaves.
struct Resumed {
    /// The checkpoint resumed from, as read before resuming.
    checkpoint: Checkpoint,
    /// The resumed run's whole trajectory.
    trajectory: Trajectory,
    /// Its final population.
    population: Population,
    /// The steps of the whole run.
    total_steps: u64,
}

/// Resumes the run file `run` from its checkpoint to the end of the uninterrupted run
/// `full`, as `mfcl resume --t-end` does: the run file rebuilt from the checkpoint, then
/// continued by the recorder.
fn resume_to(run: &Path, full: &RunContents) -> Resumed {
    let checkpoint = load_checkpoint(run).unwrap();
    let config = Config::parse(&full.header.config).unwrap();
    let settings = &config.run;
    let dt = match checkpoint.state {
        SolverState::Particles(_) => settings.dt,
        SolverState::Sgd(_) => 1.0 / settings.dimension as f64,
    };
    let schedule = Schedule::new(settings.t_end, dt, settings.record_every);
    let cadence = Cadence::new(
        settings.snapshot_every,
        settings.checkpoint_every,
        None,
        dt,
        schedule.total_steps,
    );
    let mut recorder = Recorder::start(
        run,
        checkpoint.header.clone(),
        config.problem.features(),
        config.problem.feature_law,
        cadence,
        &checkpoint.trajectory,
        &checkpoint.snapshots,
    )
    .unwrap();
    let recorded = checkpoint.trajectory.clone();
    let (trajectory, population) = match checkpoint.state.clone() {
        SolverState::Particles(state) => {
            let mut system = ParticleSystem::resume(&config.problem, dt, state);
            let trajectory = drive_from(&mut system, &schedule, recorded, &mut recorder).unwrap();
            (trajectory, system.state().population.clone())
        }
        SolverState::Sgd(state) => {
            let mut sgd = Sgd::resume(&config.problem, state);
            let trajectory = drive_from(&mut sgd, &schedule, recorded, &mut recorder).unwrap();
            (trajectory, sgd.state().population.clone())
        }
    };
    recorder.finish().unwrap();
    Resumed {
        checkpoint,
        trajectory,
        population,
        total_steps: schedule.total_steps,
    }
}

#[test]
fn resuming_a_format1_run_rebuilds_it_in_the_current_format() {
    let dir = scratch("upgrade");
    let run = copy_format1("particles", &dir);
    let old_snapshots: Vec<_> = ["000000.h5", "000001.h5"]
        .map(|name| std::fs::read(snapshots_dir(&run).join(name)).unwrap())
        .into();
    let full = read_run(&format1("particles_full.h5")).unwrap();
    let Resumed {
        checkpoint,
        trajectory,
        total_steps,
        ..
    } = resume_to(&run, &full);
    assert!(max_deviation(&trajectory, &full.trajectory) <= 1e-12);

    let upgraded = read_run(&run).unwrap();
    assert_eq!(upgraded.format_version, FORMAT_VERSION);
    assert_eq!(without_run_id(&upgraded.header), checkpoint.header);
    assert_eq!(upgraded.header.neurons, 1);
    // It goes on with the generator it started with, and now says so.
    assert_eq!(upgraded.header.generator, Generator::Ziggurat);
    assert_eq!(generator_attribute(&run), "xoshiro256++/ziggurat");
    assert_eq!(upgraded.trajectory, trajectory);
    let t = trajectory.len();
    assert_eq!(shape(&run, "trajectory/overlaps"), [t, 2, 1]);
    assert_eq!(shape(&run, "trajectory/norm2"), [t, 1, 1]);
    assert_eq!(shape(&run, "snapshots/000000/x"), [500, 1]);
    // The snapshots before the checkpoint are the release's, the one after it agrees.
    assert_eq!(upgraded.snapshots[..2], checkpoint.snapshots[..]);
    assert_eq!(upgraded.snapshots.len(), full.snapshots.len());
    let (ours, theirs) = (&upgraded.snapshots[2], &full.snapshots[2]);
    assert_eq!(
        (ours.step, ours.t, ours.neurons),
        (theirs.step, theirs.t, 1)
    );
    for (a, b) in ours.x.iter().zip(&theirs.x) {
        assert!((a - b).abs() <= 1e-12);
    }
    // The release's snapshot files stay as they were; the checkpoint is of the current format.
    for (name, bytes) in ["000000.h5", "000001.h5"].iter().zip(&old_snapshots) {
        assert!(std::fs::read(snapshots_dir(&run).join(name)).unwrap() == *bytes);
    }
    let checkpoint = load_checkpoint(&run).unwrap();
    assert_eq!(checkpoint.format_version, FORMAT_VERSION);
    assert_eq!(checkpoint.step(), total_steps);
    assert_eq!(checkpoint.snapshots, upgraded.snapshots);
    assert_eq!(
        generator_attribute(&checkpoint_path(&run)),
        "xoshiro256++/ziggurat"
    );
    assert_eq!(shape(&checkpoint_path(&run), "state/streams"), [1, 4]);
}

#[test]
fn format2_files_are_read_with_the_ziggurat() {
    for name in ["particles", "sgd"] {
        let run = Path::new(FORMAT2).join(format!("{name}.h5"));
        assert_eq!(identify(&run), FileKind::RunFile);
        let contents = read_run(&run).unwrap();
        assert_eq!(contents.format_version, 2);
        assert_eq!(contents.header.solver, name);
        assert_eq!(contents.header.neurons, 2);
        assert_eq!(contents.header.generator, Generator::Ziggurat);

        let checkpoint = load_checkpoint(&run).unwrap();
        assert_eq!(checkpoint.format_version, 2);
        assert_eq!(checkpoint.header, contents.header);
        assert_eq!(checkpoint.trajectory, contents.trajectory);
        assert_eq!(checkpoint.snapshots, contents.snapshots);
        let population = population(&checkpoint);
        assert_eq!(population.generator, Generator::Ziggurat);
        assert!(
            population
                .streams
                .iter()
                .all(|s| s.generator() == Generator::Ziggurat)
        );
        assert_eq!(shape(&checkpoint_path(&run), "state/streams"), [1, 4]);
        // The state is the one the last sample describes.
        let trajectory = &contents.trajectory;
        let last = trajectory.state(trajectory.len() - 1);
        let order = population.order_parameters();
        for (a, b) in order.coordinates().iter().zip(last.coordinates()) {
            assert!((a - b).abs() <= 1e-14, "{name}: {a} against {b}");
        }
    }
}

/// A format-2 checkpoint continues with the ziggurat to exactly the previous release's
/// uninterrupted run, and the run is rebuilt in the current format recording the ziggurat.
#[test]
fn format2_checkpoints_resume_bit_for_bit_to_the_previous_releases_run() {
    for name in ["particles", "sgd"] {
        let dir = scratch(&format!("format2-{name}"));
        let run = copy_fixture(FORMAT2, name, &dir);
        let full = read_run(&Path::new(FORMAT2).join(format!("{name}_full.h5"))).unwrap();
        let resumed = resume_to(&run, &full);
        assert_eq!(resumed.trajectory, full.trajectory, "{name}");
        // The release's last snapshot, at the last step, holds every coordinate's x: the
        // final states agree bit for bit, and so do the labels and histograms.
        let last = full.snapshots.last().unwrap();
        assert_eq!((last.step, last.stride), (resumed.total_steps, 1), "{name}");
        assert_eq!(resumed.population.x, last.x, "{name}");
        let law = Config::parse(&full.header.config)
            .unwrap()
            .problem
            .feature_law;
        assert_eq!(
            resumed.population.snapshot(law, last.step, last.t),
            *last,
            "{name}"
        );

        let upgraded = read_run(&run).unwrap();
        assert_eq!(upgraded.format_version, FORMAT_VERSION);
        assert_eq!(without_run_id(&upgraded.header), resumed.checkpoint.header);
        assert_eq!(upgraded.header.generator, Generator::Ziggurat);
        assert_eq!(generator_attribute(&run), "xoshiro256++/ziggurat");
        assert_eq!(upgraded.trajectory, full.trajectory);
        assert_eq!(upgraded.snapshots, full.snapshots);
        let checkpoint = load_checkpoint(&run).unwrap();
        assert_eq!(checkpoint.format_version, FORMAT_VERSION);
        assert_eq!(checkpoint.step(), resumed.total_steps);
        assert_eq!(population(&checkpoint), &resumed.population);
        assert_eq!(
            generator_attribute(&checkpoint_path(&run)),
            "xoshiro256++/ziggurat"
        );
        assert_eq!(shape(&checkpoint_path(&run), "state/streams"), [1, 4]);
    }
}

/// Sets the root attribute `format_version` of `path` to `version`.
fn set_version(path: &Path, version: u32) {
    let file = hdf5::File::open_rw(path).unwrap();
    if file
        .attr_names()
        .unwrap()
        .iter()
        .any(|n| n == "format_version")
    {
        file.delete_attr("format_version").unwrap();
    }
    file.new_attr::<u32>()
        .create("format_version")
        .unwrap()
        .write_scalar(&version)
        .unwrap();
}

#[test]
fn other_format_versions_are_refused_by_name() {
    let dir = scratch("versions");
    for version in [0, FORMAT_VERSION + 1] {
        let run = copy_format1("particles", &dir);
        set_version(&run, version);
        set_version(&checkpoint_path(&run), version);
        // Still mfcl's: ownership goes by the `format` attribute.
        assert_eq!(identify(&run), FileKind::RunFile);
        assert_eq!(identify(&checkpoint_path(&run)), FileKind::Checkpoint);
        let expected = |path: &Path| {
            format!(
                "{}: format version {version}, but this mfcl reads versions 1 to {FORMAT_VERSION}",
                path.display()
            )
        };
        let error = read_run(&run).unwrap_err();
        assert!(matches!(error, FileError::FormatVersion { found, .. } if found == version));
        assert_eq!(error.to_string(), expected(&run));
        let error = load_checkpoint(&run).unwrap_err();
        assert_eq!(error.to_string(), expected(&checkpoint_path(&run)));

        // A snapshot file of another version, counted by a good checkpoint.
        let run = copy_format1("particles", &dir);
        let snapshot = snapshots_dir(&run).join("000001.h5");
        set_version(&snapshot, version);
        let error = load_checkpoint(&run).unwrap_err();
        assert_eq!(error.to_string(), expected(&snapshot));
    }
}

/// Replaces the root string attribute `name` of `path` by `value`, or removes it (`None`).
fn set_str_attribute(path: &Path, name: &str, value: Option<&str>) {
    use std::str::FromStr;
    let file = hdf5::File::open_rw(path).unwrap();
    file.delete_attr(name).unwrap();
    if let Some(value) = value {
        file.new_attr::<hdf5::types::VarLenUnicode>()
            .create(name)
            .unwrap()
            .write_scalar(&hdf5::types::VarLenUnicode::from_str(value).unwrap())
            .unwrap();
    }
}

/// A run file with its checkpoint at `run`: 2000 particles of the quickstart, two steps,
/// drawing with the current generator.
fn new_run(run: &Path) {
    let config = Config::parse(include_str!("../../../data/configs/quickstart.toml")).unwrap();
    let header = Header::new(&config.source, "particles", 1, 1, Generator::CURRENT);
    let cadence = Cadence {
        snapshot_every: 1000,
        checkpoint_every: 1000,
        checkpoint_every_secs: None,
        total_steps: 2,
    };
    let (problem, law) = (&config.problem, config.problem.feature_law);
    let mut recorder =
        Recorder::start(run, header, 1, law, cadence, &Trajectory::default(), &[]).unwrap();
    let mut system = ParticleSystem::new(problem, &config.init, 2000, 0.01, 1);
    let schedule = Schedule {
        total_steps: 2,
        record_every: 1,
    };
    drive(&mut system, &schedule, &mut recorder).unwrap();
    recorder.finish().unwrap();
}

/// The bytes of a run file and its checkpoint.
fn bytes_of(run: &Path) -> [Vec<u8>; 2] {
    [run.to_path_buf(), checkpoint_path(run)].map(|path| std::fs::read(path).unwrap())
}

#[test]
fn an_unknown_generator_is_refused_by_name() {
    let run = scratch("unknown-generator").join("run.h5");
    new_run(&run);
    for file in [run.clone(), checkpoint_path(&run)] {
        set_str_attribute(&file, "generator", Some("pcg64/polar"));
    }
    let before = bytes_of(&run);
    let message = |path: &Path| {
        format!(
            "{}: unknown random generator \"pcg64/polar\" (this mfcl knows \
             xoshiro256++/ziggurat, xoshiro256++x8/box-muller): written by a newer mfcl?",
            path.display()
        )
    };
    let error = read_run(&run).unwrap_err();
    assert!(
        matches!(&error, FileError::UnknownGenerator { path, name }
            if *path == run && name == "pcg64/polar"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), message(&run));
    let error = load_checkpoint(&run).unwrap_err();
    assert!(
        matches!(&error, FileError::UnknownGenerator { path, name }
            if *path == checkpoint_path(&run) && name == "pcg64/polar"),
        "{error:?}"
    );
    assert_eq!(error.to_string(), message(&checkpoint_path(&run)));
    assert!(bytes_of(&run) == before, "the refused files changed");

    // A current-format file without the attribute is damaged.
    for file in [run.clone(), checkpoint_path(&run)] {
        set_str_attribute(&file, "generator", None);
    }
    let before = bytes_of(&run);
    let missing = |path: &Path| {
        format!(
            "{} is damaged: format version {FORMAT_VERSION} without the root attribute generator",
            path.display()
        )
    };
    let error = read_run(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert_eq!(error.to_string(), missing(&run));
    let error = load_checkpoint(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert_eq!(error.to_string(), missing(&checkpoint_path(&run)));
    assert!(bytes_of(&run) == before, "the refused files changed");
}

#[test]
fn streams_that_are_not_of_the_recorded_generator_are_refused() {
    let dir = scratch("streams");
    // Box–Muller lanes (1 chunk, 32 words) under a header that names the ziggurat (4 words).
    let run = dir.join("shape.h5");
    new_run(&run);
    let checkpoint = checkpoint_path(&run);
    assert_eq!(shape(&checkpoint, "state/streams"), [1, 32]);
    set_str_attribute(&checkpoint, "generator", Some("xoshiro256++/ziggurat"));
    reseal_header(&checkpoint);
    let before = bytes_of(&run);
    let error = load_checkpoint(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "{} is damaged: state/streams has the shape [1, 32], but 2000 coordinates drawing with \
             xoshiro256++/ziggurat need [1, 4]",
            checkpoint.display()
        )
    );
    assert!(bytes_of(&run) == before, "the refused files changed");

    // The right shape, but a lane in the all-zero state, which xoshiro256++ never reaches.
    let run = dir.join("zero.h5");
    new_run(&run);
    let checkpoint = checkpoint_path(&run);
    {
        let file = hdf5::File::open_rw(&checkpoint).unwrap();
        let streams = file.dataset("state/streams").unwrap();
        let mut words: Vec<u64> = streams.read_raw().unwrap();
        words[4..8].fill(0);
        streams.write_raw(&words).unwrap();
    }
    let before = bytes_of(&run);
    let error = load_checkpoint(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "{} is damaged: state/streams: chunk 0 holds no state of xoshiro256++x8/box-muller (an \
             all-zero xoshiro256++ state)",
            checkpoint.display()
        )
    );
    assert!(bytes_of(&run) == before, "the refused files changed");
}
