//! Audio in, end to end through `genred::audio::load` on real files: every format and sample
//! encoding genred reads, the downmix, the 30 s truncation, resampling to 22050 Hz, and a
//! clear error for each kind of bad input.
//!
//! The files in `tests/data/audio/` come from `make.sh` beside them, which documents the
//! integer ramps they hold; `ramp` below restates that formula, so every expected sample is
//! named here independently of the decoder.

mod common;

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};

use common::shared;
use genred::audio::{self, AudioError, Clip, LoadOptions};
use genred::record::WithPath;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/audio");

/// Frames in each ramp file: 0.1 s at 22050 Hz.
const RAMP_FRAMES: usize = 2205;
const WHOLE_FILE: LoadOptions = LoadOptions {
    max_duration_s: None,
    sample_rate: None,
};
const FIRST_30_S: LoadOptions = LoadOptions {
    max_duration_s: Some(30.0),
    sample_rate: None,
};

fn data(name: &str) -> PathBuf {
    Path::new(DATA).join(name)
}

fn load(path: &Path, options: LoadOptions) -> Clip {
    match audio::load(path, options) {
        Ok(clip) => clip,
        Err(error) => panic!("{error}"),
    }
}

fn load_error(path: &Path) -> WithPath<AudioError> {
    match audio::load(path, WHOLE_FILE) {
        Ok(clip) => panic!(
            "{} loaded ({} samples) but must fail",
            path.display(),
            clip.samples.len()
        ),
        Err(error) => error,
    }
}

/// Sample `i` of the `bits`-bit ramp that make.sh writes.
fn ramp(bits: u32, i: usize) -> i64 {
    let full = 1i64 << (bits - 1);
    if i < 5 {
        return [0, full - 1, -full, 1, -1][i];
    }
    let multiplier: i64 = match bits {
        8 => 37,
        16 => 2731,
        24 => 699_053,
        32 => 2_863_311_531,
        _ => unreachable!("make.sh writes 8, 16, 24 and 32-bit ramps"),
    };
    (i as i64 * multiplier).rem_euclid(1 << bits) - full
}

/// The `bits`-bit ramp scaled as libsndfile scales integer PCM: the integer as f32, times
/// 1/2^(bits−1).
fn scaled_ramp(bits: u32) -> Vec<f32> {
    let scale = 1.0 / (1u64 << (bits - 1)) as f32;
    (0..RAMP_FRAMES)
        .map(|i| ramp(bits, i) as f32 * scale)
        .collect()
}

fn assert_mono_ramp(name: &str, expected: &[f32]) {
    let clip = load(&data(name), WHOLE_FILE);
    assert_eq!(clip.source_rate, 22050, "{name}");
    assert_eq!(clip.source_channels, 1, "{name}");
    assert_eq!(clip.duration_s, 0.1, "{name}");
    assert_eq!(clip.samples.len(), RAMP_FRAMES, "{name}");
    if let Some(i) = (0..RAMP_FRAMES).find(|&i| clip.samples[i] != expected[i]) {
        panic!(
            "{name}: sample {i} is {}, expected {}",
            clip.samples[i], expected[i]
        );
    }
}

#[test]
fn integer_pcm_is_scaled_like_libsndfile() {
    for (name, bits) in [
        ("pcm_s16.wav", 16),
        ("pcm_s24.wav", 24),
        ("pcm_s32.wav", 32),
        ("pcm_s16.flac", 16),
        ("pcm_s24.flac", 24),
        ("pcm_s16.au", 16),
        ("pcm_s24.au", 24),
    ] {
        assert_mono_ramp(name, &scaled_ramp(bits));
    }
}

#[test]
fn unsigned_8_bit_wav_is_centred_on_128() {
    // Stored as ramp + 128; libsndfile gives (x − 128)/128.
    assert_mono_ramp("pcm_u8.wav", &scaled_ramp(8));
}

#[test]
fn float_samples_pass_through() {
    let f32_ramp: Vec<f32> = (0..RAMP_FRAMES)
        .map(|i| (ramp(24, i) as f64 / 8_388_608.0) as f32)
        .collect();
    assert_mono_ramp("float32.wav", &f32_ramp);
    assert_mono_ramp("float32.au", &f32_ramp);
    let f64_ramp: Vec<f32> = (0..RAMP_FRAMES)
        .map(|i| (ramp(32, i) as f64 / 2_147_483_648.0) as f32)
        .collect();
    assert_mono_ramp("float64.wav", &f64_ramp);
}

#[test]
fn stereo_is_the_mean_of_left_and_right() {
    let clip = load(&data("stereo_s16.wav"), WHOLE_FILE);
    assert_eq!(clip.source_channels, 2);
    let scale = 1.0 / 32768.0;
    let expected: Vec<f32> = (0..RAMP_FRAMES)
        .map(|i| {
            let left = ramp(16, i) as f32 * scale;
            let right = ramp(16, RAMP_FRAMES - 1 - i) as f32 * scale;
            (left + right) / 2.0
        })
        .collect();
    assert_eq!(clip.samples, expected);
}

#[test]
fn more_channels_are_averaged_in_order() {
    let clip = load(&data("three_channels_s16.wav"), WHOLE_FILE);
    assert_eq!(clip.source_channels, 3);
    let channel = |c: usize, i: usize| ramp(16, (i + 700 * c) % RAMP_FRAMES) as f32 / 32768.0;
    let expected: Vec<f32> = (0..RAMP_FRAMES)
        .map(|i| (channel(0, i) + channel(1, i) + channel(2, i)) / 3.0)
        .collect();
    assert_eq!(clip.samples, expected);
}

/// A sinusoid fitted (least squares) to a clip at 22050 Hz, away from its ends.
struct ToneFit {
    amplitude: f64,
    /// How many output samples the clip lags `sin(2π·freq·k/22050)`.
    lag_samples: f64,
    /// Energy left after subtracting the fit, relative to the fit's, in dB.
    residual_db: f64,
}

fn fit_tone(samples: &[f32], freq: f64) -> ToneFit {
    let omega = 2.0 * PI * freq / 22050.0;
    let margin = samples.len() / 10;
    let points: Vec<(f64, f64, f64)> = (margin..samples.len() - margin)
        .map(|k| {
            let phase = omega * k as f64;
            (f64::from(samples[k]), phase.sin(), phase.cos())
        })
        .collect();
    let sum = |f: &dyn Fn(&(f64, f64, f64)) -> f64| points.iter().map(f).sum::<f64>();
    let (ss, sc, cc) = (
        sum(&|p| p.1 * p.1),
        sum(&|p| p.1 * p.2),
        sum(&|p| p.2 * p.2),
    );
    let (ys, yc) = (sum(&|p| p.0 * p.1), sum(&|p| p.0 * p.2));
    let determinant = ss * cc - sc * sc;
    let sin_weight = (ys * cc - yc * sc) / determinant;
    let cos_weight = (yc * ss - ys * sc) / determinant;
    let residual = sum(&|p| (p.0 - sin_weight * p.1 - cos_weight * p.2).powi(2));
    let fitted = sum(&|p| (sin_weight * p.1 + cos_weight * p.2).powi(2));
    // A·sin(ωk − φ) = A·cos φ·sin ωk − A·sin φ·cos ωk, and a lag of φ/ω samples.
    ToneFit {
        amplitude: sin_weight.hypot(cos_weight),
        lag_samples: (-cos_weight).atan2(sin_weight) / omega,
        residual_db: 10.0 * (residual / fitted).log10(),
    }
}

#[test]
fn a_44100_hz_file_is_resampled_to_ceil_half_its_length_and_stays_in_time() {
    let clip = load(&data("tone1k_44k_stereo.wav"), WHOLE_FILE);
    assert_eq!(clip.source_rate, 44100);
    assert_eq!(clip.source_channels, 2);
    assert_eq!(clip.duration_s, 4411.0 / 44100.0);
    // ceil(4411 · 22050 / 44100) = ceil(2205.5)
    assert_eq!(clip.samples.len(), 2206);
    let fit = fit_tone(&clip.samples, 1000.0);
    assert!(
        (fit.amplitude - 0.5).abs() < 1e-4,
        "amplitude {}",
        fit.amplitude
    );
    assert!(fit.lag_samples.abs() < 1e-3, "lag {}", fit.lag_samples);
    // 16-bit quantisation of the source is about −95 dB.
    assert!(
        fit.residual_db < -80.0,
        "residual {:.1} dB",
        fit.residual_db
    );
}

#[test]
fn lossy_formats_decode_in_time_and_without_encoder_padding() {
    // The LAME and Vorbis encoder delay and padding are trimmed: 0.5 s stays 0.5 s, and the
    // tone starts where it started.
    for (name, source_rate, channels) in [
        ("tone440_44k_stereo.mp3", 44100, 2),
        ("tone440_22k.ogg", 22050, 1),
    ] {
        let clip = load(&data(name), WHOLE_FILE);
        assert_eq!(clip.source_rate, source_rate, "{name}");
        assert_eq!(clip.source_channels, channels, "{name}");
        assert_eq!(clip.samples.len(), 11025, "{name}");
        let fit = fit_tone(&clip.samples, 440.0);
        // LAME at 96 kb/s lowers this tone by 5% (ffmpeg's own decoder agrees).
        assert!(
            (0.45..0.52).contains(&fit.amplitude),
            "{name}: amplitude {}",
            fit.amplitude
        );
        assert!(
            fit.lag_samples.abs() < 0.05,
            "{name}: lag {}",
            fit.lag_samples
        );
        assert!(
            fit.residual_db < -35.0,
            "{name}: residual {:.1} dB",
            fit.residual_db
        );
    }
}

#[test]
fn opus_decodes_in_time_without_its_pre_skip() {
    // 0.1 s at 48 kHz, mono, 16 kb/s: the 312-frame pre-skip is dropped, so 0.1 s stays 0.1 s.
    let clip = load(&data("tone440.opus"), WHOLE_FILE);
    assert_eq!(clip.source_rate, 48000);
    assert_eq!(clip.source_channels, 1);
    assert_eq!(clip.samples.len(), 2205);
    let fit = fit_tone(&clip.samples, 440.0);
    assert!(
        (0.45..0.52).contains(&fit.amplitude),
        "amplitude {}",
        fit.amplitude
    );
    // The pre-skip is 143 samples at 22050 Hz: kept, or dropped twice, the tone would be that
    // far off. What is left (about a sample) is ffmpeg's resampling of the source to 48 kHz.
    assert!(fit.lag_samples.abs() < 2.0, "lag {}", fit.lag_samples);
    assert!(
        fit.residual_db < -30.0,
        "residual {:.1} dB",
        fit.residual_db
    );
}

#[test]
fn duration_limit_truncates_and_never_pads() {
    let short = load(&data("pcm_s16.wav"), FIRST_30_S);
    assert_eq!(short.samples.len(), RAMP_FRAMES);
    let unbounded = LoadOptions {
        max_duration_s: Some(f64::INFINITY),
        sample_rate: None,
    };
    assert_eq!(
        load(&data("pcm_s16.flac"), unbounded).samples.len(),
        RAMP_FRAMES
    );
    assert_eq!(
        load(&data("pcm_s16.au"), unbounded).samples.len(),
        RAMP_FRAMES
    );

    let limited = load(
        &data("tone1k_44k_stereo.wav"),
        LoadOptions {
            max_duration_s: Some(0.05),
            sample_rate: None,
        },
    );
    // round(44100 · 0.05) = 2205 native frames, resampled to ceil(2205 / 2).
    assert_eq!(limited.samples.len(), 1103);
    assert_eq!(limited.duration_s, 0.05);

    let au = load(
        &data("pcm_s16.au"),
        LoadOptions {
            max_duration_s: Some(0.01),
            sample_rate: None,
        },
    );
    assert_eq!(au.samples, scaled_ramp(16)[..221]);
}

/// The 16-bit samples of a canonical WAV file, read straight from its `data` chunk.
fn wav_pcm16(path: &Path) -> Vec<f32> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("{}: {error}", path.display()),
    };
    let mut chunk = 12;
    while chunk + 8 <= bytes.len() {
        let id = &bytes[chunk..chunk + 4];
        let len_bytes = [
            bytes[chunk + 4],
            bytes[chunk + 5],
            bytes[chunk + 6],
            bytes[chunk + 7],
        ];
        let len = u32::from_le_bytes(len_bytes) as usize;
        if id == b"data" {
            return bytes[chunk + 8..chunk + 8 + len]
                .chunks_exact(2)
                .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0)
                .collect();
        }
        chunk += 8 + len + len % 2;
    }
    panic!("{}: no data chunk", path.display());
}

#[test]
fn gtzan_clip_is_bit_exact_and_cut_at_30_seconds() {
    let path = shared("fixtures/gtzan-audio/blues.00000.wav");
    let stored = wav_pcm16(&path);
    assert_eq!(stored.len(), 661_794);

    let whole = load(&path, WHOLE_FILE);
    assert_eq!(whole.samples, stored);

    let clip = load(&path, FIRST_30_S);
    assert_eq!(clip.samples.len(), 661_500);
    assert_eq!(clip.samples, stored[..661_500]);
    assert_eq!(clip.duration_s, 30.0);
    assert_eq!((clip.source_rate, clip.source_channels), (22050, 1));
}

/// GTZAN ships as 16-bit big-endian AU; the fixture's samples, written that way, load the
/// same as the WAV they came from.
#[test]
fn gtzan_clip_as_au_loads_the_same_samples() {
    let stored = wav_pcm16(&shared("fixtures/gtzan-audio/blues.00000.wav"));
    let mut au = b".snd".to_vec();
    let data_len = 2 * stored.len() as u32;
    for field in [24, data_len, 3, 22050, 1] {
        au.extend_from_slice(&u32::to_be_bytes(field));
    }
    for &sample in &stored {
        au.extend_from_slice(&((sample * 32768.0) as i16).to_be_bytes());
    }
    let dir = temp_dir();
    let path = dir.path().join("blues.00000.au");
    write(&path, &au);

    let clip = load(&path, FIRST_30_S);
    assert_eq!(clip.samples, stored[..661_500]);
    assert_eq!((clip.source_rate, clip.source_channels), (22050, 1));
}

#[test]
fn reference_44100_hz_stereo_mix_gives_30_seconds_at_22050_hz() {
    let clip = load(&shared("reference/audio/mix_44k_stereo.wav"), FIRST_30_S);
    assert_eq!((clip.source_rate, clip.source_channels), (44100, 2));
    // 32 s in the file; round(44100 · 30) frames kept, then ceil(n / 2).
    assert_eq!(clip.samples.len(), 661_500);
    assert_eq!(clip.duration_s, 30.0);
}

#[test]
fn format_is_recognised_by_content_and_any_file_name_loads() {
    let dir = temp_dir();
    let expected = scaled_ramp(16);
    for (source, name) in [
        ("pcm_s16.au", "really an AU file.wav"),
        ("pcm_s16.flac", "flac-named.mp3"),
        ("pcm_s16.wav", "Ünïcödé sóng – ♫ 1.wav"),
        ("pcm_s16.wav", "no extension"),
    ] {
        let path = dir.path().join(name);
        copy(&data(source), &path);
        assert_eq!(load(&path, WHOLE_FILE).samples, expected, "{name}");
    }
}

fn temp_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("cannot create a temporary directory: {error}"),
    }
}

fn copy(from: &Path, to: &Path) {
    if let Err(error) = fs::copy(from, to) {
        panic!(
            "cannot copy {} to {}: {error}",
            from.display(),
            to.display()
        );
    }
}

fn write(path: &Path, bytes: &[u8]) {
    if let Err(error) = fs::write(path, bytes) {
        panic!("cannot write {}: {error}", path.display());
    }
}

/// A test file with the bytes in `range` inverted.
fn damaged(name: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    let mut bytes = contents(name);
    for byte in &mut bytes[range] {
        *byte = !*byte;
    }
    bytes
}

/// The first `len` bytes of a test file.
fn prefix(name: &str, len: usize) -> Vec<u8> {
    contents(name)[..len].to_vec()
}

fn contents(name: &str) -> Vec<u8> {
    match fs::read(data(name)) {
        Ok(bytes) => bytes,
        Err(error) => panic!("{name}: {error}"),
    }
}

/// A canonical 44-byte WAV header for 16-bit mono at 22050 Hz with `data_len` bytes of audio.
fn wav_header(data_len: u32) -> Vec<u8> {
    let mut header = b"RIFF".to_vec();
    header.extend_from_slice(&(36 + data_len).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&1u16.to_le_bytes()); // mono
    header.extend_from_slice(&22050u32.to_le_bytes());
    header.extend_from_slice(&44100u32.to_le_bytes()); // bytes per second
    header.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&data_len.to_le_bytes());
    header
}

/// The variant's name, to compare with the one a case expects.
fn kind(error: &AudioError) -> &'static str {
    match error {
        AudioError::Io { .. } => "Io",
        AudioError::EmptyFile => "EmptyFile",
        AudioError::UnsupportedFormat => "UnsupportedFormat",
        AudioError::KnownUnsupportedFormat { .. } => "KnownUnsupportedFormat",
        AudioError::Corrupt { .. } => "Corrupt",
        AudioError::NoAudioTrack => "NoAudioTrack",
        AudioError::UnsupportedCodec { .. } => "UnsupportedCodec",
        AudioError::NoSamples => "NoSamples",
        AudioError::SampleRate { .. } => "SampleRate",
        AudioError::TooLong { .. } => "TooLong",
        AudioError::NonFinite { .. } => "NonFinite",
        AudioError::OutOfRange { .. } => "OutOfRange",
    }
}

#[test]
fn each_kind_of_bad_input_gets_its_own_clear_error() {
    let dir = temp_dir();
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("empty.wav", Vec::new(), "EmptyFile", "empty"),
        // A WavPack block header, then the RIFF header `wavpack` keeps of its source.
        (
            "song.wv",
            [&b"wvpk"[..], &[0; 34], &wav_header(0)].concat(),
            "KnownUnsupportedFormat",
            "WavPack is not supported",
        ),
        (
            "notes.wav",
            b"These are my notes, not a song.\n".to_vec(),
            "UnsupportedFormat",
            "not a supported audio format",
        ),
        (
            "noise.bin",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect(),
            "UnsupportedFormat",
            "not a supported audio format",
        ),
        (
            "header cut.wav",
            prefix("pcm_s16.wav", 20),
            "Corrupt",
            "cannot open the stream",
        ),
        (
            "header cut.au",
            prefix("pcm_s16.au", 10),
            "Corrupt",
            "truncated AU header",
        ),
        (
            "cut short.wav",
            prefix("pcm_s16.wav", 2000),
            "Corrupt",
            "0.044 s into the audio",
        ),
        (
            "cut short.au",
            prefix("pcm_s16.au", 2000),
            "Corrupt",
            "header declares 4410 bytes of audio",
        ),
        (
            "cut short.flac",
            prefix("pcm_s16.flac", 2000),
            "Corrupt",
            "ends after 0.000 s of its 0.100 s",
        ),
        (
            "cut short.mp3",
            prefix("tone440_44k_stereo.mp3", 3000),
            "Corrupt",
            "of its 0.500 s",
        ),
        (
            "damaged.mp3",
            damaged("tone440_44k_stereo.mp3", 3000..3400),
            "Corrupt",
            "decoding packet",
        ),
        (
            "damaged.flac",
            damaged("pcm_s16.flac", 2000..2100),
            "Corrupt",
            "corrupt or truncated audio",
        ),
        (
            "no samples.wav",
            wav_header(0),
            "NoSamples",
            "no audio samples",
        ),
    ];
    for (name, bytes, expected_kind, reason) in cases {
        let path = dir.path().join(name);
        write(&path, &bytes);
        let error = load_error(&path);
        let message = error.to_string();
        assert_eq!(kind(&error.error), expected_kind, "{name}: {message}");
        assert!(
            message.starts_with(&format!("{}: ", path.display())),
            "{name}: the message must start with the path: {message}"
        );
        assert!(message.contains(reason), "{name}: {message}");
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
    }
}

#[test]
fn missing_files_and_folders_are_read_errors() {
    let dir = temp_dir();
    for path in [dir.path().join("not there.wav"), dir.path().to_owned()] {
        let error = load_error(&path);
        assert_eq!(kind(&error.error), "Io", "{}: {error}", path.display());
        assert!(error.to_string().starts_with(&path.display().to_string()));
    }
}

#[test]
fn audio_paths_are_recognised_by_extension_in_any_case() {
    for name in [
        "a.wav",
        "b.FLAC",
        "c.Mp3",
        "d.ogg",
        "e.oga",
        "f.au",
        "g.snd",
        "dir/h.WAV",
        "i.m4a",
        "j.aac",
        "k.AIFF",
        "l.aif",
        "m.aifc",
        "n.caf",
        "o.opus",
        "p.wv",
        "q.wma",
    ] {
        assert!(audio::is_audio_path(Path::new(name)), "{name}");
    }
    for name in [
        "notes.txt",
        "cover.jpg",
        "wav",
        "archive.wav.zip",
        "no_extension",
    ] {
        assert!(!audio::is_audio_path(Path::new(name)), "{name}");
    }
}
