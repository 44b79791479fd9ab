//! Rolling analysis windows over a clip.
//!
//! The dataset's features describe 30 s clips, so a longer song is classified
//! window by window: windows of `length_s` every `hop_s`, plus one window
//! aligned to the end when the hops leave at least [`MIN_TAIL_S`] unheard.
//! A clip no longer than one window is a single window.

use std::ops::Range;

/// The dataset's clip length: GTZAN clips are 30 s and librosa loaded `duration=30`.
pub const DEFAULT_LENGTH_S: f64 = 30.0;

/// Half a window: every moment of a song is heard by two windows.
pub const DEFAULT_HOP_S: f64 = 15.0;

/// A tail shorter than this gets no window of its own: GTZAN's "30 s" clips
/// run 30.01–30.03 s, and a second, near-identical window for them would
/// double the work for nothing.
pub const MIN_TAIL_S: f64 = 1.0;

/// Where the windows of a clip lie.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowSpec {
    /// Window length in seconds.
    pub length_s: f64,
    /// Seconds between the starts of consecutive windows.
    pub hop_s: f64,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            length_s: DEFAULT_LENGTH_S,
            hop_s: DEFAULT_HOP_S,
        }
    }
}

impl WindowSpec {
    /// Checks that both lengths are positive and finite, and that the hop
    /// leaves no gap between windows.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.length_s.is_finite() && self.length_s > 0.0) {
            return Err(format!(
                "window length must be a positive number of seconds, got {}",
                self.length_s
            ));
        }
        if !(self.hop_s.is_finite() && self.hop_s > 0.0 && self.hop_s <= self.length_s) {
            return Err(format!(
                "window hop must be > 0 and at most the window length ({} s), got {}",
                self.length_s, self.hop_s
            ));
        }
        Ok(())
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
        WindowSpec { length_s, hop_s }
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
    fn validation_names_the_problem() {
        assert!(WindowSpec::default().validate().is_ok());
        assert!(spec(0.0, 1.0).validate().unwrap_err().contains("length"));
        assert!(spec(30.0, 0.0).validate().unwrap_err().contains("hop"));
        assert!(spec(30.0, 31.0).validate().unwrap_err().contains("hop"));
        assert!(spec(f64::NAN, 1.0).validate().is_err());
    }
}
