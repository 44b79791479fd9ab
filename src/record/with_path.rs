//! An error about one file, with the file's path attached once (ripgrep's `WithPath`):
//! the error itself says what went wrong, never which file.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

use super::file::display_path;

/// `error`, about the file at `path`; shown as `<path>: <error>`, the path on one line
/// ([`display_path`]).
///
/// The error is displayed, so it is not also this one's [`source`](Error::source): the
/// chain goes on with the error's own source, and each cause is said once.
#[derive(Debug)]
pub struct WithPath<E> {
    pub path: PathBuf,
    pub error: E,
}

impl<E> WithPath<E> {
    pub fn new(path: &Path, error: E) -> Self {
        Self {
            path: path.to_owned(),
            error,
        }
    }

    /// The same file, with its error turned into another kind.
    pub fn map<F>(self, wrap: impl FnOnce(E) -> F) -> WithPath<F> {
        WithPath {
            path: self.path,
            error: wrap(self.error),
        }
    }
}

impl<E: fmt::Display> fmt::Display for WithPath<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", display_path(&self.path), self.error)
    }
}

impl<E: Error> Error for WithPath<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the file")]
    struct Unreadable {
        #[source]
        cause: std::io::Error,
    }

    #[test]
    fn the_path_is_shown_once_on_one_line_and_the_error_is_not_chained_twice() {
        let cause = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let error = WithPath::new(Path::new("new\nline.wav"), Unreadable { cause });
        assert_eq!(error.to_string(), "new\\nline.wav: cannot read the file");
        let source = error.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("permission denied"));
    }
}
