//! The fused judge: the genre model's head, its taggers' genre tags and the sound-event
//! model's AudioSet genres, each made ten genre-aligned log-scores, weighed, calibrated by a
//! temperature, and heard through a content gate first (models/training/judge/README.md
//! gives the fit and the figures).
//!
//! ```text
//! e[s][h] = ln(max(x[s][h], eps))      x: head probability; max mapped tag; max mapped AudioSet class
//! z[g]    = Σ_s Σ_h W[s][g][h] · e[s][h] + b[g]     W[s]: w·I, diag(w) or a full matrix
//! p       = softmax(z / T)             genre = argmax p, "unknown" when max p < min_confidence
//! ```

use crate::record::{Content, Judgement, Probabilities, UNKNOWN_GENRE};

use super::recipe::Recipe;

/// What the judge concluded from the two models' verdicts on one stretch of audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Conclusion {
    pub content: Content,
    /// Music, speech, silence and noise, as the gate read them.
    pub content_scores: Probabilities,
    /// `None` unless the content is music.
    pub genre: Option<String>,
    pub confidence: f32,
    /// The calibrated probability of every genre (also for audio that is not music).
    pub probabilities: Probabilities,
    /// AudioSet music styles above the threshold, best first.
    pub styles: Probabilities,
}

/// A recipe resolved against its two models' labels: every name is an index here.
#[derive(Debug)]
pub struct Fusion {
    recipe: Recipe,
    /// Per recipe genre: its column among the genre model's labels.
    head: Vec<usize>,
    /// Per recipe genre: the (vocabulary, tag) columns that speak for it.
    tags: Vec<Vec<(usize, usize)>>,
    /// Per recipe genre: the sound-event classes that speak for it.
    audioset: Vec<Vec<usize>>,
    /// The sound-event model's labels, for the styles' names.
    hearing_labels: Vec<String>,
}

impl Fusion {
    /// Resolves `recipe` against the genre model's labels and tag vocabularies and the
    /// sound-event model's labels; the error says what does not fit.
    pub fn new(
        recipe: Recipe,
        genre_labels: &[String],
        vocabularies: &[crate::record::TagVocabulary],
        hearing_labels: &[String],
    ) -> Result<Self, String> {
        let column = |labels: &[String], name: &str, of: &str| {
            labels
                .iter()
                .position(|label| label == name)
                .ok_or_else(|| format!("{of} has no label {name:?}"))
        };
        let head = recipe
            .genres
            .iter()
            .map(|genre| column(genre_labels, genre, "the genre model"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tags = Vec::new();
        let mut audioset = Vec::new();
        for genre in &recipe.genres {
            let mut columns = Vec::new();
            for (vocabulary, names) in recipe.sources.tags.map.get(genre).into_iter().flatten() {
                let v = vocabularies
                    .iter()
                    .position(|known| &known.name == vocabulary)
                    .ok_or_else(|| {
                        format!("the genre model has no tag vocabulary {vocabulary:?}")
                    })?;
                for name in names {
                    let of = format!("its {vocabulary} tags");
                    columns.push((v, column(&vocabularies[v].labels, name, &of)?));
                }
            }
            tags.push(columns);
            let classes: Vec<usize> = recipe
                .sources
                .ced
                .map
                .get(genre)
                .map(|classes| classes.values().copied().collect())
                .unwrap_or_default();
            audioset.push(classes);
        }
        let gate = &recipe.content_gate.classes;
        let [first_style, last_style] = recipe.styles.classes;
        let highest = audioset
            .iter()
            .flatten()
            .chain([&gate.music, &gate.speech, &gate.silence, &last_style])
            .chain(&gate.noise)
            .max()
            .copied()
            .unwrap_or(0);
        if highest >= hearing_labels.len() || first_style > last_style {
            return Err(format!(
                "class {highest} is beyond the sound-event model's {} labels",
                hearing_labels.len()
            ));
        }
        Ok(Fusion {
            recipe,
            head,
            tags,
            audioset,
            hearing_labels: hearing_labels.to_vec(),
        })
    }

    /// The sound-event classes' scores, in the model's label order.
    fn scores(hearing: &Probabilities) -> Vec<f32> {
        hearing.0.iter().map(|(_, p)| *p).collect()
    }

    /// What `genre` (the genre model's judgement, with tags) and `hearing` (the sound-event
    /// model's scores) say together.
    /// `min_confidence`, when given, overrides the recipe's.
    pub fn conclude(
        &self,
        genre: &Judgement,
        hearing: &Probabilities,
        min_confidence: Option<f32>,
    ) -> Conclusion {
        let scores = Self::scores(hearing);
        let (content, content_scores) = self.content(&scores);
        let probabilities = self.fuse(genre, &scores);
        let (best, confidence) = probabilities
            .best()
            .map(|(label, p)| (label.to_owned(), p))
            .unwrap_or_default();
        let genre = (content == Content::Music).then(|| {
            if confidence < min_confidence.unwrap_or(self.recipe.min_confidence) {
                UNKNOWN_GENRE.to_owned()
            } else {
                best
            }
        });
        Conclusion {
            content,
            content_scores,
            confidence: if genre.is_some() { confidence } else { 0.0 },
            genre,
            probabilities,
            styles: self.styles(&scores),
        }
    }

    /// The calibrated genre probabilities of `genre` (the genre model's judgement, with tags)
    /// and `hearing` (the sound-event model's scores) together, without the gate or styles.
    pub fn probabilities(&self, genre: &Judgement, hearing: &Probabilities) -> Probabilities {
        self.fuse(genre, &Self::scores(hearing))
    }

    /// What the sound-event model's `hearing` scores say the audio holds, with the four
    /// scores the gate read.
    pub fn hear(&self, hearing: &Probabilities) -> (Content, Probabilities) {
        self.content(&Self::scores(hearing))
    }

    /// The content gate: music when its score reaches `music_min`; else the loudest of
    /// speech, silence and noise when it reaches `other_min`; else unknown.
    fn content(&self, scores: &[f32]) -> (Content, Probabilities) {
        let gate = &self.recipe.content_gate;
        let score = |class: usize| scores.get(class).copied().unwrap_or(0.0);
        let noise = gate
            .classes
            .noise
            .iter()
            .map(|&class| score(class))
            .fold(0.0_f32, f32::max);
        let heard = [
            (Content::Music, score(gate.classes.music)),
            (Content::Speech, score(gate.classes.speech)),
            (Content::Silence, score(gate.classes.silence)),
            (Content::Noise, noise),
        ];
        let content = if heard[0].1 >= gate.music_min {
            Content::Music
        } else {
            crate::record::most_probable(heard[1..].iter().copied())
                .filter(|(_, p)| *p >= gate.other_min)
                .map_or(Content::Unknown, |(content, _)| content)
        };
        let named = heard.map(|(content, p)| (content.name().to_owned(), p));
        (content, Probabilities(named.to_vec()))
    }

    /// The calibrated genre probabilities, in the recipe's genre order.
    fn fuse(&self, genre: &Judgement, scores: &[f32]) -> Probabilities {
        let evidence = self.evidence(genre, scores);
        Probabilities::new(&self.recipe.genres, &self.calibrated(&evidence))
    }

    /// Per source (head, tags, sound-event classes), per genre: the score that speaks for the
    /// genre (the largest of its mapped tags or classes; 0 where none is mapped).
    fn evidence(&self, genre: &Judgement, scores: &[f32]) -> [Vec<f32>; 3] {
        let largest = |values: &mut dyn Iterator<Item = f32>| values.fold(0.0_f32, f32::max);
        let tag = |&(vocabulary, column): &(usize, usize)| {
            genre
                .tags
                .get(vocabulary)
                .and_then(|tags| tags.scores.0.get(column))
                .map_or(0.0, |(_, p)| *p)
        };
        let genres = 0..self.recipe.genres.len();
        [
            genres
                .clone()
                .map(|g| {
                    let column = self.head[g];
                    genre.probabilities.0.get(column).map_or(0.0, |(_, p)| *p)
                })
                .collect(),
            genres
                .clone()
                .map(|g| largest(&mut self.tags[g].iter().map(tag)))
                .collect(),
            genres
                .map(|g| {
                    let class = |&class: &usize| scores.get(class).copied().unwrap_or(0.0);
                    largest(&mut self.audioset[g].iter().map(class))
                })
                .collect(),
        ]
    }

    /// softmax(z / T) of z[g] = Σ_s Σ_h W[s][g][h] · ln(max(x[s][h], eps)) + b[g].
    fn calibrated(&self, evidence: &[Vec<f32>; 3]) -> Vec<f32> {
        let recipe = &self.recipe;
        let [head, tags, ced] = evidence
            .each_ref()
            .map(|x| x.iter().map(|x| x.max(recipe.eps).ln()).collect::<Vec<_>>());
        let w = &recipe.weights;
        let logits: Vec<f32> = recipe
            .genres
            .iter()
            .enumerate()
            .map(|(g, name)| {
                let bias = recipe.biases.get(name).copied().unwrap_or(0.0);
                let z =
                    w.head.weigh(g, &head) + w.tags.weigh(g, &tags) + w.ced.weigh(g, &ced) + bias;
                z / recipe.temperature
            })
            .collect();
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|z| (z - top).exp()).collect();
        let sum: f32 = exp.iter().sum();
        exp.iter().map(|e| e / sum).collect()
    }

    /// The AudioSet music styles at or above the threshold, best first.
    fn styles(&self, scores: &[f32]) -> Probabilities {
        let [first, last] = self.recipe.styles.classes;
        let threshold = self.recipe.styles.threshold();
        let mut styles: Vec<(String, f32)> = (first..=last)
            .filter_map(|class| {
                let p = *scores.get(class)?;
                (p >= threshold).then(|| (self.hearing_labels[class].clone(), p))
            })
            .collect();
        styles.sort_by(|a, b| b.1.total_cmp(&a.1));
        Probabilities(styles)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The shipped judge's recipe, with the worked examples `study.py` writes beside it.
    const JUDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/judge-10.json");

    #[derive(serde::Deserialize)]
    struct Example {
        clip: String,
        x_after_eps: BTreeMap<String, Vec<f32>>,
        p: Vec<f32>,
    }

    fn recipe_and_examples() -> (Recipe, Vec<Example>) {
        let text = std::fs::read_to_string(JUDGE).unwrap_or_else(|e| panic!("{JUDGE}: {e}"));
        let recipe: Recipe = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        #[derive(serde::Deserialize)]
        struct Examples {
            examples: Vec<Example>,
        }
        let examples: Examples = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        (recipe, examples.examples)
    }

    /// A fusion of `recipe` without models: only [`Fusion::calibrated`] is used.
    fn bare(recipe: Recipe) -> Fusion {
        Fusion {
            recipe,
            head: Vec::new(),
            tags: Vec::new(),
            audioset: Vec::new(),
            hearing_labels: Vec::new(),
        }
    }

    #[test]
    fn the_calibrated_probabilities_are_the_studys_on_its_worked_examples() {
        let (recipe, examples) = recipe_and_examples();
        assert!(examples.len() >= 3);
        let fusion = bare(recipe);
        for example in examples {
            let source = |name: &str| {
                example
                    .x_after_eps
                    .get(name)
                    .cloned()
                    .unwrap_or(vec![1.0; 10])
            };
            let p = fusion.calibrated(&[source("head"), source("tags"), source("ced")]);
            for (ours, study) in p.iter().zip(&example.p) {
                assert!(
                    (ours - study).abs() < 2e-5,
                    "{}: {p:?} vs the study's {:?}",
                    example.clip,
                    example.p
                );
            }
        }
    }

    #[test]
    fn the_gate_hears_music_first_then_the_loudest_of_the_rest() {
        let (recipe, _) = recipe_and_examples();
        let fusion = bare(recipe);
        let classes = fusion.recipe.content_gate.classes.clone();
        let mut scores = vec![0.0_f32; 527];
        let content = |scores: &[f32]| fusion.content(scores).0;
        assert_eq!(content(&scores), Content::Unknown, "nothing heard clearly");
        scores[classes.speech] = 0.7;
        assert_eq!(content(&scores), Content::Speech);
        scores[classes.noise[0]] = 0.8;
        assert_eq!(content(&scores), Content::Noise);
        scores[classes.music] = 0.25;
        assert_eq!(
            content(&scores),
            Content::Music,
            "music at its threshold wins"
        );
        scores[classes.music] = 0.2499;
        assert_eq!(content(&scores), Content::Noise);
    }
}
