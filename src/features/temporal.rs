//! Features of the raw samples of one frame: rms (spec §4) and zero-crossing rate (spec §5).

use super::sum::pairwise_sum;

/// librosa's `zero_crossings(threshold=1e-10)`: samples this small count as zero.
const ZERO_THRESHOLD: f32 = 1e-10;

/// Root mean square of one frame: `librosa.feature.rmse` 0.6.1 (spec §4),
/// `sqrt(mean(frame²))` on the reflect-padded, unwindowed frame.
///
/// librosa squares and takes the root in float32; the mean is accumulated in float64 here
/// (numpy's pairwise float32 sum differs from it by round-off only) and rounded to float32.
pub(crate) fn rms(frame: &[f32]) -> f32 {
    let sum_of_squares = pairwise_sum(frame.len(), |n| f64::from(frame[n] * frame[n]));
    ((sum_of_squares / frame.len() as f64) as f32).sqrt()
}

/// Zero-crossing rate of one edge-padded frame: `librosa.feature.zero_crossing_rate`
/// (spec §5): samples with `|x| <= 1e-10` become +0, a crossing is a sign-bit change between
/// neighbours, the frame's first sample never counts (`pad=False`), and the count is divided
/// by the frame length, not by the number of neighbour pairs.
pub(crate) fn zero_crossing_rate(frame: &[f32]) -> f64 {
    // Negative after zeroing the tiny samples (`|x| > 1e-10` with its sign bit set) is simply
    // `x < −1e-10`; written so, the count vectorises.
    let negative = |x: f32| x < -ZERO_THRESHOLD;
    let crossings = frame
        .windows(2)
        .filter(|pair| negative(pair[0]) != negative(pair[1]))
        .count();
    crossings as f64 / frame.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_of_a_constant_is_its_magnitude() {
        assert_eq!(rms(&[-0.5; 2048]), 0.5);
        assert_eq!(rms(&[0.0; 2048]), 0.0);
    }

    #[test]
    fn alternating_signs_cross_at_every_pair_but_the_first_sample() {
        // librosa.feature.zero_crossing_rate of an alternating ±1 frame: 2047 / 2048
        let frame: Vec<f32> = (0..2048)
            .map(|n| if n % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        assert_eq!(zero_crossing_rate(&frame), 2047.0 / 2048.0);
    }

    #[test]
    fn tiny_and_negative_zero_samples_count_as_positive() {
        let mut frame = vec![1.0f32; 2048];
        frame[10] = -1e-11;
        frame[20] = -0.0;
        assert_eq!(zero_crossing_rate(&frame), 0.0);
        frame[30] = -1e-9;
        assert_eq!(zero_crossing_rate(&frame), 2.0 / 2048.0);
    }
}
