#!/usr/bin/env bash
# Reproduces the evidence table of docs/model-factory.md: every factory
# recipe on yolo11n-pose-320-float32, each calibrated on one mini set and
# evaluated (edgepose eval, against the float model) on the other, timed with
# edgepose bench on LiteRT (2 threads) and on the classic TFLite runtime,
# with full-integer yes/no and the ops XNNPACK leaves out. Prints a Markdown
# table; the models and JSON reports stay in OUT.
#
#   bash scripts/factory-evidence.sh [OUT]     (default OUT: out/factory-evidence)
#
# With EDGEPOSE_EVIDENCE_REUSE=1 the models and evaluations already in OUT
# are kept and only the timings are measured again.
#
# Needs scripts/setup.sh (runtimes, models, the factory venv) and a release
# build (cargo build --release; or EDGEPOSE_BIN). Takes about 10 minutes on
# 2 cores, a third of it the classic runtime's reference kernels. Timings
# are only comparable within one run: run it on a quiet machine.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGEPOSE_CACHE:-$here/.cache}
data=${EDGEPOSE_DATA_DIR:-$here/../shared/data}
out=${1:-$here/out/factory-evidence}
bin=${EDGEPOSE_BIN:-$here/target/release/edgepose}
models=${EDGEPOSE_MODEL_DIR:-$cache/models}
float=$models/yolo11n-pose-320-float32.tflite
shipped=$models/yolo11n-pose-320-int8.tflite
litert=$cache/runtimes/litert/$(uname -m)/libLiteRt.so
classic_root=$cache/runtimes/tflite-classic/amd64
py=$cache/venv-quantize/bin/python
image=$data/samples/bus.jpg
rounds=${EDGEPOSE_EVIDENCE_ROUNDS:-8}
bench_iters=${EDGEPOSE_EVIDENCE_ITERATIONS:-40}
classic_iters=${EDGEPOSE_EVIDENCE_CLASSIC_ITERATIONS:-10}

for f in "$bin" "$float" "$shipped" "$litert" "$py" "$image"; do
    [ -e "$f" ] || { echo "factory-evidence: $f is missing: run scripts/setup.sh and cargo build --release" >&2; exit 1; }
done
mkdir -p "$out"
rm -f "$out"/bench-*.json
export EDGEPOSE_BIN=$bin EDGEPOSE_TFLITE_LIB=$litert
recipes=(int8 int8-heads int8-float-decode dynamic)
sets=("coco-train-mini coco-val-mini" "coco-val-mini coco-train-mini")

# Accuracy: calibrate on one set, evaluate on the other.
for r in "${recipes[@]}"; do
    for pair in "${sets[@]}"; do
        read -r calib eval <<<"$pair"
        [ "${EDGEPOSE_EVIDENCE_REUSE:-0}" = 1 ] && [ -f "$out/$r-cal-$calib.json" ] && continue
        echo "[evidence] $r: calibrated on $calib, evaluated on $eval" >&2
        bash "$here/scripts/quantize.sh" --model "$float" --recipe "$r" \
            --calibration "$data/$calib" --output "$out/$r-cal-$calib.tflite" \
            --eval-annotations "$data/$eval/person_keypoints.json" \
            --report-json "$out/$r-cal-$calib.json" >"$out/$r-cal-$calib.log" 2>&1 ||
            { tail -3 "$out/$r-cal-$calib.log" >&2; exit 1; }
    done
done
# The float model and the shipped int8 model evaluated the same way.
for m in "$float" "$shipped"; do
    name=$(basename "$m" .tflite)
    for pair in "${sets[@]}"; do
        read -r _ eval <<<"$pair"
        "$bin" --model "$m" eval --reference "$float" --annotations "$data/$eval/person_keypoints.json" \
            --images "$data/$eval" --worst 0 --json "$out/$name-eval-$eval.json" >/dev/null
    done
done

# Speed: the models calibrated on coco-train-mini, on LiteRT and classic.
classic() {
    "$classic_root/usr/lib64/ld-linux-x86-64.so.2" \
        --library-path "$classic_root/usr/lib/x86_64-linux-gnu:$classic_root/lib/x86_64-linux-gnu" \
        "$bin" --tflite-lib "$classic_root/usr/lib/x86_64-linux-gnu/libtensorflow-lite.so.2.14.1" "$@"
}
bench_models=()
for m in "$float" "$shipped" "${recipes[@]/#/$out/}"; do
    m=${m%.tflite}
    [ -f "$m.tflite" ] || m="$m-cal-coco-train-mini"
    bench_models+=("$m")
done
# LiteRT: the models take turns, round after round, so that a change in the
# machine's load reaches all of them; the table takes each model's median
# over the rounds' medians.
for ((r = 0; r < rounds; r++)); do
    echo "[evidence] LiteRT timing round $((r + 1)) of $rounds" >&2
    for m in "${bench_models[@]}"; do
        "$bin" --model "$m.tflite" --threads 2 bench "$image" --iterations "$bench_iters" \
            --warmup 5 --json >"$out/bench-litert-$(basename "$m")-$r.json"
    done
done
# Classic (reference kernels, about a second an invoke): one round.
if [ -x "$classic_root/usr/lib64/ld-linux-x86-64.so.2" ]; then
    for m in "${bench_models[@]}"; do
        echo "[evidence] classic timing $(basename "$m")" >&2
        classic --model "$m.tflite" --threads 2 bench "$image" --iterations "$classic_iters" --warmup 2 --json \
            >"$out/bench-classic-$(basename "$m")-0.json"
    done
fi
uptime >"$out/load.txt"

"$py" - "$here/scripts/quantize" "$out" "$float" "$shipped" "${recipes[@]}" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import xnnpack  # noqa: E402

out, float_m, shipped = sys.argv[2:5]
recipes = sys.argv[5:]


def load(p):
    with open(p) as f:
        return json.load(f)


def ap(ev):
    r = ev["result"]
    m, ref = r["model"]["stats"][0], r["reference"]["stats"][0]
    return f"{m:.3f} ({ref - m:.3f})"


def bench(name, runtime, stage="bare_invoke"):
    """Median over the rounds of each round's median."""
    import glob, statistics
    runs = sorted(glob.glob(os.path.join(out, f"bench-{runtime}-{glob.escape(name)}-[0-9]*.json")))
    if not runs:
        return None
    return statistics.median(load(p)[stage]["median_ms"] for p in runs)


rows = []
base = bench("int8-cal-coco-train-mini", "litert")


def row(label, val_ev, train_ev, bname, full, model_path):
    t, c = bench(bname, "litert"), bench(bname, "classic")
    e2e = bench(bname, "litert", "end_to_end")
    xnn = xnnpack.summary(xnnpack.left_out(model_path))
    rows.append(f"| {label} | {ap(val_ev)} | {ap(train_ev)} | {t:.2f} | {t / base:.2f} | {e2e:.2f} | "
                f"{'%.0f' % c if c else '-'} | {full} | {xnn} |")


for label, m, full in (("float32 (the reference)", float_m, "no"),
                       ("shipped int8 (calibrated on coco-val-mini's own images)", shipped, "yes")):
    name = os.path.basename(m)[:-len(".tflite")]
    row(label, load(f"{out}/{name}-eval-coco-val-mini.json"),
        load(f"{out}/{name}-eval-coco-train-mini.json"), name, full, m)
for r in recipes:
    a, b = load(f"{out}/{r}-cal-coco-train-mini.json"), load(f"{out}/{r}-cal-coco-val-mini.json")
    row(f"`{r}`", a["eval"], b["eval"], f"{r}-cal-coco-train-mini",
        "yes" if a["full_integer"] else "no", f"{out}/{r}-cal-coco-train-mini.tflite")
print("| model | AP coco-val-mini (drop); calibrated on coco-train-mini | AP coco-train-mini (drop); "
      "calibrated on coco-val-mini | invoke ms, LiteRT 2 threads | × int8 | end-to-end ms, LiteRT "
      "| invoke ms, classic | full-integer | ops XNNPACK leaves out |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
with open(os.path.join(out, "load.txt")) as f:
    print(f"\nload while timing: {f.read().strip()}")
PY
