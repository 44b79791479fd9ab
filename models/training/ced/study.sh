#!/usr/bin/env bash
# CED-Tiny's AudioSet genres as a GTZAN ten-genre judge (study.py): scores every clip of
# ../shared/data/gtzan-audio-16k and nongtzan-dev into a cache outside the repository
# (default /work/cache/ced/scores.npz, about a minute per 100 clips on one core), then
# writes models/training/ced/study.json.
#
#   bash models/training/ced/study.sh [--data DIR] [--cache DIR] [--rescore]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/venv.sh"
cd "$here"
exec nice -n 10 "$venv/bin/python" study.py "$@"
