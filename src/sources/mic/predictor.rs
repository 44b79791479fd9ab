//! The worker-side half of the microphone: device-rate mono frames in,
//! judged windows out, through the analysis engine (it resamples to the front end's
//! rate, keeps the rolling window and computes each frame once) and the stream
//! smoother.
//!
//! With a judge that hears content (a fused judge), a second engine runs the sound-event
//! model on each hop's own audio, so a record says what is heard now: within one hop of the
//! music stopping it says speech, silence or noise and names no genre. Smoothing runs over
//! music windows only, and when music comes back after a gap the genre window starts afresh,
//! so nothing heard before the gap is carried into it. Each genre window is judged as a
//! file is: the genre model's reading fused with the sound-event model's scores over the
//! window's hops, and calibrated.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use crate::analysis::{mean_of, Analyzer, Ending, EngineSettings, StreamSmoother, WindowOutcome};
use crate::audio::resample::ResampleError;
use crate::audio::wav::write_new_wav;
use crate::judge::Judge;
use crate::record::{Content, MicVerdict, Probabilities};

use super::config::MicConfig;

/// Turns a stream of device frames into a judged window every hop.
pub struct WindowPredictor {
    device: String,
    /// Windows of `window_s` every `hop_s` (whole STFT hops), the first, provisional, one
    /// after `min_window_s`.
    engine: Box<dyn Analyzer>,
    smoother: StreamSmoother,
    debug_wavs: Option<DebugWavs>,
    /// The judge's ear: one window per hop of the hop's own audio, when the judge hears.
    hearing: Option<Hearing>,
    judge: Judge,
    device_rate: u32,
}

/// The content side of the stream: what its latest hop holds.
struct Hearing {
    engine: Box<dyn Analyzer>,
    /// What the latest hop holds, and the gate's scores.
    now: Option<(Content, Probabilities)>,
    /// Something other than music was heard since the genre window last started.
    gap: bool,
    /// The scores of the latest hops, as many as a genre window holds, oldest first.
    recent: VecDeque<Probabilities>,
    /// Hops in a genre window.
    hops_per_window: usize,
}

impl Hearing {
    /// The mean of the sound-event scores over the latest genre window's hops.
    fn window_mean(&self) -> Option<Probabilities> {
        let labels: Vec<String> = self
            .recent
            .front()?
            .0
            .iter()
            .map(|(label, _)| label.clone())
            .collect();
        let scores: Vec<Vec<f32>> = self
            .recent
            .iter()
            .map(|heard| heard.0.iter().map(|(_, p)| *p).collect())
            .collect();
        Some(Probabilities::new(
            &labels,
            &mean_of(scores.iter().map(Vec::as_slice)),
        ))
    }
}

impl WindowPredictor {
    /// A predictor for a stream at `device_rate` Hz.
    pub fn new(config: &MicConfig, model: &Judge, device_rate: u32) -> Result<Self, ResampleError> {
        let settings = EngineSettings {
            length_s: config.window_s,
            hop_s: config.hop_s,
            first_window_s: Some(config.min_window_s),
            ending: Ending::Live,
            silence_rms: config.silence_rms,
            // A live stream has no length to spread a sample over: every patch is judged.
            max_units: None,
        };
        let mut engine = model.analyzer(settings);
        engine.start(device_rate)?;
        let hop = EngineSettings {
            length_s: config.hop_s,
            first_window_s: None,
            ..settings
        };
        let hearing = match model.hearing_analyzer(hop) {
            Some(mut engine) => {
                engine.start(device_rate)?;
                Some(Hearing {
                    engine,
                    now: None,
                    gap: false,
                    recent: VecDeque::new(),
                    hops_per_window: (config.window_s / config.hop_s).round().max(1.0) as usize,
                })
            }
            None => None,
        };
        Ok(Self {
            device: config.device.clone(),
            smoother: StreamSmoother::new(config.smoothing, engine.window_length()),
            engine,
            debug_wavs: config.debug_wav_dir.clone().and_then(DebugWavs::new),
            hearing,
            judge: model.clone(),
            device_rate,
        })
    }

    /// Hears the frames first: what the latest hop holds decides the next windows. Music
    /// after a gap starts the genre window afresh.
    fn hear(&mut self, frames: &[f32]) {
        let Some(hearing) = &mut self.hearing else {
            return;
        };
        let (judge, now, recent) = (&self.judge, &mut hearing.now, &mut hearing.recent);
        let hops_per_window = hearing.hops_per_window;
        hearing.engine.push(
            frames,
            &mut |outcome: WindowOutcome<'_>| match &outcome.verdict {
                Ok(window) => {
                    *now = judge.hear(window);
                    if let Some(heard) = &window.judgement {
                        recent.push_back(heard.probabilities.clone());
                        if recent.len() > hops_per_window {
                            recent.pop_front();
                        }
                    }
                }
                Err(error) => tracing::warn!("mic: cannot hear this hop: {error}"),
            },
        );
        match hearing.now.as_ref().map(|(content, _)| *content) {
            Some(Content::Music) if hearing.gap => {
                hearing.gap = false;
                if let Err(error) = self.engine.start(self.device_rate) {
                    tracing::warn!("mic: cannot start the genre window afresh: {error}");
                }
            }
            Some(Content::Music) | None => {}
            Some(_) => hearing.gap = true,
        }
    }

    /// Feeds device-rate mono frames; calls `emit` for each window that
    /// becomes due. `dropped_frames` is the running total reported with them.
    pub fn feed(&mut self, frames: &[f32], dropped_frames: u64, emit: &mut dyn FnMut(MicVerdict)) {
        let started = Instant::now();
        self.hear(frames);
        let rate = self.engine.sample_rate();
        let mut windows = 0;
        let (device, smoother, debug_wavs) =
            (&self.device, &mut self.smoother, &mut self.debug_wavs);
        let (content, content_scores) = match self.hearing.as_ref().and_then(|h| h.now.clone()) {
            Some((content, scores)) => (Some(content), scores),
            None => (None, Probabilities::default()),
        };
        let music = content.is_none_or(|content| content == Content::Music);
        let heard = self.hearing.as_ref().and_then(Hearing::window_mean);
        let judge = &self.judge;
        self.engine.push(frames, &mut |outcome: WindowOutcome<'_>| {
            windows += 1;
            if let Some(debug_wavs) = debug_wavs.as_mut() {
                debug_wavs.save(rate, outcome.samples);
            }
            match outcome.verdict {
                Ok(mut window) => {
                    let fused = heard.as_ref().zip(window.judgement.as_mut());
                    if let Some((heard, judgement)) = fused {
                        if let Some(probabilities) = judge.fuse(judgement, heard) {
                            judgement.probabilities = probabilities;
                        }
                    }
                    emit(MicVerdict {
                        time: SystemTime::now(),
                        device: device.clone(),
                        verdict: if music {
                            smoother.add(window)
                        } else {
                            smoother.skip(window)
                        },
                        dropped_samples: dropped_frames,
                        content,
                        content_scores: content_scores.clone(),
                    })
                }
                Err(error) => tracing::warn!("mic: no prediction for this window: {error}"),
            }
        });
        if windows > 0 {
            // The per-hop cost, for benches/mic.sh (debug level: not a prediction log).
            tracing::debug!(
                "mic: window analysed in {:.1} ms ({} units inferred since listening began)",
                started.elapsed().as_secs_f64() * 1e3 / f64::from(windows),
                self.units_inferred()
            );
        }
    }

    /// Units (28-feature windows, mel patches) the model judged on this predictor's
    /// streams: each unit once, however many windows hold it.
    pub fn units_inferred(&self) -> u64 {
        self.engine.units_inferred()
    }
}

/// Saves each predicted window as `mic-<start>-<n>.wav` in a folder, where
/// `<start>` is when listening began (Unix ms), so files are never reused.
struct DebugWavs {
    dir: PathBuf,
    session: u128,
    saved: u64,
}

impl DebugWavs {
    /// Creates the folder if needed; `None` (logged once) if that fails.
    fn new(dir: PathBuf) -> Option<Self> {
        if let Err(error) = std::fs::create_dir_all(&dir) {
            tracing::warn!(
                "mic: not saving debug windows: cannot create {}: {error}",
                dir.display()
            );
            return None;
        }
        let session = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_millis());
        Some(Self {
            dir,
            session,
            saved: 0,
        })
    }

    fn save(&mut self, sample_rate: u32, window: &[f32]) {
        let path = self
            .dir
            .join(format!("mic-{}-{:05}.wav", self.session, self.saved));
        self.saved += 1;
        if let Err(error) = write_new_wav(&path, sample_rate, window) {
            tracing::warn!("mic: cannot save debug window {}: {error}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::SAMPLE_RATE;
    use crate::test_data::MODELS;

    #[test]
    fn hop_is_rounded_to_whole_stft_hops_and_the_first_window_is_provisional() {
        let path = std::path::Path::new(MODELS).join("genre-2.onnx");
        let model = Judge::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let config = MicConfig {
            window_s: 12.0,
            min_window_s: 10.0,
            hop_s: 5.0,
            ..MicConfig::default()
        };
        let mut predictor =
            WindowPredictor::new(&config, &model, SAMPLE_RATE).unwrap_or_else(|e| panic!("{e}"));
        let tone: Vec<f32> = (0..20 * SAMPLE_RATE as usize)
            .map(|n| 0.3 * (n as f32 * 0.05).sin())
            .collect();
        let mut predictions = Vec::new();
        for block in tone.chunks(4096) {
            predictor.feed(block, 0, &mut |p| predictions.push(p));
        }
        let lengths: Vec<(f64, bool)> = predictions
            .iter()
            .map(|p| (p.verdict.window.length_s(), p.verdict.provisional))
            .collect();
        // Windows end at 10 s, then every 215 hops of 512 (4.99 s): 14.99 and 19.98 s,
        // each holding the last 12 s.
        assert_eq!(lengths, [(10.0, true), (12.0, false), (12.0, false)]);
    }
}
