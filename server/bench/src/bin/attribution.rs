//! `observatory-attribution-bench`: how right and how fast line attribution is.
//!
//! - Accuracy: simulated histories with known truth (agent changes written as real
//!   transcript records, a person's changes in between), run through the real
//!   pipeline (index into a store, match paths, replay, map) and compared per line:
//!   all projects in one on-disk store (as a user's is), then each project alone.
//! - Speed: a 10,000-line file with 500 recorded changes, replayed and mapped.
//! - `--ai-blame BIN`: line-by-line comparison with the `ai-blame` CLI on its own
//!   fixture.
//!
//! ```sh
//! cargo run --release -p observatory-bench --bin observatory-attribution-bench -- --scenarios 300
//! ```

#[path = "attribution/accuracy.rs"]
mod accuracy;
#[path = "attribution/ai_blame.rs"]
mod ai_blame;
#[path = "attribution/code.rs"]
mod code;
#[path = "attribution/git.rs"]
mod git;
#[path = "attribution/record.rs"]
mod record;
#[path = "attribution/scenario.rs"]
mod scenario;
#[path = "attribution/speed.rs"]
mod speed;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Accuracy and speed of Observatory's line attribution")]
struct Args {
    /// Number of simulated histories (projects); 1000 for the large run
    #[arg(long, default_value_t = 300)]
    scenarios: usize,
    /// Seed of the simulation (same seed, same scenarios)
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Only the speed table
    #[arg(long)]
    speed: bool,
    /// Show one scenario in detail (its events, then truth and engine per line) and
    /// keep its files (blamed in a whole store of `--scenarios` projects)
    #[arg(long)]
    scenario: Option<usize>,
    /// With `--scenario`: blame it in its own store instead of the whole store
    #[arg(long)]
    per_project: bool,
    /// Print one line per scenario (errors and what it contains)
    #[arg(long)]
    verbose: bool,
    /// Compare with this `ai-blame` binary on its fixture (only that comparison)
    #[arg(long, value_name = "PATH_TO_BINARY")]
    ai_blame: Option<PathBuf>,
    /// ai-blame's `tests/examples` directory (with `simple/` and `simple-home/`)
    #[arg(
        long,
        default_value = "/work/shared/fixtures/transcripts/ai-blame/tests/examples"
    )]
    fixture: PathBuf,
    /// Speed: lines of the large file
    #[arg(long, default_value_t = 10_000)]
    speed_lines: usize,
    /// Speed: keep the large file's transcripts and content (for profiling)
    #[arg(long)]
    keep: bool,
    /// Speed: recorded edits of the large file
    #[arg(long, default_value_t = 500)]
    speed_edits: usize,
    /// Compare the simulator's truth with real `git blame` of each scenario's history
    /// committed change by change, and score the engine against git's answer
    #[arg(long)]
    git_check: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(bin) = &args.ai_blame {
        return ai_blame::compare(bin, &args.fixture);
    }
    if args.git_check {
        return git::check(args.seed, args.scenarios);
    }
    if let Some(n) = args.scenario {
        return accuracy::show(args.seed, args.scenarios, n, args.per_project);
    }
    if !args.speed {
        accuracy::run(args.seed, args.scenarios, args.verbose)?;
    }
    speed::run(args.seed, args.speed_lines, args.speed_edits, args.keep)
}
