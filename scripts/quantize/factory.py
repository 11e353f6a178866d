"""edgepose model factory: a float TFLite YOLO-pose model in, an int8 variant
out that edgepose runs and has verified. Run through scripts/quantize.sh
(which picks the venv scripts/setup-quantize.sh makes); docs/model-factory.md
says what each recipe is for.

    quantize.sh --model FLOAT.tflite --recipe RECIPE --calibration SOURCE
                [--output OUT.tflite] [--eval-annotations FILE [--eval-images DIR]]
                [--max-ap-drop X] [--min-agreement-oks X]

Steps: check the model (TFLite, float, a YOLO-pose head found from the
graph's structure); have edgepose write the calibration inputs (its own
letterbox, `edgepose calib-inputs`); quantize with Google's AI Edge
Quantizer by the recipe; write OUT.tflite and its manifest OUT.toml into a
temporary folder; verify through edgepose (`edgepose eval --reference
FLOAT`) and apply the gates; only then move both into place. Every error is
one line on stderr and a non-zero exit (1: bad input or a failed step, 3: a
verification gate failed); nothing is left half-written.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings

import graph
import recipes
import xnnpack
from manifest import write_manifest

GATE_FAILED = 3


class FactoryError(Exception):
    """A one-line error for the user."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # noqa: D102 - argparse hook
        raise FactoryError(f"{message} (see --help)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = OneLineParser(
        prog="quantize.sh",
        description="Turn a float TFLite YOLO-pose model into an int8 model edgepose runs, "
        "and verify it through edgepose.",
    )
    p.add_argument("--model", required=True, help="the float32 .tflite model")
    p.add_argument("--recipe", required=True, metavar="RECIPE",
                   help="one of: " + ", ".join(recipes.RECIPES))
    p.add_argument("--calibration", metavar="SOURCE",
                   help="calibration frames: a folder of JPEG/PNG images or an edgepose "
                   "recording raw:FILE?format=...&width=...&height=... (the frames the "
                   "board will see); required by the static recipes")
    p.add_argument("--output", help="the .tflite to write (its manifest goes beside it as "
                   ".toml); default: MODEL-RECIPE.tflite beside the model")
    p.add_argument("--max-frames", type=int, default=100,
                   help="most calibration frames, evenly spaced over the source (default 100)")
    p.add_argument("--eval-annotations", metavar="FILE",
                   help="COCO keypoint annotations of a labelled set to verify on; without "
                   "it the check is agreement with the float model on the calibration source")
    p.add_argument("--eval-images", metavar="DIR",
                   help="the labelled set's images (default: the annotation file's folder)")
    p.add_argument("--max-ap-drop", type=float,
                   help="fail (exit 3, nothing written) if the float model's AP exceeds the "
                   "new model's by more than this")
    p.add_argument("--min-agreement-oks", type=float,
                   help="fail (exit 3, nothing written) unless the mean OKS between the two "
                   "models' persons is at least this")
    p.add_argument("--no-verify", action="store_true", help="skip the verification")
    p.add_argument("--report-json", metavar="FILE",
                   help="also write what was built and measured as JSON: ops, full-integer, "
                   "ops XNNPACK leaves out, and edgepose eval's report")
    p.add_argument("--edgepose", help="the edgepose binary (default: $EDGEPOSE_BIN, then "
                   "edgepose on PATH, then target/release or target/debug of this checkout)")
    p.add_argument("--calibration-algorithm", default="min-max", choices=["min-max", "mse"],
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.recipe not in recipes.RECIPES:
        raise FactoryError(f"unknown recipe {args.recipe!r}: expected one of "
                           + ", ".join(recipes.RECIPES))
    if not 1 <= args.max_frames <= 100000:
        raise FactoryError(f"--max-frames {args.max_frames}: expected 1 to 100000")
    for name in ("max_ap_drop", "min_agreement_oks"):
        v = getattr(args, name)
        if v is not None and not (0.0 <= v <= 1.0):
            raise FactoryError(f"--{name.replace('_', '-')} {v}: expected a number in 0..1")
    if args.max_ap_drop is not None and not args.eval_annotations:
        raise FactoryError("--max-ap-drop needs a labelled set: give --eval-annotations FILE")
    if args.no_verify and (args.max_ap_drop is not None or args.min_agreement_oks is not None):
        raise FactoryError("--no-verify cannot be combined with --max-ap-drop/--min-agreement-oks")
    return args


def log(msg: str) -> None:
    print(f"quantize: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- edgepose


def find_edgepose(explicit: str | None) -> str:
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates = [explicit, os.environ.get("EDGEPOSE_BIN"), shutil.which("edgepose"),
                  os.path.join(here, "target/release/edgepose"),
                  os.path.join(here, "target/debug/edgepose")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    if explicit:
        raise FactoryError(f"--edgepose {explicit}: not an executable file")
    raise FactoryError("no edgepose binary: build it (cargo build --release) or set EDGEPOSE_BIN")


def edgepose(binary: str, args: list[str], what: str, capture: bool = True) -> str:
    """Runs edgepose; a failure becomes one line naming `what`."""
    proc = subprocess.run([binary, *args], stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise FactoryError(f"{what}: {last.removeprefix('edgepose: error: ')}")
    return proc.stdout if capture else ""


# ---------------------------------------------------------------- steps


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tool_versions(binary: str) -> dict[str, str]:
    v = {}
    for pkg in ("litert-quantizer", "ai-edge-litert"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v[pkg] = "missing"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()
    v["edgepose"] = out[-1] if out else "unknown"
    return v


def output_path(args: argparse.Namespace) -> str:
    if args.output:
        out = args.output
    else:
        stem = os.path.splitext(args.model)[0]
        out = f"{stem}-{args.recipe}.tflite"
    if not out.endswith(".tflite"):
        raise FactoryError(f"--output {out}: expected a .tflite file name")
    if os.path.abspath(out) == os.path.abspath(args.model):
        raise FactoryError(f"--output {out}: would overwrite the float model")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FactoryError(f"--output {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise FactoryError(f"--output {out}: folder {folder} is not writable")
    return out


def verify(binary: str, args, model: str, tmp: str, calib_source: str | None) -> int:
    """Runs `edgepose eval` on the new model against the float one; prints
    its table; returns edgepose's exit status (0 passed, 3 a gate failed)."""
    cmd = ["--model", model, "eval", "--reference", os.path.abspath(args.model),
           "--json", os.path.join(tmp, "eval.json"), "--worst", "0"]
    if args.eval_annotations:
        images = args.eval_images or os.path.dirname(os.path.abspath(args.eval_annotations))
        cmd += ["--annotations", args.eval_annotations, "--images", images]
        what = f"verification on {args.eval_annotations}"
    elif calib_source:
        cmd += ["--images", calib_source]
        what = f"agreement check on {calib_source}"
    else:
        raise FactoryError("nothing to verify on: give --eval-annotations FILE or "
                           "--calibration SOURCE (or --no-verify)")
    if args.max_ap_drop is not None:
        cmd += ["--max-ap-drop", str(args.max_ap_drop)]
    if args.min_agreement_oks is not None:
        cmd += ["--min-agreement-oks", str(args.min_agreement_oks)]
    log(f"verifying: edgepose {' '.join(shlex.quote(c) for c in cmd)}")
    proc = subprocess.run([binary, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if proc.returncode not in (0, GATE_FAILED):
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise FactoryError(f"{what}: {lines[-1] if lines else proc.returncode}")
    sys.stdout.write(proc.stdout)
    return proc.returncode


def write_report(path: str | None, report: dict) -> None:
    if path:
        tmp = path + ".part"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, path)


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    recipe = recipes.RECIPES[args.recipe]
    binary = find_edgepose(args.edgepose)
    out = output_path(args)
    if recipe.needs_calibration and not args.calibration:
        raise FactoryError(f"recipe {args.recipe} needs calibration frames: give "
                           "--calibration SOURCE (a folder of images or a raw: recording)")
    if args.eval_annotations and not os.path.isfile(args.eval_annotations):
        raise FactoryError(f"--eval-annotations {args.eval_annotations}: no such file")

    # Everything the user gave is checked before the first progress line.
    float_model = graph.load(args.model)
    graph.check_float(float_model, args.model)
    heads = graph.find_pose_heads(float_model, args.model)
    # The manifest edgepose uses for the float model: input range, padding,
    # keypoints (built in, beside the file, or inferred).
    float_manifest = edgepose(binary, ["--model", os.path.abspath(args.model), "manifest"],
                              f"model {args.model}")

    out_dir = os.path.dirname(os.path.abspath(out))
    tmp = tempfile.mkdtemp(prefix=".quantize-", dir=out_dir)
    try:
        calib = None
        if recipe.needs_calibration:
            # edgepose's own letterbox makes the calibration inputs.
            npy = os.path.join(tmp, "calibration.npy")
            summary = edgepose(binary, ["--model", os.path.abspath(args.model), "calib-inputs",
                                        "--source", args.calibration, "--output", npy,
                                        "--max-frames", str(args.max_frames)], "calibration")
            calib = json.loads(summary)
            calib["path"] = npy
        log(f"{args.model}: YOLO-pose head at strides {heads.strides}, {heads.keypoints} "
            f"keypoints, decode tail of {len(heads.tail_ops)} ops; recipe {args.recipe}")
        if calib:
            log(f"calibrating on {calib['frames']} of {calib['frames_in_source']} frames of "
                f"{args.calibration} (edgepose's letterbox)")
        model_bytes = recipe.build(copy.deepcopy(float_model), heads, float_manifest, calib,
                                   args.calibration_algorithm)
        name = os.path.basename(out)
        staged = os.path.join(tmp, name)
        with open(staged, "wb") as f:
            f.write(model_bytes)
        built = graph.load(staged)
        rep = graph.report(built)
        log(f"{name}: {rep.ops} ops, input {'/'.join(rep.input_types)}, outputs "
            f"{'/'.join(sorted(set(rep.output_types)))}, "
            f"{'full-integer' if rep.full_integer else f'{len(rep.float_ops)} float ops'}")
        left_out = xnnpack.left_out(staged)
        log(f"{name}: ops XNNPACK leaves to the reference kernels: {xnnpack.summary(left_out)}")
        report = {"recipe": args.recipe, "model": out, "ops": rep.ops,
                  "op_counts": rep.op_counts, "full_integer": rep.full_integer,
                  "float_ops": len(rep.float_ops), "input_types": rep.input_types,
                  "output_types": rep.output_types, "xnnpack_left_out": left_out,
                  "calibration": calib and {k: calib[k] for k in ("source", "frames", "sha256")}}
        if recipe.full_integer and not rep.full_integer:
            raise FactoryError(f"recipe {args.recipe} should give a full-integer graph but "
                               f"{len(rep.float_ops)} ops compute in float "
                               f"(first: {rep.float_ops[:3]}); this model needs another recipe")
        write_manifest(
            os.path.join(tmp, os.path.splitext(name)[0] + ".toml"),
            float_manifest=float_manifest, recipe=args.recipe, layout=recipe.layout,
            file_name=name, sha256=sha256_file(staged), input_type=rep.input_types[0],
            source_model=os.path.basename(args.model), source_sha256=sha256_file(args.model),
            calibration=calib, calibration_source=args.calibration,
            tools=tool_versions(binary), command=" ".join(shlex.quote(a) for a in
                                                          ["scripts/quantize.sh", *argv]),
        )
        if not args.no_verify:
            status = verify(binary, args, staged, tmp, args.calibration)
            with open(os.path.join(tmp, "eval.json")) as f:
                report["eval"] = json.load(f)
            if status == GATE_FAILED:
                write_report(args.report_json, report | {"written": False})
                log(f"verification gate failed: {out} not written")
                return GATE_FAILED
        # The manifest first: a model file is never without its manifest.
        toml_out = os.path.splitext(out)[0] + ".toml"
        os.replace(os.path.join(tmp, os.path.splitext(name)[0] + ".toml"), toml_out)
        os.replace(staged, out)
        write_report(args.report_json, report | {"written": True})
        log(f"wrote {out} and {toml_out}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    warnings.simplefilter("ignore")
    try:
        return run(sys.argv[1:])
    except (FactoryError, graph.GraphError, recipes.RecipeError) as e:
        print(f"quantize: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("quantize: interrupted; nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
