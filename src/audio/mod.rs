//! Audio in: any supported file to a mono clip at 22050 Hz, as `librosa.load(path,
//! duration=30)` gives it (spec §2 of `librosa-features.md`).
//!
//! The steps, in librosa 0.6.1's order: decode to f32 with libsndfile's integer scaling
//! (symphonia for WAV, FLAC, MP3 and Ogg Vorbis; `au.rs` for GTZAN's Sun audio), average the
//! channels in f32, keep the first `round(rate·duration)` frames (never pad), then resample to
//! 22050 Hz only when the file's rate differs, to `ceil(n·22050/rate)` samples.
//!
//! A stream that breaks partway (a corrupt packet, a file cut short of its declared length)
//! is an error naming the file and how far decoding got, not a shorter clip: features over
//! part of a song describe something else than the song, and a half-copied file in the drop
//! folder should be noticed, not classified.

mod au;
pub mod resample;
pub mod wav;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_AC3, CODEC_ID_ALAC, CODEC_ID_DCA, CODEC_ID_EAC3, CODEC_ID_MP1,
    CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_SPEEX, CODEC_ID_WAVPACK, CODEC_ID_WMA,
};
use symphonia::core::codecs::audio::AudioCodecId;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

pub use crate::features::SAMPLE_RATE;
pub use resample::{resample, ResampleError, StreamResampler};

/// File extensions (lowercase) that genred treats as audio when it scans folders. The
/// decoder itself goes by content, so a mislabelled file still decodes or fails clearly.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga", "au", "snd"];

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

/// Output is reserved from a header's length up to this many frames (six minutes at 44.1 kHz):
/// a header may lie, and a longer file just grows the buffer.
const MAX_RESERVED_FRAMES: usize = 1 << 24;

/// How much of a file [`load`] takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// `Some(30.0)`: the first `round(rate·30)` frames, like `librosa.load(duration=30)`;
    /// `None`: the whole file.
    pub max_duration_s: Option<f64>,
}

/// A decoded clip: mono, at [`SAMPLE_RATE`].
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// Mono samples at 22050 Hz.
    pub samples: Vec<f32>,
    /// The file's own sample rate.
    pub source_rate: u32,
    /// The file's channel count before the downmix.
    pub source_channels: u16,
    /// Length of the decoded (possibly truncated) audio, in seconds.
    pub duration_s: f64,
}

/// Why a file could not be loaded. Every message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{}: cannot read the file: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: the file is empty", path.display())]
    EmptyFile { path: PathBuf },
    #[error(
        "{}: not a supported audio format (genred reads WAV, FLAC, MP3, Ogg Vorbis and AU)",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf },
    #[error("{}: corrupt or truncated audio: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: the file holds no audio track", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("{}: unsupported audio codec: {codec}", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("{}: the file holds no audio samples", path.display())]
    NoSamples { path: PathBuf },
    #[error("{}: {source}", path.display())]
    SampleRate {
        path: PathBuf,
        source: ResampleError,
    },
}

/// Loads `path` as a mono clip at [`SAMPLE_RATE`], with librosa 0.6.1's loading semantics.
pub fn load(path: &Path, options: LoadOptions) -> Result<Clip, AudioError> {
    let decoded = decode(path, options.max_duration_s)?;
    if decoded.mono.is_empty() {
        return Err(AudioError::NoSamples {
            path: path.to_owned(),
        });
    }
    let duration_s = decoded.mono.len() as f64 / f64::from(decoded.rate);
    let samples = if decoded.rate == SAMPLE_RATE {
        decoded.mono
    } else {
        resample::try_resample(&decoded.mono, decoded.rate, SAMPLE_RATE).map_err(|source| {
            AudioError::SampleRate {
                path: path.to_owned(),
                source,
            }
        })?
    };
    Ok(Clip {
        samples,
        source_rate: decoded.rate,
        source_channels: decoded.channels,
        duration_s,
    })
}

/// A file's audio, downmixed and truncated but at its own rate.
struct Decoded {
    mono: Vec<f32>,
    rate: u32,
    channels: u16,
}

/// How many frames to keep from a file at `rate`: `round(rate·duration)`, as librosa 0.6.1.
fn frame_limit(max_duration_s: Option<f64>, rate: u32) -> Option<usize> {
    max_duration_s.map(|seconds| (seconds * f64::from(rate)).round().max(0.0) as usize)
}

fn decode(path: &Path, max_duration_s: Option<f64>) -> Result<Decoded, AudioError> {
    let io_error = |source| AudioError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut magic = Vec::with_capacity(au::MAGIC.len());
    (&mut file)
        .take(au::MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(io_error)?;
    if magic.is_empty() {
        return Err(AudioError::EmptyFile {
            path: path.to_owned(),
        });
    }
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    if magic == au::MAGIC {
        decode_au(file, path, max_duration_s)
    } else {
        decode_with_symphonia(file, path, max_duration_s)
    }
}

fn decode_au(file: File, path: &Path, max_duration_s: Option<f64>) -> Result<Decoded, AudioError> {
    let mut reader = io::BufReader::new(file);
    let header = au::read_header(&mut reader).map_err(|error| au_error(path, error))?;
    let limit = frame_limit(max_duration_s, header.sample_rate);
    let planes =
        au::read_planes(&mut reader, &header, limit).map_err(|error| au_error(path, error))?;
    let mut mono = Vec::with_capacity(planes.first().map_or(0, Vec::len));
    append_downmix(&planes, usize::MAX, &mut mono);
    Ok(Decoded {
        mono,
        rate: header.sample_rate,
        channels: u16::try_from(header.channels).unwrap_or(u16::MAX),
    })
}

fn au_error(path: &Path, error: au::AuError) -> AudioError {
    let path = path.to_owned();
    match error {
        au::AuError::Io(source) => AudioError::Io { path, source },
        au::AuError::UnsupportedEncoding(code) => AudioError::UnsupportedCodec {
            path,
            codec: format!("AU encoding {code}"),
        },
        other => AudioError::Corrupt {
            path,
            reason: other.to_string(),
        },
    }
}

fn decode_with_symphonia(
    file: File,
    path: &Path,
    max_duration_s: Option<f64>,
) -> Result<Decoded, AudioError> {
    let corrupt = |reason: String| AudioError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let mut format = open_container(file, path)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::NoAudioTrack {
            path: path.to_owned(),
        })?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(|| AudioError::NoAudioTrack {
            path: path.to_owned(),
        })?;
    // A stream that ends before its stated length was cut short. MPEG audio states an exact
    // length only in a Xing/Info tag, which a LAME tag (the encoder delay) proves present;
    // without one symphonia estimates the length from the bitrate.
    let mpeg_audio = [CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3].contains(&params.codec);
    let declared_frames = track
        .num_frames
        .filter(|_| !mpeg_audio || track.delay.is_some());
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &Default::default())
        .map_err(|_| AudioError::UnsupportedCodec {
            path: path.to_owned(),
            codec: codec_name(params.codec),
        })?;
    let mut rate = params.sample_rate;
    let mut channels = params
        .channels
        .as_ref()
        .map_or(0, |channels| channels.count());
    let mut limit = rate.and_then(|rate| frame_limit(max_duration_s, rate));

    let expected_frames = limit.or(declared_frames.map(|frames| frames as usize));
    let mut mono = Vec::with_capacity(expected_frames.unwrap_or(0).min(MAX_RESERVED_FRAMES));
    let mut planes: Vec<Vec<f32>> = Vec::new();
    let mut packets = 0usize;
    let position = |frames: usize, rate: Option<u32>| match rate {
        Some(rate) => format!("{:.3} s", frames as f64 / f64::from(rate)),
        None => format!("frame {frames}"),
    };
    while limit.is_none_or(|limit| mono.len() < limit) {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            // A chained Ogg stream's next link counts as the end of this one.
            Ok(None) | Err(SymphoniaError::ResetRequired) => break,
            Err(error) => {
                return Err(corrupt(format!(
                    "{error} (reading packet {}, {} into the audio)",
                    packets + 1,
                    position(mono.len(), rate)
                )))
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        let buffer = decoder.decode(&packet).map_err(|error| {
            corrupt(format!(
                "{error} (decoding packet {packets}, {} into the audio)",
                position(mono.len(), rate)
            ))
        })?;
        if rate.is_none() {
            rate = Some(buffer.spec().rate());
            limit = frame_limit(max_duration_s, buffer.spec().rate());
        }
        buffer.copy_to_vecs_planar::<f32>(&mut planes);
        channels = planes.len();
        let room = limit.map_or(usize::MAX, |limit| limit.saturating_sub(mono.len()));
        append_downmix(&planes, room, &mut mono);
    }
    if let Some(declared) = declared_frames {
        let expected = limit.map_or(declared, |limit| declared.min(limit as u64));
        if (mono.len() as u64) < expected {
            return Err(corrupt(format!(
                "the stream ends after {} of its {}",
                position(mono.len(), rate),
                position(declared as usize, rate)
            )));
        }
    }
    let rate = rate
        .filter(|&rate| rate > 0)
        .ok_or_else(|| corrupt("the stream declares no sample rate".to_owned()))?;
    Ok(Decoded {
        mono,
        rate,
        channels: u16::try_from(channels).unwrap_or(u16::MAX),
    })
}

/// A name for a codec that the containers genred opens may hold but symphonia's default build
/// does not decode.
fn codec_name(codec: AudioCodecId) -> String {
    let known = [
        (CODEC_ID_OPUS, "Opus"),
        (CODEC_ID_AAC, "AAC"),
        (CODEC_ID_ALAC, "Apple Lossless (ALAC)"),
        (CODEC_ID_AC3, "Dolby Digital (AC-3)"),
        (CODEC_ID_EAC3, "Dolby Digital Plus (E-AC-3)"),
        (CODEC_ID_DCA, "DTS"),
        (CODEC_ID_WMA, "Windows Media Audio"),
        (CODEC_ID_SPEEX, "Speex"),
        (CODEC_ID_WAVPACK, "WavPack"),
    ];
    known.iter().find(|(id, _)| *id == codec).map_or_else(
        || format!("codec id {codec}"),
        |(_, name)| (*name).to_owned(),
    )
}

/// Identifies the container by its content (the extension is only a hint) and reads its
/// headers.
fn open_container(file: File, path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|extension| extension.to_str()) {
        hint.with_extension(extension);
    }
    symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|error| match error {
            SymphoniaError::Unsupported(_) => AudioError::UnsupportedFormat {
                path: path.to_owned(),
            },
            SymphoniaError::IoError(source) if source.kind() != io::ErrorKind::UnexpectedEof => {
                AudioError::Io {
                    path: path.to_owned(),
                    source,
                }
            }
            other => AudioError::Corrupt {
                path: path.to_owned(),
                reason: format!("cannot open the stream: {other}"),
            },
        })
}

/// Appends up to `max_frames` frames of `planes` (one per channel) to `mono` as the mean of
/// the channels, summed in channel order and divided in f32 like numpy's `mean(axis=0)`:
/// `(L+R)/2` for stereo.
fn append_downmix(planes: &[Vec<f32>], max_frames: usize, mono: &mut Vec<f32>) {
    let Some((first, others)) = planes.split_first() else {
        return;
    };
    let frames = first.len().min(max_frames);
    if others.is_empty() {
        mono.extend_from_slice(&first[..frames]);
        return;
    }
    let channel_count = planes.len() as f32;
    mono.extend((0..frames).map(|frame| {
        let sum = others
            .iter()
            .fold(first[frame], |sum, plane| sum + plane[frame]);
        sum / channel_count
    }));
}
