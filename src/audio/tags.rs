//! A file as symphonia is shown it: without the tags it would read whole into memory.
//!
//! genred classifies by the audio alone, and symphonia 0.6.1 reads every tag and picture it
//! finds into memory at the size the file declares: an ID3v2 frame declaring 250 MB took
//! 6.4 GB, and each FLAC PICTURE block is kept whole. Its `MetadataOptions` limits
//! (`limit_tag_bytes`, `limit_visual_bytes`) are declared but no reader of 0.6.1 enforces
//! them, so the bound is made here, by hiding the tags:
//! - ID3v2 tags at the start of a file (MP3, and FLAC or ADTS AAC as some taggers write them)
//!   are skipped by their declared size;
//! - APEv2 and ID3v2 tags at the end of a stream of frames (MP3, ADTS, FLAC), which
//!   symphonia's probe looks for, are cut off by the size their footers declare;
//! - FLAC metadata blocks other than STREAMINFO are shown as PADDING, AIFF and WAV chunks other
//!   than the audio's as `JUNK`, and an MP4 file's `udta` and `meta` atoms (its tags and cover
//!   art) as `free`, which symphonia passes over without reading.
//!
//! Tags are found by their headers alone, so hiding them takes a few bytes of memory per block
//! whatever they declare.

use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// An ID3v2 tag's header (and footer): `ID3` (`3DI`), version, revision, flags, then the tag's
/// size in four 7-bit bytes.
const ID3V2_HEADER_BYTES: u64 = 10;
/// The ID3v2.4 flag for a 10-byte footer after the tag, which its size does not count.
const ID3V2_FOOTER_FLAG: u8 = 0x10;
/// An APEv2 tag's footer (and optional header): `APETAGEX`, version, size (items and footer),
/// item count, flags, 8 reserved bytes.
const APE_FOOTER_BYTES: u64 = 32;
/// The APEv2 flag for a header before the items, which the tag's size does not count.
const APE_HAS_HEADER: u32 = 1 << 31;
/// An ID3v1 tag: the last 128 bytes, starting `TAG`.
const ID3V1_BYTES: u64 = 128;
/// The FLAC metadata block types kept: STREAMINFO (the rate, channels and length).
const FLAC_STREAMINFO: u8 = 0;
const FLAC_PADDING: u8 = 1;
/// The chunks of each chunked container that the audio needs; the others are shown as `JUNK`.
const AIFF_AUDIO_CHUNKS: &[&[u8; 4]] = &[b"COMM", b"SSND", b"FVER"];
const WAVE_AUDIO_CHUNKS: &[&[u8; 4]] = &[b"fmt ", b"data", b"fact", b"ds64"];
const JUNK: &[u8; 4] = b"JUNK";
/// The MP4 atom type symphonia skips, as it skips `JUNK` chunks.
const FREE: &[u8; 4] = b"free";
/// Metadata blocks or chunks looked at: far more than any writer puts in a file, and few
/// enough that their patches take no memory worth counting. Those past these are left to
/// symphonia as they are.
const MAX_BLOCKS: usize = 1024;

/// `inner` from where its container starts (past any leading ID3v2 tags) to where its audio
/// ends (before any trailing APEv2 or ID3v2 tags), its metadata blocks and chunks retyped as
/// ones symphonia skips.
pub(super) struct Untagged<'s> {
    inner: Box<dyn MediaSource + 's>,
    /// Where the view starts in `inner`.
    start: u64,
    /// Where the view ends in `inner`, if its length is known.
    end: Option<u64>,
    /// Where `inner` is.
    position: u64,
    /// Bytes of `inner` shown changed, by their offset in it; sorted.
    patches: Vec<(u64, u8)>,
}

impl<'s> Untagged<'s> {
    /// The view of `inner` (read from its start), positioned at its start.
    pub(super) fn new(mut inner: Box<dyn MediaSource + 's>) -> io::Result<Self> {
        let start = past_id3v2_tags(&mut inner)?;
        let mut head = [0; 8];
        inner.seek(SeekFrom::Start(start))?;
        read_up_to(&mut inner, &mut head)?;
        let [magic @ .., _, _, _, _] = head;
        let mp4 = head[4..] == *b"ftyp";
        let patches = match &magic {
            b"fLaC" => flac_padding_patches(&mut inner, start + 4)?,
            b"FORM" => junk_chunk_patches(&mut inner, start, Endian::Big)?,
            b"RIFF" => junk_chunk_patches(&mut inner, start, Endian::Little)?,
            _ if mp4 => free_atom_patches(&mut inner, start)?,
            _ => Vec::new(),
        };
        // Only a stream of frames may end in tags: a container states its own size.
        let framed = !mp4 && !matches!(&magic, b"FORM" | b"RIFF" | b"RF64" | b"caff" | b"OggS");
        let end = match inner.byte_len() {
            Some(length) if framed => Some(before_trailing_tags(&mut inner, start, length)?),
            length => length,
        };
        let position = inner.seek(SeekFrom::Start(start))?;
        Ok(Untagged {
            inner,
            start,
            end,
            position,
            patches,
        })
    }
}

/// Where the ID3v2 tags at the start of `source` end (0 without any). A file may hold several
/// in a row; each is skipped by the size its header states, without reading it.
fn past_id3v2_tags(source: &mut (impl Read + Seek)) -> io::Result<u64> {
    let mut at = 0;
    for _ in 0..MAX_BLOCKS {
        let Some(header) = read_at::<10>(source, at)? else {
            break;
        };
        let Some(size) = id3v2_size(&header, *b"ID3") else {
            break;
        };
        let footer = if header[3] == 4 && header[5] & ID3V2_FOOTER_FLAG != 0 {
            ID3V2_HEADER_BYTES
        } else {
            0
        };
        at += ID3V2_HEADER_BYTES + size + footer;
    }
    Ok(at)
}

/// The tag size an ID3v2 header (or footer, by its `marker`) states, if it is one: version 2 to
/// 4, and a size of four 7-bit bytes.
fn id3v2_size(header: &[u8; 10], marker: [u8; 3]) -> Option<u64> {
    let [m0, m1, m2, major, _revision, _flags, size @ ..] = *header;
    let valid =
        [m0, m1, m2] == marker && (2..=4).contains(&major) && size.iter().all(|&byte| byte < 0x80);
    valid.then(|| {
        size.iter()
            .fold(0u64, |size, &byte| (size << 7) | u64::from(byte))
    })
}

/// For the FLAC metadata blocks from `at` on: the header bytes that retype those other than
/// STREAMINFO as PADDING (the last-block flag kept).
fn flac_padding_patches(
    source: &mut (impl Read + Seek),
    mut at: u64,
) -> io::Result<Vec<(u64, u8)>> {
    let mut patches = Vec::new();
    for _ in 0..MAX_BLOCKS {
        let Some([first, length @ ..]) = read_at::<4>(source, at)? else {
            break;
        };
        let last = first & 0x80;
        let kind = first & 0x7F;
        if kind != FLAC_STREAMINFO && kind != FLAC_PADDING {
            patches.push((at, last | FLAC_PADDING));
        }
        if last != 0 {
            break;
        }
        at += 4 + length
            .iter()
            .fold(0u64, |length, &byte| (length << 8) | u64::from(byte));
    }
    Ok(patches)
}

/// How a chunked container writes its sizes: AIFF big-endian, WAV little-endian.
#[derive(Clone, Copy)]
enum Endian {
    Big,
    Little,
}

/// For an AIFF (`FORM`) or WAV (`RIFF`) file at `start`: the bytes that rename its chunks other
/// than the audio's (tags: `ID3 `, `LIST`, comments, markers) to `JUNK`, whatever their size.
fn junk_chunk_patches(
    source: &mut (impl Read + Seek),
    start: u64,
    endian: Endian,
) -> io::Result<Vec<(u64, u8)>> {
    let Some(form) = read_at::<4>(source, start + 8)? else {
        return Ok(Vec::new());
    };
    let kept = match (endian, &form) {
        (Endian::Big, b"AIFF" | b"AIFC") => AIFF_AUDIO_CHUNKS,
        (Endian::Little, b"WAVE") => WAVE_AUDIO_CHUNKS,
        _ => return Ok(Vec::new()),
    };
    let mut patches = Vec::new();
    let mut at = start + 12;
    for _ in 0..MAX_BLOCKS {
        let Some([id @ .., s0, s1, s2, s3]) = read_at::<8>(source, at)? else {
            break;
        };
        if !kept.iter().any(|kept| **kept == id) {
            patches.extend((at..).zip(JUNK.iter().copied()));
        }
        let size = match endian {
            Endian::Big => u32::from_be_bytes([s0, s1, s2, s3]),
            Endian::Little => u32::from_le_bytes([s0, s1, s2, s3]),
        };
        // Chunks are padded to an even length.
        at += 8 + u64::from(size) + u64::from(size % 2);
    }
    Ok(patches)
}

/// For an MP4 file at `start`: the bytes that rename the `udta` and `meta` atoms of its `moov`
/// atom (where iTunes-style tags and cover art live, in `ilst`) to `free`.
fn free_atom_patches(source: &mut (impl Read + Seek), start: u64) -> io::Result<Vec<(u64, u8)>> {
    let mut patches = Vec::new();
    let mut at = start;
    for _ in 0..MAX_BLOCKS {
        let Some((kind, header, size)) = atom_at(source, at)? else {
            break;
        };
        if kind == *b"moov" {
            let end = at + size;
            let mut child = at + header;
            for _ in 0..MAX_BLOCKS {
                let Some((kind, _, size)) = atom_at(source, child)? else {
                    break;
                };
                if child + size > end {
                    break;
                }
                if kind == *b"udta" || kind == *b"meta" {
                    // The type follows the 4-byte size.
                    patches.extend((child + 4..).zip(FREE.iter().copied()));
                }
                child += size;
            }
            break;
        }
        at += size;
    }
    Ok(patches)
}

/// The MP4 atom at `at`: its type, header length and whole size, if it has a size of its own
/// (an atom that runs to the end of the file, or is too small to be one, ends the walk).
fn atom_at(source: &mut (impl Read + Seek), at: u64) -> io::Result<Option<([u8; 4], u64, u64)>> {
    let Some([s0, s1, s2, s3, kind @ ..]) = read_at::<8>(source, at)? else {
        return Ok(None);
    };
    let (header, size) = match u32::from_be_bytes([s0, s1, s2, s3]) {
        1 => match read_at::<8>(source, at + 8)? {
            Some(large) => (16, u64::from_be_bytes(large)),
            None => return Ok(None),
        },
        size => (8, u64::from(size)),
    };
    Ok((size >= header).then_some((kind, header, size)))
}

/// Where the audio of a stream of frames `length` bytes long ends: before the APEv2 and ID3v2
/// tags at its end (and an ID3v1 tag after them), as their footers state; never before `start`.
fn before_trailing_tags(
    source: &mut (impl Read + Seek),
    start: u64,
    length: u64,
) -> io::Result<u64> {
    let mut end = length;
    for _ in 0..MAX_BLOCKS {
        let mut tags = trailing_tag_bytes(source, start, end)?;
        // An ID3v1 tag alone is 128 bytes symphonia may read; behind one, a tag may hide.
        if let Some(at) = end.checked_sub(ID3V1_BYTES).filter(|&at| at >= start) {
            if tags.is_none() && read_at::<3>(source, at)? == Some(*b"TAG") {
                tags = trailing_tag_bytes(source, start, at)?.map(|bytes| bytes + ID3V1_BYTES);
            }
        }
        match tags {
            Some(bytes) => end = end.saturating_sub(bytes).max(start),
            None => break,
        }
    }
    Ok(end)
}

/// The size of the APEv2 or ID3v2 tag that ends at `end`, by its footer, if one does.
fn trailing_tag_bytes(
    source: &mut (impl Read + Seek),
    start: u64,
    end: u64,
) -> io::Result<Option<u64>> {
    if let Some(at) = end.checked_sub(APE_FOOTER_BYTES).filter(|&at| at >= start) {
        if let Some(footer) = read_at::<32>(source, at)? {
            if footer.starts_with(b"APETAGEX") {
                let field = |offset: usize| {
                    u32::from_le_bytes([
                        footer[offset],
                        footer[offset + 1],
                        footer[offset + 2],
                        footer[offset + 3],
                    ])
                };
                let header = if field(20) & APE_HAS_HEADER != 0 {
                    APE_FOOTER_BYTES
                } else {
                    0
                };
                return Ok(Some(u64::from(field(12)).max(APE_FOOTER_BYTES) + header));
            }
        }
    }
    if let Some(at) = end
        .checked_sub(ID3V2_HEADER_BYTES)
        .filter(|&at| at >= start)
    {
        if let Some(footer) = read_at::<10>(source, at)? {
            if let Some(size) = id3v2_size(&footer, *b"3DI") {
                return Ok(Some(2 * ID3V2_HEADER_BYTES + size));
            }
        }
    }
    Ok(None)
}

/// `N` bytes of `source` at `at`, or `None` if it ends before.
fn read_at<const N: usize>(
    source: &mut (impl Read + Seek),
    at: u64,
) -> io::Result<Option<[u8; N]>> {
    source.seek(SeekFrom::Start(at))?;
    let mut bytes = [0; N];
    Ok((read_up_to(source, &mut bytes)? == N).then_some(bytes))
}

/// Reads into `buffer` until it is full or the source ends; how much was read.
fn read_up_to(source: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

impl Read for Untagged<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let left = self.end.map_or(usize::MAX, |end| {
            usize::try_from(end.saturating_sub(self.position)).unwrap_or(usize::MAX)
        });
        let room = buffer.len().min(left);
        let read = self.inner.read(&mut buffer[..room])?;
        let end = self.position + read as u64;
        let first = self.patches.partition_point(|&(at, _)| at < self.position);
        for &(at, byte) in self.patches[first..].iter().take_while(|(at, _)| *at < end) {
            // `at` is within this read, which `buffer` holds.
            buffer[(at - self.position) as usize] = byte;
        }
        self.position = end;
        Ok(read)
    }
}

impl Seek for Untagged<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let to = match (to, self.end) {
            (SeekFrom::Start(offset), _) => SeekFrom::Start(self.start + offset),
            (SeekFrom::End(offset), Some(end)) => {
                SeekFrom::Start(end.checked_add_signed(offset).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a seek before the file's start",
                    )
                })?)
            }
            (relative, _) => relative,
        };
        self.position = self.inner.seek(to)?;
        self.position.checked_sub(self.start).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a seek before the audio's start",
            )
        })
    }
}

impl MediaSource for Untagged<'_> {
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.end.map(|end| end.saturating_sub(self.start))
    }
}
