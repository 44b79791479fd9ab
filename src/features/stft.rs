//! One frame of librosa 0.6.1's `core.stft` (spec §3): centred frames with reflect padding,
//! a periodic Hann window, the FFT in float64, the result stored as complex64.
//!
//! librosa 0.11's `stft` does the same arithmetic per frame (window float64 × frame float32,
//! `rfft` in float64, stored as complex64) and differs only in padding (zeros by default), so
//! [`Stft`] also serves the musicnn mel front end at its own length (`Stft::with_len(512)`).

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::params::{N_FFT, SAMPLE_RATE};

/// Frequency bins of the one-sided spectrum: `1 + N_FFT / 2`.
pub(crate) const N_BINS: usize = N_FFT / 2 + 1;

/// Hz between adjacent bins: `sr / n_fft = 10.7666015625`, exact in binary, so bin `k`'s
/// frequency `k * BIN_HZ` equals librosa's `fft_frequencies` (a linspace) bit for bit.
pub(crate) const BIN_HZ: f64 = SAMPLE_RATE as f64 / N_FFT as f64;

/// The centre frequency of bin `k` (librosa `fft_frequencies`): `k · BIN_HZ`.
pub(crate) fn bin_frequency(k: usize) -> f64 {
    fft_frequency(k, SAMPLE_RATE, N_FFT)
}

/// The centre frequency of bin `k` of an `n_fft`-point FFT at `sample_rate`:
/// `k · sample_rate / n_fft` (librosa `fft_frequencies(sr, n_fft)`). For 22050 Hz and 2048
/// points both the product and the quotient are exact, so this equals `k · BIN_HZ`.
pub(crate) fn fft_frequency(k: usize, sample_rate: u32, n_fft: usize) -> f64 {
    k as f64 * f64::from(sample_rate) / n_fft as f64
}

/// How a centred frame is completed where it reaches past the signal's ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    /// `np.pad(mode='reflect')`: mirrored without repeating the edge sample; 0.6.1's stft and rms.
    Reflect,
    /// `np.pad(mode='edge')`: the edge sample repeated; zero_crossing_rate in every version.
    Edge,
}

/// Fills `frame` with the `n = frame.len()` samples centred on `signal[centre]`, i.e. frame
/// `t` of `np.pad(signal, n / 2, mode)` when `centre = t * hop`.
///
/// `signal` must hold at least `n / 2 + 1` samples, so that one reflection suffices.
pub(crate) fn centred_frame(signal: &[f32], centre: usize, padding: Padding, frame: &mut [f32]) {
    let n_fft = frame.len();
    let len = signal.len() as isize;
    let start = centre as isize - (n_fft / 2) as isize;
    let interior = start >= 0 && start + n_fft as isize <= len;
    if interior {
        frame.copy_from_slice(&signal[start as usize..start as usize + n_fft]);
        return;
    }
    for (n, sample) in frame.iter_mut().enumerate() {
        let index = start + n as isize;
        let source = match padding {
            Padding::Reflect if index < 0 => -index,
            Padding::Reflect if index >= len => 2 * (len - 1) - index,
            Padding::Reflect => index,
            Padding::Edge => index.clamp(0, len - 1),
        };
        *sample = signal[source as usize];
    }
}

/// The periodic Hann window of scipy's `get_window('hann', len, fftbins=True)`:
/// `0.5 + 0.5 cos(linspace(-π, π, len + 1)[n])`, the same arithmetic as scipy's.
pub(crate) fn periodic_hann(len: usize) -> Vec<f64> {
    let step = 2.0 * PI / len as f64;
    (0..len)
        .map(|n| 0.5 + 0.5 * (n as f64 * step - PI).cos())
        .collect()
}

/// The magnitude spectrum of one frame, with plan, window and buffers reused between frames.
pub(crate) struct Stft {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    windowed: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl Stft {
    /// The 28 features' STFT: [`N_FFT`] points.
    pub(crate) fn new() -> Self {
        Stft::with_len(N_FFT)
    }

    /// An `n_fft`-point STFT with a periodic Hann window of the same length; its frames have
    /// `n_fft` samples and its spectra `n_fft / 2 + 1` bins.
    pub(crate) fn with_len(n_fft: usize) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        Stft {
            window: periodic_hann(n_fft),
            windowed: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
        }
    }

    /// `S = |X|` of one frame of the STFT's length, as librosa stores it: the windowed FFT runs in
    /// float64 (window f64 × frame f32 promotes), `X` is rounded to complex64 and the
    /// magnitude is the float32 `hypot` of its parts. glibc's `hypotf`, which numpy calls,
    /// is `sqrt(re² + im²)` in float64 rounded to float32; written out, it vectorises.
    pub(crate) fn magnitude(&mut self, frame: &[f32], magnitude: &mut [f32]) {
        for ((out, &w), &x) in self.windowed.iter_mut().zip(&self.window).zip(frame) {
            *out = w * f64::from(x);
        }
        self.fft
            .process_with_scratch(&mut self.windowed, &mut self.spectrum, &mut self.scratch)
            .expect("the buffers were sized by the plan itself");
        for (out, x) in magnitude.iter_mut().zip(&self.spectrum) {
            let (re, im) = (f64::from(x.re as f32), f64::from(x.im as f32));
            *out = (re * re + im * im).sqrt() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_frequencies_are_librosa_fft_frequencies() {
        // librosa.fft_frequencies(sr=22050, n_fft=2048)[[1, 1024]]
        assert_eq!(bin_frequency(1), 10.7666015625);
        assert_eq!(bin_frequency(N_BINS - 1), 11025.0);
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        // np.pad(np.arange(2049), 1024, mode='reflect')[:3] == [1024, 1023, 1022]
        let signal: Vec<f32> = (0..2049).map(|i| i as f32).collect();
        let mut frame = vec![0.0; N_FFT];
        centred_frame(&signal, 0, Padding::Reflect, &mut frame);
        assert_eq!(&frame[..3], &[1024.0, 1023.0, 1022.0]);
        assert_eq!(frame[1024], 0.0);
        centred_frame(&signal, 2048, Padding::Reflect, &mut frame);
        // y_pad[1024 + N - 1 + j] = y[N - 1 - j]
        assert_eq!(&frame[1024..1027], &[2048.0, 2047.0, 2046.0]);
    }

    #[test]
    fn edge_padding_repeats_the_edge_sample() {
        let signal: Vec<f32> = (0..2049).map(|i| i as f32 + 5.0).collect();
        let mut frame = vec![0.0; N_FFT];
        centred_frame(&signal, 0, Padding::Edge, &mut frame);
        assert!(frame[..1024].iter().all(|&x| x == 5.0));
        assert_eq!(frame[1025], 6.0);
    }

    #[test]
    fn hann_is_scipy_periodic_hann() {
        let w = periodic_hann(N_FFT);
        assert_eq!(w[0], 0.0);
        assert!((w[1024] - 1.0).abs() < 1e-15);
        // scipy.signal.get_window('hann', 2048)[512] == 0.5 (to round-off)
        assert!((w[512] - 0.5).abs() < 1e-15);
    }

    #[test]
    fn magnitude_is_glibc_hypotf_of_the_rounded_parts() {
        let mut stft = Stft::new();
        let frame: Vec<f32> = (0..N_FFT)
            .map(|n| ((n * 7919) % 2048) as f32 / 2048.0 - 0.5)
            .collect();
        let mut magnitude = vec![0.0; N_BINS];
        stft.magnitude(&frame, &mut magnitude);
        for (s, x) in magnitude.iter().zip(&stft.spectrum) {
            assert_eq!(*s, (x.re as f32).hypot(x.im as f32));
        }
    }

    #[test]
    fn a_bin_centred_sine_peaks_at_its_bin() {
        // A full-scale cosine at bin 100 under a Hann window: |X[100]| = N/4 = 512,
        // |X[99]| = |X[101]| = N/8 = 256 (the window's transform), the rest ~0.
        let frame: Vec<f32> = (0..N_FFT)
            .map(|n| (2.0 * PI * 100.0 * n as f64 / N_FFT as f64).cos() as f32)
            .collect();
        let mut stft = Stft::new();
        let mut magnitude = vec![0.0; N_BINS];
        stft.magnitude(&frame, &mut magnitude);
        assert!((magnitude[100] - 512.0).abs() < 1e-3);
        assert!((magnitude[99] - 256.0).abs() < 1e-3);
        assert!(magnitude[300] < 1e-3);
    }
}
