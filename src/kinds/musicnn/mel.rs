//! The log-mel front end of the musicnn taggers (Pons & Serra, musicnn 0.1.0): the input
//! their checkpoints were trained on, as `../shared/reference/musicnn/README.md` states it.
//!
//! musicnn's `extractor.py` (`preprocess_librosa`) computes, with librosa 0.11:
//!
//! ```text
//! y   = librosa.load(path, sr=16000)                     # mono, soxr_hq
//! mel = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
//! x   = log10(10000 · mel + 1)                           # [frames, 96]
//! ```
//!
//! that is: a centred STFT of 512 points with a periodic Hann window and 256 zeros of padding
//! at each end, hop 256; the power `|X|²`; 96 Slaney mel bands from 0 to 8000 Hz with Slaney
//! area normalisation; then the compression above, frames as rows. The taggers take patches of
//! [`PATCH_FRAMES`] consecutive frames (3 s).
//!
//! Input here is mono at [`SAMPLE_RATE`]: decoding, the downmix (mean of the channels) and the
//! conversion to 16 kHz (`crate::audio::resample`, designed to soxr_hq's mask) come first.
//!
//! [`LogMelStream`] computes frames as samples arrive (the microphone, a streaming decoder);
//! [`log_mel`] is that stream run over a whole clip, so both give the same frames bit for bit
//! and every frame is computed once.

use std::num::NonZeroUsize;

use ndarray::{s, Array2, Array3, ArrayView2};

use crate::features::mfcc::{MelFilterbank, MelParams};
use crate::features::stft::Stft;

/// This front end's name, as a model declares it in its ONNX metadata (`front_end`).
pub const NAME: &str = "musicnn-mel-16k-96";

/// The sample rate the front end takes: musicnn's `librosa.load(sr=16000)`.
pub const SAMPLE_RATE: u32 = 16_000;

/// STFT length and window length (`n_fft=512`, 32 ms).
pub const N_FFT: usize = 512;

/// Samples between consecutive frames (`hop_length=256`, 16 ms).
pub const HOP_LENGTH: usize = 256;

/// Mel bands per frame (`n_mels=96`).
pub const N_MELS: usize = 96;

/// The mel filterbank's upper edge: `fmax=None`, i.e. the Nyquist frequency of 16 kHz.
pub const F_MAX: f64 = SAMPLE_RATE as f64 / 2.0;

/// Frames per patch, the taggers' input length: 187 frames = 3 s.
pub const PATCH_FRAMES: usize = 187;

/// musicnn's default hop between patches: one patch length, so patches do not overlap.
pub const DEFAULT_PATCH_HOP: NonZeroUsize = match NonZeroUsize::new(PATCH_FRAMES) {
    Some(hop) => hop,
    None => panic!("PATCH_FRAMES is not zero"),
};

/// Zeros before the first and after the last sample: librosa 0.11 centres frames
/// (`center=True`) with `pad_mode='constant'`, `n_fft / 2` on each side.
const CENTRE_PAD: usize = N_FFT / 2;

/// The gain inside the compression `log10(LOG_GAIN · x + 1)`.
const LOG_GAIN: f32 = 10_000.0;

/// `log10(65504 + 1) = 4.81627445…`, the compression of the largest finite float16, rounded to
/// float32 as the reference computes it (`np.float32(np.log10(np.float32(65504) + 1))`, the
/// largest value in every clamped `values/*.logmel.npy`).
///
/// musicnn casts the mel power to float16 and computes `log10(10000 x + 1)` in float16: above
/// a mel power of about 6.55 the product overflows to +inf (loud music does; blues.00000 has
/// 1426 such bins) and musicnn feeds inf to its network. The reference values clamp the log
/// at the largest finite float16 instead, and so does this front end. The log itself is taken
/// in float32, which the reference README measured to give the same top-5 tags.
const LOG_CEILING: f32 = 4.816_274_6;

/// Why mel frames cannot be cut into patches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MusicnnMelError {
    /// Fewer frames than one patch: the clip is shorter than about 3 s.
    #[error(
        "too short for the musicnn front end: {frames} mel frames, one patch needs {needed} \
         (about 3 s of audio)"
    )]
    TooShort { frames: usize, needed: usize },
}

/// The log-mel frames of a whole clip, `[frames, N_MELS]`: [`LogMelStream`] fed all of
/// `samples_16k` (mono, [`SAMPLE_RATE`]) and finished. There are `1 + len / HOP_LENGTH`
/// frames, frame `t` centred on sample `t · HOP_LENGTH`, as librosa 0.11 computes them.
pub fn log_mel(samples_16k: &[f32]) -> Array2<f32> {
    let mut stream = LogMelStream::new();
    stream.padded.extend_from_slice(samples_16k);
    stream.finish()
}

/// Cuts `[frames, bands]` log-mel frames into patches `[patches, PATCH_FRAMES, bands]`, the
/// taggers' input: patch `i` holds frames `i · hop .. i · hop + PATCH_FRAMES`; a trailing
/// partial patch is dropped, as musicnn does. With [`DEFAULT_PATCH_HOP`] the patches are
/// musicnn's non-overlapping ones.
pub fn patches(
    log_mel: ArrayView2<'_, f32>,
    hop: NonZeroUsize,
) -> Result<Array3<f32>, MusicnnMelError> {
    let frames = log_mel.nrows();
    if frames < PATCH_FRAMES {
        return Err(MusicnnMelError::TooShort {
            frames,
            needed: PATCH_FRAMES,
        });
    }
    let hop = hop.get();
    let count = 1 + (frames - PATCH_FRAMES) / hop;
    let mut patches = Array3::zeros((count, PATCH_FRAMES, log_mel.ncols()));
    for (i, mut patch) in patches.outer_iter_mut().enumerate() {
        patch.assign(&log_mel.slice(s![i * hop..i * hop + PATCH_FRAMES, ..]));
    }
    Ok(patches)
}

/// The log-mel front end over a stream of 16 kHz mono samples, pushed in blocks of any size.
///
/// Frame `t` needs the samples up to `t · HOP_LENGTH + N_FFT / 2`; it is returned by the
/// [`push`](Self::push) that brings them, and never recomputed. The stream starts with the
/// 256 zeros of librosa's centring, so its frames are those of [`log_mel`] on everything pushed
/// so far; [`finish`](Self::finish) appends the 256 trailing zeros and returns the last frames.
pub struct LogMelStream {
    stft: Stft,
    mel: MelFilterbank,
    /// The zero-padded stream from the next frame's first sample on.
    padded: Vec<f32>,
    /// Frames returned so far: the stream position, in frames, of the next one.
    frames_emitted: u64,
    magnitude: Vec<f32>,
    power: Vec<f32>,
}

impl LogMelStream {
    /// A stream at its start; plans the FFT and builds the filterbank.
    pub fn new() -> Self {
        let n_bins = N_FFT / 2 + 1;
        LogMelStream {
            stft: Stft::with_len(N_FFT),
            mel: MelFilterbank::slaney(MelParams {
                sample_rate: SAMPLE_RATE,
                n_fft: N_FFT,
                n_mels: N_MELS,
                fmin: 0.0,
                fmax: F_MAX,
            }),
            padded: vec![0.0; CENTRE_PAD],
            frames_emitted: 0,
            magnitude: vec![0.0; n_bins],
            power: vec![0.0; n_bins],
        }
    }

    /// Appends `samples` (mono, [`SAMPLE_RATE`]) and returns the frames they complete,
    /// `[new_frames, N_MELS]`, in stream order; often none for a short block.
    pub fn push(&mut self, samples: &[f32]) -> Array2<f32> {
        self.padded.extend_from_slice(samples);
        self.complete_frames()
    }

    /// Ends the stream: returns the frames that reach into the trailing zero padding, after
    /// which [`frames_emitted`](Self::frames_emitted) is `1 + samples / HOP_LENGTH`.
    pub fn finish(mut self) -> Array2<f32> {
        self.padded.extend_from_slice(&[0.0; CENTRE_PAD]);
        self.complete_frames()
    }

    /// Frames returned so far; the index in the stream of the next frame.
    pub fn frames_emitted(&self) -> u64 {
        self.frames_emitted
    }

    /// Computes every frame whose `N_FFT` samples are buffered and drops the samples no later
    /// frame needs.
    fn complete_frames(&mut self) -> Array2<f32> {
        let count = match self.padded.len().checked_sub(N_FFT) {
            Some(beyond_first) => 1 + beyond_first / HOP_LENGTH,
            None => 0,
        };
        let mut frames = Array2::zeros((count, N_MELS));
        for (t, mut row) in frames.rows_mut().into_iter().enumerate() {
            let start = t * HOP_LENGTH;
            self.stft
                .magnitude(&self.padded[start..start + N_FFT], &mut self.magnitude);
            for (p, &s) in self.power.iter_mut().zip(&self.magnitude) {
                *p = s * s;
            }
            for (out, mel_power) in row.iter_mut().zip(self.mel.band_powers(&self.power)) {
                *out = compress(mel_power as f32);
            }
        }
        self.padded.drain(..count * HOP_LENGTH);
        self.frames_emitted += count as u64;
        frames
    }
}

impl Default for LogMelStream {
    fn default() -> Self {
        LogMelStream::new()
    }
}

/// musicnn's compression of one mel power value `x` (float32, as librosa stores it):
/// `min(log10(10000 x + 1), log10(65504 + 1))`; see [`LOG_CEILING`] for the clamp.
fn compress(mel_power: f32) -> f32 {
    (LOG_GAIN * mel_power + 1.0).log10().min(LOG_CEILING)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest finite float16, `(2 − 2⁻¹⁰) · 2¹⁵`.
    const F16_MAX: f32 = 65504.0;

    /// A deterministic test signal: two partials and a click every 0.25 s.
    fn signal(len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| {
                let t = n as f64 / f64::from(SAMPLE_RATE);
                let click = if n % 4000 < 3 { 0.5 } else { 0.0 };
                let tone = 0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 5123.0 * t).sin();
                (tone + click) as f32
            })
            .collect()
    }

    #[test]
    fn the_ceiling_is_the_compression_of_the_largest_float16() {
        assert_eq!((F16_MAX + 1.0).log10(), LOG_CEILING);
        assert_eq!(compress(1e6), LOG_CEILING);
        assert_eq!(compress(f32::INFINITY), LOG_CEILING);
        assert!(compress(6.0) < LOG_CEILING);
    }

    #[test]
    fn silence_compresses_to_zero() {
        let frames = log_mel(&[0.0; 5000]);
        assert_eq!(frames.dim(), (1 + 5000 / HOP_LENGTH, N_MELS));
        assert!(frames.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn frames_are_one_per_hop_plus_one_as_librosa_centres_them() {
        for len in [0, 1, 255, 256, 257, 511, 512, 10_000] {
            assert_eq!(log_mel(&signal(len)).nrows(), 1 + len / HOP_LENGTH, "{len}");
        }
    }

    #[test]
    fn a_stream_in_blocks_of_any_size_gives_the_batch_frames_exactly() {
        let samples = signal(3 * SAMPLE_RATE as usize + 77);
        let batch = log_mel(&samples);
        let mut stream = LogMelStream::new();
        let mut rows: Vec<f32> = Vec::new();
        let mut rest = &samples[..];
        for block in [0, 1, 7, 255, 256, 257, 1000, 4097].into_iter().cycle() {
            let (head, tail) = rest.split_at(block.min(rest.len()));
            let frames = stream.push(head);
            assert_eq!(frames.ncols(), N_MELS);
            rows.extend(frames.iter());
            rest = tail;
            if rest.is_empty() {
                break;
            }
        }
        assert_eq!(stream.frames_emitted() as usize, rows.len() / N_MELS);
        rows.extend(stream.finish().iter());
        assert_eq!(rows.len(), batch.len());
        assert!(rows.iter().zip(batch.iter()).all(|(a, b)| a == b));
    }

    #[test]
    fn a_frame_is_returned_as_soon_as_its_samples_arrive() {
        let mut stream = LogMelStream::new();
        // frame 0 spans samples −256..256, frame 1 spans 0..512
        assert_eq!(stream.push(&signal(CENTRE_PAD - 1)).nrows(), 0);
        assert_eq!(stream.push(&[0.0]).nrows(), 1);
        assert_eq!(stream.push(&signal(HOP_LENGTH)).nrows(), 1);
        assert_eq!(stream.frames_emitted(), 2);
    }

    #[test]
    fn a_tone_lands_in_its_mel_band() {
        // A 1 kHz tone at -40 dBFS: loud enough to stand out, quiet enough that no band
        // reaches the ceiling (at full scale bands 30-33 all clamp, and the loudest is a tie).
        // Band b spans edges b..b+2; librosa's melspectrogram of this tone is loudest in band
        // 31, whose edges are mel_frequencies(98, fmax=8000)[31..34].
        let tone: Vec<f32> = (0..8000)
            .map(|n| {
                (0.01 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 16000.0).sin()) as f32
            })
            .collect();
        let frames = log_mel(&tone);
        let middle = frames.row(frames.nrows() / 2);
        assert!(middle.iter().all(|&x| x < LOG_CEILING));
        let loudest = (0..N_MELS).max_by(|&a, &b| middle[a].total_cmp(&middle[b]));
        let edges = MelParams {
            sample_rate: SAMPLE_RATE,
            n_fft: N_FFT,
            n_mels: N_MELS,
            fmin: 0.0,
            fmax: F_MAX,
        }
        .band_edges();
        let librosa_edges = [
            963.996_463_663_006_1,
            995.093_123_781_167_6,
            1_027.376_959_631_034,
        ];
        for (ours, librosa) in edges[31..34].iter().zip(librosa_edges) {
            assert!((ours - librosa).abs() < 1e-9, "{ours} vs {librosa}");
        }
        assert_eq!(loudest, Some(31));
    }

    #[test]
    fn patches_are_cut_every_hop_and_a_partial_one_is_dropped() {
        let frames =
            Array2::from_shape_fn((2 * PATCH_FRAMES + 50, 3), |(t, b)| (t * 10 + b) as f32);
        let cut = patches(frames.view(), DEFAULT_PATCH_HOP);
        let Ok(cut) = cut else { panic!("{cut:?}") };
        assert_eq!(cut.dim(), (2, PATCH_FRAMES, 3));
        assert_eq!(cut[[1, 0, 2]], frames[[PATCH_FRAMES, 2]]);
        let hop = NonZeroUsize::new(100).unwrap_or(DEFAULT_PATCH_HOP);
        let overlapping = patches(frames.view(), hop).map(|p| p.dim());
        assert_eq!(overlapping, Ok((3, PATCH_FRAMES, 3)));
    }

    #[test]
    fn fewer_frames_than_a_patch_is_an_error_naming_both_counts() {
        let error = patches(
            Array2::zeros((PATCH_FRAMES - 1, N_MELS)).view(),
            DEFAULT_PATCH_HOP,
        );
        assert_eq!(
            error,
            Err(MusicnnMelError::TooShort {
                frames: 186,
                needed: 187
            })
        );
        assert_eq!(
            error.err().map(|e| e.to_string()).as_deref(),
            Some(
                "too short for the musicnn front end: 186 mel frames, one patch needs 187 \
                 (about 3 s of audio)"
            )
        );
    }
}
