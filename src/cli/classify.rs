//! `genred classify`: the original `py main.py`, for any number of files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use genred::judge::Judge;
use genred::judge::DEFAULT_MODEL;
use genred::record::{self, display_path, Content, FileReport};
use genred::window::{
    WindowKeys, WindowSpec, DEFAULT_HOP_S, DEFAULT_LENGTH_S, DEFAULT_MAX_DURATION_S,
    DEFAULT_MAX_PATCHES,
};

/// The flags that set the windows, for error messages.
const FLAGS: WindowKeys = WindowKeys {
    length: "--window",
    hop: "--hop",
    max_duration: "--max-duration",
    max_patches: "--max-patches",
};

/// Say the genre of audio files.
///
/// Prints one line per file: path, genre and confidence, tab-separated, and for a
/// model with tags (musicnn) the three best tags.
/// Songs longer than 30 s are heard in rolling 30 s windows; the file's genre
/// is the one with the highest mean probability over its windows.
///
/// Examples: genred classify music/ (the default, musicnn with the ten-genre head);
/// genred classify --model models/genre-2.onnx music/ (the seed's pop or classical).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files, or folders searched recursively for audio files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// ONNX genre model: musicnn-genre-10 (ten GTZAN genres and 100 tags), genre-2 (pop or
    /// classical) or genre-10 (ten genres on the 28 dataset features).
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_MODEL)]
    model: PathBuf,

    /// Print one JSON object per file, with per-label probabilities and the
    /// verdict of every window.
    #[arg(long)]
    json: bool,

    /// Seconds of audio in each window (the models were trained on 30 s clips).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LENGTH_S)]
    window: f64,

    /// Seconds between the starts of consecutive windows.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HOP_S)]
    hop: f64,

    /// Longest audio read from a file; a longer file is reported as an error.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_DURATION_S)]
    max_duration: f64,

    /// The most 3 s patches a file is judged on, spread evenly over it (musicnn models; the
    /// 28-feature models judge every window).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PATCHES)]
    max_patches: usize,

    /// Files processed in parallel [default: all cores].
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let windows = WindowSpec {
        length_s: args.window,
        hop_s: args.hop,
        max_duration_s: args.max_duration,
        max_patches: args.max_patches,
    };
    windows.validate(FLAGS)?;
    let jobs = super::jobs(args.jobs)?;
    let model = Judge::load(&args.model)?;
    let files = super::collect_inputs(&args.paths)?;

    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut failures = 0_usize;
    let mut written = Ok(());
    super::map_ordered(
        &files,
        jobs,
        || model.file_judge(windows),
        |analyzer, path| analyzer.classify(path),
        |_, result| {
            match result {
                Ok(report) => {
                    written = if args.json {
                        serde_json::to_writer(&mut out, &JsonLine::new(&report))
                            .map_err(std::io::Error::from)
                            .and_then(|()| writeln!(out))
                    } else {
                        let (label, score, tags) = plain_verdict(&report);
                        writeln!(
                            out,
                            "{}\t{label}\t{score:.3}{tags}",
                            display_path(&report.path),
                        )
                    };
                }
                Err(err) => {
                    failures += 1;
                    eprintln!("genred: {err}");
                }
            }
            super::go_on_while_written(&written)
        },
    );
    let written = written.and_then(|()| out.flush());
    super::exit_code(written, failures).context("writing to stdout")
}

/// The plain output's verdict: the genre, its confidence and the top tags; or, for a file
/// that holds no music, what it holds and that content's score (its tags say nothing).
fn plain_verdict(report: &FileReport) -> (&str, f32, String) {
    match (&report.genre, report.content) {
        (Some(genre), _) => (genre, report.confidence, top_tags_column(report)),
        (None, content) => {
            let content = content.unwrap_or(Content::Unknown).name();
            let score = report.content_scores.get(content).unwrap_or(0.0);
            (content, score, String::new())
        }
    }
}

/// The tags in plain output: this many, best first.
const PLAIN_TOP_TAGS: usize = 3;

/// A fourth column, `\trock 0.61, guitar 0.40, pop 0.33`, for a model with tags; nothing
/// for one without.
fn top_tags_column(report: &FileReport) -> String {
    let top: Vec<String> = report
        .tags
        .top(PLAIN_TOP_TAGS)
        .into_iter()
        .map(|(tag, p)| format!("{tag} {p:.2}"))
        .collect();
    if top.is_empty() {
        String::new()
    } else {
        format!("\t{}", top.join(", "))
    }
}

/// One `--json` line: the report, whose `path` is the name as (lossy) UTF-8,
/// and the exact bytes of a name that is not UTF-8, as the daemon's records
/// carry them.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    #[serde(flatten)]
    report: &'a FileReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_bytes: Option<String>,
}

impl<'a> JsonLine<'a> {
    fn new(report: &'a FileReport) -> Self {
        Self {
            report,
            path_bytes: record::path_bytes(&report.path),
        }
    }
}
