//! The [`Decoder`]: a file's audio as blocks of mono samples, checked as they come.

use std::fs::File;
use std::io::{self, Cursor, Read, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::io::MediaSource;

use super::au;
use super::error::{AudioError, Position, MAX_SAMPLE_MAGNITUDE};
use super::symphonia_stream::SymphoniaStream;
use crate::record::WithPath;

/// Frames an AU file is read in at a time (symphonia's formats come a packet at a time).
const AU_BLOCK_FRAMES: usize = 4096;

/// How much of a file's start is read to tell its format: the longest magic below.
const MAGIC_BYTES: usize = 16;

/// Formats a music library holds that genred has no decoder for, by the magic their files
/// start with. They are told apart before symphonia probes, which scans ahead for any header
/// it knows: a WavPack file made by `wavpack` carries the source WAV's RIFF header a few dozen
/// bytes in, and was reported as a corrupt WAV.
const REFUSED_FORMATS: &[(&[u8], &str)] = &[
    (b"wvpk", "WavPack"),
    // The ASF header object's GUID: Windows Media Audio's container.
    (
        &[
            0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
            0xCE, 0x6C,
        ],
        "Windows Media Audio (ASF)",
    ),
];

/// How much of a file a [`Decoder`] hands out, in seconds of audio.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DecodeLimits {
    /// Keep the first `round(rate·keep_s)` frames and stop there, as librosa 0.6.1's
    /// `duration` does (`LoadOptions::max_duration_s`).
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
    pub(super) path: PathBuf,
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
        let mut magic = Vec::with_capacity(MAGIC_BYTES);
        (&mut source)
            .take(MAGIC_BYTES as u64)
            .read_to_end(&mut magic)
            .map_err(io_error)?;
        if magic.is_empty() {
            return Err(AudioError::EmptyFile);
        }
        if let Some(format) = refused_format(&magic) {
            return Err(AudioError::KnownUnsupportedFormat { format });
        }
        source.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let (stream, rate, channels) = if magic.starts_with(&au::MAGIC) {
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

/// The name of the format `magic` (a file's first bytes) is refused as, if it is one.
fn refused_format(magic: &[u8]) -> Option<&'static str> {
    REFUSED_FORMATS
        .iter()
        .find(|(prefix, _)| magic.starts_with(prefix))
        .map(|(_, name)| *name)
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
