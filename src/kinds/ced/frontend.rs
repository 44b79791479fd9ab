//! The `waveform-16k-10s` front end: CED-Tiny's input is the raw waveform, 10 s of 16 kHz
//! mono audio (`[1, 160000]`, ±1 full scale); its STFT (512 / hop 160) and its 64 mel bands
//! are inside the graph. A unit is therefore a stretch of samples, nothing computed here.
//!
//! Units lie at fixed stream positions: unit `k` holds samples `160000 k .. 160000 (k + 1)`,
//! as the CED study (`models/training/ced/`) cut a clip into 10 s windows from its start.
//! A window is judged on the aligned units wholly inside it, so overlapping windows share
//! theirs and each is inferred once; a 30 s GTZAN clip is its three 10 s pieces, the study's
//! windows exactly, and the first one is the input of `models/testdata/ced-tiny-expected.json`.
//!
//! A window holding no aligned unit still gets one, so that every window the engine may hand
//! out (a file of 3 s or more, a live stream's provisional first windows) is judged:
//!
//! - at least 10 s long (a window of 10 to 20 s that straddles a boundary): its **last
//!   10 s**, real audio rather than padding, and the most recent audio of a live stream;
//! - shorter than 10 s (a short file, a provisional window): the **whole window, zero-padded
//!   at its tail** to 10 s, as the study padded a clip shorter than 10 s (and as CED's
//!   AudioSet training clips shorter than 10 s were).
//!
//! Past a window's last aligned unit, what is left (under 10 s) is judged only at the end of
//! the stream, as the study did with a clip: a trailing piece of at least [`MIN_TAIL_S`] is
//! one more unit, zero-padded; a shorter one is dropped. Mid-stream, a later window holds
//! the piece whole. (A GTZAN clip a few milliseconds under 30 s is thus its two 10 s pieces
//! and its padded third, as in the study.)
//!
//! The units are read from the window's own samples (every unit lies inside the window that
//! asks for it), so the front end keeps nothing of the stream but its length.

use crate::analysis::{FrontEnd, FrontEndError, Span, WindowAudio};

/// This front end's name, as a model declares it in its ONNX metadata (`front_end`).
pub const NAME: &str = "waveform-16k-10s";

/// The model's sample rate (metadata `sample_rate`).
pub const SAMPLE_RATE: u32 = 16_000;

/// Samples in one unit, the model's fixed input width: 10 s (metadata `window_samples`).
pub const WINDOW_SAMPLES: usize = 160_000;

/// [`WINDOW_SAMPLES`] as a stream length.
const UNIT: u64 = WINDOW_SAMPLES as u64;

/// CED's STFT hop inside the graph (10 ms): windows start a whole number of these apart.
pub const HOP_LENGTH: usize = 160;

/// `samples` as one unit: exactly [`WINDOW_SAMPLES`], the first ones kept and the rest
/// zero (a shorter stretch is padded at its tail, a longer one cut).
pub fn padded(samples: &[f32]) -> Vec<f32> {
    let mut unit = samples[..samples.len().min(WINDOW_SAMPLES)].to_vec();
    unit.resize(WINDOW_SAMPLES, 0.0);
    unit
}

/// The shortest trailing piece of a stream that is judged, padded: 5 s, the CED study's rule
/// (`models/training/ced/`: a clip's last piece under 5 s was dropped, a longer one padded).
pub const MIN_TAIL_S: f64 = 5.0;

/// [`MIN_TAIL_S`] in samples.
const MIN_TAIL: u64 = (MIN_TAIL_S * SAMPLE_RATE as f64) as u64;

/// 10 s waveform units of a 16 kHz stream.
#[derive(Debug, Default)]
pub struct WaveformUnits {
    /// 160-sample hops handed to the model, each unit counted once.
    frames_computed: u64,
    /// Samples of the stream so far.
    received: u64,
    /// The stream has ended: `received` is its length.
    ended: bool,
}

impl WaveformUnits {
    pub fn new() -> Self {
        WaveformUnits::default()
    }
}

impl FrontEnd for WaveformUnits {
    /// One 10 s waveform, [`WINDOW_SAMPLES`] samples.
    type Unit = Vec<f32>;

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn hop_length(&self) -> usize {
        HOP_LENGTH
    }

    fn start_stream(&mut self) {
        self.received = 0;
        self.ended = false;
    }

    fn push(&mut self, samples: &[f32]) {
        self.received += samples.len() as u64;
    }

    fn finish(&mut self) {
        self.ended = true;
    }

    /// The aligned 10 s units inside `window` and, at the stream's end, its trailing piece;
    /// if none, its last 10 s, or the whole window (padded by [`FrontEnd::unit`]) if it is
    /// shorter (see the module's documentation).
    fn units(&self, window: Span) -> Vec<Span> {
        if window.is_empty() {
            return Vec::new();
        }
        let mut aligned: Vec<Span> = (window.start.div_ceil(UNIT)..)
            .map(|k| Span {
                start: k * UNIT,
                end: (k + 1) * UNIT,
            })
            .take_while(|unit| unit.end <= window.end)
            .collect();
        if let Some(last) = aligned.last() {
            let tail = Span {
                start: last.end,
                end: window.end,
            };
            if self.ended && window.end == self.received && tail.len() >= MIN_TAIL {
                aligned.push(tail);
            }
            return aligned;
        }
        vec![Span {
            start: window.end.saturating_sub(UNIT).max(window.start),
            end: window.end,
        }]
    }

    /// 10 s units say much the same of a song: a long one may be judged on a spread sample.
    fn samples_units(&self) -> bool {
        true
    }

    fn unit(&mut self, unit: Span, window: &WindowAudio<'_>) -> Result<Vec<f32>, FrontEndError> {
        let unavailable = || FrontEndError::FramesUnavailable {
            first: unit.start / HOP_LENGTH as u64,
            end: unit.end.div_ceil(HOP_LENGTH as u64),
        };
        if unit.len() > UNIT {
            return Err(unavailable());
        }
        let offset = unit
            .start
            .checked_sub(window.span.start)
            .ok_or_else(unavailable)?;
        let from = usize::try_from(offset).map_err(|_| unavailable())?;
        let to = from
            .checked_add(unit.len() as usize)
            .ok_or_else(unavailable)?;
        let samples = window.samples.get(from..to).ok_or_else(unavailable)?;
        self.frames_computed += UNIT / HOP_LENGTH as u64;
        Ok(padded(samples))
    }

    fn frames_computed(&self) -> u64 {
        self.frames_computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = SAMPLE_RATE as u64;

    fn span(start: u64, end: u64) -> Span {
        Span { start, end }
    }

    fn starts(units: &[Span]) -> Vec<u64> {
        units.iter().map(|unit| unit.start / UNIT).collect()
    }

    #[test]
    fn at_the_streams_end_a_trailing_piece_of_5_s_or_more_is_one_more_unit() {
        // A GTZAN clip 29.98 s long: the study's two 10 s pieces and its padded third.
        let clip = 479_710;
        let mut front_end = WaveformUnits::new();
        front_end.push(&vec![0.0; clip as usize]);
        assert_eq!(
            starts(&front_end.units(span(0, clip))),
            [0, 1],
            "not yet ended"
        );
        front_end.finish();
        let units = front_end.units(span(0, clip));
        assert_eq!(
            units,
            [span(0, UNIT), span(UNIT, 2 * UNIT), span(2 * UNIT, clip)]
        );
        // A piece under 5 s is dropped, as the study dropped it.
        let mut short_tail = WaveformUnits::new();
        short_tail.push(&vec![0.0; (24 * S) as usize]);
        short_tail.finish();
        assert_eq!(starts(&short_tail.units(span(0, 24 * S))), [0, 1]);
        // Only the window that ends with the stream gets it.
        assert_eq!(starts(&front_end.units(span(0, 29 * S))), [0, 1]);
    }

    #[test]
    fn units_lie_at_fixed_positions_and_overlapping_windows_share_them() {
        let front_end = WaveformUnits::new();
        // 30 s windows every 15 s: 0..30 s holds units 0, 1, 2; 15..45 s units 2, 3
        // (unit 1 starts before it, unit 4 ends after it); 30..60 s units 3, 4, 5.
        let first = front_end.units(span(0, 30 * S));
        let second = front_end.units(span(15 * S, 45 * S));
        let third = front_end.units(span(30 * S, 60 * S));
        assert_eq!(starts(&first), [0, 1, 2]);
        assert_eq!(starts(&second), [2, 3]);
        assert_eq!(starts(&third), [3, 4, 5]);
        assert_eq!(
            first[2], second[0],
            "the same span: one unit, inferred once"
        );
        assert_eq!(second[1], third[0]);
        for unit in first.iter().chain(&second).chain(&third) {
            assert_eq!(unit.start % UNIT, 0);
            assert_eq!(unit.len(), UNIT);
        }
        // A GTZAN clip (30.013 s) is its three 10 s pieces, the study's windows.
        assert_eq!(
            starts(&front_end.units(span(0, 661_794 * S / 22_050))),
            [0, 1, 2]
        );
        // An end-aligned tail window keeps to the grid too.
        assert_eq!(
            starts(&front_end.units(span(23 * S + 7, 53 * S + 7))),
            [3, 4]
        );
    }

    #[test]
    fn a_window_without_an_aligned_unit_still_gets_one() {
        let front_end = WaveformUnits::new();
        // 15 s straddling the 10 s boundary: its last 10 s.
        assert_eq!(front_end.units(span(5 * S, 19 * S)), [span(9 * S, 19 * S)]);
        // A 3 s file, a provisional 7 s window: the whole window (padded at unit time).
        assert_eq!(front_end.units(span(0, 3 * S)), [span(0, 3 * S)]);
        assert_eq!(
            front_end.units(span(40 * S, 47 * S)),
            [span(40 * S, 47 * S)]
        );
        // Exactly 10 s at the grid: the aligned unit.
        assert_eq!(front_end.units(span(0, 10 * S)), [span(0, 10 * S)]);
        assert!(front_end.units(span(5, 5)).is_empty());
    }

    #[test]
    fn a_unit_is_its_samples_and_a_short_one_is_zero_padded() {
        let samples: Vec<f32> = (0..25 * S).map(|n| (n % 1000) as f32 / 1000.0).collect();
        let window = span(0, samples.len() as u64);
        let audio = WindowAudio {
            span: window,
            samples: &samples,
        };
        let mut front_end = WaveformUnits::new();
        let units = front_end.units(window);
        assert_eq!(starts(&units), [0, 1]);
        let second = front_end
            .unit(units[1], &audio)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second, &samples[UNIT as usize..2 * UNIT as usize]);
        assert_eq!(front_end.frames_computed(), 1000);

        let short = span(2 * S, 5 * S);
        let audio = WindowAudio {
            span: short,
            samples: &samples[2 * S as usize..5 * S as usize],
        };
        let unit = front_end.units(short);
        let padded = front_end
            .unit(unit[0], &audio)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(padded.len(), WINDOW_SAMPLES);
        assert_eq!(&padded[..3 * S as usize], audio.samples);
        assert!(padded[3 * S as usize..].iter().all(|&x| x == 0.0));
        // A unit outside the window's samples is an error, not a panic.
        assert!(front_end.unit(span(0, UNIT), &audio).is_err());
    }
}
