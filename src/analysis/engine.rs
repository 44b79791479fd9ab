//! The engine proper: samples in, window verdicts out, for any front end and model.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use super::frontend::{FrontEnd, FrontEndError, Span, WindowAudio};
use crate::audio::resample::{resampled_len, ResampleError, StreamResampler};
use crate::onnx::ModelError;
use crate::record::{Judgement, Timings, WindowVerdict};

use super::sample::{add_into, UnitSample, UnitSums};
use super::schedule::{Ending, Schedule};
use super::unit::{UnitModel, UnitOutput};

/// Where windows lie and when a window is silence, in seconds and RMS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EngineSettings {
    /// Window length.
    pub length_s: f64,
    /// Between the ends of consecutive windows; rounded to whole frame hops of the front
    /// end, so that consecutive windows share their frames and each frame is computed once
    /// (15 s at 22050 Hz is 645.996 hops of 512 samples: 646 hops, 15.0001 s).
    pub hop_s: f64,
    /// When the first window ends: `None` for a full window (a file); a live stream gives
    /// a shorter, provisional, first window sooner.
    pub first_window_s: Option<f64>,
    pub ending: Ending,
    /// A window whose RMS about its mean is below this holds no music and is not judged.
    pub silence_rms: f32,
    /// Judge a stream whose length is known ([`Analyzer::expect_length`]) on at most this many
    /// units spread evenly over it, for front ends whose units are short patches of the
    /// stream ([`FrontEnd::samples_units`]: musicnn's 3 s patches); `None`, or a stream of
    /// unknown length, judges every unit. Patches 3 s apart say much the same, so a
    /// 4-minute song is judged about as well, at a tenth of the cost, on a spread sample.
    pub max_units: Option<NonZeroUsize>,
}

/// Why one window got no verdict.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(transparent)]
    FrontEnd(#[from] FrontEndError),
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The model broke its contract of one output per unit.
    #[error("the model gave {outputs} outputs for {units} units")]
    UnitCount { units: usize, outputs: usize },
    /// The window is shorter than the front end's smallest unit.
    #[error("{length_s:.2} s of audio hold no whole unit of the model's front end")]
    NoUnits { length_s: f64 },
}

/// One window's outcome, with its samples (at the front end's rate) for whoever keeps
/// them (the microphone's debug recordings).
pub struct WindowOutcome<'a> {
    pub verdict: Result<WindowVerdict, WindowError>,
    pub samples: &'a [f32],
}

/// What every sample of a stream added up to, at the front end's rate: enough to tell
/// silence from a constant level when no window was judged.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamLevel {
    pub samples: u64,
    sum: f64,
    sum_of_squares: f64,
}

impl StreamLevel {
    fn add(&mut self, samples: &[f32]) {
        self.samples += samples.len() as u64;
        for &x in samples {
            let x = f64::from(x);
            self.sum += x;
            self.sum_of_squares += x * x;
        }
    }

    /// The root mean square of the stream (0 for an empty one).
    pub fn rms(&self) -> f32 {
        if self.samples == 0 {
            return 0.0;
        }
        (self.sum_of_squares / self.samples as f64).sqrt() as f32
    }

    /// The mean of the stream (0 for an empty one).
    pub fn mean(&self) -> f32 {
        if self.samples == 0 {
            return 0.0;
        }
        (self.sum / self.samples as f64) as f32
    }
}

/// A stream analysis: the same for a file and the microphone whatever the front end.
/// Object safe, so a source holds `Box<dyn Analyzer>` for whichever front end its model has.
pub trait Analyzer: Send {
    /// Begins a new stream at `source_rate` Hz (mono), forgetting the last one; the front
    /// end's plans and filterbanks are kept.
    fn start(&mut self, source_rate: u32) -> Result<(), ResampleError>;

    /// The stream will hold `source_samples` samples (at the rate given to
    /// [`start`](Self::start)): a file's stated length. Called before the first
    /// [`push`](Self::push), it lets [`EngineSettings::max_units`] choose the units to judge.
    fn expect_length(&mut self, source_samples: u64);

    /// Feeds the stream's next samples, in blocks of any size, and hands every window they
    /// complete to `emit`.
    fn push(&mut self, samples: &[f32], emit: &mut dyn FnMut(WindowOutcome<'_>));

    /// Ends the stream: the resampler's last samples, the windows they complete and a
    /// file's end-aligned window go to `emit`.
    fn finish(&mut self, emit: &mut dyn FnMut(WindowOutcome<'_>));

    /// The mean over every distinct unit judged in the stream so far, each counted once
    /// however many windows hold it (`None` before the first): a file's verdict. For the
    /// 28-feature models a unit is a window, so this is the mean over the judged windows.
    fn judged_mean(&self) -> Option<Judgement>;

    /// What the engine was made with.
    fn settings(&self) -> &EngineSettings;

    /// The model's genres.
    fn labels(&self) -> &[String];

    /// Samples in a full window, at [`sample_rate`](Self::sample_rate).
    fn window_length(&self) -> u64;

    /// The front end's rate, at which windows are positioned.
    fn sample_rate(&self) -> u32;

    /// The stream so far, at the front end's rate.
    fn level(&self) -> StreamLevel;

    /// Time spent in the front end and the model on this stream (`decode_ms` is the
    /// caller's).
    fn timings(&self) -> Timings;

    /// Frames the front end analysed since it was made; each frame counts once.
    fn frames_computed(&self) -> u64;

    /// Units the model judged since the engine was made; each unit counts once.
    fn units_inferred(&self) -> u64;
}

/// The engine for front end `F`.
pub struct Engine<F: FrontEnd> {
    front_end: F,
    model: Arc<dyn UnitModel<F::Unit>>,
    settings: EngineSettings,
    /// `None` while the source is at the front end's rate.
    resampler: Option<StreamResampler>,
    source_rate: u32,
    /// Samples given to [`push`](Analyzer::push) in this stream, at the source rate.
    source_samples: u64,
    /// Resampler output not yet in `buffer` (kept to reuse its allocation).
    resampled: Vec<f32>,
    /// The stream from `buffer_start` on, at the front end's rate: what windows to come need.
    buffer: Vec<f32>,
    buffer_start: u64,
    schedule: Schedule,
    /// Model outputs by unit, for the windows to come.
    units: BTreeMap<Span, UnitOutput>,
    /// The units judged in this stream ([`EngineSettings::max_units`]), and their mean: a
    /// file's verdict.
    sample: UnitSample,
    level: StreamLevel,
    timings: Timings,
    units_inferred: u64,
}

impl<F: FrontEnd> Engine<F> {
    /// An engine ready for a stream at the front end's own rate ([`Analyzer::start`]
    /// begins one at another).
    pub fn new(front_end: F, model: Arc<dyn UnitModel<F::Unit>>, settings: EngineSettings) -> Self {
        let rate = front_end.sample_rate();
        let samples_units = front_end.samples_units();
        let mut engine = Engine {
            resampler: None,
            schedule: schedule(&settings, rate, front_end.hop_length()),
            front_end,
            model,
            settings,
            source_rate: rate,
            source_samples: 0,
            resampled: Vec::new(),
            buffer: Vec::new(),
            buffer_start: 0,
            units: BTreeMap::new(),
            sample: UnitSample::new(settings.max_units, samples_units),
            level: StreamLevel::default(),
            timings: Timings::default(),
            units_inferred: 0,
        };
        engine.front_end.start_stream();
        engine
    }

    /// Every unit of the windows of a stream of `total` samples, in stream order.
    fn units_of_stream(&self, total: u64) -> Vec<Span> {
        let mut schedule = schedule(
            &self.settings,
            self.front_end.sample_rate(),
            self.front_end.hop_length(),
        );
        let mut windows = Vec::new();
        while let Some(window) = schedule.next_due(total) {
            windows.push(window);
        }
        windows.extend(schedule.finish(total));
        let units: BTreeSet<Span> = windows
            .into_iter()
            .flat_map(|window| self.front_end.units(window))
            .collect();
        units.into_iter().collect()
    }

    /// The stream position just past the last sample received.
    fn buffer_end(&self) -> u64 {
        self.buffer_start + self.buffer.len() as u64
    }

    /// Moves the resampler's output into the buffer and the front end.
    fn absorb_resampled(&mut self) {
        self.level.add(&self.resampled);
        self.front_end.push(&self.resampled);
        self.buffer.extend_from_slice(&self.resampled);
        self.resampled.clear();
    }

    /// Judges every window the buffer completes, then lets go of what no later window needs.
    fn judge_due(&mut self, emit: &mut dyn FnMut(WindowOutcome<'_>)) {
        while let Some(window) = self.schedule.next_due(self.buffer_end()) {
            self.judge_and_emit(window, emit);
        }
        let keep_from = self.schedule.keep_from().min(self.buffer_end());
        if keep_from > self.buffer_start {
            self.buffer
                .drain(..(keep_from - self.buffer_start) as usize);
            self.buffer_start = keep_from;
        }
        self.units.retain(|unit, _| unit.start >= keep_from);
        self.front_end.forget_before(keep_from);
    }

    fn judge_and_emit(&mut self, window: Span, emit: &mut dyn FnMut(WindowOutcome<'_>)) {
        let verdict = self.judge(window);
        let samples = self.window_samples(window);
        emit(WindowOutcome { verdict, samples });
    }

    fn window_samples(&self, window: Span) -> &[f32] {
        let start = (window.start - self.buffer_start) as usize;
        &self.buffer[start..start + window.len() as usize]
    }

    fn judge(&mut self, window: Span) -> Result<WindowVerdict, WindowError> {
        let rate = self.front_end.sample_rate();
        let start = (window.start - self.buffer_start) as usize;
        let samples = &self.buffer[start..start + window.len() as usize];
        let mut verdict = WindowVerdict {
            start: window.start,
            end: window.end,
            sample_rate: rate,
            judgement: None,
        };
        if rms_about_mean(samples) < self.settings.silence_rms {
            return Ok(verdict);
        }
        let mut keys = self.front_end.units(window);
        if keys.is_empty() {
            return Err(WindowError::NoUnits {
                length_s: window.len() as f64 / f64::from(rate),
            });
        }
        keys.retain(|key| self.sample.admits(key));
        if keys.is_empty() {
            return Ok(verdict);
        }
        let missing: Vec<Span> = keys
            .iter()
            .filter(|key| !self.units.contains_key(key))
            .copied()
            .collect();
        if !missing.is_empty() {
            let audio = WindowAudio {
                span: window,
                samples,
            };
            let started = Instant::now();
            let inputs = missing
                .iter()
                .map(|&unit| self.front_end.unit(unit, &audio))
                .collect::<Result<Vec<_>, _>>()?;
            self.timings.features_ms += elapsed_ms(started);
            let started = Instant::now();
            let outputs = self.model.infer(&inputs)?;
            self.timings.inference_ms += elapsed_ms(started);
            if outputs.len() != inputs.len() {
                return Err(WindowError::UnitCount {
                    units: inputs.len(),
                    outputs: outputs.len(),
                });
            }
            self.units_inferred += outputs.len() as u64;
            for (unit, output) in missing.iter().zip(&outputs) {
                self.sample.add(*unit, output);
            }
            self.units.extend(missing.into_iter().zip(outputs));
        }
        let mut sums = UnitSums::default();
        keys.iter()
            .filter_map(|key| self.units.get(key))
            .for_each(|output| sums.add(output));
        verdict.judgement = sums.mean(self.model.labels(), self.model.tag_vocabularies());
        Ok(verdict)
    }
}

impl<F: FrontEnd> Analyzer for Engine<F> {
    fn start(&mut self, source_rate: u32) -> Result<(), ResampleError> {
        let rate = self.front_end.sample_rate();
        self.resampler = if source_rate == rate {
            None
        } else {
            Some(StreamResampler::new(source_rate, rate)?)
        };
        self.source_rate = source_rate;
        self.source_samples = 0;
        self.resampled.clear();
        self.buffer.clear();
        self.buffer_start = 0;
        self.schedule = schedule(&self.settings, rate, self.front_end.hop_length());
        self.units.clear();
        self.sample = UnitSample::new(self.settings.max_units, self.front_end.samples_units());
        self.level = StreamLevel::default();
        self.timings = Timings::default();
        self.front_end.start_stream();
        Ok(())
    }

    fn expect_length(&mut self, source_samples: u64) {
        let total = resampled_len(
            source_samples,
            self.source_rate,
            self.front_end.sample_rate(),
        );
        let all = self.units_of_stream(total);
        self.sample.expect(&all);
    }

    fn push(&mut self, samples: &[f32], emit: &mut dyn FnMut(WindowOutcome<'_>)) {
        let started = Instant::now();
        self.source_samples += samples.len() as u64;
        match &mut self.resampler {
            Some(resampler) => resampler.process(samples, &mut self.resampled),
            None => self.resampled.extend_from_slice(samples),
        }
        self.absorb_resampled();
        self.timings.features_ms += elapsed_ms(started);
        self.judge_due(emit);
    }

    fn finish(&mut self, emit: &mut dyn FnMut(WindowOutcome<'_>)) {
        let started = Instant::now();
        let rate = self.front_end.sample_rate();
        let produced = self.buffer_end();
        let total = match &mut self.resampler {
            Some(resampler) => {
                // The stream holds exactly as many samples as `audio::resample` gives a
                // whole clip.
                let total = resampled_len(self.source_samples, self.source_rate, rate);
                resampler.finish((total - produced) as usize, &mut self.resampled);
                total
            }
            None => produced,
        };
        self.absorb_resampled();
        self.front_end.finish();
        self.timings.features_ms += elapsed_ms(started);
        self.judge_due(emit);
        debug_assert_eq!(self.buffer_end(), total);
        if let Some(window) = self.schedule.finish(total) {
            self.judge_and_emit(window, emit);
        }
    }

    fn judged_mean(&self) -> Option<Judgement> {
        self.sample
            .mean(self.model.labels(), self.model.tag_vocabularies())
    }

    fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    fn labels(&self) -> &[String] {
        self.model.labels()
    }

    fn window_length(&self) -> u64 {
        self.schedule.length()
    }

    fn sample_rate(&self) -> u32 {
        self.front_end.sample_rate()
    }

    fn level(&self) -> StreamLevel {
        self.level
    }

    fn timings(&self) -> Timings {
        self.timings
    }

    fn frames_computed(&self) -> u64 {
        self.front_end.frames_computed()
    }

    fn units_inferred(&self) -> u64 {
        self.units_inferred
    }
}

/// The windows of `settings` in samples at `rate`, the hop rounded to whole `frame_hop`s:
/// to the nearest, but never past the window's length when the hop was within it, so that
/// no audio falls between two windows (30 s is 1291.99 hops of 512 samples: 1291 hops).
fn schedule(settings: &EngineSettings, rate: u32, frame_hop: usize) -> Schedule {
    let samples = |seconds: f64| (seconds * f64::from(rate)).round().max(0.0) as u64;
    let length = samples(settings.length_s).max(1);
    let frame_hop = frame_hop as u64;
    let hops = (samples(settings.hop_s) as f64 / frame_hop as f64).round() as u64;
    let hops_within_window = if samples(settings.hop_s) <= length {
        hops.min(length / frame_hop)
    } else {
        hops
    };
    let hop = hops_within_window.max(1) * frame_hop;
    let first_end = settings.first_window_s.map_or(length, samples);
    Schedule::new(length, hop, first_end, settings.ending, rate)
}

/// The element-wise mean of vectors, summed in f64 (empty for none).
pub(crate) fn mean_of<'a>(vectors: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut sum: Vec<f64> = Vec::new();
    let mut count = 0usize;
    for vector in vectors {
        add_into(&mut sum, vector);
        count += 1;
    }
    sum.iter().map(|s| (s / count as f64) as f32).collect()
}

/// Root mean square about the mean: the energy of what varies, so a DC offset counts as
/// silence however large it is.
fn rms_about_mean(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let n = samples.len() as f64;
    let mean = f64::from((samples.iter().map(|&x| f64::from(x)).sum::<f64>() / n) as f32);
    let energy: f64 = samples.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum();
    (energy / n).sqrt() as f32
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(samples: &[f32]) -> f32 {
        let mut level = StreamLevel::default();
        level.add(samples);
        level.rms()
    }

    #[test]
    fn rms_of_known_signals() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(rms(&[0.5, -0.5, 0.5, -0.5]), 0.5);
        // A full-scale sine has RMS 1/sqrt(2).
        let sine: Vec<f32> = (0..22050)
            .map(|n| (2.0 * std::f32::consts::PI * 441.0 * n as f32 / 22050.0).sin())
            .collect();
        assert!((rms(&sine) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
    }

    #[test]
    fn a_dc_offset_is_not_sound() {
        assert_eq!(rms_about_mean(&[0.7; 100]), 0.0);
        assert_eq!(rms_about_mean(&[1.5, 0.5, 1.5, 0.5]), 0.5);
        assert_eq!(rms_about_mean(&[]), 0.0);
    }
}
