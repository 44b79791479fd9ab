//! Rolling analysis windows over a clip.
//!
//! The dataset's features describe 30 s clips, so a longer song is classified
//! window by window: windows of `length_s` every `hop_s`, plus one window
//! aligned to the end when the hops leave at least [`MIN_TAIL_S`] unheard.
//! A clip no longer than one window is a single window.
//!
//! The limits on the window settings live here too, in one validator that
//! the config file (`[window]`), `genred classify`'s flags and the microphone
//! (`[mic]`) share, each naming the key or flag as its user wrote it.

use std::ops::{Range, RangeInclusive};

use crate::features::{HOP_LENGTH, SAMPLE_RATE};
use crate::settings::{check_count, check_seconds, InvalidSetting};

/// The dataset's clip length: GTZAN clips are 30 s and librosa loaded `duration=30`.
pub const DEFAULT_LENGTH_S: f64 = 30.0;

/// Half a window: every moment of a song is heard by two windows.
pub const DEFAULT_HOP_S: f64 = 15.0;

/// A tail shorter than this gets no window of its own: GTZAN's "30 s" clips
/// run 30.01–30.03 s, and a second, near-identical window for them would
/// double the work for nothing.
pub const MIN_TAIL_S: f64 = 1.0;

/// Four hours: longer than any album side or DJ mix a drop folder is meant
/// for. Files stream through the engine, so this bounds the time one file can
/// hold a worker, not its memory.
pub const DEFAULT_MAX_DURATION_S: f64 = 4.0 * 3600.0;

/// The accepted `max_duration_s`: at least a second, at most a day.
pub const MAX_DURATION_RANGE_S: RangeInclusive<f64> = 1.0..=86_400.0;

/// The accepted window lengths. Under a second there is no rhythm to
/// measure; over ten minutes one window's samples and STFT frames alone take
/// hundreds of megabytes, and the model only ever saw 30 s clips.
pub const LENGTH_RANGE_S: RangeInclusive<f64> = 1.0..=600.0;

/// The shortest hop: one STFT hop (512 samples at 22050 Hz). A finer hop
/// finds nothing new (frames are 512 samples apart) and `1e-300` would mean
/// endless windows.
pub const MIN_HOP_S: f64 = HOP_LENGTH as f64 / SAMPLE_RATE as f64;

/// A file is judged on at most this many musicnn patches (3 s each) spread evenly over it:
/// all ten of a 30 s clip, the best validation accuracy measured (0.792; one patch 0.719,
/// two to five 0.771, `models/README.md`), and for a longer song the cost of one clip.
pub const DEFAULT_MAX_PATCHES: usize = 10;

/// The accepted `max_patches`: one patch at least; at most 10 000, the patches of more than
/// 8 h of audio, so any cap at or below `max_duration_s` can be expressed.
pub const MAX_PATCHES_RANGE: RangeInclusive<usize> = 1..=10_000;

/// Where the windows of a clip lie.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowSpec {
    /// Window length in seconds.
    pub length_s: f64,
    /// Seconds between the starts of consecutive windows.
    pub hop_s: f64,
    /// The most audio read from one file, in seconds: a longer file gets an
    /// error record instead of a genre, so memory stays bounded.
    pub max_duration_s: f64,
    /// The most patches a file is judged on, for models on short patches (musicnn); the
    /// 28-feature models judge every window.
    pub max_patches: usize,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            length_s: DEFAULT_LENGTH_S,
            hop_s: DEFAULT_HOP_S,
            max_duration_s: DEFAULT_MAX_DURATION_S,
            max_patches: DEFAULT_MAX_PATCHES,
        }
    }
}

/// The names of [`WindowSpec`]'s settings where they were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowKeys {
    pub length: &'static str,
    pub hop: &'static str,
    pub max_duration: &'static str,
    pub max_patches: &'static str,
}

impl WindowKeys {
    /// The `[window]` section's keys.
    pub const CONFIG: Self = Self {
        length: "window.length_s",
        hop: "window.hop_s",
        max_duration: "window.max_duration_s",
        max_patches: "window.max_patches",
    };
}

/// Checks a window length (the file windows' or the microphone's).
pub fn check_length(key: &'static str, length_s: f64) -> Result<(), InvalidSetting> {
    check_seconds(key, length_s, LENGTH_RANGE_S)
}

/// Checks a hop: at least one STFT hop, at most the window it steps through
/// (named `length_key`), so no audio falls between two windows.
pub fn check_hop(
    key: &'static str,
    hop_s: f64,
    length_key: &'static str,
    length_s: f64,
) -> Result<(), InvalidSetting> {
    if hop_s.is_finite() && (MIN_HOP_S..=length_s).contains(&hop_s) {
        return Ok(());
    }
    Err(InvalidSetting::new(
        key,
        format!(
            "must be at least one STFT hop ({HOP_LENGTH} samples at {SAMPLE_RATE} Hz, \
             {MIN_HOP_S:.6} s) and at most {length_key} ({length_s:?} s), got {hop_s:?}"
        ),
    ))
}

impl WindowSpec {
    /// Checks every setting against its limits; the error names the key as
    /// `keys` spells it.
    pub fn validate(&self, keys: WindowKeys) -> Result<(), InvalidSetting> {
        check_length(keys.length, self.length_s)?;
        check_hop(keys.hop, self.hop_s, keys.length, self.length_s)?;
        check_seconds(keys.max_duration, self.max_duration_s, MAX_DURATION_RANGE_S)?;
        check_count(
            keys.max_patches,
            self.max_patches,
            MAX_PATCHES_RANGE,
            "patches",
        )
    }

    /// The sample ranges of the windows over `n_samples` samples at `sample_rate`.
    ///
    /// Always at least one window (`0..n_samples`), even for an empty clip, so
    /// the caller reports "too short" from the features rather than "no windows".
    pub fn ranges(&self, n_samples: usize, sample_rate: u32) -> Vec<Range<usize>> {
        let rate = f64::from(sample_rate);
        let length = ((self.length_s * rate).round() as usize).max(1);
        let hop = ((self.hop_s * rate).round() as usize).max(1);
        if n_samples <= length {
            return std::iter::once(0..n_samples).collect();
        }
        let mut ranges: Vec<Range<usize>> = (0..=n_samples - length)
            .step_by(hop)
            .map(|start| start..start + length)
            .collect();
        let min_tail = (MIN_TAIL_S * rate).round() as usize;
        if ranges
            .last()
            .is_some_and(|last| last.end + min_tail <= n_samples)
        {
            ranges.push(n_samples - length..n_samples);
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 10;

    fn spec(length_s: f64, hop_s: f64) -> WindowSpec {
        WindowSpec {
            length_s,
            hop_s,
            ..WindowSpec::default()
        }
    }

    #[test]
    fn a_clip_no_longer_than_a_window_is_one_window() {
        assert_eq!(spec(30.0, 15.0).ranges(0, RATE), vec![0..0]);
        assert_eq!(spec(30.0, 15.0).ranges(120, RATE), vec![0..120]);
        assert_eq!(spec(30.0, 15.0).ranges(300, RATE), vec![0..300]);
    }

    #[test]
    fn windows_hop_and_the_last_one_reaches_the_end() {
        // 40 s: 0-30, 10-40 (aligned to the end; 15-45 would run past it).
        assert_eq!(spec(30.0, 15.0).ranges(400, RATE), vec![0..300, 100..400]);
        // 60 s: 0-30, 15-45, 30-60 end exactly; no extra window.
        assert_eq!(
            spec(30.0, 15.0).ranges(600, RATE),
            vec![0..300, 150..450, 300..600]
        );
    }

    #[test]
    fn a_tail_under_a_second_gets_no_window() {
        // 30.5 s and 31 s at 10 samples per second.
        assert_eq!(spec(30.0, 15.0).ranges(305, RATE), vec![0..300]);
        assert_eq!(spec(30.0, 15.0).ranges(310, RATE), vec![0..300, 10..310]);
    }

    #[test]
    fn every_sample_is_covered() {
        let n = 2_417;
        for ranges in [
            spec(30.0, 15.0).ranges(n, RATE),
            spec(30.0, 30.0).ranges(n, RATE),
            spec(30.0, 7.3).ranges(n, RATE),
        ] {
            let mut covered = vec![false; n];
            for range in ranges {
                assert_eq!(range.len(), 300);
                covered[range].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c));
        }
    }

    #[test]
    fn validation_names_the_key() {
        let keys = WindowKeys::CONFIG;
        let key = |spec: WindowSpec| spec.validate(keys).map_err(|invalid| invalid.key);
        assert_eq!(key(WindowSpec::default()), Ok(()));
        assert_eq!(key(spec(0.0, 1.0)), Err("window.length_s"));
        assert_eq!(key(spec(f64::NAN, 1.0)), Err("window.length_s"));
        assert_eq!(key(spec(601.0, 15.0)), Err("window.length_s"));
        assert_eq!(key(spec(30.0, 0.0)), Err("window.hop_s"));
        assert_eq!(key(spec(30.0, 31.0)), Err("window.hop_s"));
        assert_eq!(key(spec(30.0, 1e-300)), Err("window.hop_s"));
        assert_eq!(key(spec(30.0, MIN_HOP_S)), Ok(()));
        for max_duration_s in [0.0, 0.5, 86_401.0, f64::INFINITY] {
            let long = WindowSpec {
                max_duration_s,
                ..WindowSpec::default()
            };
            assert_eq!(key(long), Err("window.max_duration_s"), "{max_duration_s}");
        }
        for max_patches in [0, 10_001] {
            let sampled = WindowSpec {
                max_patches,
                ..WindowSpec::default()
            };
            assert_eq!(key(sampled), Err("window.max_patches"), "{max_patches}");
        }
    }

    #[test]
    fn a_hop_error_says_the_limits() {
        let error = spec(30.0, 1e-300).validate(WindowKeys::CONFIG).unwrap_err();
        assert_eq!(
            error.to_string(),
            "window.hop_s: must be at least one STFT hop (512 samples at 22050 Hz, \
             0.023220 s) and at most window.length_s (30.0 s), got 1e-300"
        );
    }
}
