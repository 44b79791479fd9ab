//! Which paths under the drop folders are files to classify.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::walk::Skipped;

/// Name endings of files that browsers and download tools are still writing.
const PARTIAL_SUFFIXES: [&str; 3] = [".part", ".crdownload", ".tmp"];

/// Which paths under the roots are files to classify.
#[derive(Debug, Clone)]
pub(super) struct FileFilter {
    pub(super) roots: Vec<PathBuf>,
    pub(super) extensions: Vec<String>,
    pub(super) excluded_dirs: Vec<PathBuf>,
    pub(super) excluded_files: Vec<PathBuf>,
}

impl FileFilter {
    /// True for a file to classify: inside a root, not hidden, not a partial
    /// download, with an accepted extension, not the results file, and not in
    /// an excluded folder. Any byte string is a name: the checks compare the
    /// name's text where it has some.
    pub(super) fn accepts_file(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return false;
        };
        let lower = name.to_string_lossy().to_lowercase();
        if PARTIAL_SUFFIXES
            .iter()
            .any(|suffix| lower.ends_with(suffix))
        {
            return false;
        }
        let extension_accepted = self.extensions.is_empty()
            || Path::new(name)
                .extension()
                .and_then(OsStr::to_str)
                .is_some_and(|extension| {
                    let extension = extension.to_lowercase();
                    self.extensions.contains(&extension)
                });
        extension_accepted
            && !self.excluded_files.iter().any(|file| file == path)
            && self.accepts_dir(path)
    }

    /// True for a path inside a root with no hidden component below the root
    /// and outside the excluded folders.
    pub(super) fn accepts_dir(&self, path: &Path) -> bool {
        let Some(relative) = self
            .roots
            .iter()
            .find_map(|root| path.strip_prefix(root).ok())
        else {
            return false;
        };
        let hidden = relative
            .components()
            .any(|component| component.as_os_str().as_encoded_bytes().starts_with(b"."));
        !hidden && !self.excluded_dirs.iter().any(|dir| path.starts_with(dir))
    }

    /// Whether a skipped entry is one that would have been taken, so that its
    /// skip is worth a log line.
    pub(super) fn would_take(&self, skipped: &Skipped) -> bool {
        match skipped {
            Skipped::DirectoryLink { path } | Skipped::Loop { path } => self.accepts_dir(path),
            Skipped::Unreadable { .. } => true,
            Skipped::NotRegular { path, .. } | Skipped::BrokenLink { path, .. } => {
                self.accepts_file(path)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn filter() -> FileFilter {
        FileFilter {
            roots: vec!["/music".into()],
            extensions: vec!["wav".into(), "mp3".into()],
            excluded_dirs: vec!["/music/sorted".into()],
            excluded_files: vec!["/music/results.jsonl".into()],
        }
    }

    #[test]
    fn the_filter_takes_audio_inside_the_roots() {
        for path in [
            "/music/a.wav",
            "/music/sub/B.MP3",
            "/music/Été à la plage.wav",
        ] {
            assert!(filter().accepts_file(Path::new(path)), "{path}");
        }
        let not_utf8 = Path::new(OsStr::from_bytes(b"/music/caf\xe9 \xff.WAV"));
        assert!(filter().accepts_file(not_utf8));
    }

    #[test]
    fn the_filter_skips_hidden_partial_foreign_and_excluded_paths() {
        for path in [
            "/music/.a.wav",
            "/music/.cache/a.wav",
            "/music/a.wav.part",
            "/music/a.wav.crdownload",
            "/music/a.wav.TMP",
            "/music/cover.jpg",
            "/music/noextension",
            "/music/sorted/blues/a.wav",
            "/music/results.jsonl",
            "/elsewhere/a.wav",
        ] {
            assert!(!filter().accepts_file(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn an_empty_extension_list_takes_every_file() {
        let filter = FileFilter {
            extensions: Vec::new(),
            ..filter()
        };
        assert!(filter.accepts_file(Path::new("/music/notes.txt")));
    }
}
