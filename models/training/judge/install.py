"""Writes models/judge-10.json, the judge genred loads: study.py's fusion.json (the recipe and
where each number was fitted) plus the two model files it was fitted on, by name and SHA-256, so
that genred refuses to run the recipe with other models.

    python3 models/training/judge/install.py
"""

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE.parents[1]
GENRE_MODEL = "musicnn-genre-10.onnx"
HEARING_MODEL = "ced-tiny.onnx"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    recipe = json.loads((HERE / "fusion.json").read_text())
    recipe["models"] = {
        "genre": {"file": GENRE_MODEL, "sha256": sha256(MODELS / GENRE_MODEL)},
        "hearing": {"file": HEARING_MODEL, "sha256": sha256(MODELS / HEARING_MODEL)},
    }
    recipe["source"] = ("models/training/judge/: study.py (fit and figures, README.md), "
                        "install.py (this file)")
    recipe["licence"] = ("the recipe: MIT, as genred; the models it runs keep their own "
                         "(models/LICENSE-musicnn.md, models/LICENSE-ced.md)")
    out = MODELS / "judge-10.json"
    out.write_text(json.dumps(recipe, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
