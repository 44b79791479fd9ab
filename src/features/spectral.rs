//! Spectral shape of one magnitude frame `S = |X|` (spec §6): centroid, bandwidth, rolloff,
//! as `librosa.feature.spectral_*` compute them (identical in 0.6.1 and 0.11).

use super::stft::bin_frequency;

/// `spectral_rolloff(roll_percent=0.85)`: the fraction of the magnitude below the rolloff.
const ROLL_PERCENT: f32 = 0.85;

/// `util.normalize(norm=1)`'s threshold: a column whose L1 norm is below float32's smallest
/// normal number is left unscaled.
const TINY_F32: f64 = f32::MIN_POSITIVE as f64;

/// The frame normalised to unit L1 norm as librosa's `util.normalize(S, norm=1)` stores it:
/// the norm is summed in float64, each quotient rounded to float32.
fn l1_normalized(magnitude: &[f32]) -> impl Iterator<Item = (f64, f64)> + '_ {
    let norm: f64 = magnitude.iter().map(|&s| f64::from(s)).sum();
    let norm = if norm < TINY_F32 { 1.0 } else { norm };
    magnitude
        .iter()
        .enumerate()
        .map(move |(k, &s)| (bin_frequency(k), f64::from((f64::from(s) / norm) as f32)))
}

/// `spectral_centroid`: `Σ_k f_k · Ŝ_k` with `Ŝ` the L1-normalised magnitude, in Hz.
pub(crate) fn spectral_centroid(magnitude: &[f32]) -> f64 {
    l1_normalized(magnitude).map(|(f, s)| f * s).sum()
}

/// `spectral_bandwidth(p=2)`: `(Σ_k Ŝ_k (f_k − centroid)²)^½`, in Hz; `centroid` must be
/// [`spectral_centroid`] of the same frame.
pub(crate) fn spectral_bandwidth(magnitude: &[f32], centroid: f64) -> f64 {
    l1_normalized(magnitude)
        .map(|(f, s)| s * (f - centroid).powi(2))
        .sum::<f64>()
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

    fn single_bin(k: usize) -> Vec<f32> {
        let mut magnitude = vec![0.0; N_BINS];
        magnitude[k] = 3.0;
        magnitude
    }

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_rolloff_and_no_bandwidth() {
        let magnitude = single_bin(100);
        let centroid = spectral_centroid(&magnitude);
        assert_eq!(centroid, 1076.66015625);
        assert_eq!(spectral_bandwidth(&magnitude, centroid), 0.0);
        assert_eq!(spectral_rolloff(&magnitude), 1076.66015625);
    }

    #[test]
    fn two_equal_bins_have_the_midpoint_centroid_and_half_spacing_bandwidth() {
        let mut magnitude = single_bin(100);
        magnitude[200] = 3.0;
        let centroid = spectral_centroid(&magnitude);
        assert_eq!(centroid, 150.0 * BIN_HZ_TEST);
        let bandwidth = spectral_bandwidth(&magnitude, centroid);
        assert!((bandwidth - 50.0 * BIN_HZ_TEST).abs() < 1e-9);
        // half the mass sits at bin 100, below 85 %: the rolloff is bin 200
        assert_eq!(spectral_rolloff(&magnitude), 200.0 * BIN_HZ_TEST);
    }

    const BIN_HZ_TEST: f64 = 10.7666015625;

    #[test]
    fn silence_gives_zero_everywhere() {
        let magnitude = vec![0.0; N_BINS];
        assert_eq!(spectral_centroid(&magnitude), 0.0);
        assert_eq!(spectral_bandwidth(&magnitude, 0.0), 0.0);
        assert_eq!(spectral_rolloff(&magnitude), 0.0);
    }
}
