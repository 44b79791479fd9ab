//! Live microphone source: capture (cpal → lock-free ring), a rolling window
//! at 22050 Hz, and a genre prediction every hop.
//!
//! Threads: the cpal audio callback only converts to mono f32 and pushes into a
//! pre-allocated SPSC ring (no allocation, lock, logging or syscall there); the
//! caller's thread, inside [`run`], drains the ring, resamples, extracts the
//! features incrementally and runs the model.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[mic]` section of the config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MicConfig {
    /// Listen to the microphone at all.
    pub enabled: bool,
    /// Input device: `"default"` or a name printed by `genred devices`.
    pub device: String,
    /// Seconds of audio between predictions (rounded to whole 512-sample
    /// STFT hops at 22050 Hz so consecutive windows reuse their frames).
    pub hop_s: f64,
    /// Seconds of audio in a full window (the dataset's clips are 30 s).
    pub window_s: f64,
    /// Seconds of audio before the first, provisional, prediction.
    pub min_window_s: f64,
    /// `smoothed_genre` is the arg-max of the mean probabilities over the last
    /// `smoothing` non-silent predictions (1 = no smoothing).
    pub smoothing: usize,
    /// A window whose RMS is below this is reported as silence, not a genre.
    pub silence_rms: f32,
    /// When set, every predicted window is also saved here as a 22050 Hz WAV,
    /// so `genred features` can check the streamed features against batch.
    pub debug_wav_dir: Option<PathBuf>,
}

impl Default for MicConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            device: DEFAULT_DEVICE.to_owned(),
            hop_s: 5.0,
            window_s: 30.0,
            min_window_s: 10.0,
            smoothing: 6,
            silence_rms: 1e-3,
            debug_wav_dir: None,
        }
    }
}

/// The device name that means "the system's default input".
pub const DEFAULT_DEVICE: &str = "default";

impl MicConfig {
    /// Checks the values serde cannot; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let finite_positive = |value: f64| value.is_finite() && value > 0.0;
        if !finite_positive(self.window_s) {
            return Err(format!("mic.window_s must be > 0 (got {})", self.window_s));
        }
        if !finite_positive(self.hop_s) || self.hop_s > self.window_s {
            return Err(format!(
                "mic.hop_s must be > 0 and ≤ window_s (got {}, window_s {})",
                self.hop_s, self.window_s
            ));
        }
        if !finite_positive(self.min_window_s) || self.min_window_s > self.window_s {
            return Err(format!(
                "mic.min_window_s must be > 0 and ≤ window_s (got {}, window_s {})",
                self.min_window_s, self.window_s
            ));
        }
        if self.smoothing == 0 {
            return Err("mic.smoothing must be ≥ 1 (1 means no smoothing)".to_owned());
        }
        if !(self.silence_rms.is_finite() && self.silence_rms >= 0.0) {
            return Err(format!(
                "mic.silence_rms must be ≥ 0 (got {})",
                self.silence_rms
            ));
        }
        if self.device.trim().is_empty() {
            return Err("mic.device must not be empty (use \"default\")".to_owned());
        }
        Ok(())
    }
}

/// One prediction over the current window, as written to the results file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicPrediction {
    /// When the window ended, RFC 3339 (UTC, milliseconds).
    pub time: String,
    /// Always `"mic"`.
    pub source: &'static str,
    /// The configured device name.
    pub device: String,
    /// The most probable genre, or `None` for silence.
    pub genre: Option<String>,
    /// The probability of `genre` (0 for silence).
    pub confidence: f32,
    /// Every label's probability, in the model's label order (empty for silence).
    pub probabilities: BTreeMap<String, f32>,
    /// The arg-max of the mean probabilities over recent non-silent windows.
    pub smoothed_genre: Option<String>,
    /// Seconds of audio in the window.
    pub window_s: f64,
    /// True until the window holds `window_s` seconds.
    pub provisional: bool,
    /// True when the window's RMS is under `silence_rms`.
    pub silence: bool,
    /// Device frames lost so far because the worker fell behind the audio.
    pub dropped_samples: u64,
}

/// What to do when the device cannot be opened at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPolicy {
    /// The microphone is the only source: an unavailable device is an error.
    FailFast,
    /// Another source keeps the daemon busy: retry with backoff until it works.
    Retry,
}

/// Why the microphone could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MicError {
    /// No device could be opened at all.
    #[error(
        "no audio input: device \"{device}\" is not available ({reason}); no ALSA card and no \
         PulseAudio server? set PULSE_SERVER or pick a device with `genred devices`"
    )]
    NoInput { device: String, reason: String },
    /// The configuration is invalid.
    #[error("invalid [mic] config: {0}")]
    Config(String),
}
