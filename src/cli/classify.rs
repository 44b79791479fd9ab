//! `genred classify`: the original `py main.py`, for any number of files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use genred::model::{Classifier, DEFAULT_MODEL};
use genred::pipeline::FileAnalyzer;
use genred::window::{WindowSpec, DEFAULT_HOP_S, DEFAULT_LENGTH_S};

/// Say the genre of audio files.
///
/// Prints one line per file: path, genre and confidence, tab-separated.
/// Songs longer than 30 s are heard in rolling 30 s windows; the file's genre
/// is the one with the highest mean probability over its windows.
///
/// Example: genred classify --model models/genre-10.onnx music/
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files, or folders searched recursively for audio files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// ONNX genre model (genre-2: pop or classical; genre-10: the ten GTZAN genres).
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_MODEL)]
    model: PathBuf,

    /// Print one JSON object per file, with per-label probabilities and the
    /// verdict of every window.
    #[arg(long)]
    json: bool,

    /// Seconds between the starts of consecutive 30 s windows.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HOP_S)]
    hop: f64,

    /// Files processed in parallel [default: all cores].
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let windows = WindowSpec {
        length_s: DEFAULT_LENGTH_S,
        hop_s: args.hop,
    };
    windows
        .validate()
        .map_err(|reason| anyhow::anyhow!("--hop: {reason}"))?;
    let classifier = Arc::new(Classifier::load(&args.model)?);
    let files = super::collect_inputs(&args.paths)?;
    let jobs = args.jobs.map_or_else(super::default_jobs, usize::from);

    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut failures = 0_usize;
    let mut write_error = None;
    super::map_ordered(
        &files,
        jobs,
        || FileAnalyzer::new(Arc::clone(&classifier), windows),
        |analyzer, path| analyzer.classify(path),
        |_, result| match result {
            Ok(report) => {
                let written = if args.json {
                    serde_json::to_writer(&mut out, &report)
                        .map_err(std::io::Error::from)
                        .and_then(|()| writeln!(out))
                } else {
                    writeln!(
                        out,
                        "{}\t{}\t{:.3}",
                        report.path.display(),
                        report.genre,
                        report.confidence
                    )
                };
                if write_error.is_none() {
                    write_error = written.err();
                }
            }
            Err(err) => {
                failures += 1;
                eprintln!("genred: {err}");
            }
        },
    );
    if let Some(err) = write_error {
        return Err(err).context("writing to stdout");
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
