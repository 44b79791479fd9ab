//! The formats a music library holds, through the real binary (issue 22, items 3, 10 and 11):
//! each is made here from a GTZAN clip with the tool users make it with (ffmpeg; `wavpack` for
//! WavPack, whose files carry the source WAV's header inside), in `CARGO_TARGET_TMPDIR`, and
//! classified with `genred classify --json`. A format genred decodes must be heard as its WAV
//! is; one it cannot (WMA, WavPack) is refused by name. Tags of hostile sizes (a 250 MB ID3v2
//! frame or cover, a 250 MB APEv2 cover at an MP3's end, FLAC with 10 × 16 MB pictures, a
//! 250 MB ID3 chunk in AIFF, a 250 MB cover in M4A, all sparse files) must leave peak memory
//! where a plain file's is, by GNU time's maximum resident set size, and the file heard as
//! without them.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use common::*;

/// The ten-genre 28-feature model: fast, and its ten probabilities show a decode that
/// differs.
const GENRE_10: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/genre-10.onnx");
/// The clip every format is made from.
const CLIP: &str = "blues.00000.wav";
/// A lossy codec at a usual bitrate may move a probability this much; no more.
const LOSSY_TOLERANCE: f64 = 0.1;
/// A lossless codec gives back the WAV's samples: the probabilities are the WAV's.
const LOSSLESS_TOLERANCE: f64 = 1e-6;
/// How much more than a plain file's peak a file with hostile tags may take.
const TAG_RSS_ALLOWANCE_KIB: u64 = 40 * 1024;
/// The hostile tags' declared sizes.
const HUGE_TAG_BYTES: u64 = 250 << 20;
const FLAC_PICTURE_BYTES: u64 = (1 << 24) - 1;
const FLAC_PICTURES: usize = 10;

/// A decodable format: its file name and how ffmpeg makes it from the clip.
struct Format {
    file: &'static str,
    ffmpeg: &'static [&'static str],
    lossless: bool,
}

const DECODED: &[Format] = &[
    Format {
        file: "aac.m4a",
        ffmpeg: &["-c:a", "aac", "-b:a", "128k"],
        lossless: false,
    },
    Format {
        file: "alac.m4a",
        ffmpeg: &["-c:a", "alac"],
        lossless: true,
    },
    Format {
        file: "clip.aiff",
        ffmpeg: &["-c:a", "pcm_s16be"],
        lossless: true,
    },
    // AIFC with little-endian samples ("sowt"), as Apple's tools write it.
    Format {
        file: "clip.aifc",
        ffmpeg: &["-c:a", "pcm_s16le", "-f", "aiff"],
        lossless: true,
    },
    Format {
        file: "clip.caf",
        ffmpeg: &["-c:a", "pcm_s16le"],
        lossless: true,
    },
    Format {
        file: "adts.aac",
        ffmpeg: &["-c:a", "aac", "-b:a", "128k", "-f", "adts"],
        lossless: false,
    },
    // libopus codes at 48 kHz: the clip is resampled up by ffmpeg and down by genred.
    Format {
        file: "clip.opus",
        ffmpeg: &["-c:a", "libopus", "-b:a", "96k"],
        lossless: false,
    },
];

/// The fixtures' folder, made once per test run.
fn fixtures() -> &'static Path {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("formats");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let clip = fixture_path(CLIP);
        for format in DECODED {
            ffmpeg(&clip, format.ffmpeg, &dir.join(format.file));
        }
        ffmpeg(&clip, &["-c:a", "wmav2"], &dir.join("clip.wma"));
        ffmpeg(
            &clip,
            &["-c:a", "libmp3lame", "-b:a", "128k"],
            &dir.join("clip.mp3"),
        );
        ffmpeg(&clip, &["-c:a", "flac"], &dir.join("clip.flac"));
        run_tool(
            Command::new("wavpack")
                .args(["-q", "-y"])
                .arg(&clip)
                .arg("-o")
                .arg(dir.join("clip.wv")),
        );
        dir
    })
}

fn ffmpeg(input: &Path, codec: &[&str], output: &Path) {
    run_tool(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
            .arg(input)
            .args(codec)
            .arg(output),
    );
}

fn run_tool(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?} does not run ({error}): see .ci/setup"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn classify(path: &Path) -> Output {
    run_genred(&[
        "classify",
        "--json",
        "--model",
        GENRE_10,
        path.to_str().unwrap(),
    ])
}

/// The probabilities of a file genred classifies.
fn probabilities(path: &Path) -> BTreeMap<String, f64> {
    probabilities_in(&classify(path), path)
}

/// The probabilities in `classify --json`'s output for `path`, which must have succeeded.
fn probabilities_in(output: &Output, path: &Path) -> BTreeMap<String, f64> {
    assert!(
        output.status.success(),
        "{}: {}",
        path.display(),
        text(&output.stderr)
    );
    let record: serde_json::Value = serde_json::from_str(text(&output.stdout).trim()).unwrap();
    record["probabilities"]
        .as_object()
        .unwrap_or_else(|| panic!("no probabilities: {record}"))
        .iter()
        .map(|(genre, p)| (genre.clone(), p.as_f64().unwrap()))
        .collect()
}

fn top(probabilities: &BTreeMap<String, f64>) -> &str {
    probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(genre, _)| genre.as_str())
        .unwrap()
}

/// The largest difference between two sets of probabilities over the same genres.
fn max_difference(a: &BTreeMap<String, f64>, b: &BTreeMap<String, f64>) -> f64 {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same genres"
    );
    a.iter()
        .map(|(genre, p)| (p - b[genre]).abs())
        .fold(0.0, f64::max)
}

/// The one `genred: ...` error line `classify` gives a file it refuses (exit status 1).
fn refusal(path: &Path) -> String {
    file_error(&classify(path))
}

#[test]
fn every_decoded_format_is_heard_as_its_wav() {
    let wav = probabilities(&fixture_path(CLIP));
    for format in DECODED {
        let path = fixtures().join(format.file);
        let heard = probabilities(&path);
        let difference = max_difference(&heard, &wav);
        eprintln!("{}: max |Δp| = {difference:.2e}", format.file);
        assert_eq!(top(&heard), top(&wav), "{}: {heard:?}", format.file);
        let tolerance = if format.lossless {
            LOSSLESS_TOLERANCE
        } else {
            LOSSY_TOLERANCE
        };
        assert!(
            difference < tolerance,
            "{}: max |Δp| {difference} against the WAV's (tolerance {tolerance}): \
             {heard:?} vs {wav:?}",
            format.file
        );
    }
}

#[test]
fn wma_and_wavpack_are_refused_by_name() {
    for (file, name) in [
        ("clip.wma", "Windows Media Audio (ASF) is not supported"),
        ("clip.wv", "WavPack is not supported"),
    ] {
        let path = fixtures().join(file);
        let error = refusal(&path);
        assert!(error.contains(path.to_str().unwrap()), "{error}");
        assert!(error.contains(name), "{error}");
    }
}

#[test]
fn an_opus_and_a_wavpack_dropped_in_each_get_one_record() {
    let home = Home::new();
    home.write_config("[folder]\npaths = [\"drop\"]\n");
    let mut daemon = home.start(&[]);
    for file in ["clip.opus", "clip.wv"] {
        // Copied beside the drop folder, then moved in whole.
        let staged = home.path(file);
        fs::copy(fixtures().join(file), &staged).unwrap();
        fs::rename(&staged, home.path("drop").join(file)).unwrap();
    }
    daemon.wait_for_records(2);
    // Time for a second record of either, which must not come.
    thread::sleep(Duration::from_millis(1500));
    let records = home.results();
    daemon.stop();
    assert_eq!(records.len(), 2, "{records:#?}");
    let records = by_path(&records);
    let opus = records[&home.path("drop/clip.opus")];
    assert!(opus.get("error").is_none(), "{opus}");
    assert!(opus["probabilities"].is_object(), "{opus}");
    let wavpack = records[&home.path("drop/clip.wv")];
    assert!(
        str_field(wavpack, "error").contains("WavPack is not supported"),
        "{wavpack}"
    );
    assert!(wavpack.get("genre").is_none(), "{wavpack}");
    let log = fs::read_to_string(home.path("genred.log")).unwrap();
    let lines = log
        .lines()
        .filter(|line| line.contains("clip.wv") && line.contains("WavPack is not supported"))
        .count();
    assert_eq!(lines, 1, "one log line for the WavPack file:\n{log}");
}

/// An ID3v2 tag holding one frame `id` whose body starts with `body` and is declared
/// `declared` bytes long, written sparse, then `audio`.
fn tagged_mp3(path: &Path, version: u8, id: &[u8; 4], body: &[u8], declared: u64, audio: &[u8]) {
    // v2.4 frame sizes are 7 bits a byte ("syncsafe", as the tag's own size); v2.3's are plain.
    let frame_size = if version == 4 {
        syncsafe(declared)
    } else {
        u32::try_from(declared).unwrap().to_be_bytes()
    };
    let mut file = fs::File::create(path).unwrap();
    file.write_all(b"ID3").unwrap();
    file.write_all(&[version, 0, 0]).unwrap();
    file.write_all(&syncsafe(10 + declared)).unwrap();
    file.write_all(id).unwrap();
    file.write_all(&frame_size).unwrap();
    file.write_all(&[0, 0]).unwrap(); // frame flags
    file.write_all(body).unwrap();
    file.seek(SeekFrom::Start(10 + 10 + declared)).unwrap();
    file.write_all(audio).unwrap();
}

fn syncsafe(value: u64) -> [u8; 4] {
    assert!(value < 1 << 28, "{value} does not fit an ID3v2 size");
    [21, 14, 7, 0].map(|shift| ((value >> shift) & 0x7F) as u8)
}

/// `flac` with `FLAC_PICTURES` PICTURE blocks of `FLAC_PICTURE_BYTES` after its STREAMINFO,
/// their image data left sparse.
fn flac_with_pictures(path: &Path, flac: &[u8]) {
    assert_eq!(&flac[..4], b"fLaC");
    // STREAMINFO is the first block, 34 bytes; it stays first, and not last.
    let (streaminfo, rest) = flac[4..].split_at(4 + 34);
    let mut file = fs::File::create(path).unwrap();
    file.write_all(b"fLaC").unwrap();
    file.write_all(&[streaminfo[0] & 0x7F]).unwrap();
    file.write_all(&streaminfo[1..]).unwrap();
    let mime = b"image/png";
    for _ in 0..FLAC_PICTURES {
        let data = FLAC_PICTURE_BYTES - (8 * 4 + mime.len() as u64);
        let mut header = vec![6]; // PICTURE, not last
        header.extend(&FLAC_PICTURE_BYTES.to_be_bytes()[5..]);
        header.extend(3u32.to_be_bytes()); // the front cover
        header.extend((mime.len() as u32).to_be_bytes());
        header.extend(mime);
        header.extend(0u32.to_be_bytes()); // no description
        for field in [4096u32, 4096, 24, 0] {
            header.extend(field.to_be_bytes()); // width, height, depth, colours
        }
        header.extend(u32::try_from(data).unwrap().to_be_bytes());
        file.write_all(&header).unwrap();
        file.seek(SeekFrom::Current(i64::try_from(data).unwrap()))
            .unwrap();
    }
    file.write_all(rest).unwrap();
}

/// `audio` followed by an APEv2 tag (no header) holding one binary item declared `declared`
/// bytes long, its value left sparse: where taggers of MP3 put a cover.
fn ape_tagged(path: &Path, audio: &[u8], declared: u64) {
    let key = b"Cover Art (Front)\0";
    let items = 8 + key.len() as u64 + declared;
    let mut file = fs::File::create(path).unwrap();
    file.write_all(audio).unwrap();
    file.write_all(&u32::try_from(declared).unwrap().to_le_bytes())
        .unwrap();
    file.write_all(&2u32.to_le_bytes()).unwrap(); // a binary item
    file.write_all(key).unwrap();
    file.seek(SeekFrom::Current(i64::try_from(declared).unwrap()))
        .unwrap();
    file.write_all(b"APETAGEX").unwrap();
    for field in [2000, u32::try_from(items + 32).unwrap(), 1, 0] {
        file.write_all(&field.to_le_bytes()).unwrap(); // version, size, items, flags
    }
    file.write_all(&[0; 8]).unwrap();
}

/// `aiff` with an `ID3 ` chunk appended, whose ID3v2.4 tag holds a TXXX frame declared
/// `declared` bytes long, left sparse: as ffmpeg and taggers write AIFF tags.
fn id3_chunk_aiff(path: &Path, aiff: &[u8], declared: u64) {
    assert_eq!(&aiff[..4], b"FORM");
    let chunk = 10 + 10 + 2 + declared;
    let form = u32::try_from(aiff.len() as u64 - 8 + 8 + chunk).unwrap();
    let mut file = fs::File::create(path).unwrap();
    file.write_all(b"FORM").unwrap();
    file.write_all(&form.to_be_bytes()).unwrap();
    file.write_all(&aiff[8..]).unwrap();
    file.write_all(b"ID3 ").unwrap();
    file.write_all(&u32::try_from(chunk).unwrap().to_be_bytes())
        .unwrap();
    file.write_all(&[b'I', b'D', b'3', 4, 0, 0]).unwrap();
    file.write_all(&syncsafe(10 + 2 + declared)).unwrap();
    file.write_all(b"TXXX").unwrap();
    file.write_all(&syncsafe(2 + declared)).unwrap();
    file.write_all(&[0, 0, 0, 0]).unwrap(); // flags, encoding, empty description
    file.set_len(aiff.len() as u64 + 8 + chunk).unwrap();
}

/// `m4a` (whose `moov` atom comes last, as ffmpeg writes it) with a `udta` atom appended to its
/// `moov`, holding an iTunes-style cover (`meta`/`ilst`/`covr`/`data`) of `declared` bytes, left
/// sparse.
fn covr_m4a(path: &Path, m4a: &[u8], declared: u64) {
    let size_at = |at: usize| u64::from(u32::from_be_bytes(m4a[at..at + 4].try_into().unwrap()));
    let mut moov = 0;
    while &m4a[moov + 4..moov + 8] != b"moov" {
        moov += usize::try_from(size_at(moov)).unwrap();
    }
    assert_eq!(
        moov as u64 + size_at(moov),
        m4a.len() as u64,
        "moov comes last"
    );
    let box_header = |size: u64, kind: &[u8; 4]| {
        let mut header = u32::try_from(size).unwrap().to_be_bytes().to_vec();
        header.extend(kind);
        header
    };
    let mut handler = box_header(33, b"hdlr");
    handler.extend([0; 8]); // version, flags, pre-defined
    handler.extend(b"mdirappl");
    handler.extend([0; 9]); // reserved, an empty name
    let data = 16 + declared;
    let covr = 8 + data;
    let ilst = 8 + covr;
    let meta = 12 + handler.len() as u64 + ilst;
    let udta = 8 + meta;
    let mut tail = box_header(udta, b"udta");
    tail.extend(box_header(meta, b"meta"));
    tail.extend([0; 4]); // version, flags
    tail.extend(handler);
    tail.extend(box_header(ilst, b"ilst"));
    tail.extend(box_header(covr, b"covr"));
    tail.extend(box_header(data, b"data"));
    tail.extend(13u32.to_be_bytes()); // JPEG
    tail.extend(0u32.to_be_bytes()); // locale
    let mut file = fs::File::create(path).unwrap();
    file.write_all(&m4a[..moov]).unwrap();
    file.write_all(&u32::try_from(size_at(moov) + udta).unwrap().to_be_bytes())
        .unwrap();
    file.write_all(&m4a[moov + 4..]).unwrap();
    file.write_all(&tail).unwrap();
    file.set_len(m4a.len() as u64 + udta).unwrap();
}

#[test]
fn hostile_tags_leave_peak_memory_flat_and_the_file_classified() {
    let dir = tempfile::tempdir().unwrap();
    let mp3 = fs::read(fixtures().join("clip.mp3")).unwrap();
    let flac = fs::read(fixtures().join("clip.flac")).unwrap();

    let txxx = dir.path().join("txxx.mp3");
    // Text encoding ISO-8859-1, an empty description, then the value (the hole).
    tagged_mp3(&txxx, 4, b"TXXX", &[0, 0], HUGE_TAG_BYTES, &mp3);
    let apic = dir.path().join("apic.mp3");
    let mut picture = vec![0];
    picture.extend(b"image/jpeg\0");
    picture.extend([3, 0]); // the front cover, an empty description
    tagged_mp3(&apic, 3, b"APIC", &picture, HUGE_TAG_BYTES, &mp3);
    let ape = dir.path().join("ape.mp3");
    ape_tagged(&ape, &mp3, HUGE_TAG_BYTES);
    let pictures = dir.path().join("pictures.flac");
    flac_with_pictures(&pictures, &flac);
    let aiff_tag = dir.path().join("id3 chunk.aiff");
    let aiff = fs::read(fixtures().join("clip.aiff")).unwrap();
    id3_chunk_aiff(&aiff_tag, &aiff, HUGE_TAG_BYTES);

    let covr = dir.path().join("covr.m4a");
    let m4a = fs::read(fixtures().join("aac.m4a")).unwrap();
    covr_m4a(&covr, &m4a, HUGE_TAG_BYTES);

    for (plain, hostile) in [
        (fixtures().join("clip.mp3"), vec![txxx, apic, ape]),
        (fixtures().join("clip.flac"), vec![pictures]),
        (fixtures().join("clip.aiff"), vec![aiff_tag]),
        (fixtures().join("aac.m4a"), vec![covr]),
    ] {
        let (output, plain_peak) = classify_measured(GENRE_10, &plain);
        let expected = probabilities_in(&output, &plain);
        for path in hostile {
            let (output, peak) = classify_measured(GENRE_10, &path);
            eprintln!(
                "{}: peak RSS {} MiB, plain {} MiB",
                path.display(),
                peak / 1024,
                plain_peak / 1024
            );
            let heard = probabilities_in(&output, &path);
            assert!(
                peak < plain_peak + TAG_RSS_ALLOWANCE_KIB,
                "{}: peak RSS {peak} KiB, plain {plain_peak} KiB",
                path.display()
            );
            assert!(
                max_difference(&heard, &expected) < LOSSLESS_TOLERANCE,
                "{}: the tags changed what was heard: {heard:?} vs {expected:?}",
                path.display()
            );
        }
    }
}
