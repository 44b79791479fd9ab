//! File actions: put a classified file into `<target>/<genre>/`, or a rejected
//! one into the rejected folder, without ever losing or overwriting a file.
//!
//! The destination name is first claimed by creating it empty with
//! `create_new`, which fails instead of replacing anything; a name taken by
//! another file gets a numbered suffix (`song-1.wav`, `song-2.wav`, …). The
//! file then replaces its own placeholder: by one atomic `rename` within a
//! filesystem, or across filesystems by a copy into a hidden temporary file,
//! `fsync`, and a `rename` onto the placeholder, after which the original is
//! removed. If any step fails, what genred created is removed again and the
//! original stays where it was.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// How many numbered names are tried before giving up on a destination.
const MAX_NUMBERED_NAMES: u32 = 10_000;

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

/// A file could not be moved or copied; the original is where it was.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot {} it into {}: {cause}", file.display(), placement.verb(), folder.display())]
pub struct ActionError {
    pub file: PathBuf,
    pub folder: PathBuf,
    pub placement: Placement,
    pub cause: io::Error,
}

/// Moves or copies `file` into `folder` (created if needed) under its own
/// name or the first free numbered variant; returns where it now is.
pub fn place(file: &Path, folder: &Path, placement: Placement) -> Result<PathBuf, ActionError> {
    let error = |cause| ActionError {
        file: file.to_owned(),
        folder: folder.to_owned(),
        placement,
        cause,
    };
    let name = file.file_name().ok_or_else(|| {
        error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    fs::create_dir_all(folder).map_err(error)?;
    let destination = claim_name(folder, name).map_err(error)?;
    let filled = match placement {
        Placement::Copy => copy_onto(file, &destination),
        Placement::Move => match fs::rename(file, &destination) {
            Err(err) if err.kind() == io::ErrorKind::CrossesDevices => {
                copy_onto(file, &destination).and_then(|()| fs::remove_file(file))
            }
            renamed => renamed,
        },
    };
    match filled {
        Ok(()) => {
            sync_folder(folder);
            Ok(destination)
        }
        Err(err) => {
            // Only genred's own placeholder or copy is there; the original is untouched.
            let _ = fs::remove_file(&destination);
            Err(error(err))
        }
    }
}

/// The folder name for a genre label: the label itself when it is one plain
/// path component, else the label with unsafe characters replaced, so a model's
/// label can never point outside the target folder.
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
    match safe.trim() {
        "" | "." | ".." => "unknown".to_owned(),
        trimmed if trimmed.starts_with('.') => format!("_{}", &trimmed[1..]),
        trimmed => trimmed.to_owned(),
    }
}

/// Creates an empty placeholder under the first free name and returns its path.
fn claim_name(folder: &Path, name: &OsStr) -> io::Result<PathBuf> {
    for number in 0..MAX_NUMBERED_NAMES {
        let candidate = folder.join(numbered_name(name, number));
        match File::create_new(&candidate) {
            Ok(_) => return Ok(candidate),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_NUMBERED_NAMES} numbered variants of the name are all taken"),
    ))
}

/// `song.wav`, then `song-1.wav`, `song-2.wav`, …; the suffix goes before the extension.
fn numbered_name(name: &OsStr, number: u32) -> OsString {
    if number == 0 {
        return name.to_owned();
    }
    let path = Path::new(name);
    let (Some(stem), Some(extension)) = (path.file_stem(), path.extension()) else {
        let mut numbered = name.to_owned();
        numbered.push(format!("-{number}"));
        return numbered;
    };
    let mut numbered = stem.to_owned();
    numbered.push(format!("-{number}."));
    numbered.push(extension);
    numbered
}

/// Copies `file` over the placeholder `destination` so that the destination
/// holds either nothing or all the bytes, never part of them.
fn copy_onto(file: &Path, destination: &Path) -> io::Result<()> {
    let folder = destination.parent().unwrap_or(Path::new("."));
    let mut temporary_name = OsString::from(".");
    temporary_name.push(destination.file_name().unwrap_or_default());
    temporary_name.push(".genred-copy");
    let temporary = claim_name(folder, &temporary_name)?;
    let copied = fs::copy(file, &temporary)
        .and_then(|_| File::open(&temporary)?.sync_all())
        .and_then(|()| fs::rename(&temporary, destination));
    if copied.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    copied
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

    fn write(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        let name = OsStr::new("Été à la plage.wav");
        assert_eq!(numbered_name(name, 0), "Été à la plage.wav");
        assert_eq!(numbered_name(name, 2), "Été à la plage-2.wav");
        assert_eq!(numbered_name(OsStr::new("README"), 1), "README-1");
    }

    #[test]
    fn a_move_keeps_the_bytes_and_leaves_no_original() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        write(&file, b"RIFF audio");
        let moved = place(&file, &dir.path().join("sorted/blues"), Placement::Move).unwrap();
        assert_eq!(moved, dir.path().join("sorted/blues/a.wav"));
        assert_eq!(fs::read(&moved).unwrap(), b"RIFF audio");
        assert!(!file.exists());
    }

    #[test]
    fn a_collision_gets_a_numbered_name_and_the_other_file_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sorted");
        fs::create_dir(&target).unwrap();
        write(&target.join("a.wav"), b"first");
        write(&target.join("a-1.wav"), b"second");
        let file = dir.path().join("a.wav");
        write(&file, b"third");
        let moved = place(&file, &target, Placement::Move).unwrap();
        assert_eq!(moved, target.join("a-2.wav"));
        assert_eq!(fs::read(target.join("a.wav")).unwrap(), b"first");
        assert_eq!(fs::read(target.join("a-1.wav")).unwrap(), b"second");
        assert_eq!(fs::read(&moved).unwrap(), b"third");
    }

    #[test]
    fn a_copy_leaves_the_original_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        write(&file, b"bytes");
        let target = dir.path().join("copies");
        let copied = place(&file, &target, Placement::Copy).unwrap();
        assert_eq!(fs::read(&copied).unwrap(), b"bytes");
        assert_eq!(fs::read(&file).unwrap(), b"bytes");
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            1,
            "only the copy is there"
        );
    }

    #[test]
    fn a_failed_move_leaves_the_original_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        write(&file, b"bytes");
        let not_a_folder = dir.path().join("occupied");
        write(&not_a_folder, b"a file where the folder should be");
        let err = place(&file, &not_a_folder.join("blues"), Placement::Move).unwrap_err();
        assert!(err.to_string().contains("a.wav"), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"bytes");
        assert_eq!(
            fs::read(&not_a_folder).unwrap(),
            b"a file where the folder should be"
        );
    }

    #[test]
    fn a_move_across_filesystems_copies_then_removes() {
        // /dev/shm is a tmpfs on Linux; skip only where it does not exist.
        let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        write(&file, b"far away");
        let moved = place(&file, other.path(), Placement::Move).unwrap();
        assert_eq!(fs::read(&moved).unwrap(), b"far away");
        assert!(!file.exists());
        assert_eq!(fs::read_dir(other.path()).unwrap().count(), 1);
    }

    #[test]
    fn genre_folders_stay_inside_the_target() {
        assert_eq!(genre_folder("classical"), "classical");
        assert_eq!(genre_folder("hip hop"), "hip hop");
        assert_eq!(genre_folder("../etc"), "_._etc");
        assert_eq!(genre_folder(".."), "unknown");
        assert_eq!(genre_folder("a/b"), "a_b");
    }
}
