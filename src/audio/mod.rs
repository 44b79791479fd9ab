//! Audio in: any supported file as mono blocks at its own rate while it is decoded
//! ([`Decoder`]), or whole as a mono clip at 22050 Hz, as `librosa.load(path, duration=30)`
//! gives it ([`load`]; spec §2 of `librosa-features.md`).
//!
//! The steps, in librosa 0.6.1's order: decode to f32 with libsndfile's integer scaling
//! (symphonia for WAV, AIFF, CAF, FLAC, MP3, AAC, ALAC and Ogg Vorbis, libopus for Opus;
//! `au.rs` for GTZAN's Sun audio), average the
//! channels in f32, keep the first `round(rate·duration)` frames (never pad), then resample to
//! 22050 Hz only when the file's rate differs, to `ceil(n·22050/rate)` samples. A caller may
//! ask for another output rate ([`LoadOptions::sample_rate`]); the file is still resampled
//! once, straight from its own rate. [`load`] is the [`Decoder`]'s blocks collected; the
//! analysis engine takes the blocks as they come and resamples them itself, bit for bit as
//! [`resample`] does a whole clip, so a file of any length is analysed in bounded memory.
//!
//! A stream that breaks partway (a corrupt packet, a file cut short of its declared length)
//! is an error naming the file and how far decoding got, not a shorter clip: features over
//! part of a song describe something else than the song, and a half-copied file in the drop
//! folder should be noticed, not classified. A stream that declares no length (a WAV streamed
//! with sizes 0xFFFFFFFF, an MPEG stream without a Xing/Info tag) ends where the file ends.
//!
//! Decoded samples must be audio: a NaN or an infinity (float files can hold them), or a value
//! far beyond full scale, is an error too, since every feature computed over it would be
//! meaningless. A cap ([`load_capped`], [`DecodeLimits::cap_s`]) refuses a file longer than
//! it, and decoding stops as soon as the cap is passed. The checks are made block by block,
//! so the first fault in the stream is the one reported.

mod au;
mod decode;
mod error;
mod load;
pub mod resample;
mod symphonia_stream;
mod tags;
pub mod wav;

use std::path::Path;

pub use crate::features::SAMPLE_RATE;
pub use decode::{DecodeLimits, Decoder};
pub use error::{AudioError, MAX_SAMPLE_MAGNITUDE};
pub use load::{load, load_bytes, load_capped, Clip, LoadOptions};
pub use resample::{resample, ResampleError, StreamResampler};

/// File extensions (lowercase) that genred treats as audio when it scans folders. The
/// decoder itself goes by content, so a mislabelled file still decodes or fails clearly.
/// WavPack and WMA are listed though genred cannot decode them: a music library holds them,
/// and a file is never skipped in silence, so each gets a record saying it is not supported.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "au", "snd", "aif", "aiff", "aifc", "caf",
    "aac", "m4a", "mp4", "wv", "wma",
];

/// Whether `path` has one of the [`AUDIO_EXTENSIONS`], in any letter case.
pub fn is_audio_path(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            AUDIO_EXTENSIONS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(extension))
        })
}
