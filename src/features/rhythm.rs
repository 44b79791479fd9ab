//! Onset strength, tempo and beats (spec §9–11) with librosa 0.6.1's rules: the median
//! spectral flux of the floored log-mel spectrogram, the mean windowed autocorrelation
//! (tempogram) weighted by a log-normal prior around 120 BPM, and Ellis' dynamic-programming
//! beat tracker with 0.6.1's pre-start candidates, last-beat rule and trimming.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::mfcc::N_MELS;
use super::params::{HOP_LENGTH, N_FFT, SAMPLE_RATE};
use super::stft::periodic_hann;

/// `onset_strength(lag=1)` plus the `n_fft / (2 hop)` frames of centring: the envelope is
/// shifted right by 3 frames, the first 3 being zero.
const ONSET_DELAY: usize = 1 + N_FFT / (2 * HOP_LENGTH);

/// `tempo(ac_size=8.0)`: the tempogram window, `int(8 s · sr) // hop = 344` frames.
const TEMPOGRAM_WINDOW: usize = (8 * SAMPLE_RATE as usize) / HOP_LENGTH;

/// An FFT length `>= 2 · TEMPOGRAM_WINDOW − 1`, so the circular autocorrelation is the linear
/// one; 720 = `scipy.fft.next_fast_len(687)`, librosa 0.11's choice.
const AUTOCORRELATION_FFT_LEN: usize = 720;
const _: () = assert!(AUTOCORRELATION_FFT_LEN >= 2 * TEMPOGRAM_WINDOW - 1);

/// Mean autocorrelations at most this fraction of lag 0's are FFT round-off (~1e-17) of an
/// exact zero; real periodicity scores are many orders of magnitude larger.
const AUTOCORRELATION_ROUND_OFF: f64 = 1e-12;

/// `tempo(start_bpm=120, std_bpm=1.0)`: the centre and width (in octaves) of the prior.
const START_BPM: f64 = 120.0;
const STD_BPM: f64 = 1.0;

/// `tempo(max_tempo=320)`: faster lags get no prior weight.
const MAX_TEMPO: f64 = 320.0;

/// `beat_track(tightness=100)`: how strongly the DP prefers beat intervals near the period.
const TIGHTNESS: f64 = 100.0;

/// Onset-envelope frames per second: `sr / hop = 43.06640625`.
const FRAME_RATE: f64 = SAMPLE_RATE as f64 / HOP_LENGTH as f64;

/// `onset_strength` of librosa 0.6.1 (spec §9) from the clip's floored dB columns
/// (`max(D, max(D) − 80)`, one per frame): `env[t] = median_m max(0, D[m,t−2] − D[m,t−3])`
/// for `t >= 3`, zero before; one value per frame.
pub(crate) fn onset_envelope(db: &[[f64; N_MELS]]) -> Vec<f64> {
    let mut flux = [0.0; N_MELS];
    let rises = db.windows(2).map(|pair| {
        for ((f, &now), &before) in flux.iter_mut().zip(&pair[1]).zip(&pair[0]) {
            *f = (now - before).max(0.0);
        }
        median_of_even_count(&mut flux)
    });
    let mut env = vec![0.0; ONSET_DELAY];
    env.extend(rises);
    env.truncate(db.len());
    env
}

/// numpy's median of an even number of values: the mean of the two middle ones.
fn median_of_even_count(values: &mut [f64]) -> f64 {
    let middle = values.len() / 2;
    let (below, &mut upper, _) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

/// The mean over frames of the onset envelope's normalised windowed autocorrelation
/// (`feature.tempogram(win_length=344)` then the mean, spec §10 steps 1–3), with one FFT
/// plan pair and buffers reused across frames and clips.
pub(crate) struct Tempogram {
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    window: Vec<f64>,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    autocorrelation: Vec<f64>,
    scratch: Vec<Complex<f64>>,
}

impl Tempogram {
    pub(crate) fn new() -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(AUTOCORRELATION_FFT_LEN);
        let inverse = planner.plan_fft_inverse(AUTOCORRELATION_FFT_LEN);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Tempogram {
            window: periodic_hann(TEMPOGRAM_WINDOW),
            frame: forward.make_input_vec(),
            spectrum: forward.make_output_vec(),
            autocorrelation: inverse.make_output_vec(),
            scratch: vec![Complex::default(); scratch_len],
            forward,
            inverse,
        }
    }

    /// `tg[l] = mean_t r_t[l] / r_t[0]` for lags `l < 344`: frame `t` is
    /// `padded[t .. t + 344]` of the envelope padded by 172 on each side with
    /// `np.pad(mode='linear_ramp', end_values=0)`, times a periodic Hann window; `r_t` is its
    /// autocorrelation. Frames with `r_t[0]` below float64's tiny stay unnormalised (zero).
    pub(crate) fn mean_autocorrelation(&mut self, env: &[f64]) -> Vec<f64> {
        let half = TEMPOGRAM_WINDOW / 2;
        let last = env.last().copied().unwrap_or(0.0);
        let ramp_step = last / half as f64;
        // The left ramp rises from 0 to env[0], which is 0 (the onset delay), so it is all 0.
        let padded: Vec<f64> = std::iter::repeat_n(0.0, half)
            .chain(env.iter().copied())
            .chain((0..half).map(|j| (half - 1 - j) as f64 * ramp_step))
            .collect();
        let mut mean = vec![0.0; TEMPOGRAM_WINDOW];
        for t in 0..env.len() {
            let segment = &padded[t..t + TEMPOGRAM_WINDOW];
            if segment.iter().all(|&x| x == 0.0) {
                continue;
            }
            self.autocorrelate(segment);
            let energy = self.autocorrelation[0];
            let norm = if energy.abs() < f64::MIN_POSITIVE {
                1.0
            } else {
                energy
            };
            for (m, r) in mean.iter_mut().zip(&self.autocorrelation) {
                *m += r / norm;
            }
        }
        let frames = env.len() as f64;
        mean.iter_mut().for_each(|m| *m /= frames);
        mean
    }

    /// Fills `self.autocorrelation[..344]` with the linear autocorrelation of the windowed
    /// segment, via `irfft(|rfft(x)|²)` zero-padded to [`AUTOCORRELATION_FFT_LEN`].
    fn autocorrelate(&mut self, segment: &[f64]) {
        self.frame.fill(0.0);
        for ((out, &x), &w) in self.frame.iter_mut().zip(segment).zip(&self.window) {
            *out = x * w;
        }
        self.forward
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .expect("the buffers were sized by the plan itself");
        for bin in self.spectrum.iter_mut() {
            *bin = Complex::new(bin.norm_sqr(), 0.0);
        }
        self.inverse
            .process_with_scratch(
                &mut self.spectrum,
                &mut self.autocorrelation,
                &mut self.scratch,
            )
            .expect("the buffers were sized by the plan itself, the spectrum is real");
    }
}

/// The tempo of lag `l` frames: `60 sr / (hop l)` BPM (`tempo_frequencies`).
fn lag_bpm(lag: usize) -> f64 {
    60.0 * f64::from(SAMPLE_RATE) / (HOP_LENGTH as f64 * lag as f64)
}

/// librosa 0.6.1's tempo rule (spec §10 step 5): the lag maximising `tg[l] · prior(l)`, with
/// `prior = exp(−½ (log2 bpm − log2 120)²)` and zero prior for lags faster than 320 BPM;
/// 120 BPM if that is lag 0 (no positive score anywhere).
///
/// Values within [`AUTOCORRELATION_ROUND_OFF`] of zero count as zero: when a clip is so short
/// that its onsets span fewer frames than the shortest candidate lag, every candidate's exact
/// autocorrelation is 0 and librosa's pick among them is decided by its FFT's round-off.
/// Exact arithmetic gives librosa's own fallback, 120 BPM.
pub(crate) fn estimate_tempo(mean_autocorrelation: &[f64]) -> f64 {
    let fastest_lag = (1..mean_autocorrelation.len())
        .find(|&lag| lag_bpm(lag) < MAX_TEMPO)
        .unwrap_or(0);
    let noise = AUTOCORRELATION_ROUND_OFF * mean_autocorrelation.first().copied().unwrap_or(0.0);
    let score = |lag: usize| {
        if lag < fastest_lag || lag == 0 || mean_autocorrelation[lag].abs() <= noise {
            return 0.0;
        }
        let octaves = (lag_bpm(lag).log2() - START_BPM.log2()) / STD_BPM;
        mean_autocorrelation[lag] * (-0.5 * octaves.powi(2)).exp()
    };
    let best =
        (0..mean_autocorrelation.len()).fold(
            0,
            |best, lag| {
                if score(lag) > score(best) {
                    lag
                } else {
                    best
                }
            },
        );
    if best == 0 {
        START_BPM
    } else {
        lag_bpm(best)
    }
}

/// `beat.beat_track` of librosa 0.6.1 (spec §11.2) given the onset envelope and its tempo:
/// the beat frames, ascending. The `beats` feature is their count.
pub(crate) fn track_beats(env: &[f64], bpm: f64) -> Vec<usize> {
    let period = (60.0 * FRAME_RATE / bpm).round_ties_even() as usize;
    let local_score = local_score(&normalize_onsets(env), period);
    let (backlink, cumulative) = beat_dynamic_program(&local_score, period);
    let Some(tail) = last_beat(&cumulative) else {
        return Vec::new();
    };
    let mut beats = vec![tail];
    let mut link = backlink[tail];
    while link >= 0 {
        beats.push(link as usize);
        link = backlink[link as usize];
    }
    beats.reverse();
    trim_beats(&local_score, beats)
}

/// `__normalize_onsets`: divide by the sample standard deviation (`ddof=1`) if positive.
fn normalize_onsets(env: &[f64]) -> Vec<f64> {
    let n = env.len() as f64;
    let mean = env.iter().sum::<f64>() / n;
    let variance = env.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let std = variance.sqrt();
    if std > 0.0 {
        env.iter().map(|x| x / std).collect()
    } else {
        env.to_vec()
    }
}

/// `__beat_local_score`: the envelope convolved ('same') with a Gaussian of
/// `σ = period / 32` frames over `−period..=period`.
fn local_score(env: &[f64], period: usize) -> Vec<f64> {
    let p = period as isize;
    let kernel: Vec<f64> = (-p..=p)
        .map(|j| (-0.5 * (j as f64 * 32.0 / period as f64).powi(2)).exp())
        .collect();
    let n = env.len() as isize;
    (0..n)
        .map(|i| {
            (-p..=p)
                .filter(|j| (0..n).contains(&(i + j)))
                .map(|j| kernel[(j + p) as usize] * env[(i + j) as usize])
                .sum()
        })
        .collect()
}

/// `__beat_track_dp` of 0.6.1: `cum[i] = ls[i] + max_o (txwt[o] + cum[i+o])` over offsets
/// `o = −2p ..= −round(p/2)` with `txwt[o] = −100 ln(−o/p)²`; an offset reaching before the
/// start still competes with `cum = 0`. The first maximum wins (the most distant offset on
/// ties). `backlink[i] = i + o_best`, which may be negative, and is −1 until the local score
/// first reaches 1 % of its maximum.
fn beat_dynamic_program(local_score: &[f64], period: usize) -> (Vec<isize>, Vec<f64>) {
    let p = period as isize;
    let nearest = (period as f64 / 2.0).round_ties_even() as isize;
    let offsets: Vec<isize> = (-2 * p..=-nearest).collect();
    let transition: Vec<f64> = offsets
        .iter()
        .map(|&o| -TIGHTNESS * ((-o) as f64 / period as f64).ln().powi(2))
        .collect();
    let threshold = 0.01
        * local_score
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
    let mut cumulative = vec![0.0; local_score.len()];
    let mut backlink = vec![-1isize; local_score.len()];
    let mut before_first_beat = true;
    for (i, &score) in local_score.iter().enumerate() {
        let i = i as isize;
        let (mut best_offset, mut best_score) = (offsets[0], f64::NEG_INFINITY);
        for (&o, &weight) in offsets.iter().zip(&transition) {
            let previous = if i + o >= 0 {
                cumulative[(i + o) as usize]
            } else {
                0.0
            };
            if weight + previous > best_score {
                (best_offset, best_score) = (o, weight + previous);
            }
        }
        cumulative[i as usize] = score + best_score;
        if before_first_beat && score < threshold {
            backlink[i as usize] = -1;
        } else {
            backlink[i as usize] = i + best_offset;
            before_first_beat = false;
        }
    }
    (backlink, cumulative)
}

/// `__last_beat` of 0.6.1: the last local maximum of the cumulative score with
/// `2 · cum > median(cum at local maxima)` (strict). None when there is no such frame.
fn last_beat(cumulative: &[f64]) -> Option<usize> {
    let n = cumulative.len();
    let is_local_max = |i: usize| {
        i > 0
            && cumulative[i] > cumulative[i - 1]
            && (i + 1 == n || cumulative[i] >= cumulative[i + 1])
    };
    let mut maxima: Vec<f64> = (0..n)
        .filter(|&i| is_local_max(i))
        .map(|i| cumulative[i])
        .collect();
    let median = median(&mut maxima)?;
    (0..n)
        .rev()
        .find(|&i| is_local_max(i) && 2.0 * cumulative[i] > median)
}

/// numpy's median (mean of the two middle values for an even count); None when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    match values.len() {
        0 => None,
        n if n % 2 == 0 => Some(median_of_even_count(values)),
        n => Some(*values.select_nth_unstable_by(n / 2, f64::total_cmp).1),
    }
}

/// `__trim_beats` of 0.6.1: smooth the local score at the beats with `hann(5) = [0, ½, 1, ½, 0]`
/// ('same'), keep `beats[first : last]` of those above half the smoothed RMS — Python's
/// exclusive end drops the last valid beat, as the dataset's numbers did.
fn trim_beats(local_score: &[f64], beats: Vec<usize>) -> Vec<usize> {
    let at_beats: Vec<f64> = beats.iter().map(|&b| local_score[b]).collect();
    let smoothed: Vec<f64> = (0..at_beats.len())
        .map(|i| {
            let neighbour =
                |j: Option<usize>| j.and_then(|j| at_beats.get(j)).copied().unwrap_or(0.0);
            0.5 * neighbour(i.checked_sub(1)) + at_beats[i] + 0.5 * neighbour(Some(i + 1))
        })
        .collect();
    let mean_square = smoothed.iter().map(|s| s * s).sum::<f64>() / smoothed.len() as f64;
    let threshold = 0.5 * mean_square.sqrt();
    let valid = || (0..smoothed.len()).filter(|&i| smoothed[i] > threshold);
    match (valid().next(), valid().next_back()) {
        (Some(first), Some(last)) => beats[first..last].to_vec(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempogram_window_and_candidate_lags_match_the_spec() {
        // spec §10: win = 344; lags below 9 (faster than 320 BPM) get no prior
        assert_eq!(TEMPOGRAM_WINDOW, 344);
        assert!(lag_bpm(8) >= MAX_TEMPO && lag_bpm(9) < MAX_TEMPO);
        // tempo = 2583.984375 / lag; lag 20 prints as 129.19921875 in the dataset
        assert_eq!(lag_bpm(20), 129.19921875);
        assert_eq!(lag_bpm(38), 67.99958881578948);
    }

    #[test]
    fn the_prior_picks_the_lag_nearest_120_bpm_among_equal_peaks() {
        let mut tg = vec![0.0; TEMPOGRAM_WINDOW];
        tg[10] = 1.0; // 258 BPM
        tg[21] = 1.0; // 123.05 BPM
        tg[42] = 1.0; // 61.5 BPM
        assert_eq!(estimate_tempo(&tg), 2583.984375 / 21.0);
        assert_eq!(estimate_tempo(&vec![0.0; TEMPOGRAM_WINDOW]), START_BPM);
        // Only FFT round-off at the candidate lags (a clip shorter than its shortest lag):
        // no periodicity, librosa's fallback.
        let mut round_off = vec![3e-17; TEMPOGRAM_WINDOW];
        round_off[0] = 0.5;
        round_off[15] = 2.6e-17;
        assert_eq!(estimate_tempo(&round_off), START_BPM);
    }

    #[test]
    fn autocorrelation_of_a_pulse_train_peaks_at_its_period() {
        let mut env = vec![0.0; 1000];
        for t in (5..1000).step_by(20) {
            env[t] = 1.0;
        }
        let tg = Tempogram::new().mean_autocorrelation(&env);
        assert!((tg[0] - 1.0).abs() < 1e-12);
        let best = (1..TEMPOGRAM_WINDOW)
            .max_by(|&a, &b| tg[a].total_cmp(&tg[b]))
            .unwrap_or(0);
        assert_eq!(best, 20);
        assert_eq!(estimate_tempo(&tg), 129.19921875);
    }

    #[test]
    fn a_steady_pulse_is_tracked_on_its_pulses() {
        let mut env = vec![0.0; 600];
        for t in (13..600).step_by(20) {
            env[t] = 1.0;
        }
        let beats = track_beats(&env, lag_bpm(20));
        assert!(beats.len() >= 25, "{beats:?}");
        assert!(beats.iter().all(|b| (b - 13) % 20 == 0), "{beats:?}");
        assert!(beats.windows(2).all(|w| w[1] - w[0] == 20));
    }

    #[test]
    fn tempogram_tempo_and_beats_match_numpy() {
        // Pulses every 21 frames from frame 3, weaker ones every 7. Reference values from
        // ../shared/reference/spec_impl.py (librosa 0.6.1 flavour): tempogram_mean(env) at lags
        // 0, 7, 21, 42; estimate_tempo → 123.046875 (lag 21); beat_track → 28 beats,
        // frames 3, 24, 45, …, 528, 549, 570.
        let env: Vec<f64> = (0..600)
            .map(|t| match t {
                0..3 => 0.0,
                t if (t - 3) % 21 == 0 => 1.1,
                t if (t - 3) % 7 == 0 => 0.1,
                _ => 0.0,
            })
            .collect();
        let tg = Tempogram::new().mean_autocorrelation(&env);
        let expected = [
            (0, 1.0),
            (7, 0.18426678413518421),
            (21, 0.9532431814471322),
            (42, 0.862392640598758),
        ];
        for (lag, value) in expected {
            assert!(
                (tg[lag] - value).abs() < 1e-12,
                "lag {lag}: {} vs {value}",
                tg[lag]
            );
        }
        let tempo = estimate_tempo(&tg);
        assert_eq!(tempo, 123.046875);
        let beats = track_beats(&env, tempo);
        assert_eq!(beats.len(), 28);
        assert_eq!(beats[..3], [3, 24, 45]);
        assert_eq!(beats[25..], [528, 549, 570]);
    }

    #[test]
    fn onset_envelope_is_the_median_rise_shifted_by_three_frames() {
        let columns: Vec<[f64; N_MELS]> = (0..6)
            .map(|t| {
                let mut c = [-50.0; N_MELS];
                if t >= 2 {
                    c[..100].fill(-10.0); // 100 of 128 bands rise by 40 dB at t = 2
                }
                c
            })
            .collect();
        let env = onset_envelope(&columns);
        assert_eq!(env, vec![0.0, 0.0, 0.0, 0.0, 40.0, 0.0]);
    }

    #[test]
    fn trimming_drops_weak_ends_and_the_last_valid_beat() {
        let local = [0.1, 5.0, 5.0, 5.0, 5.0, 0.1];
        assert_eq!(trim_beats(&local, vec![0, 1, 2, 3, 4, 5]), vec![1, 2, 3]);
    }
}
