//! Where the windows of a stream lie, decided as the stream arrives.
//!
//! Every window ends a whole number of hops after the first one and holds the `length`
//! samples before its end (fewer while the stream is younger than that, for a live
//! stream's provisional windows). A file's windows follow `window::WindowSpec::ranges`:
//! windows of `length` every `hop`, plus, once the stream ends, one window aligned to the
//! end when the hops left at least [`MIN_TAIL_S`] unheard, or the whole stream when it is
//! shorter than one window.

use super::frontend::Span;
use crate::window::MIN_TAIL_S;

/// What happens when the stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A file: its tail gets a window aligned to its end, and a file shorter than a window
    /// is one window.
    File,
    /// A live stream: it stops, and nothing more is judged.
    Live,
}

/// The windows of one stream, in samples at the front end's rate.
#[derive(Clone, Debug)]
pub struct Schedule {
    length: u64,
    hop: u64,
    /// Where the next regular window ends.
    next_end: u64,
    ending: Ending,
    /// The unheard tail a file must leave for a window of its own.
    min_tail: u64,
    /// The last window handed out.
    last: Option<Span>,
}

impl Schedule {
    /// Windows of `length` samples every `hop`, the first ending at `first_end`; `hop` is at
    /// least one sample, `first_end` at most `length`.
    pub fn new(length: u64, hop: u64, first_end: u64, ending: Ending, sample_rate: u32) -> Self {
        Schedule {
            length,
            hop: hop.max(1),
            next_end: first_end.min(length),
            ending,
            min_tail: (MIN_TAIL_S * f64::from(sample_rate)).round() as u64,
            last: None,
        }
    }

    /// Samples in a full window.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The next window that `available` samples complete, if any.
    pub fn next_due(&mut self, available: u64) -> Option<Span> {
        if available < self.next_end || self.next_end == 0 {
            return None;
        }
        let end = self.next_end;
        self.next_end += self.hop;
        Some(self.hand_out(Span {
            start: end.saturating_sub(self.length),
            end,
        }))
    }

    /// The stream ended after `total` samples (every regular window due was taken): a file's
    /// last window, if it needs one.
    pub fn finish(&mut self, total: u64) -> Option<Span> {
        if self.ending == Ending::Live {
            return None;
        }
        let tail = match self.last {
            None => Span {
                start: 0,
                end: total,
            },
            Some(last) if last.end + self.min_tail <= total => Span {
                start: total - self.length,
                end: total,
            },
            Some(_) => return None,
        };
        Some(self.hand_out(tail))
    }

    /// The first sample a window still to come may hold: everything before it may go.
    pub fn keep_from(&self) -> u64 {
        let next_start = self.next_end.saturating_sub(self.length);
        match (self.ending, self.last) {
            // A file's end-aligned window starts at least `min_tail` after the last one.
            (Ending::File, Some(last)) => next_start.min(last.start + self.min_tail),
            (Ending::File, None) => 0,
            (Ending::Live, _) => next_start,
        }
    }

    fn hand_out(&mut self, window: Span) -> Span {
        self.last = Some(window);
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::WindowSpec;

    const RATE: u32 = 10;

    /// Every window of a file of `total` samples, fed in blocks of `block`.
    fn file_windows(length: u64, hop: u64, total: u64, block: u64) -> Vec<Span> {
        let mut schedule = Schedule::new(length, hop, length, Ending::File, RATE);
        let mut windows = Vec::new();
        let mut available = 0;
        while available < total {
            available = (available + block).min(total);
            while let Some(window) = schedule.next_due(available) {
                assert!(window.start >= schedule_floor(&windows));
                windows.push(window);
            }
        }
        windows.extend(schedule.finish(total));
        windows
    }

    fn schedule_floor(windows: &[Span]) -> u64 {
        windows.last().map_or(0, |w| w.start)
    }

    #[test]
    fn file_windows_are_the_window_specs_ranges() {
        for (length_s, hop_s) in [(30.0, 15.0), (30.0, 30.0), (30.0, 7.3), (1.0, 1.0)] {
            let spec = WindowSpec {
                length_s,
                hop_s,
                ..WindowSpec::default()
            };
            let length = (length_s * f64::from(RATE)).round() as u64;
            let hop = (hop_s * f64::from(RATE)).round() as u64;
            for total in [0, 5, 120, 300, 305, 310, 400, 600, 2_417] {
                let expected: Vec<Span> = spec
                    .ranges(total as usize, RATE)
                    .into_iter()
                    .map(|r| Span {
                        start: r.start as u64,
                        end: r.end as u64,
                    })
                    .collect();
                for block in [1, 7, 1000] {
                    assert_eq!(
                        file_windows(length, hop, total, block),
                        expected,
                        "{length_s} s every {hop_s} s over {total} samples in blocks of {block}"
                    );
                }
            }
        }
    }

    #[test]
    fn live_windows_grow_to_full_length_then_slide() {
        let mut schedule = Schedule::new(300, 50, 100, Ending::Live, RATE);
        assert_eq!(schedule.next_due(99), None);
        let due: Vec<Span> = std::iter::from_fn(|| schedule.next_due(420)).collect();
        let spans: Vec<(u64, u64)> = due.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(
            spans,
            [
                (0, 100),
                (0, 150),
                (0, 200),
                (0, 250),
                (0, 300),
                (50, 350),
                (100, 400)
            ]
        );
        assert_eq!(schedule.keep_from(), 150, "the next window is 150..450");
        assert_eq!(
            schedule.finish(420),
            None,
            "a live stream has no tail window"
        );
    }

    #[test]
    fn a_file_keeps_what_its_tail_window_may_need() {
        let mut schedule = Schedule::new(300, 150, 300, Ending::File, RATE);
        assert_eq!(schedule.keep_from(), 0, "a short file is one window from 0");
        assert!(schedule.next_due(300).is_some());
        // The next regular window starts at 150, an end-aligned one at 10 or later.
        assert_eq!(schedule.keep_from(), 10);
    }
}
