//! Everything computed from one STFT frame alone (see the module docs of `features`): the
//! values a sliding window can keep for every frame whose samples it has already seen.

use super::chroma::{pitch_peaks, PitchPeak};
use super::mfcc::{MelFilterbank, N_MELS};
use super::params::N_FFT;
use super::spectral::{l1_normalize, spectral_bandwidth, spectral_centroid, spectral_rolloff};
use super::stft::{centred_frame, Padding, Stft, N_BINS};
use super::temporal::{rms, zero_crossing_rate};

/// The window-independent values of one frame.
#[derive(Clone, Debug)]
pub(crate) struct FrameFeatures {
    pub rms: f32,
    pub zero_crossing_rate: f64,
    pub spectral_centroid: f64,
    pub spectral_bandwidth: f64,
    pub rolloff: f64,
    /// The log-mel column `10 log10(max(1e-10, W @ P))`, before the clip-wide −80 dB floor.
    pub log_mel: [f64; N_MELS],
    /// `P = S²` in float32: chroma needs it once the clip's tuning is known.
    pub power: Vec<f32>,
    /// piptrack's peaks, the input of the tuning estimate.
    pub pitch_peaks: Vec<PitchPeak>,
    /// This frame's chroma sum for the tuning it was last computed with: windows that agree
    /// on the tuning reuse it.
    pub chroma: Option<ChromaSum>,
}

/// A frame's summed, normalised chroma for one tuning (see `ChromaFilterbank::normalized_sum`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ChromaSum {
    pub tuning: f64,
    pub sum: f64,
}

/// Computes [`FrameFeatures`], reusing the FFT plan, filterbank and buffers.
pub(crate) struct FrameAnalyzer {
    stft: Stft,
    mel: MelFilterbank,
    frame: Vec<f32>,
    magnitude: Vec<f32>,
    normalized: Vec<f32>,
}

impl FrameAnalyzer {
    pub(crate) fn new() -> Self {
        FrameAnalyzer {
            stft: Stft::new(),
            mel: MelFilterbank::new(),
            frame: vec![0.0; N_FFT],
            magnitude: vec![0.0; N_BINS],
            normalized: vec![0.0; N_BINS],
        }
    }

    /// The values of the frame centred on `signal[centre]`, padded at the signal's ends as
    /// librosa 0.6.1 pads each feature (reflect for stft and rms, edge for zcr).
    /// `signal` must hold at least `N_FFT` samples.
    pub(crate) fn analyze(&mut self, signal: &[f32], centre: usize) -> FrameFeatures {
        centred_frame(signal, centre, Padding::Edge, &mut self.frame);
        let zero_crossing_rate = zero_crossing_rate(&self.frame);
        centred_frame(signal, centre, Padding::Reflect, &mut self.frame);
        let rms = rms(&self.frame);
        self.stft.magnitude(&self.frame, &mut self.magnitude);
        l1_normalize(&self.magnitude, &mut self.normalized);
        let centroid = spectral_centroid(&self.normalized);
        let power: Vec<f32> = self.magnitude.iter().map(|s| s * s).collect();
        let mut log_mel = [0.0; N_MELS];
        self.mel.log_mel(&power, &mut log_mel);
        FrameFeatures {
            rms,
            zero_crossing_rate,
            spectral_centroid: centroid,
            spectral_bandwidth: spectral_bandwidth(&self.normalized, centroid),
            rolloff: spectral_rolloff(&self.magnitude),
            log_mel,
            pitch_peaks: pitch_peaks(&power),
            power,
            chroma: None,
        }
    }
}
