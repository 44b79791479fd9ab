//! What every config section uses to check itself: the error naming a setting as its user
//! wrote it, and the range checks shared by the sections. A leaf: the sections live with
//! their components (`window`, `sources::mic`, `web`, ...), and `config` collects them.

use std::ops::RangeInclusive;

/// A setting outside what genred accepts, named as its user wrote it:
/// `window.hop_s` in the config file, `--hop` on the command line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub problem: String,
}

impl InvalidSetting {
    /// The error for `key`, saying what is wrong and what is allowed.
    pub fn new(key: &'static str, problem: impl Into<String>) -> Self {
        Self {
            key,
            problem: problem.into(),
        }
    }
}

/// Checks that a count of `unit`s (`"patches"`) is within `range`.
pub fn check_count(
    key: &'static str,
    value: usize,
    range: RangeInclusive<usize>,
    unit: &str,
) -> Result<(), InvalidSetting> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(InvalidSetting::new(
        key,
        format!(
            "must be from {} to {} {unit}, got {value}",
            range.start(),
            range.end()
        ),
    ))
}

/// Checks that `value` is a finite number of seconds within `range`.
pub fn check_seconds(
    key: &'static str,
    value: f64,
    range: RangeInclusive<f64>,
) -> Result<(), InvalidSetting> {
    if value.is_finite() && range.contains(&value) {
        return Ok(());
    }
    Err(InvalidSetting::new(
        key,
        format!(
            "must be a number of seconds from {:?} to {:?}, got {value:?}",
            range.start(),
            range.end()
        ),
    ))
}
