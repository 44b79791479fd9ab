//! Band-limited sample-rate conversion of the libsoxr "HQ" class.
//!
//! librosa ≥ 0.10 resamples with `soxr_hq`: linear phase, flat to 0.913 of the lower Nyquist
//! frequency, ≥ 120 dB rejection from the Nyquist frequency on. The spectral features (centroid,
//! rolloff) of 44.1 and 48 kHz files depend on how much of the 10–11 kHz band survives, so this
//! converter is designed to the same mask: a Kaiser-windowed sinc whose transition band spans
//! exactly 0.913–1.0 of the lower Nyquist frequency.
//!
//! The filter is applied in polyphase form. For a rational ratio `to/from = L/M` (reduced by
//! their gcd), output sample `k` sits at input time `k·M/L`, so only `L` distinct fractional
//! offsets occur and each gets its own precomputed row of taps. The kernel is centred on that
//! time, which makes the converter zero-phase like librosa's resamplers: no delay to compensate,
//! output `k` is aligned with input time `k·from/to`. When `L` is impractically large (coprime
//! odd rates), the table holds 1024 rows and a phase between two rows is interpolated
//! linearly, with an error below the stopband level (measured ≤ −127 dB for 44101 Hz).
//!
//! [`StreamResampler`] and the one-shot [`resample`] run the same code on the same history, so
//! a stream cut into blocks of any size gives bit-identical output to the whole signal at once:
//! there is nothing at a block edge that could click.

use std::f64::consts::PI;

/// Stopband attenuation the Kaiser window is designed for (soxr "HQ" is 20-bit, ≈ 120 dB).
const STOPBAND_ATTENUATION_DB: f64 = 120.0;
/// Upper edge of the flat passband, as a fraction of the lower of the two Nyquist frequencies
/// (soxr's default `passband_end`).
const PASSBAND_END: f64 = 0.913;
/// Lower edge of the stopband, as a fraction of the lower Nyquist frequency (soxr's default
/// `stopband_begin`): nothing above the output's Nyquist frequency folds back.
const STOPBAND_START: f64 = 1.0;
/// Number of fractional-offset rows above which rows are interpolated instead of all stored.
/// 1024 rows keep the linear interpolation error below −120 dB while bounding the table.
const MAX_TABLE_PHASES: u64 = 1024;
/// The largest conversion factor accepted in either direction. The filter grows with the
/// factor; beyond this, input is almost certainly a wrong sample rate, not audio to convert.
const MAX_RATIO: u32 = 256;
/// Taps per row are a multiple of this, so the dot product runs on full SIMD-width lanes.
const LANES: usize = 32;
/// Floats in one 256-bit AVX register.
const REGISTER: usize = 8;
/// Output samples computed together when decimating by a whole factor: eight registers of
/// eight independent sums, enough that no fused multiply-add waits for the one before.
const DECIMATION_GROUP: usize = 64;

/// Why a resampler cannot be built for a pair of rates.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResampleError {
    /// A sample rate of zero.
    #[error("cannot resample from {from_rate} Hz to {to_rate} Hz: a sample rate of 0 Hz")]
    ZeroRate { from_rate: u32, to_rate: u32 },
    /// A ratio beyond 256:1 in either direction.
    #[error(
        "cannot resample from {from_rate} Hz to {to_rate} Hz: the ratio exceeds {MAX_RATIO}:1"
    )]
    RatioTooLarge { from_rate: u32, to_rate: u32 },
}

/// Resamples a whole signal from `from_rate` to `to_rate`.
///
/// The output has exactly `ceil(n·to_rate/from_rate)` samples, the length librosa's
/// `fix_length` gives after `soxr.resample`; the signal is taken as zero outside its ends.
/// Equal rates return a copy, as librosa skips resampling then. Rates that [`StreamResampler::new`] rejects (zero, or a ratio
/// beyond 256:1) give an empty vector: there is no meaningful signal at such a rate; use
/// [`try_resample`] to tell that apart from an empty input.
pub fn resample(samples: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    try_resample(samples, from_rate, to_rate).unwrap_or_default()
}

/// [`resample`], with an error for rates it cannot convert between.
pub fn try_resample(
    samples: &[f32],
    from_rate: u32,
    to_rate: u32,
) -> Result<Vec<f32>, ResampleError> {
    let mut resampler = StreamResampler::new(from_rate, to_rate)?;
    let output_len = resampled_len(samples.len() as u64, from_rate, to_rate) as usize;
    let mut output = Vec::with_capacity(output_len + DECIMATION_GROUP);
    resampler.process(samples, &mut output);
    resampler.finish(output_len, &mut output);
    Ok(output)
}

/// `ceil(n·to/from)`: the number of output samples whose time lies within `n` input samples,
/// the length of a resampled clip or stream.
pub fn resampled_len(input_len: u64, from_rate: u32, to_rate: u32) -> u64 {
    let numerator = u128::from(input_len) * u128::from(to_rate);
    numerator.div_ceil(u128::from(from_rate)) as u64
}

/// A resampler for a continuous stream (the live microphone), fed in blocks of any size.
///
/// Output sample `k` is the band-limited value of the input at time `k·from/to`; it is emitted
/// as soon as the input reaches the end of its kernel, so the output lags the input by the
/// filter's half-length (about 4 ms for 48 kHz → 22.05 kHz). When the rates differ by a whole
/// factor (44.1 kHz → 22.05 kHz, 48 kHz → 16 kHz) on a CPU with AVX2 and FMA, outputs come in
/// groups of [`DECIMATION_GROUP`], which adds at most 63 output samples (4 ms at 16 kHz) to
/// that lag. The stream starts with silence before its first sample, exactly as [`resample`]
/// treats the start of a clip.
#[derive(Debug, Clone)]
pub struct StreamResampler {
    filter: PolyphaseFilter,
    /// Input samples advanced per output sample, in units of `1/phase_count` input samples.
    input_step: u64,
    /// Distinct fractional offsets of the output times: `to_rate / gcd(from_rate, to_rate)`.
    phase_count: u64,
    /// Input not yet behind every future kernel, preceded at the start by the silence the
    /// first kernels reach back into.
    history: Vec<f32>,
    /// Index in `history` of the input sample at or just before the next output's time.
    center: usize,
    /// The next output's time is `center + phase / phase_count`.
    phase: u64,
    /// The grouped kernel for whole-factor decimation, where the CPU can run it.
    decimator: Option<Decimator>,
}

impl StreamResampler {
    /// Builds a resampler from `from_rate` to `to_rate` (Hz).
    pub fn new(from_rate: u32, to_rate: u32) -> Result<Self, ResampleError> {
        if from_rate == 0 || to_rate == 0 {
            return Err(ResampleError::ZeroRate { from_rate, to_rate });
        }
        if from_rate / to_rate > MAX_RATIO || to_rate / from_rate > MAX_RATIO {
            return Err(ResampleError::RatioTooLarge { from_rate, to_rate });
        }
        let common = gcd(from_rate, to_rate);
        let phase_count = u64::from(to_rate / common);
        let filter = PolyphaseFilter::design(from_rate, to_rate, phase_count);
        let left_context = filter.left_context;
        let input_step = u64::from(from_rate / common);
        let decimator = (phase_count == 1 && input_step > 1 && has_avx2_fma())
            .then(|| Decimator::new(filter.row(0), input_step as usize));
        Ok(StreamResampler {
            filter,
            input_step,
            phase_count,
            history: vec![0.0; left_context],
            center: left_context,
            phase: 0,
            decimator,
        })
    }

    /// Appends to `output` every output sample that `input`, together with what came before,
    /// determines. Blocks may have any size, including zero; state carries across calls.
    /// Equal rates pass the input through untouched, as [`resample`] does.
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        if self.input_step == self.phase_count {
            output.extend_from_slice(input);
            return;
        }
        self.history.extend_from_slice(input);
        let taps = self.filter.taps_per_row;
        let left = self.filter.left_context;
        let expected = input.len() as u64 * self.phase_count / self.input_step;
        output.reserve(expected as usize + 1);
        match &self.decimator {
            Some(decimator) => {
                let reach = decimator.group_reach();
                while self.center - left + reach <= self.history.len() {
                    let start = self.center - left;
                    decimator.apply(&self.history[start..start + reach], output);
                    self.center += DECIMATION_GROUP * decimator.step;
                }
            }
            None => {
                while self.center - left + taps <= self.history.len() {
                    let window = &self.history[self.center - left..self.center - left + taps];
                    output.push(self.filter.apply(window, self.phase, self.phase_count));
                    self.phase += self.input_step;
                    self.center += (self.phase / self.phase_count) as usize;
                    self.phase %= self.phase_count;
                }
            }
        }
        // Drop input no future kernel reaches; when downsampling the next kernel may start
        // beyond what has arrived, and `center` keeps counting from the new start.
        let no_longer_needed = (self.center - left).min(self.history.len());
        self.history.drain(..no_longer_needed);
        self.center -= no_longer_needed;
    }

    /// Ends the stream: takes the input as silence past its end, so that the last outputs see
    /// their whole kernel, until `output` holds `len` samples, and cuts it there. `len` is the
    /// stream's [`resampled_len`] less what the caller has already taken out of `output`.
    pub fn finish(&mut self, len: usize, output: &mut Vec<f32>) {
        let silence = vec![0.0; self.filter.taps_per_row];
        while output.len() < len {
            self.process(&silence, output);
        }
        output.truncate(len);
    }
}

/// A Kaiser-windowed sinc low-pass, tabulated at evenly spaced fractional offsets.
#[derive(Debug, Clone)]
struct PolyphaseFilter {
    /// `rows × taps_per_row` taps; row `r` is the kernel centred at offset `r / row_spacing`
    /// past the window's `left_context`-th sample.
    taps: Vec<f32>,
    taps_per_row: usize,
    /// Window samples before the one at or just before the output time.
    left_context: usize,
    /// Rows per input sample: the phase count itself, or [`MAX_TABLE_PHASES`] when rows
    /// are interpolated.
    row_spacing: u64,
}

impl PolyphaseFilter {
    fn design(from_rate: u32, to_rate: u32, phase_count: u64) -> Self {
        // Everything in cycles per input sample.
        let lower_nyquist = f64::from(from_rate.min(to_rate)) / (2.0 * f64::from(from_rate));
        let cutoff = 0.5 * (PASSBAND_END + STOPBAND_START) * lower_nyquist;
        let transition_width = (STOPBAND_START - PASSBAND_END) * lower_nyquist;
        let kaiser = KaiserWindow::for_attenuation(STOPBAND_ATTENUATION_DB, transition_width);

        // Taps i (relative to the sample at or before the output time) with |i - φ| ≤ half
        // width for some φ in [0, 1] run from -floor(hw) to floor(hw) + 1.
        let reach = kaiser.half_width.floor() as usize;
        let left_context = reach;
        let taps_per_row = (2 * reach + 2).next_multiple_of(LANES);

        let interpolated = phase_count > MAX_TABLE_PHASES;
        let row_spacing = phase_count.min(MAX_TABLE_PHASES);
        // Interpolating between row r and r + 1 needs the row at offset 1.0 as well.
        let rows = row_spacing as usize + usize::from(interpolated);

        let mut taps = Vec::with_capacity(rows * taps_per_row);
        let mut row = vec![0.0f64; taps_per_row];
        for r in 0..rows {
            let offset = r as f64 / row_spacing as f64;
            for (j, tap) in row.iter_mut().enumerate() {
                let t = j as f64 - left_context as f64 - offset;
                *tap = 2.0 * cutoff * sinc(2.0 * cutoff * t) * kaiser.at(t);
            }
            // Unit gain at DC for every offset, so no offset-periodic ripple.
            let sum: f64 = row.iter().sum();
            taps.extend(row.iter().map(|&tap| (tap / sum) as f32));
        }
        PolyphaseFilter {
            taps,
            taps_per_row,
            left_context,
            row_spacing,
        }
    }

    /// The output for a window of input whose output time lies `phase / phase_count` past
    /// its `left_context`-th sample.
    fn apply(&self, window: &[f32], phase: u64, phase_count: u64) -> f32 {
        let scaled = phase * self.row_spacing;
        let row = (scaled / phase_count) as usize;
        let remainder = scaled % phase_count;
        let value = dot(window, self.row(row));
        if remainder == 0 {
            value
        } else {
            let fraction = (remainder as f64 / phase_count as f64) as f32;
            value + fraction * (dot(window, self.row(row + 1)) - value)
        }
    }

    fn row(&self, index: usize) -> &[f32] {
        &self.taps[index * self.taps_per_row..(index + 1) * self.taps_per_row]
    }
}

/// Decimation by a whole factor `step` in groups of [`DECIMATION_GROUP`] outputs.
///
/// Output `k` of a group is `Σ_j x[k·step + j] · h[j]` over the one row of taps `h`. Per
/// dot product ([`dot`]) every multiply-add loads a tap and a sample, twice what the load
/// ports can feed, and ends in a horizontal sum. Here eight consecutive outputs share a
/// register, one lane each: lane `i` reads the taps shifted by `i·step` (`lane_taps[t][i] =
/// h[t − i·step]`, zero outside the row), so one load of `lane_taps[t]` serves the eight lanes
/// and each of the eight registers adds one broadcast sample. Every lane adds its products in
/// tap order, exactly as a lone output would, so an output does not depend on which group
/// computes it and a stream cut into any blocks still equals the one-shot conversion.
#[derive(Debug, Clone)]
struct Decimator {
    lane_taps: Vec<[f32; REGISTER]>,
    step: usize,
}

impl Decimator {
    fn new(row: &[f32], step: usize) -> Self {
        let shifted_len = row.len() + (REGISTER - 1) * step;
        let lane_taps = (0..shifted_len)
            .map(|t| {
                std::array::from_fn(|lane| {
                    t.checked_sub(lane * step)
                        .and_then(|j| row.get(j))
                        .copied()
                        .unwrap_or(0.0)
                })
            })
            .collect();
        Decimator { lane_taps, step }
    }

    /// Input samples one group reads, from its first output's window start.
    fn group_reach(&self) -> usize {
        self.lane_taps.len() + (DECIMATION_GROUP - REGISTER) * self.step
    }

    /// Appends the group of outputs whose windows start in `window` (at least
    /// [`Self::group_reach`] samples long).
    fn apply(&self, window: &[f32], output: &mut Vec<f32>) {
        assert!(
            window.len() >= self.group_reach(),
            "a decimation group's window is short"
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a Decimator is only built where the CPU has AVX2 and FMA
        // (`StreamResampler::new`), and the window is long enough, asserted above.
        unsafe {
            decimate_group_avx2_fma(window, &self.lane_taps, self.step, output);
        }
    }
}

/// Whether the CPU runs the AVX2 and FMA kernels (the check reads a flag cached by the
/// standard library).
fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`Decimator::apply`]'s kernel. Safety: the CPU must have AVX2 and FMA, and `window` must
/// hold `lane_taps.len() + (DECIMATION_GROUP - REGISTER) · step` samples.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn decimate_group_avx2_fma(
    window: &[f32],
    lane_taps: &[[f32; REGISTER]],
    step: usize,
    output: &mut Vec<f32>,
) {
    use std::arch::x86_64::{
        _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    const REGISTERS: usize = DECIMATION_GROUP / REGISTER;
    let register_stride = REGISTER * step;
    let mut sums = [_mm256_setzero_ps(); REGISTERS];
    for (t, taps) in lane_taps.iter().enumerate() {
        // SAFETY: `taps` holds REGISTER floats.
        let taps = unsafe { _mm256_loadu_ps(taps.as_ptr()) };
        for (r, sum) in sums.iter_mut().enumerate() {
            // SAFETY: r · register_stride + t < (REGISTERS - 1) · REGISTER · step +
            // lane_taps.len(), the window length the caller guarantees.
            let sample = unsafe { *window.get_unchecked(r * register_stride + t) };
            *sum = _mm256_fmadd_ps(_mm256_set1_ps(sample), taps, *sum);
        }
    }
    let mut group = [0.0f32; DECIMATION_GROUP];
    for (sum, lanes) in sums.iter().zip(group.chunks_exact_mut(REGISTER)) {
        // SAFETY: each chunk holds the REGISTER floats the store writes.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *sum) };
    }
    output.extend_from_slice(&group);
}

/// Dot product of two equally long slices whose length is a multiple of [`LANES`].
///
/// Every output sample is one such product over a few hundred taps, so this is most of a
/// conversion's cost. Where the CPU has AVX2 and FMA ([`has_avx2_fma`]) it runs as fused
/// multiply-adds on four 256-bit registers; elsewhere as the portable build's multiplies and
/// adds. The two differ only in rounding.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { dot_avx2_fma(a, b) };
    }
    dot_portable(a, b)
}

/// [`dot`] in 8 independent partial sums, which the compiler turns into SIMD registers.
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += a * b;
        }
    }
    lanes.iter().sum()
}

/// [`dot`] with AVX2 and FMA: [`LANES`] products per step into four independent
/// accumulators, so that no fused multiply-add waits for the previous one's result.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let mut sums = [_mm256_setzero_ps(); LANES / REGISTER];
    for (a, b) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for (i, sum) in sums.iter_mut().enumerate() {
            // SAFETY: both chunks hold LANES floats, so the REGISTER floats from
            // i * REGISTER are inside them.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(i * REGISTER)),
                    _mm256_loadu_ps(b.as_ptr().add(i * REGISTER)),
                )
            };
            *sum = _mm256_fmadd_ps(a, b, *sum);
        }
    }
    let total = sums
        .iter()
        .fold(_mm256_setzero_ps(), |total, &sum| _mm256_add_ps(total, sum));
    let mut lanes = [0.0f32; REGISTER];
    // SAFETY: `lanes` holds the REGISTER floats the store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), total) };
    lanes.iter().sum()
}

/// The Kaiser window of a low-pass design (Kaiser's empirical formulas, as in Oppenheim &
/// Schafer §7.6), measured in input samples from the kernel's centre.
#[derive(Debug, Clone, Copy)]
struct KaiserWindow {
    beta: f64,
    half_width: f64,
}

impl KaiserWindow {
    /// The window that reaches `attenuation_db` with a transition band `transition_width`
    /// cycles per sample wide.
    fn for_attenuation(attenuation_db: f64, transition_width: f64) -> Self {
        let beta = 0.1102 * (attenuation_db - 8.7);
        let order = (attenuation_db - 7.95) / (2.285 * 2.0 * PI * transition_width);
        KaiserWindow {
            beta,
            half_width: order / 2.0,
        }
    }

    fn at(&self, t: f64) -> f64 {
        let x = t / self.half_width;
        if x.abs() > 1.0 {
            0.0
        } else {
            bessel_i0(self.beta * (1.0 - x * x).sqrt()) / bessel_i0(self.beta)
        }
    }
}

/// sin(πx)/(πx).
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// The modified Bessel function of the first kind, order 0, by its power series (which
/// converges quickly for the window's arguments, at most β ≈ 12).
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-17 {
        term *= quarter_square / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `amplitude · sin(2π·freq·i/rate)` for `i` in `0..len`.
    fn tone(freq: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    /// Root mean square of a slice.
    fn rms(signal: &[f32]) -> f64 {
        (signal.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / signal.len() as f64).sqrt()
    }

    fn decibels(ratio: f64) -> f64 {
        20.0 * ratio.log10()
    }

    /// The largest deviation of `output` from the ideal `sin(2π·freq·k/rate)`, away from the
    /// ends where the kernel reaches past the signal.
    fn max_deviation_from_tone(output: &[f32], freq: f64, rate: u32) -> f64 {
        let margin = output.len() / 8;
        let ideal = tone(freq, rate, output.len());
        output[margin..output.len() - margin]
            .iter()
            .zip(&ideal[margin..])
            .map(|(&y, &x)| (f64::from(y) - f64::from(x)).abs())
            .fold(0.0, f64::max)
    }

    /// The middle half of a signal, where no kernel reaches past its ends.
    fn middle(signal: &[f32]) -> &[f32] {
        &signal[signal.len() / 4..signal.len() * 3 / 4]
    }

    /// A deterministic stand-in for music: uniform noise from a linear congruential generator.
    fn noise(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Asserts that `value` is the dot product of `a` and `b` to float32 rounding: within 1e-6
    /// of the products' summed magnitude from their float64 sum.
    fn assert_is_dot_product(value: f32, a: &[f32], b: &[f32], what: &str) {
        let products = a.iter().zip(b);
        let exact: f64 = products
            .clone()
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let magnitude: f64 = products.map(|(&a, &b)| f64::from(a * b).abs()).sum();
        let error = (f64::from(value) - exact).abs();
        assert!(
            error <= 1e-6 * magnitude,
            "{what}: {value} vs {exact} (error {error:e})"
        );
    }

    #[test]
    fn every_dot_product_path_matches_a_float64_sum() {
        for taps in [LANES, 12 * LANES, 40 * LANES] {
            let (a, b) = (noise(taps, 1), noise(taps, 2));
            let mut paths = vec![("portable", dot_portable(&a, &b))];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX2 and FMA, checked just above.
                paths.push(("avx2+fma", unsafe { dot_avx2_fma(&a, &b) }));
            }
            for (path, value) in paths {
                assert_is_dot_product(value, &a, &b, &format!("{path}, {taps} taps"));
            }
        }
    }

    /// Whole-factor decimation runs in groups (on CPUs with AVX2 and FMA): each output still
    /// equals its window's dot product with the filter, to float32 rounding.
    #[test]
    fn decimation_groups_match_a_float64_sum_per_output() {
        for (from, to) in [(44100, 22050), (48000, 16000), (32000, 16000)] {
            let Ok(stream) = StreamResampler::new(from, to) else {
                panic!("{from} → {to} Hz must be supported");
            };
            assert_eq!(
                stream.decimator.is_some(),
                has_avx2_fma(),
                "{from} → {to} Hz"
            );
            let step = (from / to) as usize;
            let filter = &stream.filter;
            let input = noise(5000, u64::from(from));
            let padded: Vec<f32> = std::iter::repeat_n(0.0, filter.left_context)
                .chain(input.iter().copied())
                .chain(std::iter::repeat_n(0.0, filter.taps_per_row))
                .collect();
            let output = resample(&input, from, to);
            assert_eq!(output.len(), input.len().div_ceil(step));
            for (k, &value) in output.iter().enumerate() {
                let window = &padded[k * step..k * step + filter.taps_per_row];
                let what = format!("{from} → {to} Hz, output {k}");
                assert_is_dot_product(value, window, filter.row(0), &what);
            }
        }
    }

    #[test]
    fn output_length_is_the_ceiling_of_the_scaled_input_length() {
        for (from, to) in [
            (44100, 22050),
            (48000, 22050),
            (8000, 22050),
            (44101, 22050),
        ] {
            for n in [0usize, 1, 2, 3, 147, 1001, 44100] {
                let expected = (n as u64 * to as u64).div_ceil(from as u64) as usize;
                assert_eq!(
                    resample(&vec![0.25; n], from, to).len(),
                    expected,
                    "{n} samples, {from} → {to} Hz"
                );
            }
        }
    }

    #[test]
    fn equal_rates_return_the_input_unchanged() {
        let signal = noise(1000, 1);
        assert_eq!(resample(&signal, 22050, 22050), signal);
        let Ok(mut stream) = StreamResampler::new(22050, 22050) else {
            panic!("equal rates must be supported");
        };
        let mut streamed = Vec::new();
        for block in signal.chunks(300) {
            stream.process(block, &mut streamed);
        }
        assert_eq!(streamed, signal);
    }

    #[test]
    fn rejects_zero_rates_and_absurd_ratios() {
        assert!(matches!(
            StreamResampler::new(0, 22050),
            Err(ResampleError::ZeroRate { .. })
        ));
        assert!(matches!(
            StreamResampler::new(22050 * 300, 22050),
            Err(ResampleError::RatioTooLarge { .. })
        ));
        assert!(resample(&[1.0; 10], 44100, 0).is_empty());
    }

    /// Passband: flat to 0.913 of the output's Nyquist frequency, and zero-phase: output `k`
    /// equals the tone at input time `k·from/to`, so no delay is left to compensate.
    #[test]
    fn passband_tones_come_through_unchanged_and_in_time() {
        for (from, to) in [
            (44100, 22050),
            (48000, 22050),
            (8000, 22050),
            (44101, 22050),
        ] {
            let lower_nyquist = f64::from(from.min(to)) / 2.0;
            for fraction in [0.02, 0.25, 0.6, 0.85, 0.913] {
                let freq = fraction * lower_nyquist;
                let output = resample(&tone(freq, from, from as usize / 2), from, to);
                let deviation = max_deviation_from_tone(&output, freq, to);
                // 1e-4 is −80 dB of error; a tenth of a sample late at 20 kHz would be 1e-1.
                assert!(
                    deviation < 1e-4,
                    "{from} → {to} Hz, {freq:.0} Hz tone: deviation {deviation:e}"
                );
            }
        }
    }

    /// Stopband: everything from the output's Nyquist frequency up is rejected by ≥ 100 dB
    /// (libsoxr HQ: about 120 dB), so nothing folds back into the band.
    #[test]
    fn tones_above_the_output_nyquist_frequency_are_rejected() {
        for (from, to) in [(44100, 22050), (48000, 22050)] {
            let output_nyquist = f64::from(to) / 2.0;
            for fraction in [1.0, 1.02, 1.2, 1.5, 1.95] {
                let freq = fraction * output_nyquist;
                let input = tone(freq, from, from as usize / 2);
                let output = resample(&input, from, to);
                let rejection = decibels(rms(middle(&output)) / rms(&input));
                assert!(
                    rejection < -100.0,
                    "{from} → {to} Hz, {freq:.0} Hz: only {rejection:.1} dB"
                );
            }
        }
    }

    /// Upsampling: the spectral images of the input above its own Nyquist frequency are
    /// removed, so only the tone itself is left.
    #[test]
    fn upsampling_leaves_no_images() {
        let (from, to) = (8000, 22050);
        let freq = 3000.0;
        let output = resample(&tone(freq, from, 8000), from, to);
        let ideal = tone(freq, to, output.len());
        let residual: Vec<f32> = middle(&output)
            .iter()
            .zip(middle(&ideal))
            .map(|(y, x)| y - x)
            .collect();
        let residual_db = decibels(rms(&residual) / rms(middle(&ideal)));
        assert!(residual_db < -100.0, "images at {residual_db:.1} dB");
    }

    /// The -6 dB point is the middle of the transition band, like soxr's: 0.9565 of Nyquist.
    #[test]
    fn transition_band_is_centred_between_passband_end_and_nyquist() {
        let (from, to) = (44100, 22050);
        let freq = 0.9565 * f64::from(to) / 2.0;
        let input = tone(freq, from, from as usize);
        let gain = rms(middle(&resample(&input, from, to))) / rms(&input);
        assert!((decibels(gain) + 6.02).abs() < 0.1, "gain {gain}");
    }

    /// Zero phase means a symmetric impulse response centred exactly on the impulse's time.
    #[test]
    fn impulse_response_is_symmetric_about_the_impulse_time() {
        let mut impulse = vec![0.0f32; 2000];
        impulse[1000] = 1.0;
        let output = resample(&impulse, 44100, 22050);
        let peak = output
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(index, _)| index);
        assert_eq!(peak, Some(500));
        for offset in 1..400 {
            assert_eq!(
                output[500 - offset],
                output[500 + offset],
                "offset {offset}"
            );
        }
    }

    /// A stream cut into blocks of arbitrary sizes gives exactly the one-shot output.
    #[test]
    fn streaming_in_any_block_sizes_equals_one_shot() {
        for (from, to) in [
            (48000, 22050),
            (44100, 22050),
            (48000, 16000),
            (16000, 22050),
            (44101, 22050),
        ] {
            let input = noise(20_000, u64::from(from));
            let whole = resample(&input, from, to);
            let Ok(mut stream) = StreamResampler::new(from, to) else {
                panic!("{from} → {to} Hz must be supported");
            };
            let mut streamed = Vec::new();
            let block_sizes = [1, 0, 7, 480, 1, 1024, 333, 2, 4096, 13];
            let mut start = 0;
            for &size in block_sizes.iter().cycle() {
                if start >= input.len() {
                    break;
                }
                let end = (start + size).min(input.len());
                stream.process(&input[start..end], &mut streamed);
                start = end;
            }
            assert!(streamed.len() > whole.len() - 500, "{from} → {to} Hz lags");
            assert_eq!(streamed, whole[..streamed.len()], "{from} → {to} Hz");
        }
    }

    /// No clicks: a streamed sine never jumps by more than its steepest slope allows.
    #[test]
    fn block_edges_leave_no_discontinuities() {
        let (from, to, freq) = (48000, 22050, 1000.0);
        let input = tone(freq, from, 48000);
        let Ok(mut stream) = StreamResampler::new(from, to) else {
            panic!("48 kHz → 22.05 kHz must be supported");
        };
        let mut output = Vec::new();
        for block in input.chunks(441) {
            stream.process(block, &mut output);
        }
        let steepest_step = 2.0 * PI * freq / f64::from(to);
        let settled = &output[200..];
        let largest_step = settled
            .windows(2)
            .map(|pair| f64::from((pair[1] - pair[0]).abs()))
            .fold(0.0, f64::max);
        assert!(
            largest_step <= steepest_step * 1.0001,
            "{largest_step} > {steepest_step}"
        );
    }
}
