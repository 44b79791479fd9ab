//! The formats symphonia reads (WAV, AIFF, CAF, FLAC, MP3, ADTS AAC, MP4/M4A with AAC or ALAC,
//! Ogg with Vorbis or Opus): the container, its audio track's decoder, and the length the track
//! states.

use std::io;
use std::path::Path;
use std::sync::LazyLock;

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_AC3, CODEC_ID_ALAC, CODEC_ID_DCA, CODEC_ID_EAC3, CODEC_ID_MP1,
    CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_SPEEX, CODEC_ID_WAVPACK, CODEC_ID_WMA,
};
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::error::{AudioError, Position};
use super::tags::Untagged;

/// symphonia's decoders, and libopus for Opus, which symphonia has no decoder of its own for.
static CODECS: LazyLock<CodecRegistry> = LazyLock::new(|| {
    let mut codecs = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut codecs);
    codecs.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    codecs
});

/// A file symphonia reads: its container, the audio track's decoder, and what the track
/// states about its length.
pub(super) struct SymphoniaStream<'s> {
    format: Box<dyn FormatReader + 's>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// The length the stream states, when it states one it can be held to.
    pub(super) declared_frames: Option<u64>,
    /// Packets of the track decoded so far.
    packets: usize,
}

impl<'s> SymphoniaStream<'s> {
    /// Opens the container and the decoder of its audio track; with the stream, the rate and
    /// channel count its header gives (the rate may come only with the first packet).
    pub(super) fn open(
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
        // Ogg Opus states its length as the last granule position, which counts the pre-skip
        // (the track's delay) that the decoder drops from the first packet.
        let pre_skip = if params.codec == CODEC_ID_OPUS {
            track.delay.map_or(0, u64::from)
        } else {
            0
        };
        let declared_frames = track
            .num_frames
            .filter(|_| !mpeg_audio || track.delay.is_some())
            .map(|frames| frames.saturating_sub(pre_skip));
        let decoder = CODECS
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
    pub(super) fn next_packet(
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

/// A name for a codec that the containers genred opens may hold but it does not decode (or not
/// in every profile: symphonia's AAC decoder is AAC-LC only).
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
/// headers, with its tags hidden ([`Untagged`]).
fn open_container<'s>(
    source: Box<dyn MediaSource + 's>,
    path: &Path,
) -> Result<Box<dyn FormatReader + 's>, AudioError> {
    let source = Untagged::new(source).map_err(|cause| AudioError::Io { cause })?;
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
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
