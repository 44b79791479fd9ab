"""Time onnxruntime on a musicnn ONNX graph: milliseconds per 3 s patch.

One intra-op and one inter-op thread, sequential execution, all graph
optimisations on: the figure genred's tract inference is compared with.
Each batch size is warmed up, then run ``--runs`` times; the median wall
and CPU time of one run, divided by the batch size, are printed.

Usage: python bench_ort.py MODEL.onnx [--batch 1 10] [--runs 20]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import time

import numpy as np
import onnxruntime

PATCH_FRAMES = 187
N_MELS = 96
# Inputs in the range of real log-mel patches: log10(10000 x + 1) lies in [0, 4.82].
LOG_MEL_MAX = 4.8
SEED = 0
WARMUP_RUNS = 3


def session_for(model: pathlib.Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def time_batch(session: onnxruntime.InferenceSession, batch: int, runs: int) -> tuple[float, float]:
    """Median (wall, CPU) milliseconds per patch of ``runs`` runs of ``batch`` patches."""
    rng = np.random.default_rng(SEED)
    patches = rng.uniform(0.0, LOG_MEL_MAX, (batch, PATCH_FRAMES, N_MELS)).astype(np.float32)
    feed = {session.get_inputs()[0].name: patches}
    for _ in range(WARMUP_RUNS):
        session.run(None, feed)
    wall, cpu = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        session.run(None, feed)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return 1000 * statistics.median(wall) / batch, 1000 * statistics.median(cpu) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=pathlib.Path)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 10], help="batch sizes (default: 1 10)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per batch size (default: 20)")
    args = parser.parse_args()
    session = session_for(args.model)
    print(f"{args.model.name}: onnxruntime {onnxruntime.__version__}, 1 thread, median of {args.runs} runs")
    for batch in args.batch:
        wall, cpu = time_batch(session, batch, args.runs)
        print(f"  batch {batch:3d}: {wall:7.2f} ms/patch wall, {cpu:7.2f} ms/patch CPU")


if __name__ == "__main__":
    main()
