//! A file as symphonia is shown it: without the tags it would read whole into memory.
//!
//! genred classifies by the audio alone, and symphonia 0.6.1 reads every tag and picture it
//! finds into memory at the size the file declares: an ID3v2 frame declaring 250 MB took
//! 6.4 GB, and each FLAC PICTURE block is kept whole. Its `MetadataOptions` limits
//! (`limit_tag_bytes`, `limit_visual_bytes`) are declared but no reader of 0.6.1 enforces
//! them, so the bound is made here: the ID3v2 tags at the start of a file (MP3, and FLAC or
//! ADTS AAC as some taggers write them) are skipped by their declared size, and every FLAC
//! metadata block but STREAMINFO is shown as PADDING, which symphonia passes over without
//! reading. Tags are found by their headers alone, so the memory this takes is a few bytes per
//! block whatever they declare.

use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// An ID3v2 tag's header: `ID3`, version, revision, flags, then its size in four 7-bit bytes.
const ID3V2_HEADER_BYTES: u64 = 10;
/// The ID3v2.4 flag for a 10-byte footer after the tag, which its size does not count.
const ID3V2_FOOTER_FLAG: u8 = 0x10;
/// The FLAC metadata block types kept: STREAMINFO (the rate, channels and length).
const FLAC_STREAMINFO: u8 = 0;
const FLAC_PADDING: u8 = 1;
/// FLAC metadata blocks looked at: far more than any encoder writes (one of each kind, a few
/// pictures), and few enough that their patches take no memory worth counting. Blocks past
/// these are left to symphonia as they are.
const MAX_FLAC_BLOCKS: usize = 1024;

/// `inner` from where its container starts (past any leading ID3v2 tags), with the headers of
/// its FLAC metadata blocks other than STREAMINFO retyped as PADDING.
pub(super) struct Untagged<'s> {
    inner: Box<dyn MediaSource + 's>,
    /// Where the view starts in `inner`.
    start: u64,
    /// Where `inner` is.
    position: u64,
    /// Bytes of `inner` shown changed, by their offset in it; sorted.
    patches: Vec<(u64, u8)>,
}

impl<'s> Untagged<'s> {
    /// The view of `inner` (read from its start), positioned at its start.
    pub(super) fn new(mut inner: Box<dyn MediaSource + 's>) -> io::Result<Self> {
        let start = past_id3v2_tags(&mut inner)?;
        let patches = flac_padding_patches(&mut inner, start)?;
        let position = inner.seek(SeekFrom::Start(start))?;
        Ok(Untagged {
            inner,
            start,
            position,
            patches,
        })
    }
}

/// Where the ID3v2 tags at the start of `source` end (0 without any). A file may hold several
/// in a row; each is skipped by the size its header states, without reading it.
fn past_id3v2_tags(source: &mut (impl Read + Seek)) -> io::Result<u64> {
    let mut at = 0;
    loop {
        source.seek(SeekFrom::Start(at))?;
        let mut header = [0; ID3V2_HEADER_BYTES as usize];
        if read_up_to(source, &mut header)? < header.len() {
            return Ok(at);
        }
        let [b'I', b'D', b'3', major, _revision, flags, size @ ..] = header else {
            return Ok(at);
        };
        if !(2..=4).contains(&major) || size.iter().any(|&byte| byte >= 0x80) {
            return Ok(at);
        }
        let size = size
            .iter()
            .fold(0u64, |size, &byte| (size << 7) | u64::from(byte));
        let footer = if major == 4 && flags & ID3V2_FOOTER_FLAG != 0 {
            ID3V2_HEADER_BYTES
        } else {
            0
        };
        at += ID3V2_HEADER_BYTES + size + footer;
    }
}

/// For a FLAC stream at `start` of `source`: the header bytes that retype its metadata blocks
/// other than STREAMINFO as PADDING (the last-block flag kept); none for any other stream.
fn flac_padding_patches(source: &mut (impl Read + Seek), start: u64) -> io::Result<Vec<(u64, u8)>> {
    source.seek(SeekFrom::Start(start))?;
    let mut marker = [0; 4];
    if read_up_to(source, &mut marker)? < marker.len() || &marker != b"fLaC" {
        return Ok(Vec::new());
    }
    let mut patches = Vec::new();
    let mut at = start + 4;
    for _ in 0..MAX_FLAC_BLOCKS {
        source.seek(SeekFrom::Start(at))?;
        let mut header = [0; 4];
        if read_up_to(source, &mut header)? < header.len() {
            break;
        }
        let [first, length @ ..] = header;
        let last = first & 0x80;
        let kind = first & 0x7F;
        if kind != FLAC_STREAMINFO && kind != FLAC_PADDING {
            patches.push((at, last | FLAC_PADDING));
        }
        if last != 0 {
            break;
        }
        let length = length
            .iter()
            .fold(0u64, |length, &byte| (length << 8) | u64::from(byte));
        at += 4 + length;
    }
    Ok(patches)
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
        let read = self.inner.read(buffer)?;
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
        let to = match to {
            SeekFrom::Start(offset) => SeekFrom::Start(self.start + offset),
            relative => relative,
        };
        self.position = self.inner.seek(to)?;
        self.position.checked_sub(self.start).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek before the audio's start")
        })
    }
}

impl MediaSource for Untagged<'_> {
    fn is_seekable(&self) -> bool {
        self.inner.is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.inner
            .byte_len()
            .map(|length| length.saturating_sub(self.start))
    }
}
