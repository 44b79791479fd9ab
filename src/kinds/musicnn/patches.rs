//! The `musicnn-mel-16k-96` front end as the engine takes it: log-mel frames computed as
//! the stream arrives ([`LogMelStream`]), cut into units of [`PATCH_FRAMES`] frames at fixed
//! stream positions (patch `p` holds frames `187 p .. 187 p + 187`, as musicnn cuts a whole
//! clip), so a patch shared by overlapping windows is one unit, inferred once.
//!
//! A patch belongs to a window when every sample its frames reach lies inside the window;
//! a window's verdict is the mean over its patches.

use ndarray::Array2;

use super::mel::{LogMelStream, HOP_LENGTH, N_MELS, PATCH_FRAMES, SAMPLE_RATE};
use crate::analysis::{FrontEnd, FrontEndError, Span, WindowAudio};

/// The stretch of stream one patch covers: from its first frame's centre to its last
/// frame's reach, `187 · 256` samples (2.992 s).
pub const PATCH_SAMPLES: u64 = (PATCH_FRAMES * HOP_LENGTH) as u64;

/// musicnn's log-mel patches over a stream at 16 kHz.
#[derive(Default)]
pub struct MelPatches {
    stream: LogMelStream,
    /// The frames from frame `first_frame` on, row after row of [`N_MELS`] values.
    frames: Vec<f32>,
    first_frame: u64,
    frames_computed: u64,
}

impl MelPatches {
    pub fn new() -> Self {
        MelPatches::default()
    }

    fn keep(&mut self, frames: Array2<f32>) {
        self.frames_computed += frames.nrows() as u64;
        self.frames.extend(frames.iter());
    }
}

impl FrontEnd for MelPatches {
    /// One patch, `[PATCH_FRAMES, N_MELS]`.
    type Unit = Array2<f32>;

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn hop_length(&self) -> usize {
        HOP_LENGTH
    }

    fn start_stream(&mut self) {
        self.stream = LogMelStream::new();
        self.frames.clear();
        self.first_frame = 0;
    }

    fn push(&mut self, samples: &[f32]) {
        let frames = self.stream.push(samples);
        self.keep(frames);
    }

    fn finish(&mut self) {
        let frames = std::mem::take(&mut self.stream).finish();
        self.keep(frames);
    }

    fn forget_before(&mut self, position: u64) {
        let first_needed = position.div_ceil(PATCH_SAMPLES) * PATCH_FRAMES as u64;
        let drop_frames = first_needed.saturating_sub(self.first_frame);
        let drop_values = (drop_frames as usize * N_MELS).min(self.frames.len());
        self.frames.drain(..drop_values);
        self.first_frame += (drop_values / N_MELS) as u64;
    }

    fn units(&self, window: Span) -> Vec<Span> {
        (window.start.div_ceil(PATCH_SAMPLES)..)
            .map(|p| Span {
                start: p * PATCH_SAMPLES,
                end: (p + 1) * PATCH_SAMPLES,
            })
            .take_while(|patch| patch.end <= window.end)
            .collect()
    }

    fn samples_units(&self) -> bool {
        true
    }

    fn unit(
        &mut self,
        unit: Span,
        _window: &WindowAudio<'_>,
    ) -> Result<Array2<f32>, FrontEndError> {
        let first = unit.start / PATCH_SAMPLES * PATCH_FRAMES as u64;
        let unavailable = || FrontEndError::FramesUnavailable {
            first,
            end: first + PATCH_FRAMES as u64,
        };
        let offset = first
            .checked_sub(self.first_frame)
            .ok_or_else(unavailable)? as usize;
        let values = self
            .frames
            .get(offset * N_MELS..(offset + PATCH_FRAMES) * N_MELS)
            .ok_or_else(unavailable)?;
        Array2::from_shape_vec((PATCH_FRAMES, N_MELS), values.to_vec()).map_err(|_| unavailable())
    }

    fn frames_computed(&self) -> u64 {
        self.frames_computed
    }
}

#[cfg(test)]
mod tests {
    use super::super::mel::{log_mel, patches, DEFAULT_PATCH_HOP};
    use super::*;

    fn signal(len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| {
                let t = n as f64 / f64::from(SAMPLE_RATE);
                let click = if n % 4000 < 3 { 0.5 } else { 0.0 };
                (0.3 * (2.0 * std::f64::consts::PI * (300.0 + 50.0 * t) * t).sin() + click) as f32
            })
            .collect()
    }

    #[test]
    fn patches_inside_a_window_are_musicnns_patches_of_the_whole_clip() {
        let samples = signal(20 * SAMPLE_RATE as usize + 123);
        let expected =
            patches(log_mel(&samples).view(), DEFAULT_PATCH_HOP).unwrap_or_else(|e| panic!("{e}"));
        let mut front_end = MelPatches::new();
        front_end.start_stream();
        for block in samples.chunks(999) {
            front_end.push(block);
        }
        front_end.finish();
        let window = Span {
            start: 5 * u64::from(SAMPLE_RATE),
            end: samples.len() as u64,
        };
        let audio = WindowAudio {
            span: window,
            samples: &samples[window.start as usize..],
        };
        let units = front_end.units(window);
        // Patches 2..=5 start at or after 5 s (patch 2 at 5.98 s) and end by 20.01 s
        // (patch 5 at 17.95 s; patch 6 would end at 20.94 s).
        let first: Vec<u64> = units.iter().map(|u| u.start / PATCH_SAMPLES).collect();
        assert_eq!(first, [2, 3, 4, 5]);
        front_end.forget_before(window.start);
        for (p, unit) in first.iter().zip(&units) {
            let patch = front_end
                .unit(*unit, &audio)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(patch, expected.index_axis(ndarray::Axis(0), *p as usize));
        }
        let earlier = Span {
            start: 0,
            end: PATCH_SAMPLES,
        };
        assert!(front_end.unit(earlier, &audio).is_err(), "forgotten");
    }
}
