//! A user's file: which version of it was seen ([`FileIdentity`]) and handed to a worker
//! ([`FileJob`]), which version a record says was classified ([`SeenFiles`]), and how its
//! name is shown in a log line, a TSV row or a JSON record whatever bytes it holds.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// One version of one file: the inode it lives in and what a rewrite changes.
///
/// Two identities are equal only if the file is the very same inode, with the
/// same size, modification time and status-change time: a file overwritten in
/// place, truncated, replaced by a rename or touched is a different version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// The inode's status-change time (ctime): moves with every write and with
    /// metadata changes a writer cannot fake back, unlike the mtime.
    pub changed: Option<SystemTime>,
}

impl FileIdentity {
    /// The identity of the regular file at `path` (links followed), or `None`
    /// if there is none.
    pub fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        metadata.is_file().then(|| Self::from_metadata(&metadata))
    }

    /// The identity described by `metadata`.
    pub fn from_metadata(metadata: &Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
            changed: ctime(metadata),
        }
    }
}

/// A complete file for the workers, handed on with its verdict to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub path: PathBuf,
    /// The file as it was when it was found complete.
    pub identity: FileIdentity,
}

/// What a results record says about the version of a file it classified: what of its
/// [`FileIdentity`] a record kept across restarts can tell, size and modification time.
/// (Device, inode and ctime change when a file is copied back or restored from a backup
/// with its times kept, which is not new content.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedVersion {
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl From<&FileIdentity> for RecordedVersion {
    fn from(identity: &FileIdentity) -> Self {
        Self {
            size: identity.size,
            modified: identity.modified,
        }
    }
}

/// The files that already have a result, by path: read by the results sink from its file
/// at start, so that the folder source does not classify unchanged files again.
pub type SeenFiles = HashMap<PathBuf, RecordedVersion>;

fn ctime(metadata: &Metadata) -> Option<SystemTime> {
    let seconds = u64::try_from(metadata.ctime()).ok()?;
    let nanos = u32::try_from(metadata.ctime_nsec()).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
}

/// The path made absolute, with its existing part's symbolic links resolved,
/// so that it compares equal to the paths the watcher reports.
pub fn resolve_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return missing
                .iter()
                .rev()
                .fold(canonical, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// A path as one line of text: valid UTF-8 is kept except control characters
/// (a newline or tab in a name must not split a log line or a TSV row), which
/// are written as `\n`, `\t`, `\r` or `\xNN`, as is every byte that is not
/// UTF-8; a backslash is doubled so the escaping can be undone.
pub fn display_path(path: &Path) -> Cow<'_, str> {
    let bytes = path.as_os_str().as_bytes();
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() || c == '\\') => Cow::Borrowed(text),
        _ => Cow::Owned(escape_bytes(bytes)),
    }
}

fn escape_bytes(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    while !bytes.is_empty() {
        let (valid, rest) = match std::str::from_utf8(bytes) {
            Ok(text) => (text, &[][..]),
            Err(error) => {
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                // `valid_up_to` marks the end of the longest valid prefix.
                (std::str::from_utf8(valid).unwrap_or_default(), rest)
            }
        };
        for c in valid.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buffer = [0u8; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        out.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        if let Some((&invalid, tail)) = rest.split_first() {
            out.push_str(&format!("\\x{invalid:02x}"));
            bytes = tail;
        } else {
            bytes = rest;
        }
    }
    out
}

/// The exact bytes of a path that is not valid UTF-8, as standard base64 (the
/// `path_bytes` field of JSON records, beside the lossy `path`); `None` for a
/// UTF-8 path, whose `path` field is already exact.
pub fn path_bytes(path: &Path) -> Option<String> {
    let bytes = path.as_os_str().as_bytes();
    std::str::from_utf8(bytes)
        .is_err()
        .then(|| base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Serializes a path as its lossy UTF-8 text, for a JSON `path` field (pair it
/// with [`path_bytes`] so that no name is lost).
pub fn serialize_path_lossy<S: serde::Serializer>(
    path: &Path,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn plain_names_are_shown_as_they_are() {
        assert_eq!(
            display_path(Path::new("music/a song.wav")),
            "music/a song.wav"
        );
        assert!(path_bytes(Path::new("music/é.wav")).is_none());
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped_on_one_line() {
        let shown = display_path(Path::new("a\nb\tc\\d\u{7}.wav"));
        assert_eq!(shown, "a\\nb\\tc\\\\d\\x07.wav");
        assert!(!shown.contains('\n'));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_escaped_and_kept_exactly_in_base64() {
        let path = Path::new(OsStr::from_bytes(b"caf\xe9 \xff.wav"));
        assert_eq!(display_path(path), "caf\\xe9 \\xff.wav");
        let encoded = path_bytes(path).unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded);
        assert_eq!(decoded.ok().as_deref(), Some(&b"caf\xe9 \xff.wav"[..]));
    }

    #[test]
    fn an_overwrite_in_place_is_a_new_version() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("x.wav");
        std::fs::write(&file, b"first")?;
        let before = FileIdentity::of(&file);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, b"other")?;
        let after = FileIdentity::of(&file);
        assert!(before.is_some() && after.is_some());
        assert_ne!(before, after, "same size, same inode, but rewritten");
        Ok(())
    }

    #[test]
    fn resolving_keeps_the_missing_tail_of_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not/yet/here.jsonl");
        let resolved = resolve_path(&missing);
        assert_eq!(
            resolved,
            dir.path()
                .canonicalize()
                .unwrap()
                .join("not/yet/here.jsonl")
        );
    }
}
