//! Every decoder (WAV, AU, FLAC, MP3, Ogg Vorbis) through the entry the daemon
//! uses, from bytes: any input must give a clip or an `AudioError`, never a
//! panic, a hang or an allocation the input's size does not justify.
#![no_main]

use std::path::Path;

use genred::audio::{self, LoadOptions};
use libfuzzer_sys::fuzz_target;

/// A cap of a minute keeps each run fast while still reaching the check
/// that refuses longer files.
const CAP_S: f64 = 60.0;

fuzz_target!(|data: &[u8]| {
    // No extension: the container is recognised by content, as for a
    // mislabelled file.
    if let Ok(clip) =
        audio::load_bytes(data, Path::new("fuzz"), LoadOptions::default(), Some(CAP_S))
    {
        assert!(clip.samples.iter().all(|sample| sample.is_finite()));
        assert!(clip.duration_s <= CAP_S);
    }
});
