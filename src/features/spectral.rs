//! Spectral shape of one magnitude frame `S = |X|` (spec §6): centroid, bandwidth, rolloff,
//! as `librosa.feature.spectral_*` compute them (identical in 0.6.1 and 0.11).

use super::stft::bin_frequency;
use super::sum::pairwise_sum;

/// `spectral_rolloff(roll_percent=0.85)`: the fraction of the magnitude below the rolloff.
const ROLL_PERCENT: f32 = 0.85;

/// `util.normalize(norm=1)`'s threshold: a column whose L1 norm is below float32's smallest
/// normal number is left unscaled.
const TINY_F32: f64 = f32::MIN_POSITIVE as f64;

/// Fills `normalized` with the frame scaled to unit L1 norm, as librosa's
/// `util.normalize(S, norm=1)` stores it: the norm is summed in float64, each quotient is
/// rounded to float32. Centroid and bandwidth both weigh frequencies by this distribution.
pub(crate) fn l1_normalize(magnitude: &[f32], normalized: &mut [f32]) {
    let norm = pairwise_sum(magnitude.len(), |k| f64::from(magnitude[k]));
    let norm = if norm < TINY_F32 { 1.0 } else { norm };
    for (out, &s) in normalized.iter_mut().zip(magnitude) {
        *out = (f64::from(s) / norm) as f32;
    }
}

/// `spectral_centroid`: `Σ_k f_k · Ŝ_k` in Hz, `Ŝ` being [`l1_normalize`]d.
pub(crate) fn spectral_centroid(normalized: &[f32]) -> f64 {
    pairwise_sum(normalized.len(), |k| {
        bin_frequency(k) * f64::from(normalized[k])
    })
}

/// `spectral_bandwidth(p=2)`: `(Σ_k Ŝ_k (f_k − centroid)²)^½` in Hz, `Ŝ` being
/// [`l1_normalize`]d and `centroid` its [`spectral_centroid`].
pub(crate) fn spectral_bandwidth(normalized: &[f32], centroid: f64) -> f64 {
    pairwise_sum(normalized.len(), |k| {
        f64::from(normalized[k]) * (bin_frequency(k) - centroid).powi(2)
    })
    .sqrt()
}

/// `spectral_rolloff`: the frequency of the first bin where the running sum of the
/// magnitude reaches 85 % of the total. Both the running sum and the threshold are float32
/// (a sequential `np.cumsum` and `float32(0.85) * total`), which decides the bin at ties.
/// An all-zero frame rolls off at 0 Hz.
pub(crate) fn spectral_rolloff(magnitude: &[f32]) -> f64 {
    let total: f32 = magnitude.iter().sum();
    let threshold = ROLL_PERCENT * total;
    let mut running = 0.0f32;
    let bin = magnitude
        .iter()
        .position(|&s| {
            running += s;
            running >= threshold
        })
        .unwrap_or(magnitude.len() - 1);
    bin_frequency(bin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::stft::N_BINS;

    fn centroid_and_bandwidth(magnitude: &[f32]) -> (f64, f64) {
        let mut normalized = vec![0.0; magnitude.len()];
        l1_normalize(magnitude, &mut normalized);
        let centroid = spectral_centroid(&normalized);
        (centroid, spectral_bandwidth(&normalized, centroid))
    }

    fn single_bin(k: usize) -> Vec<f32> {
        let mut magnitude = vec![0.0; N_BINS];
        magnitude[k] = 3.0;
        magnitude
    }

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_rolloff_and_no_bandwidth() {
        let magnitude = single_bin(100);
        let (centroid, bandwidth) = centroid_and_bandwidth(&magnitude);
        assert_eq!(centroid, 1076.66015625);
        assert_eq!(bandwidth, 0.0);
        assert_eq!(spectral_rolloff(&magnitude), 1076.66015625);
    }

    #[test]
    fn two_equal_bins_have_the_midpoint_centroid_and_half_spacing_bandwidth() {
        let mut magnitude = single_bin(100);
        magnitude[200] = 3.0;
        let (centroid, bandwidth) = centroid_and_bandwidth(&magnitude);
        assert_eq!(centroid, 150.0 * BIN_HZ_TEST);
        assert!((bandwidth - 50.0 * BIN_HZ_TEST).abs() < 1e-9);
        // half the mass sits at bin 100, below 85 %: the rolloff is bin 200
        assert_eq!(spectral_rolloff(&magnitude), 200.0 * BIN_HZ_TEST);
    }

    const BIN_HZ_TEST: f64 = 10.7666015625;

    #[test]
    fn silence_gives_zero_everywhere() {
        let magnitude = vec![0.0; N_BINS];
        assert_eq!(centroid_and_bandwidth(&magnitude), (0.0, 0.0));
        assert_eq!(spectral_rolloff(&magnitude), 0.0);
    }
}
