//! `genred embed`: the per-patch outputs of the musicnn taggers on audio files, as genred
//! itself computes them (its decoder, resampler, log-mel front end and tract), for training
//! a head on them (`models/training/musicnn/train_head.sh`).
//!
//! One JSON object per patch on stdout, files in input order, patches in time order:
//! `{"path": ..., "patch": i, "msd": {"tags": [...], "max_pool": [...], "mean_pool": [...]},
//! "mtt": {...}}`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use ndarray::{Array2, Array3};
use serde::Serialize;

use genred::audio::{self, LoadOptions};
use genred::kinds::musicnn::mel::{self as musicnn_mel, DEFAULT_PATCH_HOP};
use genred::kinds::musicnn::tagger::{Tagger, TaggerOutputs};
use genred::record::display_path;

use super::{collect_inputs, exit_code, go_on_while_written, jobs, map_ordered, one_line};

const MSD_TAGGER: &str = "models/musicnn-msd.onnx";
const MTT_TAGGER: &str = "models/musicnn-mtt.onnx";

#[derive(Debug, Parser)]
pub struct Args {
    /// Audio files, or folders searched recursively for audio files.
    #[arg(required = true, value_name = "PATH")]
    pub inputs: Vec<PathBuf>,
    /// The musicnn tagger trained on the Million Song Dataset (Last.fm tags).
    #[arg(long, value_name = "FILE", default_value = MSD_TAGGER)]
    pub msd: PathBuf,
    /// The musicnn tagger trained on MagnaTagATune.
    #[arg(long, value_name = "FILE", default_value = MTT_TAGGER)]
    pub mtt: PathBuf,
    /// Files embedded at once (default: one per CPU core).
    #[arg(long, short)]
    pub jobs: Option<u16>,
}

/// One patch of one file: both taggers' outputs.
#[derive(Serialize)]
struct PatchRecord<'a> {
    path: &'a str,
    patch: usize,
    msd: TaggerRow,
    mtt: TaggerRow,
}

/// One tagger's outputs for one patch.
#[derive(Serialize)]
struct TaggerRow {
    tags: Vec<f32>,
    max_pool: Vec<f32>,
    mean_pool: Vec<f32>,
}

impl TaggerRow {
    fn of(outputs: &TaggerOutputs, patch: usize) -> Self {
        let row = |array: &Array2<f32>| array.row(patch).to_vec();
        TaggerRow {
            tags: row(&outputs.tags),
            max_pool: row(&outputs.max_pool),
            mean_pool: row(&outputs.mean_pool),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let msd = Tagger::load(&args.msd)?;
    let mtt = Tagger::load(&args.mtt)?;
    let files = collect_inputs(&args.inputs)?;
    let jobs = jobs(args.jobs)?;
    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    let mut written = Ok(());
    map_ordered(
        &files,
        jobs,
        || (),
        |(), path| -> anyhow::Result<_> {
            let patches = patches_of(path)?;
            Ok((msd.run(patches.view())?, mtt.run(patches.view())?))
        },
        |path, outcome| {
            match outcome {
                Ok((msd, mtt)) => written = write_records(&mut out, path, &msd, &mtt),
                Err(err) => {
                    failed += 1;
                    eprintln!("genred: {}", one_line(&err));
                }
            }
            go_on_while_written(&written)
        },
    );
    exit_code(written, failed).context("writing the embeddings to stdout")
}

/// The musicnn log-mel patches of the file at `path`, through the front end the engine uses.
fn patches_of(path: &Path) -> anyhow::Result<Array3<f32>> {
    let options = LoadOptions {
        max_duration_s: None,
        sample_rate: Some(musicnn_mel::SAMPLE_RATE),
    };
    let clip = audio::load(path, options)?;
    let log_mel = musicnn_mel::log_mel(&clip.samples);
    musicnn_mel::patches(log_mel.view(), DEFAULT_PATCH_HOP)
        .with_context(|| display_path(path).to_string())
}

fn write_records(
    out: &mut impl Write,
    path: &Path,
    msd: &TaggerOutputs,
    mtt: &TaggerOutputs,
) -> std::io::Result<()> {
    let path = path.to_string_lossy();
    for patch in 0..msd.tags.nrows() {
        let record = PatchRecord {
            path: &path,
            patch,
            msd: TaggerRow::of(msd, patch),
            mtt: TaggerRow::of(mtt, patch),
        };
        serde_json::to_writer(&mut *out, &record).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
