//! Runs a reader over many mutated inputs and reports every panic, heap blow-up and broken
//! invariant with what is needed to reproduce it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::counting_alloc::{measure, reset_peak};

/// Environment variable overriding [`Campaign::cases`] (longer local runs).
pub const CASES_VAR: &str = "MEDPRINT_FUZZ_CASES";
/// Environment variable overriding [`Campaign::seed`].
pub const SEED_VAR: &str = "MEDPRINT_FUZZ_SEED";
/// Environment variable naming the one case index to run (reproducing a failure).
pub const CASE_VAR: &str = "MEDPRINT_FUZZ_CASE";

/// Failures listed in full in the panic message.
const SHOWN_FAILURES: usize = 10;

/// Campaigns in one test binary run one at a time, so heap measurements do not mix.
static EXCLUSIVE: Mutex<()> = Mutex::new(());
/// The last panic seen during a campaign (location and message).
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// What a reader made of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Read successfully and the result satisfies the caller's invariants.
    Accepted,
    /// Refused with a typed error (its message).
    Rejected(String),
    /// Read "successfully" but the result is unusable (e.g. non-finite geometry): a bug.
    Broken(String),
}

/// A bounded, seeded run of one reader.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Reader name used in messages.
    pub reader: &'static str,
    /// Seed of case 0; case `i` uses ChaCha8 stream `i` of this seed.
    pub seed: u64,
    /// Number of mutated cases.
    pub cases: u64,
    /// Heap growth allowed for any input (bytes), on top of [`Campaign::heap_per_input_byte`].
    pub heap_fixed: usize,
    /// Heap growth allowed per input byte.
    pub heap_per_input_byte: usize,
}

/// Figures of a finished campaign.
#[derive(Debug, Clone, Default)]
pub struct CampaignReport {
    /// Cases run.
    pub cases: u64,
    /// Cases read successfully.
    pub accepted: u64,
    /// Cases refused with an error.
    pub rejected: u64,
    /// Largest heap growth of one case (bytes; 0 without the counting allocator).
    pub largest_heap_growth: usize,
    /// Slowest case: index and duration.
    pub slowest: (u64, Duration),
    /// Total time.
    pub elapsed: Duration,
    /// True when only the case named by [`CASE_VAR`] ran (reproducing a failure).
    pub reproducing: bool,
}

/// One mutated input and how it was made.
struct Case {
    base: usize,
    bytes: Vec<u8>,
    edits: Vec<String>,
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text panic payload)".into())
}

/// Runs `campaign`: case `i` takes base input `i % bases.len()`, lets `mutate` derive a
/// hostile input from it with the case's generator (given the base index and bytes;
/// returning the edits in words), and gives the result to `read` inside `catch_unwind`.
///
/// Panics (failing the test) after the last case when any case panicked, grew the heap past
/// the campaign's budget, or came back [`Verdict::Broken`]; the message names the seed, case
/// index, base input and edits of each such case. Base inputs are named `(name, bytes)`.
pub fn run_campaign(
    campaign: &Campaign,
    bases: &[(String, Vec<u8>)],
    mutate: impl Fn(&mut ChaCha8Rng, usize, &[u8]) -> (Vec<u8>, Vec<String>),
    read: impl Fn(&[u8]) -> Verdict,
) -> CampaignReport {
    assert!(!bases.is_empty(), "{}: no base inputs", campaign.reader);
    let _exclusive = EXCLUSIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seed = env_u64(SEED_VAR).unwrap_or(campaign.seed);
    let cases: Vec<u64> = match env_u64(CASE_VAR) {
        Some(one) => vec![one],
        None => (0..env_u64(CASES_VAR).unwrap_or(campaign.cases)).collect(),
    };
    // Record where a panic happened instead of printing it: the default hook's backtrace
    // would flood the log and count against the heap budget of the case.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
    let started = Instant::now();
    let mut report = CampaignReport {
        reproducing: env_u64(CASE_VAR).is_some(),
        ..CampaignReport::default()
    };
    let mut failures = Vec::new();
    for &index in &cases {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(index);
        let base = (index % bases.len() as u64) as usize;
        let (bytes, edits) = mutate(&mut rng, base, &bases[base].1);
        let case = Case { base, bytes, edits };
        let budget = campaign
            .heap_fixed
            .saturating_add(campaign.heap_per_input_byte.saturating_mul(case.bytes.len()));
        let baseline = reset_peak();
        let t0 = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| read(&case.bytes)));
        let took = t0.elapsed();
        let heap = measure(baseline);
        if took > report.slowest.1 {
            report.slowest = (index, took);
        }
        let mut problem = None;
        match outcome {
            Ok(Verdict::Accepted) => report.accepted += 1,
            Ok(Verdict::Rejected(message)) => {
                report.rejected += 1;
                if message.trim().is_empty() {
                    problem = Some("rejected with an empty error message".to_string());
                }
            }
            Ok(Verdict::Broken(why)) => problem = Some(format!("accepted a broken result: {why}")),
            Err(payload) => {
                let at = LAST_PANIC.lock().map(|l| l.clone()).unwrap_or_default();
                problem = Some(format!("panicked: {} ({at})", panic_message(payload.as_ref())));
            }
        }
        if let Some(heap) = heap {
            report.largest_heap_growth = report.largest_heap_growth.max(heap.peak_growth);
            if heap.peak_growth > budget && problem.is_none() {
                problem = Some(format!(
                    "heap grew by {} bytes (largest request {}) for a {}-byte input; budget {budget}",
                    heap.peak_growth,
                    heap.largest_request,
                    case.bytes.len()
                ));
            }
        }
        if let Some(problem) = problem {
            failures.push(format!(
                "{} case {index} (seed {seed}, {CASE_VAR}={index}), base {}, {} bytes, edits [{}]: {problem}",
                campaign.reader,
                bases[case.base].0,
                case.bytes.len(),
                case.edits.join("; ")
            ));
        }
        report.cases += 1;
    }
    report.elapsed = started.elapsed();
    std::panic::set_hook(default_hook);
    eprintln!(
        "{}: {} cases in {:.1} s ({} accepted, {} rejected); largest heap growth {} bytes; slowest case {} ({} ms)",
        campaign.reader,
        report.cases,
        report.elapsed.as_secs_f64(),
        report.accepted,
        report.rejected,
        report.largest_heap_growth,
        report.slowest.0,
        report.slowest.1.as_millis()
    );
    if !failures.is_empty() {
        let more = failures.len().saturating_sub(SHOWN_FAILURES);
        panic!(
            "{}: {} of {} cases failed:\n{}{}",
            campaign.reader,
            failures.len(),
            report.cases,
            failures[..failures.len().min(SHOWN_FAILURES)].join("\n"),
            if more > 0 {
                format!("\n… and {more} more")
            } else {
                String::new()
            }
        );
    }
    report
}
