//! Chroma (spec §8) as librosa 0.6.1's `feature.chroma_stft` computes it from the power
//! spectrogram: piptrack peaks → tuning estimate → chroma filterbank for that tuning →
//! per-frame chroma normalised by its maximum.

use super::params::N_FFT;
use super::stft::{bin_frequency, BIN_HZ, N_BINS};

/// `n_chroma=12`.
pub(crate) const N_CHROMA: usize = 12;

/// `piptrack(fmin=150, fmax=4000)`: peaks are only sought in `[150, 4000)` Hz (bins 14..=371).
const PIPTRACK_FMIN_HZ: f64 = 150.0;
const PIPTRACK_FMAX_HZ: f64 = 4000.0;

/// `piptrack(threshold=0.1)`: a peak must exceed a tenth of its frame's maximum.
const PIPTRACK_THRESHOLD: f32 = 0.1;

/// `hz_to_octs`'s reference: A0 = 440/16 Hz.
const A0_HZ: f32 = 440.0 / 16.0;

/// `pitch_tuning(resolution=0.01)`.
const TUNING_RESOLUTION: f64 = 0.01;

/// 0.6.1's histogram edges are `linspace(-0.5, 0.5, 100, endpoint=False)`: 100 edges, 99 bins,
/// the last closed bin being `[0.48, 0.49]`; residuals above 0.49 are not counted.
const TUNING_EDGES: usize = 100;

/// `filters.chroma(ctroct=5.0, octwidth=2)`: the octave weighting Gaussian's centre and width.
const CENTER_OCTAVE: f64 = 5.0;
const OCTAVE_WIDTH: f64 = 2.0;

/// A spectral peak found by piptrack: interpolated frequency and magnitude, both float32.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PitchPeak {
    pub pitch_hz: f32,
    pub magnitude: f32,
}

/// `piptrack(S=P, fmin=150, fmax=4000, threshold=0.1)` on one power frame, in float32: the
/// bins in range that are local maxima of `P` after zeroing everything not above
/// `0.1 · max(P)`, each refined by a parabola through its neighbours:
/// `shift = −b/a`, `a = P[k+1] + P[k−1] − 2P[k]`, `b = (P[k+1] − P[k−1]) / 2`,
/// `pitch = (k + shift) · sr/n_fft`, `magnitude = P[k] + b · shift / 2`.
pub(crate) fn pitch_peaks(power: &[f32]) -> Vec<PitchPeak> {
    let max = power.iter().copied().fold(0.0f32, f32::max);
    let reference = PIPTRACK_THRESHOLD * max;
    let thresholded = |k: usize| {
        if power[k] > reference {
            power[k]
        } else {
            0.0
        }
    };
    let first = (PIPTRACK_FMIN_HZ / BIN_HZ).ceil() as usize;
    let last = piptrack_last_bin();
    (first..=last)
        .filter(|&k| {
            let q = thresholded(k);
            q > thresholded(k - 1) && q >= thresholded(k + 1)
        })
        .map(|k| {
            let a = power[k + 1] + power[k - 1] - 2.0 * power[k];
            let b = (power[k + 1] - power[k - 1]) / 2.0;
            let shift = if b.abs() >= a.abs() { 0.0 } else { -b / a };
            PitchPeak {
                pitch_hz: ((k as f64 + f64::from(shift)) * BIN_HZ) as f32,
                magnitude: power[k] + 0.5 * b * shift,
            }
        })
        .filter(|peak| peak.pitch_hz > 0.0)
        .collect()
}

/// The last bin below [`PIPTRACK_FMAX_HZ`].
fn piptrack_last_bin() -> usize {
    (0..N_BINS)
        .take_while(|&k| bin_frequency(k) < PIPTRACK_FMAX_HZ)
        .last()
        .unwrap_or(0)
}

/// `estimate_tuning(S=P)` of librosa 0.6.1 (spec §8.1): keep the peaks whose magnitude is at
/// least the median peak magnitude, take each one's deviation from the equal-tempered grid in
/// fractions of a semitone (float32, `12 log2(f/27.5) mod 1`, folded into `[−0.5, 0.5)`), and
/// return the left edge of the first most populated 0.01-wide histogram bin. No peaks: 0.0.
pub(crate) fn estimate_tuning(peaks: &[PitchPeak]) -> f64 {
    let mut magnitudes: Vec<f32> = peaks.iter().map(|p| p.magnitude).collect();
    let Some(threshold) = median_f32(&mut magnitudes) else {
        return 0.0;
    };
    let edge = |i: usize| i as f64 * TUNING_RESOLUTION - 0.5;
    let last_edge = edge(TUNING_EDGES - 1);
    let mut counts = [0usize; TUNING_EDGES - 1];
    for peak in peaks.iter().filter(|p| p.magnitude >= threshold) {
        let semitones = 12.0 * (peak.pitch_hz / A0_HZ).log2();
        let mut residual = semitones.rem_euclid(1.0);
        if residual >= 0.5 {
            residual -= 1.0;
        }
        let residual = f64::from(residual);
        if !(edge(0)..=last_edge).contains(&residual) {
            continue;
        }
        // np.histogram: bin i is [edge_i, edge_{i+1}), the last bin also holds its right edge.
        let bin = (0..TUNING_EDGES)
            .rposition(|i| edge(i) <= residual)
            .unwrap_or(0)
            .min(counts.len() - 1);
        counts[bin] += 1;
    }
    let most_populated = counts
        .iter()
        .enumerate()
        .fold(0, |best, (i, &c)| if c > counts[best] { i } else { best });
    edge(most_populated)
}

/// numpy's float32 median: the middle value, or the float32 mean of the two middle values.
fn median_f32(values: &mut [f32]) -> Option<f32> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = below.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Some((lower + upper) / 2.0)
}

/// `filters.chroma(sr=22050, n_fft=2048, tuning, n_chroma=12)` of librosa 0.6.1, float64,
/// truncated to the one-sided spectrum.
pub(crate) struct ChromaFilterbank {
    /// `weights[k][c]`: frequency bin `k`'s contribution to pitch class `c` (0 = C); bin-major,
    /// so a frame's 12 dot products run as one vectorised pass over the spectrum.
    weights: Vec<[f64; N_CHROMA]>,
}

impl ChromaFilterbank {
    /// Built on all `N_FFT − 1` non-DC bins of the full FFT, as librosa does (spec §8.2):
    /// each bin `j` has the chroma position `fb_j = 12 log2(f_j / (A440/16))` (DC: `fb_1 − 18`),
    /// a width `max(fb_{j+1} − fb_j, 1)`, a Gaussian weight per pitch class over the circular
    /// distance, L2-normalised over the classes, weighted by a Gaussian over octaves around
    /// octave 5, rolled so row 0 is C, and cut to the first `N_BINS` bins.
    pub(crate) fn new(tuning: f64) -> Self {
        let n_chroma = N_CHROMA as f64;
        let a440 = 440.0 * 2f64.powf(tuning / n_chroma);
        let mut positions: Vec<f64> = (1..N_FFT)
            .map(|j| n_chroma * (j as f64 * BIN_HZ / (a440 / 16.0)).log2())
            .collect();
        positions.insert(0, positions[0] - 1.5 * n_chroma);
        let widths: Vec<f64> = positions
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).max(1.0))
            .chain(std::iter::once(1.0))
            .collect();
        let half = (n_chroma / 2.0).round();
        let mut weights = vec![[0.0; N_CHROMA]; N_BINS];
        for (k, (&position, &width)) in positions.iter().zip(&widths).take(N_BINS).enumerate() {
            let column: Vec<f64> = (0..N_CHROMA)
                .map(|c| {
                    let distance =
                        (position - c as f64 + half + 10.0 * n_chroma).rem_euclid(n_chroma) - half;
                    (-0.5 * (2.0 * distance / width).powi(2)).exp()
                })
                .collect();
            let norm = column.iter().map(|w| w * w).sum::<f64>().sqrt();
            let norm = if norm < f64::MIN_POSITIVE { 1.0 } else { norm };
            let octave_weight =
                (-0.5 * ((position / n_chroma - CENTER_OCTAVE) / OCTAVE_WIDTH).powi(2)).exp();
            for (c, w) in column.iter().enumerate() {
                // base_c: np.roll(wts, -3) puts the row of A-relative class c + 3 (C) first.
                weights[k][(c + N_CHROMA - 3) % N_CHROMA] = w / norm * octave_weight;
            }
        }
        ChromaFilterbank { weights }
    }

    /// The sum over the 12 pitch classes of one frame's chroma, `raw = fb @ P` normalised by
    /// `max_c |raw_c|` (`util.normalize(norm=inf)`; a column below float64's tiny is left as
    /// is). The clip's `chroma_stft` is the mean of all 12·T values, so a frame contributes
    /// only this sum.
    pub(crate) fn normalized_sum(&self, power: &[f32]) -> f64 {
        let mut raw = [0.0; N_CHROMA];
        for (bin, &p) in self.weights.iter().zip(power) {
            for (r, w) in raw.iter_mut().zip(bin) {
                *r += w * f64::from(p);
            }
        }
        let max = raw.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        let norm = if max < f64::MIN_POSITIVE { 1.0 } else { max };
        raw.iter().map(|r| r / norm).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piptrack_searches_bins_14_to_371() {
        // spec §8.1: the mask 150 <= f_k < 4000 is k = 14..371
        assert_eq!((PIPTRACK_FMIN_HZ / BIN_HZ).ceil() as usize, 14);
        assert_eq!(piptrack_last_bin(), 371);
    }

    #[test]
    fn a_symmetric_peak_is_found_at_its_bin() {
        let mut power = vec![0.0f32; N_BINS];
        power[40] = 4.0;
        power[39] = 1.0;
        power[41] = 1.0;
        power[500] = 100.0; // outside the range: sets the threshold, is not a peak
        assert_eq!(
            pitch_peaks(&power),
            vec![] as Vec<PitchPeak>,
            "4 is below a tenth of 100"
        );
        power[500] = 30.0;
        let peaks = pitch_peaks(&power);
        assert_eq!(peaks.len(), 1);
        assert_eq!(peaks[0].pitch_hz, (40.0 * BIN_HZ) as f32);
        assert_eq!(peaks[0].magnitude, 4.0);
    }

    #[test]
    fn tuning_of_in_tune_pitches_is_the_bin_at_zero() {
        // A4 and A5 exactly: residual 0 → the bin [0, 0.01), whose left edge is
        // 50 * 0.01 - 0.5 == 0.0 in numpy's linspace arithmetic.
        let peak = |f: f32| PitchPeak {
            pitch_hz: f,
            magnitude: 1.0,
        };
        assert_eq!(estimate_tuning(&[peak(440.0), peak(880.0)]), 0.0);
        assert_eq!(estimate_tuning(&[]), 0.0);
    }

    #[test]
    fn tuning_is_a_histogram_edge_from_numpy_linspace() {
        // 30 cents sharp of A4: residual 0.3 → edge 80 * 0.01 - 0.5 = 0.30000000000000004
        let sharp = 440.0 * 2f64.powf(0.305 / 12.0);
        let peaks = [PitchPeak {
            pitch_hz: sharp as f32,
            magnitude: 1.0,
        }];
        assert_eq!(estimate_tuning(&peaks), 0.30000000000000004);
    }

    #[test]
    fn residuals_above_0_49_are_not_counted_in_0_6_1() {
        let just_below_a = 440.0 * 2f64.powf(-0.005 / 12.0); // residual −0.005
        let high = 440.0 * 2f64.powf(0.495 / 12.0); // residual 0.495: dropped by 0.6.1
        let peak = |f: f64| PitchPeak {
            pitch_hz: f as f32,
            magnitude: 1.0,
        };
        let tuning = estimate_tuning(&[peak(just_below_a), peak(high), peak(high)]);
        assert!((tuning - -0.01).abs() < 1e-12, "{tuning}");
    }

    #[test]
    fn median_is_numpys() {
        assert_eq!(median_f32(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_f32(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median_f32(&mut []), None);
    }

    #[test]
    fn filterbank_matches_numpy() {
        // ../shared/reference/spec_impl.py: chroma_filterbank(tuning, "0.6.1") (librosa 0.6.1's
        // filters.chroma): column 41 at tuning 0, and two entries at tuning -0.09
        let expected_column_41 = [
            2.5894533627889852e-08,
            2.6959671897283285e-14,
            5.140947676736267e-22,
            1.7955348439418755e-31,
            5.429384870719508e-23,
            4.4635515844950725e-15,
            6.720979339754286e-09,
            0.0001853559941032143,
            0.09362736088354237,
            0.8662056281966353,
            0.14677811060808485,
            0.00045553699970760114,
        ];
        let column = ChromaFilterbank::new(0.0).weights[41];
        for (got, expected) in column.iter().zip(expected_column_41) {
            assert!(
                (got - expected).abs() <= 1e-12 * expected,
                "{got} vs {expected}"
            );
        }
        let tuned = ChromaFilterbank::new(-0.08999999999999997);
        assert!((tuned.weights[100][0] - 0.578113419493444).abs() < 1e-14);
        assert!((tuned.weights[500][5] - 0.26523710154180746).abs() < 1e-14);
    }

    #[test]
    fn chroma_of_an_a_puts_a_first_and_normalises_to_one() {
        // A pure A4 (440 Hz ≈ bin 40.87): after the roll, row 9 (A) is the maximum.
        let fb = ChromaFilterbank::new(0.0);
        let mut power = vec![0.0f32; N_BINS];
        power[41] = 1.0;
        let raw = fb.weights[41];
        let loudest = (0..N_CHROMA)
            .max_by(|&a, &b| raw[a].total_cmp(&raw[b]))
            .unwrap_or(0);
        assert_eq!(loudest, 9);
        let sum = fb.normalized_sum(&power);
        let expected: f64 = raw.iter().map(|r| r / raw[9]).sum();
        assert!((sum - expected).abs() < 1e-12);
        assert_eq!(fb.normalized_sum(&vec![0.0; N_BINS]), 0.0);
    }
}
