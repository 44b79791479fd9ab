//! `genred evaluate`: a model's accuracy, per-class recall and confusion
//! matrix on a labelled feature CSV.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use serde::Serialize;

use genred::features::csv::{self, FeatureTable};
use genred::features::Features;
use genred::kinds::features28::Classifier;
use genred::record::most_probable;

/// What `genred evaluate --help` says after the options.
const AFTER_HELP: &str = "\
The CSV is in the dataset's format (the Kaggle \"musicfeatures\" data.csv, or
`genred features` output with a `label` column added): a header with
`filename`, the 28 feature columns by name in any order, and `label`. Rows
whose label the model does not know are skipped and counted, so the two-genre
model can be evaluated on the ten-genre table.

Example, the shipped ten-genre model on GTZAN's artist-disjoint test split:
  genred evaluate --model models/genre-10.onnx data.csv --only splits/test_filtered.txt";

/// The default model: `evaluate` reads the 28 dataset features from a CSV, so it needs a
/// model on them: the seed's pop-vs-classical model.
const DEFAULT_FEATURES_MODEL: &str = "models/genre-2.onnx";

/// Measure a model's accuracy, per-class recall and confusion matrix on a
/// labelled feature CSV.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The ONNX model to evaluate.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_FEATURES_MODEL)]
    model: PathBuf,

    /// Labelled feature CSV: `filename`, the 28 features, `label`.
    #[arg(value_name = "CSV")]
    csv: PathBuf,

    /// Keep only the rows whose file is listed in LIST, one path per line
    /// (such as `blues/blues.00012.wav`); files match by name without folder
    /// and extension, so `blues.00012.au` in the CSV is kept.
    #[arg(long, value_name = "LIST")]
    only: Option<PathBuf>,

    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let classifier = Classifier::load(&args.model)?;
    let only = args.only.as_deref().map(read_split_list).transpose()?;
    let table = LabelledTable::read(&args.csv)?;
    let report = evaluate(&classifier, &table, only.as_ref(), &args)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

/// What `evaluate` measured; also its `--json` output.
#[derive(Debug, Serialize)]
struct Report {
    model: String,
    model_path: PathBuf,
    csv: PathBuf,
    only: Option<PathBuf>,
    /// Rows the model classified.
    rows: usize,
    correct: usize,
    accuracy: f64,
    /// Rows left out because their file is not in the `--only` list.
    rows_not_in_only: usize,
    /// Rows left out because the model does not know their label, by label.
    rows_with_unknown_label: BTreeMap<String, usize>,
    labels: Vec<String>,
    /// Recall of each label; `null` for a label without rows.
    recall: BTreeMap<String, Option<f64>>,
    /// `confusion[true][predicted]`, in `labels` order.
    confusion: Vec<Vec<usize>>,
}

fn evaluate(
    classifier: &Classifier,
    table: &LabelledTable,
    only: Option<&HashSet<String>>,
    args: &Args,
) -> anyhow::Result<Report> {
    let labels = classifier.labels();
    let label_index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| (label.as_str(), i))
        .collect();
    let mut confusion = vec![vec![0usize; labels.len()]; labels.len()];
    let mut rows_not_in_only = 0;
    let mut rows_with_unknown_label = BTreeMap::new();
    for row in &table.rows {
        if only.is_some_and(|stems| !stems.contains(&row.stem)) {
            rows_not_in_only += 1;
            continue;
        }
        let Some(&truth) = label_index.get(row.label.as_str()) else {
            *rows_with_unknown_label
                .entry(row.label.clone())
                .or_insert(0) += 1;
            continue;
        };
        let probabilities = classifier.predict(&row.features)?;
        let predicted = most_probable(probabilities.iter().copied().enumerate());
        confusion[truth][predicted.map_or(0, |(index, _)| index)] += 1;
    }
    let rows: usize = confusion.iter().flatten().sum();
    if rows == 0 {
        bail!(
            "{}: no row to evaluate: none has a label of model {} ({}){}",
            args.csv.display(),
            classifier.file().name,
            labels.join(", "),
            args.only
                .as_ref()
                .map(|list| format!(" among those listed in {}", list.display()))
                .unwrap_or_default()
        );
    }
    let correct: usize = (0..labels.len()).map(|i| confusion[i][i]).sum();
    let recall = labels
        .iter()
        .zip(&confusion)
        .enumerate()
        .map(|(i, (label, counts))| {
            let total: usize = counts.iter().sum();
            (
                label.clone(),
                (total > 0).then(|| counts[i] as f64 / total as f64),
            )
        })
        .collect();
    Ok(Report {
        model: classifier.file().name.clone(),
        model_path: classifier.file().path.clone(),
        csv: args.csv.clone(),
        only: args.only.clone(),
        rows,
        correct,
        accuracy: correct as f64 / rows as f64,
        rows_not_in_only,
        rows_with_unknown_label,
        labels: labels.to_vec(),
        recall,
        confusion,
    })
}

impl Report {
    /// Accuracy, per-class recall and the confusion matrix as plain text tables.
    fn to_text(&self) -> String {
        let mut text = String::new();
        let skipped: usize = self.rows_with_unknown_label.values().sum();
        let _ = writeln!(
            text,
            "model     {} ({})",
            self.model,
            self.model_path.display()
        );
        let _ = writeln!(text, "data      {}", self.csv.display());
        if let Some(only) = &self.only {
            let _ = writeln!(
                text,
                "only      {} ({} rows not listed left out)",
                only.display(),
                self.rows_not_in_only
            );
        }
        let _ = writeln!(
            text,
            "rows      {} evaluated, {skipped} skipped for labels the model does not know",
            self.rows
        );
        let _ = writeln!(
            text,
            "accuracy  {:.4} ({}/{})",
            self.accuracy, self.correct, self.rows
        );

        let width = self
            .labels
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("true \\ predicted".len());
        let _ = writeln!(text, "\n{:<width$}  recall", "label");
        for (i, (label, counts)) in self.labels.iter().zip(&self.confusion).enumerate() {
            let total: usize = counts.iter().sum();
            let recall = self.recall.get(label).copied().flatten();
            let shown = recall.map_or_else(|| "-".to_owned(), |r| format!("{r:.4}"));
            let _ = writeln!(text, "{label:<width$}  {shown} ({}/{total})", counts[i]);
        }

        let column = self
            .labels
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max(5);
        let _ = write!(text, "\n{:<width$}", "true \\ predicted");
        for label in &self.labels {
            let _ = write!(text, "  {label:>column$}");
        }
        text.push('\n');
        for (label, counts) in self.labels.iter().zip(&self.confusion) {
            let _ = write!(text, "{label:<width$}");
            for count in counts {
                let _ = write!(text, "  {count:>column$}");
            }
            text.push('\n');
        }
        text
    }
}

/// The stems (file names without folder and extension) listed in a split file.
fn read_split_list(path: &Path) -> anyhow::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --only list {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(file_stem)
        .collect())
}

/// `blues/blues.00012.wav` → `blues.00012`.
fn file_stem(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    file.rsplit_once('.')
        .map_or(file, |(stem, _)| stem)
        .to_owned()
}

/// One labelled row of the CSV.
struct LabelledRow {
    stem: String,
    label: String,
    features: Features,
}

/// A labelled feature CSV, its columns found by name.
struct LabelledTable {
    rows: Vec<LabelledRow>,
}

impl LabelledTable {
    /// Reads a feature CSV, as the dataset and `genred features --label-from-dir` write
    /// it; it must have a `label` column.
    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let table = FeatureTable::parse(&text).with_context(|| path.display().to_string())?;
        if !table.labelled {
            bail!("{}: header has no `{}` column", path.display(), csv::LABEL);
        }
        let rows = table
            .rows
            .into_iter()
            .map(|row| LabelledRow {
                stem: file_stem(&row.filename),
                label: row.label.unwrap_or_default(),
                features: row.features,
            })
            .collect();
        Ok(LabelledTable { rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_folder_and_extension() {
        assert_eq!(file_stem("blues/blues.00012.wav"), "blues.00012");
        assert_eq!(file_stem("blues.00081.au"), "blues.00081");
        assert_eq!(file_stem("noextension"), "noextension");
    }
}
