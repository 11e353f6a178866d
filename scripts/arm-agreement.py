#!/usr/bin/env python3
"""How far an ARM build's results are from the x86_64 reference fixtures.

Runs an ARM edgepose binary under qemu-user (scripts/qemu-runner.sh) on every
model and image of tests/fixtures/reference (LiteRT) or reference-classic
(classic TFLite), exactly as tests/reference.rs does (--threads 2 --resize
exact), and prints per model: persons (reference/ARM), images whose person
count differs, and over the persons matched by IoU the largest box and
keypoint difference in pixels, the largest score differences, keypoints
further than 1 px, the largest difference of keypoints visible (score >= 0.5) in both,
and keypoints whose visibility flips.

    scripts/arm-agreement.py aarch64|armv7 litert|classic [--bin PATH] [--fixtures DIR] [--json FILE]

The emulated CPU is EDGEPOSE_QEMU_CPU (see scripts/qemu-runner.sh). A
measurement, not a test: it never fails on a difference.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRIPLES = {
    "aarch64": ("aarch64-unknown-linux-gnu", "arm64", "aarch64-linux-gnu"),
    "armv7": ("armv7-unknown-linux-gnueabihf", "armhf", "arm-linux-gnueabihf"),
}


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(ref, got):
    """Greedy IoU matching, best pairs first (threshold 0.5)."""
    pairs = sorted(
        ((iou(r["box"], g["box"]), i, j) for i, r in enumerate(ref) for j, g in enumerate(got)),
        reverse=True,
    )
    used_r, used_g, out = set(), set(), []
    for v, i, j in pairs:
        if v < 0.5 or i in used_r or j in used_g:
            continue
        used_r.add(i)
        used_g.add(j)
        out.append((ref[i], got[j]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch", choices=TRIPLES)
    ap.add_argument("flavour", choices=["litert", "classic"])
    ap.add_argument("--bin", help="the ARM edgepose binary (default: the debug build)")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--fixtures", help="compare with this fixture directory instead of the x86_64 one")
    a = ap.parse_args()
    triple, debarch, gnu = TRIPLES[a.arch]
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = Path(a.bin) if a.bin else target_dir / triple / "debug" / "edgepose"
    cache = Path(os.environ.get("EDGEPOSE_CACHE", REPO / ".cache"))
    models = os.environ.get("EDGEPOSE_MODEL_MIRROR", str(REPO.parent / "shared/models"))
    data = Path(os.environ.get("EDGEPOSE_DATA_DIR", REPO.parent / "shared/data"))
    env = dict(os.environ, EDGEPOSE_MODEL_DIR=models)
    if a.flavour == "litert":
        lib = cache / "runtimes/litert" / a.arch / "libLiteRt.so"
        fixtures = REPO / "tests/fixtures/reference"
    else:
        lib = cache / "runtimes/tflite-classic" / debarch / "usr/lib" / gnu / "libtensorflow-lite.so.2.14.1"
        fixtures = REPO / "tests/fixtures/reference-classic"
        env["EDGEPOSE_QEMU_ROOT"] = "classic"
    if a.fixtures:
        fixtures = Path(a.fixtures).resolve()
    for p in (binary, lib):
        if not p.exists():
            sys.exit(f"arm-agreement: {p} not found (build with cargo build --target {triple}; run scripts/setup.sh)")

    rows, total = [], {"persons_ref": 0, "persons_arm": 0, "count_diff": 0, "box_px": 0.0,
                       "kpt_px": 0.0, "vis_kpt_px": 0.0, "score": 0.0, "kpt_score": 0.0, "kpt_over_1px": 0,
                       "vis_flips": 0, "keypoints": 0}
    for fx in sorted(fixtures.glob("*.json")):
        ref = json.loads(fx.read_text())
        images = ref["images"]
        cmd = [str(REPO / "scripts/qemu-runner.sh"), a.arch, str(binary), "--tflite-lib", str(lib),
               "--model", ref["model"], "--threads", "2", "--resize", "exact", "infer"]
        cmd += [str(data / i["file"]) for i in images]
        t = time.monotonic()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t
        if out.returncode != 0:
            sys.exit(f"arm-agreement: {ref['model']} failed: {out.stderr.strip()[-500:]}")
        recs = [json.loads(l) for l in out.stdout.splitlines()]
        r = {"model": ref["model"], "images": len(images), "persons_ref": 0, "persons_arm": 0,
             "count_diff": 0, "box_px": 0.0, "kpt_px": 0.0, "vis_kpt_px": 0.0, "score": 0.0, "kpt_score": 0.0,
             "kpt_over_1px": 0, "vis_flips": 0, "keypoints": 0, "wall_s": round(wall, 1)}
        for rec, want in zip(recs, images):
            got_p, ref_p = rec["persons"], want["persons"]
            r["persons_ref"] += len(ref_p)
            r["persons_arm"] += len(got_p)
            r["count_diff"] += len(got_p) != len(ref_p)
            for e, g in match(ref_p, got_p):
                r["box_px"] = max(r["box_px"], *(abs(x - y) for x, y in zip(g["box"], e["box"])))
                r["score"] = max(r["score"], abs(g["score"] - e["score"]))
                for gk, ek in zip(g["keypoints"], e["keypoints"]):
                    d = max(abs(gk["x"] - ek[0]), abs(gk["y"] - ek[1]))
                    r["kpt_px"] = max(r["kpt_px"], d)
                    if gk["score"] >= 0.5 and ek[2] >= 0.5:
                        r["vis_kpt_px"] = max(r["vis_kpt_px"], d)
                    r["kpt_over_1px"] += d > 1.0
                    r["kpt_score"] = max(r["kpt_score"], abs(gk["score"] - ek[2]))
                    r["vis_flips"] += gk["visible"] != (ek[2] >= 0.5)
                    r["keypoints"] += 1
        rows.append(r)
        for k in total:
            total[k] = max(total[k], r[k]) if isinstance(total[k], float) else total[k] + r[k]

    cpu = os.environ.get("EDGEPOSE_QEMU_CPU") or {"aarch64": "cortex-a76", "armv7": "cortex-a7"}[a.arch]
    print(f"{a.arch} {a.flavour} (qemu cpu {cpu}) vs {fixtures.relative_to(REPO)}")
    hdr = f"{'model':<44}{'persons':>9}{'count≠':>7}{'box px':>8}{'kpt px':>8}{'vis px':>8}{'>1px':>6}{'Δscore':>8}{'Δkpt sc':>8}{'vis≠':>5}{'s':>6}"
    print(hdr)
    for r in rows + [dict(total, model="all", wall_s=sum(x["wall_s"] for x in rows))]:
        print(f"{r['model']:<44}{str(r['persons_ref']) + '/' + str(r['persons_arm']):>9}{r['count_diff']:>7}"
              f"{r['box_px']:>8.3f}{r['kpt_px']:>8.3f}{r['vis_kpt_px']:>8.3f}{r['kpt_over_1px']:>6}{r['score']:>8.4f}"
              f"{r['kpt_score']:>8.4f}{r['vis_flips']:>5}{r['wall_s']:>6.0f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"arch": a.arch, "flavour": a.flavour, "cpu": cpu,
                                            "models": rows, "all": total}, indent=1))


if __name__ == "__main__":
    main()
