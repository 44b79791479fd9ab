//! Sun/NeXT audio (`.au`, `.snd`), the format GTZAN ships in, which symphonia does not read.
//!
//! A 24-byte big-endian header (magic `.snd`, data offset, data size, encoding, sample rate,
//! channels), an optional annotation up to the data offset, then interleaved big-endian
//! samples. Samples are scaled to f32 exactly as libsndfile (and so librosa) does: integers by
//! 1/2^(bits−1), floats passed through, µ-law and A-law through the G.711 16-bit tables.

use std::io::{self, Read};

/// The first four bytes of every AU file.
pub const MAGIC: [u8; 4] = *b".snd";
/// Bytes in the fixed part of the header.
const HEADER_LEN: u32 = 24;
/// The data size a writer that could not seek back puts in the header: "until end of file".
const UNKNOWN_DATA_SIZE: u32 = u32::MAX;
/// libsndfile's channel limit; more is a corrupt header, not audio.
const MAX_CHANNELS: u32 = 1024;

/// The AU sample encodings genred decodes (codes from the format's specification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    MuLaw8,
    Linear8,
    Linear16,
    Linear24,
    Linear32,
    Float32,
    Float64,
    ALaw8,
}

impl Encoding {
    fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Encoding::MuLaw8,
            2 => Encoding::Linear8,
            3 => Encoding::Linear16,
            4 => Encoding::Linear24,
            5 => Encoding::Linear32,
            6 => Encoding::Float32,
            7 => Encoding::Float64,
            27 => Encoding::ALaw8,
            _ => return None,
        })
    }

    fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::MuLaw8 | Encoding::ALaw8 | Encoding::Linear8 => 1,
            Encoding::Linear16 => 2,
            Encoding::Linear24 => 3,
            Encoding::Linear32 | Encoding::Float32 => 4,
            Encoding::Float64 => 8,
        }
    }

    /// One sample from its `bytes_per_sample` big-endian bytes.
    fn decode(self, bytes: &[u8]) -> f32 {
        const SCALE_8: f32 = 1.0 / 128.0;
        const SCALE_16: f32 = 1.0 / 32_768.0;
        const SCALE_24: f32 = 1.0 / 8_388_608.0;
        const SCALE_32: f32 = 1.0 / 2_147_483_648.0;
        match self {
            Encoding::MuLaw8 => f32::from(mu_law_to_linear(bytes[0])) * SCALE_16,
            Encoding::ALaw8 => f32::from(a_law_to_linear(bytes[0])) * SCALE_16,
            Encoding::Linear8 => f32::from(bytes[0] as i8) * SCALE_8,
            Encoding::Linear16 => f32::from(i16::from_be_bytes([bytes[0], bytes[1]])) * SCALE_16,
            // The 24-bit sample in the top of an i32; the shift back sign-extends it.
            Encoding::Linear24 => {
                (i32::from_be_bytes([bytes[0], bytes[1], bytes[2], 0]) >> 8) as f32 * SCALE_24
            }
            Encoding::Linear32 => {
                i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f32 * SCALE_32
            }
            Encoding::Float32 => f32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            Encoding::Float64 => {
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                f64::from_be_bytes(word) as f32
            }
        }
    }
}

/// G.711 µ-law to 16-bit linear (the table libsndfile uses: ±32124 full scale).
fn mu_law_to_linear(code: u8) -> i16 {
    const BIAS: i16 = 0x84;
    let code = !code;
    let exponent = (code >> 4) & 0x07;
    let mantissa = i16::from(code & 0x0f);
    let magnitude = ((mantissa << 3) + BIAS) << exponent;
    if code & 0x80 != 0 {
        BIAS - magnitude
    } else {
        magnitude - BIAS
    }
}

/// G.711 A-law to 16-bit linear (the table libsndfile uses: ±32256 full scale).
fn a_law_to_linear(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = (code & 0x70) >> 4;
    let mut magnitude = i16::from(code & 0x0f) << 4;
    magnitude += match segment {
        0 => 8,
        _ => 0x108,
    };
    if segment > 1 {
        magnitude <<= segment - 1;
    }
    if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// Why an AU stream cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AuError {
    #[error("not an AU file: it does not start with \".snd\"")]
    NotAu,
    #[error("truncated AU header: the file ends after {available} of its {needed} header bytes")]
    TruncatedHeader { available: u64, needed: u32 },
    #[error("corrupt AU header: audio data would start at byte {0}, inside the 24-byte header")]
    DataOffsetInsideHeader(u32),
    #[error(
        "unsupported AU encoding {0} (genred reads µ-law, A-law, 8/16/24/32-bit PCM and float)"
    )]
    UnsupportedEncoding(u32),
    #[error("corrupt AU header: sample rate of 0 Hz")]
    ZeroSampleRate,
    #[error("corrupt AU header: {0} channels (1 to {MAX_CHANNELS} are possible)")]
    ChannelCount(u32),
    #[error(
        "truncated AU file: the header declares {declared} bytes of audio, the file holds {available}"
    )]
    TruncatedData { declared: u64, available: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// What an AU header says about the samples that follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuHeader {
    encoding: Encoding,
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u32,
    /// Bytes of sample data, unless the writer left the size unknown.
    data_size: Option<u64>,
}

/// Reads an AU header and its annotation from the stream's first byte, leaving the reader at
/// the first sample.
pub fn read_header(reader: &mut impl Read) -> Result<AuHeader, AuError> {
    let mut header = [0u8; HEADER_LEN as usize];
    let available = read_up_to(reader, &mut header)?;
    if available >= MAGIC.len() && header[..MAGIC.len()] != MAGIC {
        return Err(AuError::NotAu);
    }
    if available < header.len() {
        return Err(AuError::TruncatedHeader {
            available: available as u64,
            needed: HEADER_LEN,
        });
    }
    let field = |index: usize| {
        let start = 4 * index;
        u32::from_be_bytes([
            header[start],
            header[start + 1],
            header[start + 2],
            header[start + 3],
        ])
    };
    let (data_offset, data_size, encoding_code, sample_rate, channels) =
        (field(1), field(2), field(3), field(4), field(5));
    if data_offset < HEADER_LEN {
        return Err(AuError::DataOffsetInsideHeader(data_offset));
    }
    let encoding =
        Encoding::from_code(encoding_code).ok_or(AuError::UnsupportedEncoding(encoding_code))?;
    if sample_rate == 0 {
        return Err(AuError::ZeroSampleRate);
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(AuError::ChannelCount(channels));
    }

    let annotation_len = u64::from(data_offset - HEADER_LEN);
    let skipped = io::copy(&mut reader.take(annotation_len), &mut io::sink())?;
    if skipped < annotation_len {
        return Err(AuError::TruncatedHeader {
            available: u64::from(HEADER_LEN) + skipped,
            needed: data_offset,
        });
    }
    Ok(AuHeader {
        encoding,
        sample_rate,
        channels,
        data_size: (data_size != UNKNOWN_DATA_SIZE).then_some(u64::from(data_size)),
    })
}

/// The samples after an AU header, decoded a block at a time into one plane per channel.
///
/// A declared data size larger than what follows is an error (the file was cut short); a
/// trailing partial frame is ignored, as libsndfile does.
pub struct AuSamples<R> {
    reader: R,
    header: AuHeader,
    /// Bytes of sample data read so far.
    read_bytes: u64,
    /// Whether the reader is exhausted (or the declared data all read).
    ended: bool,
    /// The raw bytes of the current block, kept to reuse their allocation.
    bytes: Vec<u8>,
}

impl<R: Read> AuSamples<R> {
    /// The samples that follow `header` in `reader`, which [`read_header`] left at the first
    /// one.
    pub fn new(reader: R, header: AuHeader) -> Self {
        AuSamples {
            reader,
            header,
            read_bytes: 0,
            ended: false,
            bytes: Vec::new(),
        }
    }

    /// The header the samples follow.
    pub fn header(&self) -> &AuHeader {
        &self.header
    }

    /// Decodes the next `max_frames` frames (fewer at the end) into `planes`, one per channel,
    /// replacing what they held; returns the frames decoded, 0 at the end of the samples.
    pub fn read_block(
        &mut self,
        max_frames: usize,
        planes: &mut Vec<Vec<f32>>,
    ) -> Result<usize, AuError> {
        let sample_bytes = self.header.encoding.bytes_per_sample();
        let frame_bytes = self.header.frame_bytes();
        let left_bytes = self
            .header
            .data_size
            .map_or(u64::MAX, |declared| declared - self.read_bytes);
        let block_bytes = if self.ended {
            0
        } else {
            (max_frames.max(1) as u64)
                .saturating_mul(frame_bytes as u64)
                .min(left_bytes)
        };
        self.bytes.resize(block_bytes as usize, 0);
        let filled = read_up_to(&mut self.reader, &mut self.bytes)?;
        self.read_bytes += filled as u64;
        if filled < self.bytes.len() {
            if let Some(declared) = self.header.data_size {
                return Err(AuError::TruncatedData {
                    declared,
                    available: self.read_bytes,
                });
            }
        }
        // Past the declared data, or past the file's end (a partial frame is dropped).
        self.ended |= filled < self.bytes.len() || Some(self.read_bytes) == self.header.data_size;
        let frames = filled / frame_bytes;
        planes.resize_with(self.header.channels as usize, Vec::new);
        for plane in planes.iter_mut() {
            plane.clear();
        }
        for frame in self.bytes[..frames * frame_bytes].chunks_exact(frame_bytes) {
            for (plane, sample) in planes.iter_mut().zip(frame.chunks_exact(sample_bytes)) {
                plane.push(self.header.encoding.decode(sample));
            }
        }
        Ok(frames)
    }
}

impl AuHeader {
    /// The frames the header declares, unless the writer left the size unknown.
    pub fn frames(&self) -> Option<u64> {
        self.data_size
            .map(|bytes| bytes / self.frame_bytes() as u64)
    }

    fn frame_bytes(&self) -> usize {
        self.channels as usize * self.encoding.bytes_per_sample()
    }
}

/// Fills as much of `buffer` as the reader holds; returns how many bytes that was.
fn read_up_to(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An AU file: header with the given fields, `annotation`, then `data`.
    fn au_file(encoding: u32, rate: u32, channels: u32, annotation: &[u8], data: &[u8]) -> Vec<u8> {
        au_file_declaring(
            encoding,
            rate,
            channels,
            annotation,
            data,
            data.len() as u32,
        )
    }

    fn au_file_declaring(
        encoding: u32,
        rate: u32,
        channels: u32,
        annotation: &[u8],
        data: &[u8],
        declared_size: u32,
    ) -> Vec<u8> {
        let data_offset = HEADER_LEN + annotation.len() as u32;
        let mut file = MAGIC.to_vec();
        for field in [data_offset, declared_size, encoding, rate, channels] {
            file.extend_from_slice(&field.to_be_bytes());
        }
        file.extend_from_slice(annotation);
        file.extend_from_slice(data);
        file
    }

    /// The header's sample rate and the planes of a whole AU file, or the first
    /// `frame_limit` frames.
    fn read(file: &[u8], frame_limit: Option<usize>) -> Result<(u32, Vec<Vec<f32>>), AuError> {
        let mut reader = file;
        let header = read_header(&mut reader)?;
        let mut samples = AuSamples::new(reader, header);
        let mut planes = vec![Vec::new(); header.channels as usize];
        let mut block = Vec::new();
        let mut left = frame_limit.unwrap_or(usize::MAX);
        // Blocks of 3 frames, so that every file spans several.
        while left > 0 {
            let frames = samples.read_block(left.min(3), &mut block)?;
            if frames == 0 {
                break;
            }
            left -= frames;
            for (plane, part) in planes.iter_mut().zip(&block) {
                plane.extend_from_slice(part);
            }
        }
        Ok((header.sample_rate, planes))
    }

    fn read_all(file: &[u8]) -> Result<(u32, Vec<Vec<f32>>), AuError> {
        read(file, None)
    }

    fn mono(file: &[u8]) -> Vec<f32> {
        match read_all(file) {
            Ok((_, planes)) => {
                assert_eq!(planes.len(), 1);
                planes.into_iter().next().unwrap_or_default()
            }
            Err(error) => panic!("a valid AU file failed: {error}"),
        }
    }

    #[test]
    fn linear_16_bit_scales_by_2_to_the_15() {
        let data: Vec<u8> = [0i16, 1, -1, 32767, -32768]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let samples = mono(&au_file(3, 22050, 1, &[], &data));
        assert_eq!(
            samples,
            [0.0, 1.0 / 32768.0, -1.0 / 32768.0, 32767.0 / 32768.0, -1.0]
        );
    }

    #[test]
    fn linear_8_24_and_32_bit_scale_by_their_full_range() {
        let eight = mono(&au_file(2, 8000, 1, &[], &[0x00, 0x01, 0x7f, 0x80]));
        assert_eq!(eight, [0.0, 1.0 / 128.0, 127.0 / 128.0, -1.0]);

        let twenty_four = mono(&au_file(
            4,
            8000,
            1,
            &[],
            &[
                0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x7f, 0xff, 0xff,
            ],
        ));
        let scale = 8_388_608.0;
        assert_eq!(
            twenty_four,
            [1.0 / scale, -1.0 / scale, -1.0, 8_388_607.0 / scale]
        );

        let data: Vec<u8> = [1i32, i32::MIN, i32::MAX, -65536]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let thirty_two = mono(&au_file(5, 8000, 1, &[], &data));
        let scale = 2_147_483_648.0f64;
        // As libsndfile: the integer rounded to f32, then scaled; i32::MAX rounds to 2^31.
        assert_eq!(
            thirty_two,
            [(1.0 / scale) as f32, -1.0, 1.0, (-65536.0 / scale) as f32]
        );
    }

    #[test]
    fn floats_pass_through_unscaled() {
        let data: Vec<u8> = [0.5f32, -1.5, 1e-8]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        assert_eq!(mono(&au_file(6, 8000, 1, &[], &data)), [0.5, -1.5, 1e-8]);
        let data: Vec<u8> = [0.25f64, -2.0, 0.1]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        assert_eq!(
            mono(&au_file(7, 8000, 1, &[], &data)),
            [0.25, -2.0, 0.1f64 as f32]
        );
    }

    /// Reference values from the G.711 tables (as printed by CPython's `audioop.ulaw2lin` and
    /// `alaw2lin`, which libsndfile's `ulaw_decode`/`alaw_decode` tables equal).
    #[test]
    fn companded_8_bit_follows_the_g711_tables() {
        let mu = mono(&au_file(
            1,
            8000,
            1,
            &[],
            &[0x00, 0x80, 0xff, 0x7f, 0x70, 0xf0, 0x45, 0xc3, 0x21],
        ));
        let expected_mu: Vec<f32> = [-32124i16, 32124, 0, 0, -120, 120, -1564, 1692, -7676]
            .iter()
            .map(|&x| f32::from(x) / 32768.0)
            .collect();
        assert_eq!(mu, expected_mu);

        let a = mono(&au_file(
            27,
            8000,
            1,
            &[],
            &[0xd5, 0x55, 0xaa, 0x2a, 0x80, 0x00, 0x45, 0xc3, 0x21],
        ));
        let expected_a: Vec<f32> = [8i16, -8, 32256, -32256, 5504, -5504, -264, 360, -20992]
            .iter()
            .map(|&x| f32::from(x) / 32768.0)
            .collect();
        assert_eq!(a, expected_a);
    }

    #[test]
    fn stereo_frames_are_split_into_planes_and_the_annotation_skipped() {
        let data: Vec<u8> = [100i16, -100, 200, -200, 300, -300]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let file = au_file(3, 44100, 2, b"GTZAN\0\0\0", &data);
        let Ok((rate, planes)) = read_all(&file) else {
            panic!("a valid stereo AU file failed");
        };
        assert_eq!(rate, 44100);
        let scale = |values: [i16; 3]| values.map(|x| f32::from(x) / 32768.0).to_vec();
        assert_eq!(planes, [scale([100, 200, 300]), scale([-100, -200, -300])]);
    }

    #[test]
    fn unknown_data_size_reads_to_the_end_and_drops_a_partial_frame() {
        let data = [0x00, 0x10, 0x00, 0x20, 0x00];
        let file = au_file_declaring(3, 8000, 1, &[], &data, UNKNOWN_DATA_SIZE);
        assert_eq!(mono(&file), [16.0 / 32768.0, 32.0 / 32768.0]);
    }

    #[test]
    fn frame_limit_stops_decoding_early() {
        let data: Vec<u8> = (0..100i16).flat_map(|x| x.to_be_bytes()).collect();
        let file = au_file(3, 8000, 1, &[], &data);
        let Ok((_, planes)) = read(&file, Some(10)) else {
            panic!("a valid AU file failed");
        };
        assert_eq!(planes[0].len(), 10);
        assert_eq!(planes[0][9], 9.0 / 32768.0);
    }

    #[test]
    fn malformed_files_give_the_matching_error() {
        let valid = au_file(3, 8000, 1, &[], &[0, 1, 0, 2]);
        assert!(matches!(read_all(b"RIFF....WAVE"), Err(AuError::NotAu)));
        assert!(matches!(
            read_all(&valid[..10]),
            Err(AuError::TruncatedHeader {
                available: 10,
                needed: 24
            })
        ));
        let mut inside_header = valid.clone();
        inside_header[4..8].copy_from_slice(&8u32.to_be_bytes());
        assert!(matches!(
            read_all(&inside_header),
            Err(AuError::DataOffsetInsideHeader(8))
        ));
        assert!(matches!(
            read_all(&au_file(23, 8000, 1, &[], &[0; 4])),
            Err(AuError::UnsupportedEncoding(23))
        ));
        assert!(matches!(
            read_all(&au_file(3, 0, 1, &[], &[0; 4])),
            Err(AuError::ZeroSampleRate)
        ));
        assert!(matches!(
            read_all(&au_file(3, 8000, 0, &[], &[0; 4])),
            Err(AuError::ChannelCount(0))
        ));
        let cut_short = au_file_declaring(3, 8000, 1, &[], &[0; 6], 1000);
        assert!(matches!(
            read_all(&cut_short),
            Err(AuError::TruncatedData {
                declared: 1000,
                available: 6
            })
        ));
        let mut annotation_cut = au_file(3, 8000, 1, &[0; 16], &[]);
        annotation_cut.truncate(30);
        assert!(matches!(
            read_all(&annotation_cut),
            Err(AuError::TruncatedHeader {
                available: 30,
                needed: 40
            })
        ));
    }
}
