use anyhow::{anyhow, Context, Result};
use clap::{Parser, ValueEnum};
use observatory_corpus::{generate, parse_size, replicate, CorpusSpec, RealSpec};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
enum Shape {
    /// Generated sessions (the default).
    Synthetic,
    /// The real fixture transcripts copied with fresh ids.
    Real,
}

/// Generate a corpus of Claude Code transcripts for benchmarks.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Output directory; transcripts go to DIR/projects/.
    #[arg(long)]
    out: PathBuf,
    /// Approximate corpus size, e.g. 200MB or 1GB.
    #[arg(long, default_value = "200MB")]
    size: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Projects of the synthetic corpus (a real-shaped one has a project per copy of
    /// each fixture folder).
    #[arg(long, default_value_t = 8)]
    projects: usize,
    #[arg(long, value_enum, default_value = "synthetic")]
    shape: Shape,
    /// The real fixture transcripts to replicate (--shape real).
    #[arg(long, default_value = "../shared/fixtures/transcripts")]
    fixtures: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let target_bytes = parse_size(&args.size).ok_or_else(|| anyhow!("bad size {:?}", args.size))?;
    let start = Instant::now();
    let stats = match args.shape {
        Shape::Synthetic => {
            let spec = CorpusSpec { target_bytes, seed: args.seed, projects: args.projects };
            generate(&args.out, &spec)
        }
        Shape::Real => {
            let spec = RealSpec { fixtures: args.fixtures.clone(), target_bytes, seed: args.seed };
            replicate(&args.out, &spec)
        }
    }
    .with_context(|| format!("writing {}", args.out.display()))?;
    let secs = start.elapsed().as_secs_f64();
    println!("files:          {}", stats.files);
    println!("sessions:       {}", stats.sessions);
    println!("subagent files: {}", stats.subagent_files);
    println!("lines:          {}", stats.lines);
    println!("bytes:          {} ({:.1} MB)", stats.bytes, stats.bytes as f64 / 1e6);
    if let Shape::Synthetic = args.shape {
        println!("edits:          {}", stats.edits);
    }
    println!("time:           {secs:.2} s ({:.0} MB/s)", stats.bytes as f64 / 1e6 / secs);
    Ok(())
}
