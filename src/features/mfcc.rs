//! Mel spectrogram, decibels and MFCC (spec §7), as librosa 0.6.1 computes them: a Slaney
//! mel filterbank in float64 (`norm=1`), `power_to_db` with a floor 80 dB below the clip's
//! maximum, and an orthonormal DCT-II over the 128 bands.
//!
//! The filterbank is built from its parameters ([`MelParams`]), so the musicnn front end
//! (16 kHz, 512 points, 96 bands to 8 kHz) shares it; librosa 0.11's `filters.mel` is the same
//! arithmetic.

use super::params::{N_FFT, SAMPLE_RATE};
use super::stft::fft_frequency;

/// `filters.mel(n_mels=128)`.
pub(crate) const N_MELS: usize = 128;

/// `feature.mfcc(n_mfcc=20)`.
pub(crate) const N_MFCC: usize = 20;

/// `power_to_db(amin=1e-10)`: powers below this are clamped (−100 dB).
const AMIN: f64 = 1e-10;

/// `power_to_db(top_db=80)`: nothing lies further below the clip's loudest mel value.
pub(crate) const TOP_DB: f64 = 80.0;

/// Slaney's linear part: `200/3` Hz per mel below 1 kHz.
const F_SP: f64 = 200.0 / 3.0;

/// Slaney's break between the linear and logarithmic parts.
const MIN_LOG_HZ: f64 = 1000.0;

/// The mel value at [`MIN_LOG_HZ`]: 15.
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

/// Slaney's log step: 27 mels per factor 6.4 above 1 kHz.
fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// `librosa.hz_to_mel(f, htk=False)`: the Slaney mel scale.
pub(crate) fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// `librosa.mel_to_hz(m, htk=False)`: the inverse of [`hz_to_mel`].
pub(crate) fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// What a Slaney mel filterbank is built from: the arguments of librosa's
/// `filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MelParams {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub n_mels: usize,
    pub fmin: f64,
    pub fmax: f64,
}

impl MelParams {
    /// The 28 features' filterbank: `filters.mel(sr=22050, n_fft=2048, n_mels=128)`, to `sr/2`.
    const FEATURES: MelParams = MelParams {
        sample_rate: SAMPLE_RATE,
        n_fft: N_FFT,
        n_mels: N_MELS,
        fmin: 0.0,
        fmax: SAMPLE_RATE as f64 / 2.0,
    };

    /// The `n_mels + 2` band edges `mel_to_hz(linspace(hz_to_mel(fmin), hz_to_mel(fmax),
    /// n_mels + 2))`, with numpy's linspace arithmetic (`i * step + start`, the last value
    /// exactly `stop`).
    pub(crate) fn band_edges(&self) -> Vec<f64> {
        let (bottom, top) = (hz_to_mel(self.fmin), hz_to_mel(self.fmax));
        let n = self.n_mels + 2;
        let step = (top - bottom) / (n - 1) as f64;
        (0..n)
            .map(|i| {
                mel_to_hz(if i == n - 1 {
                    top
                } else {
                    i as f64 * step + bottom
                })
            })
            .collect()
    }
}

/// The 28 features' band edges, `mel_frequencies(130, fmax=11025)`.
#[cfg(test)]
fn mel_band_edges() -> Vec<f64> {
    MelParams::FEATURES.band_edges()
}

/// One triangular band, stored sparsely: its weights for bins `first_bin..`.
struct MelBand {
    first_bin: usize,
    weights: Vec<f64>,
}

/// A Slaney mel filterbank in float64: by default `filters.mel(sr=22050, n_fft=2048,
/// n_mels=128, norm=1)` of librosa 0.6.1.
///
/// librosa 0.11 stores the same weights rounded to float32 (`dtype=np.float32`); the relative
/// difference, below 6e-8, is far under anything a front end built on it is compared with.
pub(crate) struct MelFilterbank {
    bands: Vec<MelBand>,
}

impl MelFilterbank {
    /// The 28 features' filterbank ([`N_MELS`] bands over 22050 Hz, 2048 points).
    pub(crate) fn new() -> Self {
        MelFilterbank::slaney(MelParams::FEATURES)
    }

    /// Band `i` rises over `[f_i, f_{i+1}]` and falls over `[f_{i+1}, f_{i+2}]`:
    /// `W[i,k] = max(0, min((f_k − f_i)/(f_{i+1} − f_i), (f_{i+2} − f_k)/(f_{i+2} − f_{i+1})))`,
    /// then scaled by `2 / (f_{i+2} − f_i)` so every band has unit area (Slaney).
    /// The arithmetic follows librosa's (`ramps = mel_f − fft_freqs`) operation for operation.
    pub(crate) fn slaney(params: MelParams) -> Self {
        let edges = params.band_edges();
        let bin_frequency = |k| fft_frequency(k, params.sample_rate, params.n_fft);
        let n_bins = params.n_fft / 2 + 1;
        let bands = (0..params.n_mels)
            .map(|i| {
                let area_norm = 2.0 / (edges[i + 2] - edges[i]);
                let weight = |k: usize| {
                    let lower = -(edges[i] - bin_frequency(k)) / (edges[i + 1] - edges[i]);
                    let upper = (edges[i + 2] - bin_frequency(k)) / (edges[i + 2] - edges[i + 1]);
                    0f64.max(lower.min(upper)) * area_norm
                };
                let support: Vec<usize> = (0..n_bins).filter(|&k| weight(k) > 0.0).collect();
                let first_bin = support.first().copied().unwrap_or(0);
                let last_bin = support.last().copied().unwrap_or(0);
                MelBand {
                    first_bin,
                    weights: (first_bin..=last_bin).map(weight).collect(),
                }
            })
            .collect();
        MelFilterbank { bands }
    }

    /// One column of `W @ P`: `Σ_k W[m,k] P[k]` for each band `m` in turn, in float64.
    /// `power` is one power spectrum of the filterbank's `n_fft / 2 + 1` bins.
    pub(crate) fn band_powers<'a>(&'a self, power: &'a [f32]) -> impl Iterator<Item = f64> + 'a {
        self.bands.iter().map(|band| {
            let bins = &power[band.first_bin..band.first_bin + band.weights.len()];
            band.weights
                .iter()
                .zip(bins)
                .map(|(&w, &p)| w * f64::from(p))
                .sum()
        })
    }

    /// One column of `power_to_db(W @ P)` *before* the top_db floor, which needs the whole
    /// clip: `10 log10(max(1e-10, Σ_k W[m,k] P[k]))` for each band `m`, in float64.
    pub(crate) fn log_mel(&self, power: &[f32], db: &mut [f64; N_MELS]) {
        for (out, mel_power) in db.iter_mut().zip(self.band_powers(power)) {
            *out = 10.0 * mel_power.max(AMIN).log10();
        }
    }
}

/// The orthonormal DCT-II rows 0..20 over 128 bands (`scipy.fftpack.dct(norm='ortho')`):
/// `mfcc_q = s_q Σ_m D_m cos(π q (2m+1) / 256)`, `s_0 = √(1/128)`, `s_q = √(2/128)`.
pub(crate) struct Dct {
    basis: Vec<[f64; N_MELS]>,
}

impl Dct {
    pub(crate) fn new() -> Self {
        let n = N_MELS as f64;
        let basis = (0..N_MFCC)
            .map(|q| {
                let scale = if q == 0 {
                    (1.0 / n).sqrt()
                } else {
                    (2.0 / n).sqrt()
                };
                let mut row = [0.0; N_MELS];
                for (m, value) in row.iter_mut().enumerate() {
                    let angle = std::f64::consts::PI * q as f64 * (2 * m + 1) as f64 / (2.0 * n);
                    *value = scale * angle.cos();
                }
                row
            })
            .collect();
        Dct { basis }
    }

    /// The 20 MFCCs of one dB column. The DCT is linear, so the MFCC means of a clip are
    /// the MFCCs of its mean dB column.
    pub(crate) fn mfcc(&self, db: &[f64; N_MELS]) -> [f64; N_MFCC] {
        let mut mfcc = [0.0; N_MFCC];
        for (out, row) in mfcc.iter_mut().zip(&self.basis) {
            *out = row.iter().zip(db).map(|(b, d)| b * d).sum();
        }
        mfcc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::stft::N_BINS;

    #[test]
    fn slaney_mel_scale_matches_librosa() {
        // librosa.hz_to_mel(11025) and hz_to_mel(1000) (spec §7.1)
        assert!((hz_to_mel(11025.0) - 49.91059448015905).abs() < 1e-12);
        // librosa.hz_to_mel(1000) == 1000 / (200/3), which rounds to 14.999999999999998
        assert_eq!(hz_to_mel(1000.0), 14.999999999999998);
        assert!((mel_to_hz(hz_to_mel(4321.0)) - 4321.0).abs() < 1e-9);
    }

    #[test]
    fn band_edges_match_librosa_mel_frequencies() {
        // librosa.mel_frequencies(130, fmax=11025)[[0, 1, 129]] (spec §7.1)
        let edges = mel_band_edges();
        assert_eq!(edges[0], 0.0);
        assert!((edges[1] - 25.79358888).abs() < 1e-8);
        assert!((edges[129] - 11025.0).abs() < 1e-9);
    }

    #[test]
    fn bands_cover_the_bins_the_spec_lists() {
        // spec §7.1: band 0 covers bins 1–4, band 127 bins 971–1023
        let fb = MelFilterbank::new();
        let range = |b: &MelBand| (b.first_bin, b.first_bin + b.weights.len() - 1);
        assert_eq!(range(&fb.bands[0]), (1, 4));
        assert_eq!(range(&fb.bands[N_MELS - 1]), (971, 1023));
        assert!(fb.bands.iter().all(|b| b.weights.iter().all(|&w| w > 0.0)));
    }

    #[test]
    fn weights_match_numpy() {
        // ../shared/reference/spec_impl.py: mel_filterbank(np.float64) (librosa 0.6.1's
        // filters.mel), W[0, 1..=4], W[127, 971] and W[127, 1023]
        let fb = MelFilterbank::new();
        let expected_band_0 = [
            0.016182853208219942,
            0.032365706416439884,
            0.028990088037379964,
            0.012807234829160026,
        ];
        for (got, expected) in fb.bands[0].weights.iter().zip(expected_band_0) {
            assert!(
                (got - expected).abs() <= 1e-15 * expected,
                "{got} vs {expected}"
            );
        }
        let last = &fb.bands[N_MELS - 1].weights;
        assert!((last[0] - 7.184815842995642e-06).abs() < 1e-18);
        assert!((last[last.len() - 1] - 0.00013026029671111785).abs() < 1e-18);
    }

    #[test]
    fn silence_gives_the_spec_mfcc1() {
        // spec §13: silence → every band at −100 dB, mfcc1 = √128 · (−100) = −1131.370849898476
        let fb = MelFilterbank::new();
        let mut db = [0.0; N_MELS];
        fb.log_mel(&[0.0; N_BINS], &mut db);
        assert!(db.iter().all(|&d| d == -100.0));
        let mfcc = Dct::new().mfcc(&db);
        assert!((mfcc[0] - -1131.370849898476).abs() < 1e-9);
        assert!(mfcc[1..].iter().all(|c| c.abs() < 1e-9));
    }
}
