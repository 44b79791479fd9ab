//! Why a file could not be loaded, and where in its audio.

use std::io;

use super::resample::ResampleError;

/// The largest sample magnitude accepted: 40 dB over full scale. Float files may exceed ±1
/// a little (mastering headroom, unclipped mixes), but nothing playable comes near this; a
/// `1e30` sample is a broken writer, and its power spectrum would overflow the features.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 100.0;

/// Why a file could not be loaded; the file's path comes with it, once, as a
/// [`WithPath`](crate::record::WithPath), whose message starts with it.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read the file: {cause}")]
    Io { cause: io::Error },
    #[error("the file is empty")]
    EmptyFile,
    #[error(
        "not a supported audio format (genred reads WAV, AIFF, CAF, FLAC, MP3, AAC, ALAC, \
         Ogg Vorbis, Opus and AU)"
    )]
    UnsupportedFormat,
    /// A format recognised by its content that genred has no decoder for (WavPack, WMA): said
    /// by name, since "not a supported format" or "corrupt" would send the user hunting.
    #[error("{format} is not supported: convert it to FLAC, WAV or another format genred reads")]
    KnownUnsupportedFormat { format: &'static str },
    #[error("corrupt or truncated audio: {reason}")]
    Corrupt { reason: String },
    #[error("the file holds no audio track")]
    NoAudioTrack,
    #[error("unsupported audio codec: {codec}")]
    UnsupportedCodec { codec: String },
    #[error("the file holds no audio samples")]
    NoSamples,
    #[error("{cause}")]
    SampleRate { cause: ResampleError },
    /// More audio than the cap of `load_capped` or `DecodeLimits::cap_s`, which the
    /// daemon and `classify` take from `[window] max_duration_s`.
    #[error("longer than max_duration_s = {limit_s} s (decoding stopped there)")]
    TooLong { limit_s: f64 },
    #[error("sample {position} is not a number (NaN or infinity): the audio is corrupt")]
    NonFinite { position: String },
    #[error(
        "sample {position} is {value:e}, over {MAX_SAMPLE_MAGNITUDE} times full scale: not audio"
    )]
    OutOfRange { position: String, value: f32 },
}

/// Where in the audio a frame is, for errors: seconds once the rate is known.
#[derive(Clone, Copy, Debug)]
pub(super) struct Position {
    pub(super) frames: usize,
    pub(super) rate: Option<u32>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rate {
            Some(rate) if rate > 0 => write!(f, "{:.3} s", self.frames as f64 / f64::from(rate)),
            _ => write!(f, "frame {}", self.frames),
        }
    }
}
