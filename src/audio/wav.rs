//! A minimal WAV writer: mono, 32-bit IEEE float, so saved samples are
//! exactly the ones analysed (the microphone's debug copies of its windows,
//! and test clips).

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// `WAVE_FORMAT_IEEE_FLOAT` in the `fmt ` chunk.
const FORMAT_IEEE_FLOAT: u16 = 3;
const BYTES_PER_SAMPLE: u32 = 4;
/// Bytes of the header before the samples: RIFF, fmt (16-byte body) and data chunk headers.
const HEADER_BYTES: u32 = 44;

/// Writes `samples` as a mono float WAV at `sample_rate` to a new file at
/// `path`; fails rather than replace a file that already exists.
pub fn write_new_wav(path: &Path, sample_rate: u32, samples: &[f32]) -> io::Result<()> {
    let data_bytes = u32::try_from(samples.len())
        .ok()
        .and_then(|count| count.checked_mul(BYTES_PER_SAMPLE))
        .filter(|bytes| bytes.checked_add(HEADER_BYTES).is_some())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too long for a WAV file"))?;
    let file = OpenOptions::new().write(true).create_new(true).open(path)?;
    let mut out = BufWriter::new(file);
    out.write_all(b"RIFF")?;
    out.write_all(&(HEADER_BYTES - 8 + data_bytes).to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&16u32.to_le_bytes())?;
    out.write_all(&FORMAT_IEEE_FLOAT.to_le_bytes())?;
    out.write_all(&1u16.to_le_bytes())?; // channels
    out.write_all(&sample_rate.to_le_bytes())?;
    out.write_all(&(sample_rate * BYTES_PER_SAMPLE).to_le_bytes())?; // bytes per second
    out.write_all(&(BYTES_PER_SAMPLE as u16).to_le_bytes())?; // block align
    out.write_all(&(BYTES_PER_SAMPLE as u16 * 8).to_le_bytes())?; // bits per sample
    out.write_all(b"data")?;
    out.write_all(&data_bytes.to_le_bytes())?;
    for sample in samples {
        out.write_all(&sample.to_le_bytes())?;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_samples_are_laid_out_as_riff_float() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("window.wav");
        write_new_wav(&path, 22050, &[0.5, -1.0]).expect("write");
        let bytes = std::fs::read(&path).expect("read back");
        assert_eq!(bytes.len(), 44 + 8);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 44);
        assert_eq!(&bytes[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), 3);
        assert_eq!(u32::from_le_bytes(bytes[24..28].try_into().unwrap()), 22050);
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 32);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 8);
        assert_eq!(f32::from_le_bytes(bytes[44..48].try_into().unwrap()), 0.5);
        assert_eq!(f32::from_le_bytes(bytes[48..52].try_into().unwrap()), -1.0);
    }

    #[test]
    fn an_existing_file_is_never_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("user.wav");
        std::fs::write(&path, b"precious").expect("seed");
        let error = write_new_wav(&path, 22050, &[0.0]).expect_err("must refuse");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).expect("read"), b"precious");
    }
}
