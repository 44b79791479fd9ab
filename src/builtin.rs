//! The default judge and its two models, compiled into the binary, so that genred classifies
//! from any directory and as a lone installed binary (`cargo install`, a package) with the
//! default config. A model file on disk always wins: the built-in copy is read only when the
//! path is the default's own relative path (`models/<name>`) and no such file is there.

use std::borrow::Cow;
use std::io;
use std::path::Path;

use tracing::info;

/// The built-in files, by the relative path the default config and recipe name them with.
const BUILT_IN: [(&str, &[u8]); 3] = [
    (
        "models/judge-10.json",
        include_bytes!("../models/judge-10.json"),
    ),
    (
        "models/musicnn-genre-10.onnx",
        include_bytes!("../models/musicnn-genre-10.onnx"),
    ),
    (
        "models/ced-tiny.onnx",
        include_bytes!("../models/ced-tiny.onnx"),
    ),
];

/// The bytes of the model file at `path`: the file's, or, when there is none and `path` is
/// a built-in file's relative path, the built-in copy (the error is the file's otherwise).
pub fn read(path: &Path) -> io::Result<Cow<'static, [u8]>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Cow::Owned(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let bytes = built_in(path).ok_or(err)?;
            info!(model = %path.display(), "no such file here: the copy built into genred is used");
            Ok(Cow::Borrowed(bytes))
        }
        Err(err) => Err(err),
    }
}

/// The built-in copy of the file at the relative `path`, if there is one.
pub fn built_in(path: &Path) -> Option<&'static [u8]> {
    BUILT_IN
        .iter()
        .find(|(name, _)| Path::new(name) == path)
        .map(|(_, bytes)| *bytes)
}

/// The built-in files' relative paths.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILT_IN.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_on_disk_wins_and_the_built_in_copy_stands_in_only_for_its_own_path() {
        // From the repository root the files are there, and equal to the built-in copies.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in names() {
            let on_disk = std::fs::read(root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                built_in(Path::new(name)),
                Some(on_disk.as_slice()),
                "{name}"
            );
        }
        let elsewhere = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = elsewhere.path().join("models/judge-10.json");
        let err = read(&missing).expect_err("an absolute path is never built in");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(built_in(Path::new("models/nothing.onnx")).is_none());
    }
}
