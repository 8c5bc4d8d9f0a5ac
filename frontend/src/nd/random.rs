//! The random state of each device, guarded by its own engine var (MXNet's `kRandom`
//! resource), and seeding (MXNet's `mx.random.seed`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use mxr_engine::{Context, Engine, Operation, Var};
use mxr_kernels::cpu::random::Rng;
use parking_lot::Mutex;

use crate::Result;

/// The default seed of every device's generator until [`seed`] is called.
pub const DEFAULT_SEED: u64 = 0;

/// One device's generator. Operations that draw from it write `var`, so they run in push order
/// and a seed reproduces their results.
#[derive(Debug)]
pub(crate) struct RngState {
    pub(crate) var: Var,
    pub(crate) rng: Mutex<Rng>,
}

/// The seed in force and every device's generator.
struct States {
    seed: u64,
    by_context: HashMap<Context, Arc<RngState>>,
}

fn states() -> &'static Mutex<States> {
    static STATES: OnceLock<Mutex<States>> = OnceLock::new();
    STATES.get_or_init(|| {
        Mutex::new(States {
            seed: DEFAULT_SEED,
            by_context: HashMap::new(),
        })
    })
}

impl RngState {
    /// The generator of `context`, created on first use.
    pub(crate) fn of(context: Context) -> Arc<RngState> {
        let mut states = states().lock();
        let seed = states.seed;
        Arc::clone(states.by_context.entry(context).or_insert_with(|| {
            Arc::new(RngState {
                var: Var::new(),
                rng: Mutex::new(Rng::seed(seed_for(seed, context))),
            })
        }))
    }
}

/// Each device gets its own stream from one seed.
fn seed_for(seed: u64, context: Context) -> u64 {
    seed ^ ((context.device_type() as u64) << 48) ^ (u64::from(context.device_id()) << 32)
}

/// Seeds the generator of every device used so far and every device used later (MXNet's
/// `mx.random.seed(s)`): random operators pushed after this call draw the same numbers for the
/// same seed. Ordered with the random operations through the engine.
///
/// ```
/// use mxr::nd::{invoke, random};
/// random::seed(7)?;
/// let a = invoke("random_uniform", &[], &[("shape", "(3,)")])?;
/// random::seed(7)?;
/// let b = invoke("random_uniform", &[], &[("shape", "(3,)")])?;
/// assert_eq!(a[0].to_vec::<f32>()?, b[0].to_vec::<f32>()?);
/// # Ok::<(), mxr::Error>(())
/// ```
pub fn seed(seed: u64) -> Result<()> {
    let engine = Engine::global()?;
    let all: Vec<(Context, Arc<RngState>)> = {
        let mut states = states().lock();
        states.seed = seed;
        states
            .by_context
            .iter()
            .map(|(c, s)| (*c, Arc::clone(s)))
            .collect()
    };
    for (context, state) in all {
        let target = Arc::clone(&state);
        let op = Operation::sync("random_seed", move |_| {
            *target.rng.lock() = Rng::seed(seed_for(seed, context));
            Ok(())
        });
        engine.push(op.writes(&[&state.var]))?;
    }
    Ok(())
}
