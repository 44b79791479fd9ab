//! Whole clips: a [`Decoder`]'s blocks collected and resampled once to the rate asked for.

use std::path::Path;

use super::decode::{DecodeLimits, Decoder};
use super::error::AudioError;
use super::resample;
use crate::features::SAMPLE_RATE;
use crate::record::WithPath;

/// [`load`] reserves its output from a header's length up to this many frames (six minutes
/// at 44.1 kHz): a header may lie, and a longer file just grows the buffer.
const MAX_RESERVED_FRAMES: usize = 1 << 24;

/// How much of a file [`load`] takes, and at which rate it returns it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// `Some(30.0)`: the first `round(rate·30)` frames, like `librosa.load(duration=30)`;
    /// `None`: the whole file.
    pub max_duration_s: Option<f64>,
    /// The rate of [`Clip::samples`], like `librosa.load(sr=…)`: `None` is [`SAMPLE_RATE`],
    /// the 28 features' 22050 Hz. A front end at another rate (musicnn's 16 kHz) asks for it
    /// here, so that the file is resampled once, from its own rate, rather than twice.
    pub sample_rate: Option<u32>,
}

/// A decoded clip: mono, at [`LoadOptions::sample_rate`] ([`SAMPLE_RATE`] by default).
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// Mono samples at the requested rate: 22050 Hz unless [`LoadOptions::sample_rate`] says
    /// otherwise.
    pub samples: Vec<f32>,
    /// The file's own sample rate.
    pub source_rate: u32,
    /// The file's channel count before the downmix.
    pub source_channels: u16,
    /// Length of the decoded (possibly truncated) audio, in seconds.
    pub duration_s: f64,
}

/// Loads `path` as a mono clip at [`SAMPLE_RATE`] (or [`LoadOptions::sample_rate`]), with
/// librosa 0.6.1's loading semantics.
pub fn load(path: &Path, options: LoadOptions) -> Result<Clip, WithPath<AudioError>> {
    collect(Decoder::open(path, options.limits(None))?, options)
}

/// [`load`], refusing with [`AudioError::TooLong`] a file holding more than `max_length_s`
/// seconds of audio. Decoding stops just past the cap, so memory stays bounded by it whatever
/// the file's header claims.
pub fn load_capped(
    path: &Path,
    options: LoadOptions,
    max_length_s: f64,
) -> Result<Clip, WithPath<AudioError>> {
    collect(
        Decoder::open(path, options.limits(Some(max_length_s)))?,
        options,
    )
}

/// [`load`] (or [`load_capped`], given a cap) of a file's bytes already in memory; `name`
/// stands for the file in errors and its extension is the container hint, as a path's is.
pub fn load_bytes(
    bytes: &[u8],
    name: &Path,
    options: LoadOptions,
    max_length_s: Option<f64>,
) -> Result<Clip, WithPath<AudioError>> {
    collect(
        Decoder::from_bytes(bytes, name, options.limits(max_length_s))?,
        options,
    )
}

impl LoadOptions {
    fn limits(self, max_length_s: Option<f64>) -> DecodeLimits {
        DecodeLimits {
            keep_s: self.max_duration_s,
            cap_s: max_length_s,
        }
    }
}

/// Every block of `decoder` as one clip, resampled (whole) to the rate `options` asks for.
fn collect(mut decoder: Decoder<'_>, options: LoadOptions) -> Result<Clip, WithPath<AudioError>> {
    let reserved = decoder.length_hint().unwrap_or(0).min(MAX_RESERVED_FRAMES);
    let mut mono = Vec::with_capacity(reserved);
    while let Some(block) = decoder.next_block()? {
        mono.extend_from_slice(block);
    }
    let source_rate = decoder.sample_rate();
    let rate = options.sample_rate.unwrap_or(SAMPLE_RATE);
    let samples = if source_rate == rate {
        mono
    } else {
        resample::try_resample(&mono, source_rate, rate)
            .map_err(|cause| WithPath::new(&decoder.path, AudioError::SampleRate { cause }))?
    };
    Ok(Clip {
        samples,
        source_rate,
        source_channels: decoder.channels(),
        duration_s: decoder.duration_s(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What symphonia's WAV reader takes per packet: the partial last packet of a test stream
    /// checks that the audio past the last full packet is kept.
    const FRAMES_PER_PACKET: usize = 1152;
    /// The RIFF and data sizes of a WAV streamed to a pipe: unknown.
    const UNKNOWN_SIZE: u32 = u32::MAX;
    const PCM_HEADER_BYTES: u32 = 44;

    /// A mono 16-bit PCM WAV at [`SAMPLE_RATE`] holding `samples`, whose header states
    /// `data_size` bytes of data (and a RIFF size to match, or unknown with it).
    fn pcm16_wav(data_size: u32, samples: &[i16]) -> Vec<u8> {
        let riff_size = if data_size == UNKNOWN_SIZE {
            UNKNOWN_SIZE
        } else {
            PCM_HEADER_BYTES - 8 + data_size
        };
        let mut bytes = b"RIFF".to_vec();
        bytes.extend(riff_size.to_le_bytes());
        bytes.extend(b"WAVEfmt ");
        bytes.extend(16u32.to_le_bytes());
        bytes.extend(1u16.to_le_bytes()); // PCM
        bytes.extend(1u16.to_le_bytes()); // channels
        bytes.extend(SAMPLE_RATE.to_le_bytes());
        bytes.extend((SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
        bytes.extend(2u16.to_le_bytes()); // block align
        bytes.extend(16u16.to_le_bytes()); // bits per sample
        bytes.extend(b"data");
        bytes.extend(data_size.to_le_bytes());
        bytes.extend(samples.iter().flat_map(|sample| sample.to_le_bytes()));
        bytes
    }

    fn ramp(frames: usize) -> Vec<i16> {
        (0..frames)
            .map(|i| ((i * 2731) % 65536) as u16 as i16)
            .collect()
    }

    fn load_wav(bytes: &[u8]) -> Result<Clip, WithPath<AudioError>> {
        load_bytes(bytes, Path::new("test.wav"), LoadOptions::default(), None)
    }

    #[test]
    fn a_wav_of_unknown_length_is_read_to_the_end_of_the_file() {
        let samples = ramp(2 * FRAMES_PER_PACKET + 196);
        let data_size = u32::try_from(2 * samples.len()).expect("a small test stream");
        let sized = load_wav(&pcm16_wav(data_size, &samples)).expect("a WAV with its sizes");
        let streamed = load_wav(&pcm16_wav(UNKNOWN_SIZE, &samples)).expect("a streamed WAV");
        assert_eq!(streamed.samples.len(), samples.len());
        assert_eq!(streamed, sized);
    }

    #[test]
    fn a_wav_of_stated_length_that_ends_early_is_truncated() {
        let samples = ramp(3 * FRAMES_PER_PACKET);
        let data_size = u32::try_from(2 * samples.len()).expect("a small test stream");
        // Cut at a packet boundary, and inside a packet.
        for frames in [2 * FRAMES_PER_PACKET, 2000] {
            let error = load_wav(&pcm16_wav(data_size, &samples[..frames]))
                .expect_err("a cut WAV must not load");
            assert!(
                matches!(error.error, AudioError::Corrupt { .. }),
                "{frames} frames: {error}"
            );
        }
    }
}
