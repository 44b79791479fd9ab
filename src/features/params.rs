//! The frame grid every feature is computed on (librosa's defaults), and the one way a
//! clip can be unfit for it.

/// The sample rate every feature assumes (librosa's default `sr`).
pub const SAMPLE_RATE: u32 = 22050;

/// STFT frame length; also the minimum clip length in samples (one full frame).
pub const N_FFT: usize = 2048;

/// Samples between consecutive frame centres.
pub const HOP_LENGTH: usize = 512;

/// Why features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// Fewer samples than one STFT frame: librosa's padding rules would not hold.
    #[error("too short: {samples} samples, at least 2048 (one STFT frame) are needed")]
    TooShort { samples: usize },
}

/// Number of centred frames librosa computes for `n_samples`: `1 + n_samples / HOP_LENGTH`.
pub(super) fn frame_count(n_samples: usize) -> usize {
    1 + n_samples / HOP_LENGTH
}

pub(super) fn check_length(samples: usize) -> Result<(), FeatureError> {
    if samples < N_FFT {
        Err(FeatureError::TooShort { samples })
    } else {
        Ok(())
    }
}
