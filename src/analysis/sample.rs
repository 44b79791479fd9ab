//! Which units of a stream are judged, and the mean that is a file's verdict.
//!
//! A long stream may be judged on a sample of its units (`EngineSettings::max_units`), when
//! its front end's units each say something of the whole (musicnn's 3 s patches, CED's
//! 10 s): a 4-minute song is judged about as well, at a tenth of the cost, on a spread
//! sample. When the file states its length the sample is chosen up front, evenly spread.
//! When it does not (an MP3 without a Xing header, a streamed WAV), the units on every
//! `stride`-th position of the front end's grid are judged, and each time more than twice
//! the sample's size are kept the stride doubles and every other one goes: the sample stays
//! spread over the whole stream, and what is kept and inferred stays bounded, however long
//! the stream turns out to be.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use crate::record::{Judgement, Probabilities, TagScores, TagVocabulary};

use super::frontend::Span;
use super::unit::UnitOutput;

/// The units judged in one stream, and their outputs summed (or kept, while the sample is
/// still thinned).
#[derive(Clone, Debug, Default)]
pub(super) struct UnitSample {
    rule: Rule,
    /// Every unit judged and still in the sample, summed (every rule but `Strided`).
    judged: UnitSums,
}

#[derive(Clone, Debug, Default)]
enum Rule {
    /// Every unit.
    #[default]
    All,
    /// A stream of known length: these units, spread evenly over it.
    Chosen(BTreeSet<Span>),
    /// A stream of unknown length: the units at grid positions that are multiples of
    /// `stride`, at most `2 · max` of them kept.
    Strided {
        max: usize,
        stride: u64,
        kept: BTreeMap<Span, UnitOutput>,
    },
}

impl UnitSample {
    /// The sample of a new stream: every unit, unless `max_units` is set and the front end's
    /// units may be sampled, in which case a strided sample until the length is known.
    pub(super) fn new(max_units: Option<NonZeroUsize>, samples_units: bool) -> Self {
        let rule = match max_units.filter(|_| samples_units) {
            Some(max) => Rule::Strided {
                max: max.get(),
                stride: 1,
                kept: BTreeMap::new(),
            },
            None => Rule::All,
        };
        UnitSample {
            rule,
            judged: UnitSums::default(),
        }
    }

    /// The stream's length is known and `all` are its units, in stream order: an even
    /// spread of the sample's size, or every unit if there are no more.
    pub(super) fn expect(&mut self, all: &[Span]) {
        if let Rule::Strided { max, .. } = self.rule {
            self.rule = if all.len() > max {
                Rule::Chosen(spread_evenly(all, max).into_iter().collect())
            } else {
                Rule::All
            };
        }
    }

    /// Whether `unit` is judged.
    pub(super) fn admits(&self, unit: &Span) -> bool {
        match &self.rule {
            Rule::All => true,
            Rule::Chosen(chosen) => chosen.contains(unit),
            Rule::Strided { stride, .. } => grid_position(unit).is_multiple_of(*stride),
        }
    }

    /// `unit` was judged and gave `output`.
    pub(super) fn add(&mut self, unit: Span, output: &UnitOutput) {
        let Rule::Strided { max, stride, kept } = &mut self.rule else {
            self.judged.add(output);
            return;
        };
        // A unit admitted with others before the stride last doubled may be off it now.
        if !grid_position(&unit).is_multiple_of(*stride) {
            return;
        }
        kept.insert(unit, output.clone());
        if kept.len() > 2 * *max {
            *stride *= 2;
            let stride = *stride;
            kept.retain(|unit, _| grid_position(unit).is_multiple_of(stride));
        }
    }

    /// The mean over the units in the sample (`None` before the first).
    pub(super) fn mean(
        &self,
        labels: &[String],
        vocabularies: &[TagVocabulary],
    ) -> Option<Judgement> {
        match &self.rule {
            Rule::Strided { kept, .. } => {
                let mut sums = UnitSums::default();
                kept.values().for_each(|output| sums.add(output));
                sums.mean(labels, vocabularies)
            }
            _ => self.judged.mean(labels, vocabularies),
        }
    }
}

/// A unit's place on its front end's grid: units that may be sampled lie at whole multiples
/// of their own length.
fn grid_position(unit: &Span) -> u64 {
    unit.start / unit.len().max(1)
}

/// `count` of `items` spread evenly: the one at the centre of each of `count` equal parts
/// (all of them when there are no more), as the head's validation measured
/// (`evenly_spread` in `models/training/musicnn/train_head.py`).
pub(super) fn spread_evenly<T: Copy>(items: &[T], count: usize) -> Vec<T> {
    if count >= items.len() {
        return items.to_vec();
    }
    (0..count)
        .map(|i| items[(2 * i + 1) * items.len() / (2 * count)])
        .collect()
}

/// Running sums of unit outputs, in f64: each genre's probability, each tag's score.
#[derive(Clone, Debug, Default)]
pub(super) struct UnitSums {
    count: usize,
    genre: Vec<f64>,
    tags: Vec<Vec<f64>>,
}

impl UnitSums {
    pub(super) fn add(&mut self, output: &UnitOutput) {
        add_into(&mut self.genre, &output.genre);
        self.tags.resize_with(output.tags.len(), Vec::new);
        for (sum, tags) in self.tags.iter_mut().zip(&output.tags) {
            add_into(sum, tags);
        }
        self.count += 1;
    }

    /// The mean of the outputs added, labelled (`None` before the first).
    pub(super) fn mean(
        &self,
        labels: &[String],
        vocabularies: &[TagVocabulary],
    ) -> Option<Judgement> {
        if self.count == 0 {
            return None;
        }
        let mean = |sum: &[f64]| -> Vec<f32> {
            sum.iter().map(|s| (s / self.count as f64) as f32).collect()
        };
        let tags = vocabularies
            .iter()
            .zip(&self.tags)
            .map(|(vocabulary, sum)| TagScores {
                vocabulary: vocabulary.name.clone(),
                scores: Probabilities::new(&vocabulary.labels, &mean(sum)),
            })
            .collect();
        Some(Judgement {
            probabilities: Probabilities::new(labels, &mean(&self.genre)),
            tags,
        })
    }
}

pub(super) fn add_into(sum: &mut Vec<f64>, values: &[f32]) {
    if sum.is_empty() {
        sum.resize(values.len(), 0.0);
    }
    sum.iter_mut()
        .zip(values)
        .for_each(|(s, &v)| *s += f64::from(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(p: u64) -> Span {
        Span {
            start: p * 100,
            end: (p + 1) * 100,
        }
    }

    fn output(value: f32) -> UnitOutput {
        UnitOutput {
            genre: vec![value],
            tags: Vec::new(),
        }
    }

    #[test]
    fn a_stream_of_unknown_length_keeps_an_evenly_strided_sample_of_bounded_size() {
        let max = NonZeroUsize::new(10);
        let mut sample = UnitSample::new(max, true);
        let mut inferred = 0;
        for p in 0..1200 {
            if sample.admits(&patch(p)) {
                inferred += 1;
                sample.add(patch(p), &output(p as f32));
            }
        }
        let Rule::Strided { stride, kept, .. } = &sample.rule else {
            panic!("still strided");
        };
        // 1200 patches: the stride grew to 64, keeping patches 0, 64, … 1152 (19 of them).
        assert_eq!(*stride, 64);
        assert_eq!(kept.len(), 19);
        assert!(kept.len() <= 20);
        assert!(inferred < 100, "{inferred} of 1200 inferred");
        let labels = ["x".to_owned()];
        let mean = sample
            .mean(&labels, &[])
            .map(|judgement| judgement.probabilities.0[0].1);
        assert_eq!(mean, Some(576.0), "the mean of 0, 64, … 1152");
    }

    #[test]
    fn a_known_length_chooses_an_even_spread_and_a_short_one_everything() {
        let all: Vec<Span> = (0..100).map(patch).collect();
        let mut sample = UnitSample::new(NonZeroUsize::new(10), true);
        sample.expect(&all);
        let chosen: Vec<u64> = (0..100).filter(|&p| sample.admits(&patch(p))).collect();
        assert_eq!(chosen, [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]);
        let mut short = UnitSample::new(NonZeroUsize::new(10), true);
        short.expect(&all[..8]);
        assert!((0..8).all(|p| short.admits(&patch(p))));
        let unsampled = UnitSample::new(NonZeroUsize::new(10), false);
        assert!((0..1000).all(|p| unsampled.admits(&patch(p))));
    }
}
