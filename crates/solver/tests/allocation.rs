//! The step loops allocate nothing once warm: a counting global allocator watches ten
//! particle steps and ten SGD steps (coefficient evaluation, sweep and reduction included).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mfcl_model::Config;
use mfcl_solver::{ParticleSystem, Sgd, Stepper};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(steps: usize, stepper: &mut impl Stepper) -> usize {
    for _ in 0..3 {
        stepper.step().unwrap();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..steps {
        stepper.step().unwrap();
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn steps_do_not_allocate() {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    std::hint::black_box(Box::new(1.0));
    assert!(
        ALLOCATIONS.load(Ordering::SeqCst) > before,
        "the counting allocator is in use"
    );

    // One thread: rayon's pool itself may allocate when it first spins up workers.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        // R starts above where the run takes it: the coefficients' quadrature keeps its
        // buffers but adds nodes when R passes its largest value so far (a wider Gaussian),
        // which is allocation by design and not the step's.
        let mut config = Config::parse_with(
            include_str!("../../../data/configs/two_features.toml"),
            &["model.negatives=1", "init.norm2=2.0"],
        )
        .unwrap();
        let mut particles = ParticleSystem::new(&config.problem, &config.init, 40_000, 0.01, 1);
        assert_eq!(allocations_during(10, &mut particles), 0, "particle step");
        config.init.overlaps = vec![0.5, 0.1];
        let mut sgd = Sgd::new(&config.problem, &config.init, 40_000, 1);
        assert_eq!(allocations_during(10, &mut sgd), 0, "SGD step");
    });
}
