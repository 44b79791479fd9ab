//! One module per subcommand; each exposes `Args` (clap) and `run`.
//! What the batch commands share (finding input files, running them on a
//! pool of threads in a stable order) lives here.

pub mod check_config;
pub mod classify;
mod csv;
pub mod devices;
pub mod evaluate;
pub mod features;
pub mod run;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use genred::audio;

/// Show a progress bar from this many files on, when stderr is a terminal.
const PROGRESS_BAR_MIN_FILES: usize = 8;

/// Expands the command line's paths: a file is taken as given (whatever its
/// name, so a mislabelled file still gets a clear decoding error); a folder is
/// searched recursively for audio files by extension, in sorted order, hidden
/// entries skipped. A path that does not exist is reported, not skipped.
pub fn collect_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
        if meta.is_dir() {
            walk_audio_files(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk_audio_files(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
        .map_err(|err| anyhow::anyhow!("{}: {err}", dir.display()))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk_audio_files(&path, files)?;
        } else if audio::is_audio_path(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// An error and its causes on one line, each said once: genred's error types
/// already put their cause in their message, while anyhow's contexts do not.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// The `--jobs` default: every core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Runs `work` over `items` on `jobs` threads (each with its own state from
/// `make_worker`) and hands the results to `emit` in input order, as soon as
/// each one's predecessors are done, so output is deterministic and streams.
pub fn map_ordered<T, W, R>(
    items: &[T],
    jobs: usize,
    make_worker: impl Fn() -> W + Sync,
    work: impl Fn(&mut W, &T) -> R + Sync,
    mut emit: impl FnMut(&T, R),
) where
    T: Sync,
    R: Send,
{
    let progress = (items.len() >= PROGRESS_BAR_MIN_FILES && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(items.len() as u64));
    let next = AtomicUsize::new(0);
    let (sender, receiver) = crossbeam_channel::unbounded::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            let sender = sender.clone();
            let (next, make_worker, work) = (&next, &make_worker, &work);
            scope.spawn(move || {
                let mut worker = make_worker();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    if sender.send((index, work(&mut worker, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending = BTreeMap::new();
        let mut next_to_emit = 0;
        for (index, result) in receiver {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next_to_emit) {
                emit(&items[next_to_emit], result);
                next_to_emit += 1;
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
            }
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_ordered_keeps_input_order_with_many_threads() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        map_ordered(
            &items,
            4,
            || 0_u64,
            |calls, &x| {
                *calls += 1;
                // Uneven work so threads finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((x * 37) % 500));
                x * x
            },
            |&x, squared| seen.push((x, squared)),
        );
        let expected: Vec<(u64, u64)> = items.iter().map(|&x| (x, x * x)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn one_line_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let repeated = genred::audio::AudioError::Io {
            path: "a.wav".into(),
            source: io,
        };
        let err = anyhow::Error::from(repeated).context("reading input");
        assert_eq!(
            one_line(&err),
            "reading input: a.wav: cannot read the file: no such file"
        );
    }

    #[test]
    fn map_ordered_handles_no_items() {
        let mut calls = 0;
        map_ordered(&[] as &[u8], 4, || (), |_, _| (), |_, _| calls += 1);
        assert_eq!(calls, 0);
    }
}
