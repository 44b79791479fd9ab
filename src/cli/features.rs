//! `genred features`: the dataset's 28 features of audio files, as CSV.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use genred::audio::{self, LoadOptions};
use genred::features::csv;
use genred::features::{Extractor, Features};
use genred::record::display_path;
use genred::window::DEFAULT_LENGTH_S;

/// Print the 28 features of each audio file as CSV, exactly as the GTZAN
/// "musicfeatures" dataset computed them (librosa 0.6.1, first 30 s).
///
/// The header is the dataset's: filename, tempo, beats, chroma_stft, rmse,
/// spectral_centroid, spectral_bandwidth, rolloff, zero_crossing_rate,
/// mfcc1..mfcc20. Rows come in input order. A file that fails is reported on
/// stderr and the others go on; the exit status is then 1.
///
/// Example: genred features --label-from-dir my-music/ > my-features.csv
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio files, or folders searched recursively for audio files
    /// (WAV, AIFF, CAF, FLAC, MP3, AAC, M4A, Ogg Vorbis, Opus, AU, by extension).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Add a last column `label` with each file's parent folder name, to turn
    /// folders of your own music (rock/…, jazz/…) into a training set.
    #[arg(long)]
    label_from_dir: bool,

    /// Files processed in parallel [default: all cores].
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = super::collect_inputs(&args.paths)?;
    let jobs = super::jobs(args.jobs)?;

    // Line by line, so that a reader sees each row when it is ready (and a reader that
    // went away is noticed at the next row).
    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut written = csv::write_header(&mut out, args.label_from_dir);
    let mut failures = 0_usize;
    if written.is_ok() {
        super::map_ordered(
            &files,
            jobs,
            Extractor::new,
            |extractor, path| extract_file(extractor, path),
            |path, result| {
                match result {
                    Ok(features) => {
                        written = write_row(&mut out, path, &features, args.label_from_dir);
                    }
                    Err(err) => {
                        failures += 1;
                        eprintln!("genred: {}", super::one_line(&err));
                    }
                }
                super::go_on_while_written(&written)
            },
        );
    }
    let written = written.and_then(|()| out.flush());
    super::exit_code(written, failures).context("writing the CSV to stdout")
}

/// The features of a file's first 30 s, as `librosa.load(path, duration=30)` read it.
fn extract_file(extractor: &mut Extractor, path: &Path) -> anyhow::Result<Features> {
    let clip = audio::load(
        path,
        LoadOptions {
            max_duration_s: Some(DEFAULT_LENGTH_S),
            sample_rate: None,
        },
    )?;
    extractor
        .extract(&clip.samples)
        .with_context(|| path.display().to_string())
}

/// One CSV row: the file's name without its folder, its features, and with
/// `--label-from-dir` its parent folder's name.
fn write_row(
    out: &mut impl Write,
    path: &Path,
    features: &Features,
    label_from_dir: bool,
) -> std::io::Result<()> {
    let name = Path::new(path.file_name().unwrap_or(path.as_os_str()));
    let label = label_from_dir.then(|| {
        path.parent()
            .and_then(Path::file_name)
            .map(|dir| display_path(Path::new(dir)))
            .unwrap_or_default()
    });
    csv::write_row(out, &display_path(name), features, label.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn rows_use_the_datasets_number_forms() {
        let mut values = [0.0; 28];
        values[0] = 129.19921875;
        values[1] = 62.0;
        values[3] = 0.24826228618621826;
        let mut row = Vec::new();
        write_row(&mut row, Path::new("x/rock/a.wav"), &Features(values), true).unwrap();
        let row = String::from_utf8(row).unwrap();
        assert!(row.starts_with("a.wav,129.19921875,62,0.0,0.24826228618621826,0.0,"));
        assert!(row.ends_with(",0.0,rock\n"));
    }

    #[test]
    fn any_name_stays_on_its_row() {
        let name = std::ffi::OsStr::from_bytes(b"x/new\nline, \"caf\xe9\".wav");
        let mut row = Vec::new();
        write_row(&mut row, Path::new(name), &Features([0.0; 28]), false).unwrap();
        let row = String::from_utf8(row).unwrap();
        assert!(
            row.starts_with("\"new\\nline, \"\"caf\\xe9\"\".wav\",0.0,"),
            "{row}"
        );
        assert_eq!(row.matches('\n').count(), 1, "one line: {row}");
        assert_eq!(csv::split_line(row.trim_end()).len(), 29, "{row}");
    }
}
