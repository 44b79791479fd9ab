# Sourced by convert.sh and train_head.sh (with $here set to this folder):
# creates models/training/musicnn/.venv on first use, installs the pinned
# requirements.txt and downloads the musicnn 0.1.0 wheel (29 MB, the
# checkpoints are inside it) into it. Sets $venv and $wheel; convert.py
# refuses a wheel whose sha256 is not the pinned one.
venv="$here/.venv"
wheel="$venv/wheel/musicnn-0.1.0-py3-none-any.whl"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
if [ ! -f "$wheel" ]; then
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --dest "$venv/wheel" musicnn==0.1.0
fi
