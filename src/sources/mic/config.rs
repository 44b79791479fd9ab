//! The `[mic]` section: which device, the rolling window, smoothing and silence.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::settings::{check_seconds, InvalidSetting};
use crate::window;

/// The `[mic]` section of the config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MicConfig {
    /// Listen to the microphone at all.
    pub enabled: bool,
    /// Input device: `"default"` or a name printed by `genred devices`.
    pub device: String,
    /// Seconds of audio between predictions (rounded to whole frame hops of the
    /// model's front end, 256 samples at 16 kHz for musicnn, 512 at 22050 Hz for
    /// the 28 features, so consecutive windows reuse their frames).
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
    /// When set, every predicted window is also saved here as a WAV at the
    /// front end's rate (16 kHz for musicnn, 22050 Hz for the 28 features), to
    /// check what was judged against a batch run on the same audio.
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
            silence_rms: crate::analysis::SILENCE_RMS,
            debug_wav_dir: None,
        }
    }
}

/// The device name that means "the system's default input".
pub const DEFAULT_DEVICE: &str = "default";

impl MicConfig {
    /// Checks the values serde cannot; the error names the offending key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        window::check_length("mic.window_s", self.window_s)?;
        window::check_hop("mic.hop_s", self.hop_s, "mic.window_s", self.window_s)?;
        check_seconds(
            "mic.min_window_s",
            self.min_window_s,
            *window::LENGTH_RANGE_S.start()..=self.window_s,
        )?;
        if !(1..=MAX_SMOOTHING).contains(&self.smoothing) {
            return Err(InvalidSetting::new(
                "mic.smoothing",
                format!(
                    "must be from 1 (no smoothing) to {MAX_SMOOTHING} predictions, got {}",
                    self.smoothing
                ),
            ));
        }
        if !(self.silence_rms.is_finite() && (0.0..=1.0).contains(&self.silence_rms)) {
            return Err(InvalidSetting::new(
                "mic.silence_rms",
                format!(
                    "must be an RMS from 0 to 1 (full scale), got {:?}",
                    self.silence_rms
                ),
            ));
        }
        if self.device.trim().is_empty() {
            return Err(InvalidSetting::new(
                "mic.device",
                "must not be empty (use \"default\")",
            ));
        }
        Ok(())
    }
}

/// The most predictions `smoothing` may average: at the default 5 s hop,
/// well over an hour of listening.
pub const MAX_SMOOTHING: usize = 1000;
