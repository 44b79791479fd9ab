//! File actions: put a classified file into `<target>/<genre>/`, or a rejected
//! one into the rejected folder, without ever losing, overwriting, splitting or
//! misfiling a file.
//!
//! A placement has two steps, so that the sink can write the file's record in
//! between and no file is ever acted on without one ([`Staged::prepare`], then
//! [`Staged::commit`]; dropping a [`Staged`] undoes the first step):
//!
//! 1. The destination name is claimed: first the hidden temporary name
//!    `.<name>.genred-copy` is created empty, then `<name>` itself, both with
//!    `create_new`, which fails instead of replacing anything; a name taken by
//!    another file gets a numbered suffix (`song-1.wav`, `song-2.wav`, …), and
//!    a name too long for the file system is shortened, its extension kept.
//!    For a copy, or a move to another file system, the file is then copied
//!    into the temporary name and synced. The original is untouched.
//! 2. The file replaces its own placeholder: by one atomic `rename` of the
//!    original within a file system, else by renaming the complete copy onto
//!    the placeholder, after which (for a move) the original is removed.
//!
//! Before each step the original is checked to be still the version that was
//! analysed (same inode, size, mtime and ctime): a file rewritten meanwhile is
//! not acted on. Its new version gets its own turn.
//!
//! The placeholder is created only while its temporary companion exists, so
//! what a killed genred leaves behind is recognisable by name and removed at
//! the next start ([`clean_leftovers`]): every `.<name>.genred-copy`, and
//! `<name>` beside it only when it is empty (a claim never filled).

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, FileTimes};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::watched_folders::WatchedFolders;
use crate::record::{display_path, FileIdentity};

/// How many numbered names are tried before giving up on a destination.
const MAX_NUMBERED_NAMES: u32 = 10_000;

/// The longest file name Linux file systems take (NAME_MAX), in bytes.
const NAME_MAX: usize = 255;

/// What the temporary copy's name adds around the destination's name.
const TEMPORARY_PREFIX: &str = ".";
const TEMPORARY_SUFFIX: &str = ".genred-copy";

/// The longest destination name, numbered suffix included: its temporary
/// companion must fit within [`NAME_MAX`] too.
const MAX_DESTINATION_NAME: usize = NAME_MAX - TEMPORARY_PREFIX.len() - TEMPORARY_SUFFIX.len();

/// A shortened name keeps an extension up to this long (`.wav`, `.flac`);
/// a longer "extension" is just part of a long name.
const MAX_KEPT_EXTENSION: usize = 16;

/// Whether the original stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Move,
    Copy,
}

impl Placement {
    fn verb(self) -> &'static str {
        match self {
            Placement::Move => "move",
            Placement::Copy => "copy",
        }
    }
}

/// A file was not moved or copied; the original is where it was.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(
        "{}: changed since it was analysed; not acted on, its new version is classified on its own",
        display_path(file)
    )]
    Changed { file: PathBuf },
    #[error("{}: gone since it was analysed", display_path(file))]
    Gone { file: PathBuf },
    #[error(
        "{}: not placed into {}: it now leads to {}, inside the drop folder {}, where the file \
         would be found again; the file stays where it is",
        display_path(file),
        display_path(folder),
        display_path(resolved),
        display_path(drop)
    )]
    IntoDropFolder {
        file: PathBuf,
        folder: PathBuf,
        resolved: PathBuf,
        drop: PathBuf,
    },
    #[error("{}: cannot {} it into {}: {cause}", display_path(file), placement.verb(), display_path(folder))]
    Io {
        file: PathBuf,
        folder: PathBuf,
        placement: Placement,
        cause: io::Error,
    },
}

impl ActionError {
    /// True when the file is no longer the version analysed, so its result
    /// is stale and must not be recorded.
    pub fn is_stale(&self) -> bool {
        matches!(self, ActionError::Changed { .. } | ActionError::Gone { .. })
    }
}

/// Fails unless `file` is still the version `analysed`.
pub fn check_unchanged(file: &Path, analysed: &FileIdentity) -> Result<(), ActionError> {
    match FileIdentity::of(file) {
        None => Err(ActionError::Gone {
            file: file.to_owned(),
        }),
        Some(now) if now != *analysed => Err(ActionError::Changed {
            file: file.to_owned(),
        }),
        Some(_) => Ok(()),
    }
}

/// A placement between its two steps: the destination is claimed (and, for a
/// copy or a move across file systems, the copy is complete in its temporary
/// name); the original is untouched. Dropped without [`Staged::commit`], it
/// removes what it created.
#[derive(Debug)]
pub struct Staged {
    file: PathBuf,
    analysed: FileIdentity,
    folder: PathBuf,
    placement: Placement,
    /// The placeholder, which the file replaces.
    destination: PathBuf,
    /// Its temporary companion: empty, or the complete copy when `copied`.
    temporary: PathBuf,
    copied: bool,
    /// Set once the placeholder and its companion are no longer genred's to remove.
    done: bool,
}

impl Staged {
    /// Step 1: claims a name in `folder` (created if needed) for `file`, which
    /// must still be the version `analysed`, and copies it there when it cannot
    /// be renamed.
    pub fn prepare(
        file: &Path,
        analysed: &FileIdentity,
        folder: &Path,
        placement: Placement,
        watched: &WatchedFolders,
    ) -> Result<Self, ActionError> {
        check_unchanged(file, analysed)?;
        let error = io_error(file, folder, placement);
        let name = file.file_name().ok_or_else(|| {
            error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            ))
        })?;
        if let Some((drop, resolved)) = watched.watching(folder) {
            return Err(ActionError::IntoDropFolder {
                file: file.to_owned(),
                folder: folder.to_owned(),
                resolved,
                drop: drop.to_owned(),
            });
        }
        fs::create_dir_all(folder).map_err(&error)?;
        let same_file_system = fs::metadata(folder).map_err(&error)?.dev() == analysed.device;
        let (destination, temporary) = claim_name(folder, name).map_err(&error)?;
        let mut staged = Self {
            file: file.to_owned(),
            analysed: *analysed,
            folder: folder.to_owned(),
            placement,
            destination,
            temporary,
            copied: false,
            done: false,
        };
        if placement == Placement::Copy || !same_file_system {
            staged.copy()?;
        }
        Ok(staged)
    }

    /// The file placed.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where the file will be once committed.
    pub fn destination(&self) -> &Path {
        &self.destination
    }

    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Fails unless the original is still the version analysed: checked
    /// again right before the record is written, as it may have waited.
    pub fn check_unchanged(&self) -> Result<(), ActionError> {
        check_unchanged(&self.file, &self.analysed)
    }

    /// Step 2: the file takes its placeholder's place; for a move the original
    /// is gone. Returns where the file now is.
    pub fn commit(mut self) -> Result<PathBuf, ActionError> {
        self.check_unchanged()?;
        if !self.copied {
            match fs::rename(&self.file, &self.destination) {
                // One file system by device number, but two mounts of it.
                Err(err) if err.kind() == io::ErrorKind::CrossesDevices => self.copy()?,
                renamed => {
                    renamed.map_err(|cause| self.io_error(cause))?;
                    self.done = true;
                    let _ = fs::remove_file(&self.temporary);
                    sync_folder(&self.folder);
                    return Ok(self.destination.clone());
                }
            }
        }
        fs::rename(&self.temporary, &self.destination).map_err(|cause| self.io_error(cause))?;
        self.done = true;
        sync_folder(&self.folder);
        if self.placement == Placement::Move {
            // Removing a version written since the copy would lose it: the
            // copy stays as recorded and the new version gets its own turn.
            match self.check_unchanged() {
                Ok(()) => {
                    if let Err(cause) = fs::remove_file(&self.file) {
                        warn!(
                            "{}: copied to {} but cannot remove the original: {cause}",
                            display_path(&self.file),
                            display_path(&self.destination)
                        );
                    }
                }
                Err(changed) => warn!("{changed}; its copy is kept"),
            }
        }
        Ok(self.destination.clone())
    }

    /// Copies the original into the temporary name with its mode and times (as `mv` across
    /// file systems and `cp -p` keep them: a library sorts by date), synced, and checks that
    /// it did not change while being copied.
    fn copy(&mut self) -> Result<(), ActionError> {
        // `fs::copy` keeps the permission bits; the times are set on the copy.
        fs::copy(&self.file, &self.temporary)
            .and_then(|_| {
                let original = fs::metadata(&self.file)?;
                let times = FileTimes::new()
                    .set_accessed(original.accessed()?)
                    .set_modified(original.modified()?);
                let copy = File::options().write(true).open(&self.temporary)?;
                copy.set_times(times)?;
                copy.sync_all()
            })
            .map_err(|cause| self.io_error(cause))?;
        self.copied = true;
        self.check_unchanged()
    }

    fn io_error(&self, cause: io::Error) -> ActionError {
        io_error(&self.file, &self.folder, self.placement)(cause)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            // Only genred's own placeholder and copy; the original is untouched.
            let _ = fs::remove_file(&self.destination);
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

fn io_error<'a>(
    file: &'a Path,
    folder: &'a Path,
    placement: Placement,
) -> impl Fn(io::Error) -> ActionError + 'a {
    move |cause| ActionError::Io {
        file: file.to_owned(),
        folder: folder.to_owned(),
        placement,
        cause,
    }
}

/// The folder name for a genre label: the label itself when it is one plain
/// path component, else the label with unsafe characters replaced, so a model's
/// label can never point outside the target folder; shortened to what a file
/// system takes.
pub fn genre_folder(label: &str) -> String {
    let safe: String = label
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let folder = match safe.trim() {
        "" | "." | ".." => "unknown".to_owned(),
        trimmed if trimmed.starts_with('.') => format!("_{}", &trimmed[1..]),
        trimmed => trimmed.to_owned(),
    };
    let kept = char_boundary_at_most(folder.as_bytes(), NAME_MAX);
    folder[..kept].to_owned()
}

/// Claims the first free name for `name` in `folder`: creates its temporary
/// companion, then the placeholder itself; returns both paths.
fn claim_name(folder: &Path, name: &OsStr) -> io::Result<(PathBuf, PathBuf)> {
    for number in 0..MAX_NUMBERED_NAMES {
        let candidate = numbered_name(name, number);
        let temporary = folder.join(temporary_name(&candidate));
        match File::create_new(&temporary) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
        let destination = folder.join(&candidate);
        match File::create_new(&destination) {
            Ok(_) => return Ok((destination, temporary)),
            Err(err) => {
                let _ = fs::remove_file(&temporary);
                if err.kind() != io::ErrorKind::AlreadyExists {
                    return Err(err);
                }
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_NUMBERED_NAMES} numbered variants of the name are all taken"),
    ))
}

/// `.<name>.genred-copy`
fn temporary_name(name: &OsStr) -> OsString {
    let mut temporary = OsString::from(TEMPORARY_PREFIX);
    temporary.push(name);
    temporary.push(TEMPORARY_SUFFIX);
    temporary
}

/// The destination whose temporary companion `name` is, if it is one.
fn companion_of(name: &OsStr) -> Option<&OsStr> {
    let inner = name
        .as_bytes()
        .strip_prefix(TEMPORARY_PREFIX.as_bytes())?
        .strip_suffix(TEMPORARY_SUFFIX.as_bytes())?;
    (!inner.is_empty()).then(|| OsStr::from_bytes(inner))
}

/// `song.wav`, then `song-1.wav`, `song-2.wav`, …; the suffix goes before the
/// extension, and the name is shortened (at a character boundary, extension
/// kept) to at most [`MAX_DESTINATION_NAME`] bytes.
fn numbered_name(name: &OsStr, number: u32) -> OsString {
    let suffix = if number == 0 {
        String::new()
    } else {
        format!("-{number}")
    };
    let bytes = name.as_bytes();
    let extension_start = bytes
        .iter()
        .rposition(|&byte| byte == b'.')
        .filter(|&dot| dot > 0 && bytes.len() - dot <= MAX_KEPT_EXTENSION + 1);
    let (stem, extension) = bytes.split_at(extension_start.unwrap_or(bytes.len()));
    let room = MAX_DESTINATION_NAME.saturating_sub(suffix.len() + extension.len());
    let stem = &stem[..char_boundary_at_most(stem, room)];
    let mut numbered = Vec::with_capacity(stem.len() + suffix.len() + extension.len());
    numbered.extend_from_slice(stem);
    numbered.extend_from_slice(suffix.as_bytes());
    numbered.extend_from_slice(extension);
    OsString::from_vec(numbered)
}

/// The longest prefix of `bytes` within `limit` that does not end inside a
/// UTF-8 sequence (for bytes that are not UTF-8, simply within `limit`).
fn char_boundary_at_most(bytes: &[u8], limit: usize) -> usize {
    let is_continuation = |byte: u8| byte & 0b1100_0000 == 0b1000_0000;
    let mut end = limit.min(bytes.len());
    while end > 0 && end < bytes.len() && is_continuation(bytes[end]) {
        end -= 1;
    }
    end
}

/// Removes what a genred killed in the middle of a placement left in
/// `folder`: every temporary copy `.<name>.genred-copy`, and its unfilled
/// placeholder `<name>` (an empty file) beside it. Nothing else is touched: a
/// user's empty file has no such companion. Returns what it removed.
pub fn clean_leftovers(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(companion) = companion_of(&name) else {
            continue;
        };
        let is_regular_file = |path: &Path| {
            fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_file())
        };
        let temporary = entry.path();
        if !is_regular_file(&temporary) {
            continue;
        }
        let placeholder = folder.join(companion);
        let unfilled = fs::symlink_metadata(&placeholder)
            .is_ok_and(|metadata| metadata.file_type().is_file() && metadata.len() == 0);
        for leftover in [Some(temporary), unfilled.then_some(placeholder)]
            .into_iter()
            .flatten()
        {
            match fs::remove_file(&leftover) {
                Ok(()) => {
                    info!(path = %display_path(&leftover), "removed what an interrupted placement left");
                    removed.push(leftover);
                }
                Err(err) => warn!(
                    "{}: cannot remove what an interrupted placement left: {err}",
                    display_path(&leftover)
                ),
            }
        }
    }
    removed
}

/// Makes the new directory entry durable; a failure only weakens crash safety.
fn sync_folder(folder: &Path) {
    if let Ok(directory) = File::open(folder) {
        let _ = directory.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Stages and commits at once, as the sink does once the record is written.
    fn place(file: &Path, folder: &Path, placement: Placement) -> Result<PathBuf, ActionError> {
        let analysed = FileIdentity::of(file).ok_or_else(|| ActionError::Gone {
            file: file.to_owned(),
        })?;
        Staged::prepare(
            file,
            &analysed,
            folder,
            placement,
            &WatchedFolders::default(),
        )?
        .commit()
    }

    fn names_in(folder: &Path) -> io::Result<Vec<OsString>> {
        let mut names = fs::read_dir(folder)?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        let name = OsStr::new("Été à la plage.wav");
        assert_eq!(numbered_name(name, 0), "Été à la plage.wav");
        assert_eq!(numbered_name(name, 2), "Été à la plage-2.wav");
        assert_eq!(numbered_name(OsStr::new("README"), 1), "README-1");
        assert_eq!(numbered_name(OsStr::new(".wav"), 1), ".wav-1");
    }

    #[test]
    fn long_names_are_shortened_within_name_max_with_their_extension() -> TestResult {
        let long = format!("{}.flac", "é".repeat(150));
        for number in [0, 1, 9_999] {
            let shortened = numbered_name(OsStr::new(&long), number);
            assert!(shortened.len() <= MAX_DESTINATION_NAME, "{shortened:?}");
            assert!(temporary_name(&shortened).len() <= NAME_MAX);
            let text = shortened.to_str().ok_or("not UTF-8 any more")?;
            let ending = match number {
                0 => "é.flac".to_owned(),
                number => format!("é-{number}.flac"),
            };
            assert!(text.ends_with(&ending), "{text}");
        }
        // Bytes that are not UTF-8 are cut as bytes; a huge "extension" is no extension.
        let raw = OsString::from_vec([vec![0xff; 300], b".wav".to_vec()].concat());
        assert_eq!(numbered_name(&raw, 0).len(), MAX_DESTINATION_NAME);
        let dotted = format!("a.{}", "b".repeat(300));
        assert_eq!(
            numbered_name(OsStr::new(&dotted), 3).len(),
            MAX_DESTINATION_NAME
        );
        Ok(())
    }

    #[test]
    fn a_file_with_a_255_byte_name_is_placed_under_a_shorter_one() -> TestResult {
        let dir = tempfile::tempdir()?;
        let name = format!("{}.wav", "x".repeat(NAME_MAX - 4));
        let file = dir.path().join(&name);
        fs::write(&file, b"audio")?;
        let target = dir.path().join("sorted");
        let first = place(&file, &target, Placement::Copy)?;
        let second = place(&file, &target, Placement::Move)?;
        for placed in [&first, &second] {
            let placed_name = placed.file_name().ok_or("no name")?;
            assert!(placed_name.len() <= MAX_DESTINATION_NAME, "{placed:?}");
            assert!(placed_name.to_string_lossy().ends_with(".wav"));
            assert_eq!(fs::read(placed)?, b"audio");
        }
        assert_ne!(first, second);
        assert!(!file.exists());
        assert_eq!(names_in(&target)?.len(), 2, "no leftovers");
        Ok(())
    }

    #[test]
    fn a_move_keeps_the_bytes_and_leaves_no_original() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"RIFF audio")?;
        let moved = place(&file, &dir.path().join("sorted/blues"), Placement::Move)?;
        assert_eq!(moved, dir.path().join("sorted/blues/a.wav"));
        assert_eq!(fs::read(&moved)?, b"RIFF audio");
        assert!(!file.exists());
        assert_eq!(names_in(&dir.path().join("sorted/blues"))?, ["a.wav"]);
        Ok(())
    }

    #[test]
    fn a_collision_gets_a_numbered_name_and_the_other_file_is_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("sorted");
        fs::create_dir(&target)?;
        fs::write(target.join("a.wav"), b"first")?;
        fs::write(target.join("a-1.wav"), b"second")?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"third")?;
        let moved = place(&file, &target, Placement::Move)?;
        assert_eq!(moved, target.join("a-2.wav"));
        assert_eq!(fs::read(target.join("a.wav"))?, b"first");
        assert_eq!(fs::read(target.join("a-1.wav"))?, b"second");
        assert_eq!(fs::read(&moved)?, b"third");
        Ok(())
    }

    #[test]
    fn a_copy_leaves_the_original_and_no_temporary_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"bytes")?;
        let target = dir.path().join("copies");
        let copied = place(&file, &target, Placement::Copy)?;
        assert_eq!(fs::read(&copied)?, b"bytes");
        assert_eq!(fs::read(&file)?, b"bytes");
        assert_eq!(names_in(&target)?, ["a.wav"], "only the copy is there");
        Ok(())
    }

    #[test]
    fn a_failed_move_leaves_the_original_in_place() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"bytes")?;
        let not_a_folder = dir.path().join("occupied");
        fs::write(&not_a_folder, b"a file where the folder should be")?;
        let Err(err) = place(&file, &not_a_folder.join("blues"), Placement::Move) else {
            return Err("moved into a file".into());
        };
        assert!(err.to_string().contains("a.wav"), "{err}");
        assert!(!err.is_stale());
        assert_eq!(fs::read(&file)?, b"bytes");
        assert_eq!(
            fs::read(&not_a_folder)?,
            b"a file where the folder should be"
        );
        Ok(())
    }

    #[test]
    fn a_move_across_filesystems_copies_then_removes() -> TestResult {
        // /dev/shm is a tmpfs on Linux; skip only where it does not exist.
        let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
            return Ok(());
        };
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"far away")?;
        let moved = place(&file, other.path(), Placement::Move)?;
        assert_eq!(fs::read(&moved)?, b"far away");
        assert!(!file.exists());
        assert_eq!(names_in(other.path())?, ["a.wav"]);
        Ok(())
    }

    #[test]
    fn a_staged_placement_dropped_before_its_commit_leaves_no_trace() -> TestResult {
        let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
            return Ok(());
        };
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"kept")?;
        let analysed = FileIdentity::of(&file).ok_or("no file")?;
        for (folder, placement) in [
            (dir.path().join("same"), Placement::Move),
            (other.path().to_owned(), Placement::Move),
            (dir.path().join("copies"), Placement::Copy),
        ] {
            let staged = Staged::prepare(
                &file,
                &analysed,
                &folder,
                placement,
                &WatchedFolders::default(),
            )?;
            assert_eq!(staged.destination(), folder.join("a.wav"));
            drop(staged);
            assert!(names_in(&folder)?.is_empty(), "{folder:?}");
            assert_eq!(fs::read(&file)?, b"kept");
        }
        Ok(())
    }

    #[test]
    fn a_file_rewritten_after_its_analysis_is_not_acted_on() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a.wav");
        fs::write(&file, b"old version")?;
        let analysed = FileIdentity::of(&file).ok_or("no file")?;
        let target = dir.path().join("sorted");
        // Rewritten in place, same size, between staging and commit.
        let staged = Staged::prepare(
            &file,
            &analysed,
            &target,
            Placement::Move,
            &WatchedFolders::default(),
        )?;
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&file, b"new version")?;
        let Err(err) = staged.commit() else {
            return Err("a changed file was moved".into());
        };
        assert!(err.is_stale(), "{err}");
        assert_eq!(fs::read(&file)?, b"new version");
        assert!(names_in(&target)?.is_empty());
        // Or before anything was done.
        let Err(err) = Staged::prepare(
            &file,
            &analysed,
            &target,
            Placement::Copy,
            &WatchedFolders::default(),
        ) else {
            return Err("a changed file was staged".into());
        };
        assert!(matches!(err, ActionError::Changed { .. }), "{err}");
        fs::remove_file(&file)?;
        let Err(err) = Staged::prepare(
            &file,
            &analysed,
            &target,
            Placement::Copy,
            &WatchedFolders::default(),
        ) else {
            return Err("a removed file was staged".into());
        };
        assert!(matches!(err, ActionError::Gone { .. }), "{err}");
        Ok(())
    }

    #[test]
    fn leftovers_of_a_killed_placement_are_cleaned_and_nothing_else() -> TestResult {
        let dir = tempfile::tempdir()?;
        let folder = dir.path();
        // A claim killed mid-copy: the empty placeholder and a partial copy.
        fs::write(folder.join("song.wav"), b"")?;
        fs::write(folder.join(".song.wav.genred-copy"), b"RIFF half")?;
        // A temporary copy whose placeholder was already filled: the file stays.
        fs::write(folder.join("kept.wav"), b"complete")?;
        fs::write(folder.join(".kept.wav.genred-copy"), b"")?;
        // A user's own empty file, and names that only look alike.
        fs::write(folder.join("empty.wav"), b"")?;
        fs::write(folder.join(".genred-copy"), b"")?;
        fs::write(folder.join("x.genred-copy"), b"")?;
        let mut removed = clean_leftovers(folder);
        removed.sort();
        assert_eq!(
            removed,
            [
                folder.join(".kept.wav.genred-copy"),
                folder.join(".song.wav.genred-copy"),
                folder.join("song.wav"),
            ]
        );
        assert_eq!(
            names_in(folder)?,
            [".genred-copy", "empty.wav", "kept.wav", "x.genred-copy"]
        );
        // The claimed name is free again: the file gets its own name back.
        let source = tempfile::tempdir()?;
        let file = source.path().join("song.wav");
        fs::write(&file, b"RIFF whole")?;
        assert_eq!(
            place(&file, folder, Placement::Move)?,
            folder.join("song.wav")
        );
        Ok(())
    }

    #[test]
    fn genre_folders_stay_inside_the_target_and_within_name_max() {
        assert_eq!(genre_folder("classical"), "classical");
        assert_eq!(genre_folder("hip hop"), "hip hop");
        assert_eq!(genre_folder("../etc"), "_._etc");
        assert_eq!(genre_folder(".."), "unknown");
        assert_eq!(genre_folder("a/b"), "a_b");
        let long = genre_folder(&"ü".repeat(300));
        assert_eq!(
            long.len(),
            254,
            "cut at a character boundary within 255 bytes"
        );
        assert!(long.chars().all(|c| c == 'ü'));
    }
}
