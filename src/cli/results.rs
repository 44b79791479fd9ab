//! `genred results`: what the results file holds, filtered, as TSV, JSON Lines or an M3U
//! playlist of the matching files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use serde_json::Value;

use genred::config::{LoadedConfig, Overrides};
use genred::record::display_path;

/// Read the results file: filter its records and print them.
///
/// Without --results, reads the results file of the config `genred run` would use. Each
/// filter narrows what is shown; all of them must hold.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The results file (default: the config's `[results] path`).
    #[arg(long, value_name = "FILE")]
    results: Option<PathBuf>,
    /// The config file whose results file to read.
    #[arg(long, value_name = "FILE", conflicts_with = "results")]
    config: Option<PathBuf>,
    /// Also read the rotated files beside it (`results.jsonl.1`, `results.jsonl.2.gz`, …),
    /// oldest first.
    #[arg(long)]
    rotated: bool,
    /// Only records of these genres (repeat for several; `unknown` for music judged below
    /// min_confidence).
    #[arg(long, value_name = "GENRE")]
    genre: Vec<String>,
    /// Only records of this source.
    #[arg(long, value_enum)]
    source: Option<Source>,
    /// Only records written at or after this time (RFC 3339, or a date: 2026-12-07).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    since: Option<SystemTime>,
    /// Only records written before this time (RFC 3339, or a date).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<SystemTime>,
    /// Only files whose path matches this pattern (`*`, `?`, `[a-z]`; `**` for any folders).
    #[arg(long, value_name = "PATTERN", value_parser = parse_pattern)]
    path: Option<glob::Pattern>,
    /// Only records whose confidence is at least this.
    #[arg(long, value_name = "P")]
    min_confidence: Option<f64>,
    /// Print the matching records as they are in the file (JSON Lines).
    #[arg(long, conflicts_with = "m3u")]
    json: bool,
    /// Print an M3U playlist of the matching classified files, where they are now.
    #[arg(long)]
    m3u: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Source {
    File,
    Mic,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Mic => "mic",
        }
    }
}

fn parse_time(text: &str) -> Result<SystemTime, String> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    humantime::parse_rfc3339_weak(&full).map_err(|err| {
        format!("{err}: give RFC 3339 (2026-12-07T10:00:00Z) or a date (2026-12-07)")
    })
}

fn parse_pattern(text: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(text).map_err(|err| err.to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = match &args.results {
        Some(path) => path.clone(),
        None => {
            LoadedConfig::load(args.config.as_deref(), &Overrides::default())?
                .config
                .results
                .path
        }
    };
    let mut files = if args.rotated {
        rotated_siblings(&path)?
    } else {
        Vec::new()
    };
    files.push(path);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if args.m3u {
        writeln!(out, "#EXTM3U")?;
    }
    for file in &files {
        let reader = open(file)?;
        for (number, line) in reader.split(b'\n').enumerate() {
            let line = line.with_context(|| format!("{}: cannot read", display_path(file)))?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            let Ok(record) = serde_json::from_slice::<Value>(&line) else {
                eprintln!(
                    "genred: {}:{}: not a record, skipped",
                    display_path(file),
                    number + 1
                );
                continue;
            };
            if !args.matches(&record) {
                continue;
            }
            if args.json {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            } else if args.m3u {
                if let Some(location) = playlist_entry(&record) {
                    writeln!(out, "{location}")?;
                }
            } else {
                writeln!(out, "{}", tsv_row(&record))?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

impl Args {
    fn matches(&self, record: &Value) -> bool {
        let text = |key: &str| record.get(key).and_then(Value::as_str);
        let time = || text("time").and_then(|time| humantime::parse_rfc3339_weak(time).ok());
        (self.genre.is_empty() || text("genre").is_some_and(|g| self.genre.iter().any(|w| w == g)))
            && self
                .source
                .is_none_or(|source| text("source") == Some(source.name()))
            && self
                .since
                .is_none_or(|since| time().is_some_and(|t| t >= since))
            && self
                .until
                .is_none_or(|until| time().is_some_and(|t| t < until))
            && self
                .path
                .as_ref()
                .is_none_or(|pattern| text("path").is_some_and(|path| pattern.matches(path)))
            && self.min_confidence.is_none_or(|min| {
                record
                    .get("confidence")
                    .and_then(Value::as_f64)
                    .is_some_and(|c| c >= min)
            })
    }
}

/// `time  source  path-or-device  genre-or-error  confidence`, tab-separated.
fn tsv_row(record: &Value) -> String {
    let text = |key: &str| record.get(key).and_then(Value::as_str).unwrap_or("-");
    let what = match record.get("error").and_then(Value::as_str) {
        Some(error) => format!("error: {error}"),
        None => record
            .get("genre")
            .and_then(Value::as_str)
            .or_else(|| record.get("content").and_then(Value::as_str))
            .unwrap_or("-")
            .to_owned(),
    };
    let confidence = record
        .get("confidence")
        .and_then(Value::as_f64)
        .map_or_else(|| "-".to_owned(), |c| format!("{c:.3}"));
    let origin = record
        .get("path")
        .or_else(|| record.get("device"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    [
        text("time"),
        text("source"),
        &escape(origin),
        &escape(&what),
        &confidence,
    ]
    .join("\t")
}

/// A classified file's place now (where it was moved or copied to, else where it was).
fn playlist_entry(record: &Value) -> Option<String> {
    let text = |key: &str| record.get(key).and_then(Value::as_str);
    if text("source") != Some("file") || text("genre").is_none() {
        return None;
    }
    text("moved_to")
        .or_else(|| text("copied_to"))
        .or_else(|| text("path"))
        .map(escape)
}

/// A field on one line: a newline or tab in a name must not split a row.
fn escape(text: &str) -> String {
    display_path(Path::new(text)).into_owned()
}

/// The results file at `path`, or its gzip-compressed rotation.
fn open(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", display_path(path)))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::new(reader)))
}

/// logrotate's rotations of `path` (`<name>.1`, `<name>.2.gz`, …), oldest first.
fn rotated_siblings(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(Vec::new());
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(folder)
        .with_context(|| format!("{}: cannot list", display_path(folder)))?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&prefix)?;
            let number = rest.strip_suffix(".gz").unwrap_or(rest).parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    // The highest number is the oldest.
    numbered.sort_by_key(|(number, _)| std::cmp::Reverse(*number));
    Ok(numbered.into_iter().map(|(_, path)| path).collect())
}
