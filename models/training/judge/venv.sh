# Sourced by run.sh (with $here set to this folder): creates models/training/judge/.venv on first use
# and installs the pinned requirements.txt. Sets $venv.
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
