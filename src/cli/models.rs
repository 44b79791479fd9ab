//! `genred models`: the models genred can use from here, built in or found, with what each
//! tells apart, the front end it listens through and its SHA-256.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use genred::builtin;
use genred::judge::Judge;
use genred::kinds;
use genred::onnx::{self, OnnxModel, Role, LABELS_KEY};
use genred::record::display_path;
use genred::window::WindowSpec;

/// List the models: the built-in ones, and the model files (`.onnx`, judge recipes
/// `.json`) in ./models and in the folders given, one line each: where it is, its name, its
/// front end, the start of its SHA-256, and its labels (the first ten of a long list).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// More folders to look for model files in.
    #[arg(value_name = "FOLDER")]
    folders: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut paths: BTreeSet<PathBuf> = builtin::names().map(PathBuf::from).collect();
    for folder in
        std::iter::once(Path::new("models")).chain(args.folders.iter().map(PathBuf::as_path))
    {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        paths.extend(entries.flatten().map(|entry| entry.path()).filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "onnx" || extension == "json")
        }));
    }
    for path in &paths {
        let place = if path.exists() {
            display_path(path).into_owned()
        } else {
            format!("built in ({})", display_path(path))
        };
        match describe(path) {
            Ok(model) => println!(
                "{place}\t{}\t{}\t{}\t{} labels: {}",
                model.name,
                model.front_end,
                &model.sha256[..model.sha256.len().min(12)],
                model.labels.len(),
                shown_labels(&model.labels)
            ),
            // A file that is no model (another JSON, a broken file) is said so, not skipped.
            Err(err) => println!("{place}\t-\tnot a model: {}", super::one_line(&err)),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The labels, the first [`SHOWN_LABELS`] of a long list.
fn shown_labels(labels: &[String]) -> String {
    let shown = labels[..labels.len().min(SHOWN_LABELS)].join("; ");
    if labels.len() > SHOWN_LABELS {
        format!("{shown}; …")
    } else {
        shown
    }
}

/// How many labels a line shows (an AudioSet model has 527).
const SHOWN_LABELS: usize = 10;

struct Described {
    name: String,
    front_end: String,
    sha256: String,
    labels: Vec<String>,
}

fn describe(path: &Path) -> anyhow::Result<Described> {
    if path
        .extension()
        .is_some_and(|extension| extension == "json")
    {
        let judge = Judge::load(path)?;
        return Ok(Described {
            name: judge.name().to_owned(),
            front_end: "judge (a recipe over its models)".to_owned(),
            sha256: judge.provenance(&WindowSpec::default()).model_sha256,
            labels: judge.labels().to_vec(),
        });
    }
    let model = OnnxModel::read(path, Role::Model)?;
    Ok(Described {
        front_end: kinds::front_end_of(&model).to_owned(),
        labels: onnx::labels(&model.metadata, LABELS_KEY, None).unwrap_or_default(),
        name: model.file.name,
        sha256: model.file.sha256,
    })
}
