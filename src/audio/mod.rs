//! Audio in: any supported file as mono blocks at its own rate while it is decoded
//! ([`Decoder`]), or whole as a mono clip at 22050 Hz, as `librosa.load(path, duration=30)`
//! gives it ([`load`]; spec §2 of `librosa-features.md`).
//!
//! The steps, in librosa 0.6.1's order: decode to f32 with libsndfile's integer scaling
//! (symphonia for WAV, FLAC, MP3 and Ogg Vorbis; `au.rs` for GTZAN's Sun audio), average the
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
pub mod resample;
pub mod wav;

use std::fs::File;
use std::io::{self, Cursor, Read, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_AC3, CODEC_ID_ALAC, CODEC_ID_DCA, CODEC_ID_EAC3, CODEC_ID_MP1,
    CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_SPEEX, CODEC_ID_WAVPACK, CODEC_ID_WMA,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

pub use crate::features::SAMPLE_RATE;
use crate::record::WithPath;
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

/// [`load`] reserves its output from a header's length up to this many frames (six minutes
/// at 44.1 kHz): a header may lie, and a longer file just grows the buffer.
const MAX_RESERVED_FRAMES: usize = 1 << 24;

/// Frames an AU file is read in at a time (symphonia's formats come a packet at a time).
const AU_BLOCK_FRAMES: usize = 4096;

/// The largest sample magnitude accepted: 40 dB over full scale. Float files may exceed ±1
/// a little (mastering headroom, unclipped mixes), but nothing playable comes near this; a
/// `1e30` sample is a broken writer, and its power spectrum would overflow the features.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 100.0;

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

/// Why a file could not be loaded; the file's path comes with it, once, as a
/// [`WithPath`], whose message starts with it.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read the file: {cause}")]
    Io { cause: io::Error },
    #[error("the file is empty")]
    EmptyFile,
    #[error("not a supported audio format (genred reads WAV, FLAC, MP3, Ogg Vorbis and AU)")]
    UnsupportedFormat,
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
    /// More audio than the cap of [`load_capped`] or [`DecodeLimits::cap_s`], which the
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

/// How much of a file a [`Decoder`] hands out, in seconds of audio.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecodeLimits {
    /// Keep the first `round(rate·keep_s)` frames and stop there, as librosa 0.6.1's
    /// `duration` does ([`LoadOptions::max_duration_s`]).
    pub keep_s: Option<f64>,
    /// Refuse with [`AudioError::TooLong`] a file holding more than `round(rate·cap_s)`
    /// frames; decoding stops one frame past them.
    pub cap_s: Option<f64>,
}

/// [`DecodeLimits`] in frames, once the rate is known.
#[derive(Clone, Copy, Debug)]
struct FrameLimits {
    /// `round(rate·keep_s)`, as librosa 0.6.1.
    keep: Option<usize>,
    /// `round(rate·cap_s)`: one frame more than this is too long.
    cap: Option<usize>,
}

impl DecodeLimits {
    fn frames(self, rate: u32) -> FrameLimits {
        let frames = |seconds: f64| (seconds * f64::from(rate)).round().max(0.0) as usize;
        FrameLimits {
            keep: self.keep_s.map(frames),
            cap: self.cap_s.map(frames),
        }
    }
}

impl FrameLimits {
    /// The most frames worth decoding: the kept part, or one frame past the cap (enough to
    /// know the file is longer), whichever comes first.
    fn decode(self) -> Option<usize> {
        let past_cap = self.cap.map(|cap| cap.saturating_add(1));
        match (self.keep, past_cap) {
            (Some(keep), Some(past_cap)) => Some(keep.min(past_cap)),
            (keep, past_cap) => keep.or(past_cap),
        }
    }

    fn exceeded_by(self, frames: usize) -> bool {
        self.cap.is_some_and(|cap| frames > cap)
    }
}

/// A file's audio as it is decoded: blocks of mono samples at the file's own rate (the mean
/// of the channels), a packet's worth at a time, so that memory does not grow with the file.
///
/// Every check of the module applies as the blocks come: a block holding a sample that is
/// not audio is an error naming the sample's position, a block that would take the stream
/// past [`DecodeLimits::cap_s`] is [`AudioError::TooLong`], and the end of the stream is
/// checked against its stated length (and for holding any sample at all) when
/// [`next_block`](Decoder::next_block) finds it. An error ends the stream.
pub struct Decoder<'s> {
    path: PathBuf,
    stream: Stream<'s>,
    /// The file's rate: known once [`Decoder::open`] returns.
    rate: Option<u32>,
    channels: usize,
    limits: DecodeLimits,
    frame_limits: Option<FrameLimits>,
    /// Frames handed out so far.
    frames: usize,
    /// The last packet, one plane per channel.
    planes: Vec<Vec<f32>>,
    /// The block handed out last (or about to be).
    block: Vec<f32>,
    /// `block` was decoded ahead, to learn the rate, and is still to be handed out.
    pending: bool,
    ended: bool,
}

/// Where a [`Decoder`]'s packets come from.
enum Stream<'s> {
    Au(au::AuSamples<io::BufReader<Box<dyn MediaSource + 's>>>),
    Symphonia(SymphoniaStream<'s>),
}

impl Decoder<'static> {
    /// Opens the file at `path`: its container and codec are recognised by content and its
    /// headers read; the samples come with [`next_block`](Decoder::next_block).
    pub fn open(path: &Path, limits: DecodeLimits) -> Result<Self, WithPath<AudioError>> {
        File::open(path)
            .map_err(|cause| AudioError::Io { cause })
            .and_then(|file| Decoder::of_source(Box::new(file), path, limits))
            .map_err(|error| WithPath::new(path, error))
    }
}

impl<'s> Decoder<'s> {
    /// [`Decoder::open`] for a file's bytes already in memory; `name` stands for the file in
    /// errors and its extension is the container hint, as a path's is.
    pub fn from_bytes(
        bytes: &'s [u8],
        name: &Path,
        limits: DecodeLimits,
    ) -> Result<Self, WithPath<AudioError>> {
        Decoder::of_source(Box::new(Cursor::new(bytes)), name, limits)
            .map_err(|error| WithPath::new(name, error))
    }

    /// The decoder of `source`, the file at `path` (whose extension is the container hint).
    fn of_source(
        mut source: Box<dyn MediaSource + 's>,
        path: &Path,
        limits: DecodeLimits,
    ) -> Result<Self, AudioError> {
        let io_error = |cause| AudioError::Io { cause };
        let mut magic = Vec::with_capacity(au::MAGIC.len());
        (&mut source)
            .take(au::MAGIC.len() as u64)
            .read_to_end(&mut magic)
            .map_err(io_error)?;
        if magic.is_empty() {
            return Err(AudioError::EmptyFile);
        }
        source.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let (stream, rate, channels) = if magic == au::MAGIC {
            let mut reader = io::BufReader::new(source);
            let header = au::read_header(&mut reader).map_err(au_error)?;
            let channels = header.channels as usize;
            let rate = header.sample_rate;
            (
                Stream::Au(au::AuSamples::new(reader, header)),
                Some(rate),
                channels,
            )
        } else {
            let (stream, rate, channels) = SymphoniaStream::open(source, path)?;
            (Stream::Symphonia(stream), rate, channels)
        };
        let rate = rate.filter(|&rate| rate > 0);
        let mut decoder = Decoder {
            path: path.to_owned(),
            stream,
            rate,
            channels,
            limits,
            frame_limits: rate.map(|rate| limits.frames(rate)),
            frames: 0,
            planes: Vec::new(),
            block: Vec::new(),
            pending: false,
            ended: false,
        };
        if decoder.rate.is_none() {
            // The rate comes with the first packet: decode it now, hand it out first.
            decoder.pending = decoder.decode_block()?;
        }
        if decoder.rate.is_none() {
            return Err(decoder.corrupt("the stream declares no sample rate".to_owned()));
        }
        Ok(decoder)
    }

    /// The file's sample rate, at which the blocks come.
    pub fn sample_rate(&self) -> u32 {
        self.rate.unwrap_or_default()
    }

    /// The file's channel count before the downmix (the last packet's, for a stream that
    /// changes it).
    pub fn channels(&self) -> u16 {
        u16::try_from(self.channels).unwrap_or(u16::MAX)
    }

    /// Seconds of audio handed out so far: the file's length, once the stream has ended.
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.sample_rate())
    }

    /// The frames the file's header states it holds, if it does (a header may lie: this is
    /// a plan, never a bound).
    pub fn stated_frames(&self) -> Option<u64> {
        match &self.stream {
            Stream::Au(samples) => samples.header().frames(),
            Stream::Symphonia(stream) => stream.declared_frames,
        }
    }

    /// How many frames the stream will hand out if its header tells the truth, when it
    /// states its length or a limit bounds it.
    pub fn length_hint(&self) -> Option<usize> {
        let declared = self
            .stated_frames()
            .map(|frames| usize::try_from(frames).unwrap_or(usize::MAX));
        let limit = self.frame_limits.and_then(FrameLimits::decode);
        match (limit, declared) {
            (Some(limit), Some(declared)) => Some(limit.min(declared)),
            (limit, declared) => limit.or(declared),
        }
    }

    /// The next block of mono samples at [`sample_rate`](Self::sample_rate), or `None` once
    /// the stream has ended whole.
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, WithPath<AudioError>> {
        let more = if self.pending {
            self.pending = false;
            true
        } else {
            self.decode_block()
                .map_err(|error| WithPath::new(&self.path, error))?
        };
        Ok(more.then_some(&self.block[..]))
    }

    /// Decodes the next non-empty block into `block` and checks it; false at the (checked)
    /// end of the stream.
    fn decode_block(&mut self) -> Result<bool, AudioError> {
        if self.ended {
            return Ok(false);
        }
        let result = self.try_decode_block();
        if !matches!(result, Ok(true)) {
            self.ended = true;
        }
        result
    }

    fn try_decode_block(&mut self) -> Result<bool, AudioError> {
        self.block.clear();
        while self.block.is_empty() {
            let room = self.room();
            if room == 0 {
                return self.check_end().map(|()| false);
            }
            let decoded = match &mut self.stream {
                Stream::Au(samples) => {
                    let frames = samples
                        .read_block(room.min(AU_BLOCK_FRAMES), &mut self.planes)
                        .map_err(au_error)?;
                    frames > 0
                }
                Stream::Symphonia(stream) => {
                    let at = Position {
                        frames: self.frames,
                        rate: self.rate,
                    };
                    match stream.next_packet(&mut self.planes, at)? {
                        Some(packet_rate) => {
                            if self.rate.is_none() {
                                self.rate = Some(packet_rate).filter(|&rate| rate > 0);
                                self.frame_limits = self.rate.map(|rate| self.limits.frames(rate));
                            }
                            self.channels = self.planes.len();
                            true
                        }
                        None => false,
                    }
                }
            };
            if !decoded {
                return self.check_end().map(|()| false);
            }
            // Again: the first packet may have brought the rate, and with it the limits.
            append_downmix(&self.planes, self.room(), &mut self.block);
        }
        check_samples(&self.block, self.position(self.frames))?;
        let frames = self.frames + self.block.len();
        if self
            .frame_limits
            .is_some_and(|limits| limits.exceeded_by(frames))
        {
            return Err(AudioError::TooLong {
                limit_s: self.limits.cap_s.unwrap_or(f64::INFINITY),
            });
        }
        self.frames = frames;
        Ok(true)
    }

    /// How many more frames to decode: up to the kept part, or one past the cap.
    fn room(&self) -> usize {
        self.frame_limits
            .and_then(FrameLimits::decode)
            .map_or(usize::MAX, |limit| limit.saturating_sub(self.frames))
    }

    /// The stream has no packet left: it must hold what its header states (up to what was
    /// to be kept), declare its rate, and hold some audio.
    fn check_end(&self) -> Result<(), AudioError> {
        if let Stream::Symphonia(SymphoniaStream {
            declared_frames: Some(declared),
            ..
        }) = self.stream
        {
            let kept = self.frame_limits.and_then(|limits| limits.keep);
            let expected = kept.map_or(declared, |kept| declared.min(kept as u64));
            if (self.frames as u64) < expected {
                return Err(self.corrupt(format!(
                    "the stream ends after {} of its {}",
                    self.position(self.frames),
                    self.position(declared as usize)
                )));
            }
        }
        if self.rate.is_none() {
            return Err(self.corrupt("the stream declares no sample rate".to_owned()));
        }
        if self.frames == 0 {
            return Err(AudioError::NoSamples);
        }
        Ok(())
    }

    fn position(&self, frames: usize) -> Position {
        Position {
            frames,
            rate: self.rate,
        }
    }

    fn corrupt(&self, reason: String) -> AudioError {
        AudioError::Corrupt { reason }
    }
}

/// The first sample of `block` that is not finite, or beyond [`MAX_SAMPLE_MAGNITUDE`], is an
/// error; `start` is where the block begins in the audio.
fn check_samples(block: &[f32], start: Position) -> Result<(), AudioError> {
    let Some((index, &value)) = block
        .iter()
        .enumerate()
        .find(|(_, sample)| !sample.is_finite() || sample.abs() > MAX_SAMPLE_MAGNITUDE)
    else {
        return Ok(());
    };
    let position = Position {
        frames: start.frames + index,
        ..start
    }
    .to_string();
    Err(if value.is_finite() {
        AudioError::OutOfRange { position, value }
    } else {
        AudioError::NonFinite { position }
    })
}

/// Where in the audio a frame is, for errors: seconds once the rate is known.
#[derive(Clone, Copy, Debug)]
struct Position {
    frames: usize,
    rate: Option<u32>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rate {
            Some(rate) if rate > 0 => write!(f, "{:.3} s", self.frames as f64 / f64::from(rate)),
            _ => write!(f, "frame {}", self.frames),
        }
    }
}

fn au_error(error: au::AuError) -> AudioError {
    match error {
        au::AuError::Io(cause) => AudioError::Io { cause },
        au::AuError::UnsupportedEncoding(code) => AudioError::UnsupportedCodec {
            codec: format!("AU encoding {code}"),
        },
        other => AudioError::Corrupt {
            reason: other.to_string(),
        },
    }
}

/// A file symphonia reads: its container, the audio track's decoder, and what the track
/// states about its length.
struct SymphoniaStream<'s> {
    format: Box<dyn FormatReader + 's>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// The length the stream states, when it states one it can be held to.
    declared_frames: Option<u64>,
    /// Packets of the track decoded so far.
    packets: usize,
}

impl<'s> SymphoniaStream<'s> {
    /// Opens the container and the decoder of its audio track; with the stream, the rate and
    /// channel count its header gives (the rate may come only with the first packet).
    fn open(
        source: Box<dyn MediaSource + 's>,
        path: &Path,
    ) -> Result<(Self, Option<u32>, usize), AudioError> {
        let format = open_container(source, path)?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or(AudioError::NoAudioTrack)?;
        let track_id = track.id;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|params| params.audio())
            .ok_or(AudioError::NoAudioTrack)?;
        // One rule for every format: a stream that ends before its stated length was cut
        // short, and a stream that states none ends where the file ends. MPEG audio states an
        // exact length only in a Xing/Info tag, which a LAME tag (the encoder delay) proves
        // present; without one symphonia estimates the length from the bitrate and the file's
        // own size, which a cut shrinks along with the audio, so the estimate is no stated
        // length.
        let mpeg_audio = [CODEC_ID_MP1, CODEC_ID_MP2, CODEC_ID_MP3].contains(&params.codec);
        let declared_frames = track
            .num_frames
            .filter(|_| !mpeg_audio || track.delay.is_some());
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &Default::default())
            .map_err(|_| AudioError::UnsupportedCodec {
                codec: codec_name(params.codec),
            })?;
        let rate = params.sample_rate;
        let channels = params
            .channels
            .as_ref()
            .map_or(0, |channels| channels.count());
        let stream = SymphoniaStream {
            format,
            decoder,
            track_id,
            declared_frames,
            packets: 0,
        };
        Ok((stream, rate, channels))
    }

    /// Decodes the track's next packet into `planes` (one per channel) and returns its rate;
    /// `None` at the end of the stream. `at` is how far decoding got, for errors.
    fn next_packet(
        &mut self,
        planes: &mut Vec<Vec<f32>>,
        at: Position,
    ) -> Result<Option<u32>, AudioError> {
        let corrupt = |reason: String| AudioError::Corrupt { reason };
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                // A chained Ogg stream's next link counts as the end of this one.
                Ok(None) | Err(SymphoniaError::ResetRequired) => return Ok(None),
                // A stream that states no length ends where the file does: a WAV written to a
                // pipe (sizes 0xFFFFFFFF, as `ffmpeg -f wav -` writes) is read until the
                // reader hits the end of the file. With a stated length, the same end is a cut.
                Err(SymphoniaError::IoError(error))
                    if self.declared_frames.is_none()
                        && error.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(None)
                }
                Err(error) => {
                    return Err(corrupt(format!(
                        "{error} (reading packet {}, {at} into the audio)",
                        self.packets + 1,
                    )))
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            self.packets += 1;
            let buffer = self.decoder.decode(&packet).map_err(|error| {
                corrupt(format!(
                    "{error} (decoding packet {}, {at} into the audio)",
                    self.packets
                ))
            })?;
            buffer.copy_to_vecs_planar::<f32>(planes);
            return Ok(Some(buffer.spec().rate()));
        }
    }
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
fn open_container<'s>(
    source: Box<dyn MediaSource + 's>,
    path: &Path,
) -> Result<Box<dyn FormatReader + 's>, AudioError> {
    let stream = MediaSourceStream::new(source, Default::default());
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
            SymphoniaError::Unsupported(_) => AudioError::UnsupportedFormat,
            SymphoniaError::IoError(cause) if cause.kind() != io::ErrorKind::UnexpectedEof => {
                AudioError::Io { cause }
            }
            other => AudioError::Corrupt {
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
