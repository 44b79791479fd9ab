//! One module per subcommand; each exposes `Args` (clap) and `run`.
//! What the batch commands share (finding input files, running them on a
//! pool of threads in a stable order) lives here.

pub mod check_config;
pub mod classify;
pub mod devices;
pub mod embed;
pub mod evaluate;
pub mod features;
pub mod models;
pub mod results;
pub mod run;
pub mod shell;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use genred::audio;
use genred::config::{self, InvalidSetting};
use genred::record::display_path;
use genred::walk::{self, Entry, Skipped};

/// Show a progress bar from this many files on, when stderr is a terminal.
const PROGRESS_BAR_MIN_FILES: usize = 8;

/// Expands the command line's paths: a regular file is taken as given
/// (whatever its name, so a mislabelled file still gets a clear decoding
/// error); a folder is walked recursively for audio files by extension, in
/// sorted order, hidden entries left out, with the daemon's walker and its
/// symbolic-link policy (see `genred::walk`: links to folders are
/// never followed, loops end). What the walk skips that could have been
/// read (a FIFO, socket or device named like audio, a link to a folder, a
/// folder that cannot be listed) gets one line on stderr and the rest goes on:
/// opening a FIFO would block forever. A path given that does not exist or
/// is not a regular file or folder is an error, not skipped.
pub fn collect_inputs(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        match walk::examine(path.clone()) {
            Some(Entry::File(file)) => files.push(file.path),
            Some(Entry::Dir { path, .. }) => walk_audio_files(&path, &mut files),
            Some(Entry::Skipped(Skipped::NotRegular { path, kind })) => {
                anyhow::bail!(
                    "{}: a {kind}, not a regular file or folder",
                    display_path(&path)
                )
            }
            Some(Entry::Skipped(skipped)) => anyhow::bail!("{skipped}"),
            None => anyhow::bail!("{}: no such file or folder", display_path(path)),
        }
    }
    Ok(files)
}

fn walk_audio_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for item in walk::walk(dir, true, |subfolder| !is_hidden(subfolder)) {
        match item {
            Ok(file) if !is_hidden(&file.path) && audio::is_audio_path(&file.path) => {
                files.push(file.path);
            }
            Ok(_) => {}
            Err(skipped) if worth_a_line(&skipped) => eprintln!("genred: {skipped}"),
            Err(_) => {}
        }
    }
}

/// Whether a name starts with a dot, as hidden files and folders do.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.as_encoded_bytes().starts_with(b"."))
}

/// A skipped entry is reported unless it is hidden, or is a file that would
/// not have been read anyway (a FIFO called `notes.txt`).
fn worth_a_line(skipped: &Skipped) -> bool {
    let path = skipped.path();
    if is_hidden(path) {
        return false;
    }
    match skipped {
        Skipped::NotRegular { .. } | Skipped::BrokenLink { .. } => audio::is_audio_path(path),
        _ => true,
    }
}

/// An error and its causes on one line. Each cause is said once because each error says
/// its cause either in its message or as its `source()`, never both: genred's error types
/// put it in the message (a field named `cause`, which thiserror does not chain), anyhow's
/// contexts chain it.
pub fn one_line(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Whether a batch command goes on after its last write to stdout: not once that failed,
/// for instance because the reader went away (`genred features big/ | head -1` stops
/// working when `head` exits).
pub fn go_on_while_written(written: &io::Result<()>) -> ControlFlow<()> {
    match written {
        Ok(()) => ControlFlow::Continue(()),
        Err(_) => ControlFlow::Break(()),
    }
}

/// The exit status of a batch command that wrote its stream to stdout with outcome
/// `written` and saw `failures` inputs fail. A reader that closed stdout is not an error
/// (ripgrep's rule: stop and exit 0, quietly); any other write error is.
pub fn exit_code(written: io::Result<()>, failures: usize) -> io::Result<ExitCode> {
    match written {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(error) => Err(error),
        Ok(()) if failures == 0 => Ok(ExitCode::SUCCESS),
        Ok(()) => Ok(ExitCode::FAILURE),
    }
}

/// The threads for `--jobs`: every core by default, and at most the daemon's
/// limit for `workers.count` (a few per core).
pub fn jobs(flag: Option<u16>) -> Result<usize, InvalidSetting> {
    let Some(jobs) = flag else {
        return Ok(config::cpu_cores());
    };
    let jobs = usize::from(jobs);
    config::check_workers("--jobs", jobs)?;
    Ok(jobs)
}

/// Runs `work` over `items` on `jobs` threads (each with its own state from
/// `make_worker`) and hands the results to `emit` in input order, as soon as
/// each one's predecessors are done, so output is deterministic and streams.
/// When `emit` says [`ControlFlow::Break`], no further item is started and
/// nothing more is emitted (the items under way are finished and dropped).
pub fn map_ordered<T, W, R>(
    items: &[T],
    jobs: usize,
    make_worker: impl Fn() -> W + Sync,
    work: impl Fn(&mut W, &T) -> R + Sync,
    mut emit: impl FnMut(&T, R) -> ControlFlow<()>,
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
        'receiving: for (index, result) in receiver.iter() {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next_to_emit) {
                let flow = emit(&items[next_to_emit], result);
                next_to_emit += 1;
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
                if flow.is_break() {
                    // Workers stop at their next item: they see the claim counter past the end.
                    next.store(items.len(), Ordering::Relaxed);
                    break 'receiving;
                }
            }
        }
        // Dropped before the workers are joined, so a worker blocked on nothing but its
        // current item finds no one to send it to and stops.
        drop(receiver);
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
            |&x, squared| {
                seen.push((x, squared));
                ControlFlow::Continue(())
            },
        );
        let expected: Vec<(u64, u64)> = items.iter().map(|&x| (x, x * x)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn map_ordered_stops_starting_items_once_emit_says_stop() {
        let items: Vec<u64> = (0..200).collect();
        let started = AtomicUsize::new(0);
        let mut emitted = Vec::new();
        map_ordered(
            &items,
            2,
            || (),
            |(), &x| {
                started.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(1));
                x
            },
            |_, x| {
                emitted.push(x);
                if x == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(emitted, [0, 1, 2]);
        let started = started.into_inner();
        assert!(started < 20, "{started} items started after the stop");
    }

    #[test]
    fn a_closed_stdout_ends_a_batch_command_with_success() {
        let broken = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(exit_code(Err(broken), 3).ok(), Some(ExitCode::SUCCESS));
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert!(exit_code(Err(full), 0).is_err());
        assert_eq!(exit_code(Ok(()), 0).ok(), Some(ExitCode::SUCCESS));
        assert_eq!(exit_code(Ok(()), 1).ok(), Some(ExitCode::FAILURE));
    }

    #[test]
    fn one_line_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let unreadable = genred::record::WithPath::new(
            std::path::Path::new("a.wav"),
            genred::audio::AudioError::Io { cause: io },
        );
        let err = anyhow::Error::from(unreadable).context("reading input");
        assert_eq!(
            one_line(&err),
            "reading input: a.wav: cannot read the file: no such file"
        );
    }

    #[test]
    fn one_line_keeps_a_cause_whose_text_is_in_the_file_name() {
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let err = anyhow::Error::from(denied).context("cannot open permission denied.wav");
        assert_eq!(
            one_line(&err),
            "cannot open permission denied.wav: permission denied"
        );
    }

    #[test]
    fn map_ordered_handles_no_items() {
        let mut calls = 0;
        map_ordered(
            &[] as &[u8],
            4,
            || (),
            |_, _| (),
            |_, _| {
                calls += 1;
                ControlFlow::Continue(())
            },
        );
        assert_eq!(calls, 0);
    }
}
