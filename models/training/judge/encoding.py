"""Compare the judge's verdicts on the GTZAN valid originals with those on their lossy re-encodings.

Reads <out>/{original,mp3-128,vorbis-q3,vorbis16k-q1}.jsonl (written by encoding.sh with
`genred classify --json --jobs 1`) and prints encoding.json on stdout. Standard library only.
"""
import argparse
import hashlib
import json
import os
import statistics
import sys

# The installed judge's own threshold, as genred applies it.
_JUDGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "judge-10.json")
with open(_JUDGE) as _f:
    MIN_CONFIDENCE = json.load(_f)["min_confidence"]

SETS = {
    "mp3-128": "MP3 (LAME, ffmpeg libmp3lame) CBR 128 kbit/s mono, resampled to 44.1 kHz first",
    "vorbis-q3": "Ogg Vorbis (ffmpeg libvorbis) -q 3 mono, resampled to 44.1 kHz first",
    "vorbis16k-q1": "Ogg Vorbis (ffmpeg libvorbis) -q 1 mono at 16 kHz",
}


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            clip = os.path.splitext(os.path.basename(r["path"]))[0]
            rows[clip] = r
    return rows


def argmax(r):
    p = r.get("probabilities") or {}
    return max(p, key=p.get) if p else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--genred", required=True)
    a = ap.parse_args()

    orig = load(os.path.join(a.out, "original.jsonl"))
    model = {r.get("model") for r in orig.values()}
    sha = {r.get("model_sha256") for r in orig.values()}
    errors = [c for c, r in orig.items() if "genre" not in r]
    label = {c: c.split(".")[0] for c in orig}

    def acc(rows):
        kept = [c for c in rows if rows[c].get("genre") not in (None, "unknown")]
        return {
            "right_of_all": sum(rows[c].get("genre") == label[c] for c in rows),
            "argmax_right_of_all": sum(argmax(rows[c]) == label[c] for c in rows),
            "answered": len(kept),
            "right_of_answered": sum(rows[c]["genre"] == label[c] for c in kept),
            "clips": len(rows),
        }

    result = {
        "what": "genre changes of the default judge on GTZAN valid clips after lossy re-encoding",
        "script": "models/training/judge/encoding.sh (encoding.py)",
        "model": sorted(m for m in model if m),
        "model_sha256": sorted(s for s in sha if s),
        "genred_binary_sha256": hashlib.sha256(open(a.genred, "rb").read()).hexdigest(),
        "originals": "GTZAN valid_filtered.txt clips that exist as audio (96 of its 197 entries): "
        "16-bit mono 16 kHz FLAC, resampled by sox from GTZAN's 22050 Hz WAVs",
        "genre": "the reported genre, i.e. 'unknown' when confidence < min_confidence "
        f"({MIN_CONFIDENCE})",
        "clips": len(orig),
        "errors_original": errors,
        "original": acc(orig),
        "encodings": {},
    }
    for name, how in SETS.items():
        path = os.path.join(a.out, name + ".jsonl")
        if not os.path.exists(path):
            continue
        enc = load(path)
        common = sorted(set(orig) & set(enc))
        changed, argmax_changed, content_changed, dconf = [], [], [], []
        for c in common:
            o, e = orig[c], enc[c]
            if o.get("genre") != e.get("genre"):
                changed.append({
                    "clip": c,
                    "label": label[c],
                    "original": [o.get("genre"), round(o.get("confidence", 0.0), 3), argmax(o)],
                    "encoded": [e.get("genre"), round(e.get("confidence", 0.0), 3), argmax(e)],
                })
            if argmax(o) != argmax(e):
                argmax_changed.append(c)
            if o.get("content") != e.get("content"):
                content_changed.append(c)
            if "confidence" in o and "confidence" in e:
                dconf.append(abs(o["confidence"] - e["confidence"]))
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(a.out, name)) for f in fs]
        secs = sum(enc[c].get("duration_s", 0.0) for c in common)
        involving_unknown = [x for x in changed if "unknown" in (x["original"][0], x["encoded"][0])]
        result["encodings"][name] = {
            "how": how,
            "clips": len(common),
            "errors": [c for c in enc if "genre" not in enc[c]],
            "mean_kbit_s": round(sum(os.path.getsize(f) for f in files) * 8 / 1000 / secs, 1) if secs else None,
            "genre_changed": len(changed),
            "genre_changed_fraction": round(len(changed) / len(common), 4) if common else None,
            "changes_involving_unknown": len(involving_unknown),
            "changes_between_two_genres": len(changed) - len(involving_unknown),
            "argmax_changed": len(argmax_changed),
            "content_changed": len(content_changed),
            "confidence_abs_change_mean": round(statistics.mean(dconf), 4) if dconf else None,
            "confidence_abs_change_max": round(max(dconf), 4) if dconf else None,
            "accuracy": acc({c: enc[c] for c in common}),
            "changes": changed,
        }
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
