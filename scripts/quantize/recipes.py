"""The factory's recipes: which graph, which quantization. Quantization is
Google's AI Edge Quantizer (`litert_quantizer`); the graph changes are
edgepose's own (graph.py).

- `int8`: static int8 everywhere, integer input and output: the baseline
  (what a plain full-integer export gives).
- `int8-heads`: the graph cut before the decode (ends at the raw per-stride
  heads, the keypoint head split into x, y and visibility outputs), static
  int8 everywhere (the score heads' range floored at SCORE_FLOOR), integer
  input and outputs: every op integer, for NPUs; edgepose decodes the heads
  in float on the CPU.
- `int8-float-decode`: static int8 except the decode tail (the ops after the
  heads), which stays float: for CPUs.
- `dynamic`: int8 weights, float activations (quantized per op at run time).
- `float-heads`: the float graph cut before the decode, not quantized: for
  NPU compilers that quantize themselves, and to check the cut.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import tomllib
from typing import Callable

# Quiet the runtime's C++ logging before the quantizer loads it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from litert_quantizer import calibrator, quantizer, recipe_manager  # noqa: E402
from litert_quantizer import recipe as aeq_recipe  # noqa: E402
from litert_quantizer.utils import qsv_utils  # noqa: E402

import graph  # noqa: E402

NO_QUANTIZE = "no_quantize"
MSE = "mse"


class RecipeError(Exception):
    """A quantization step failed; the message is one line."""


@contextlib.contextmanager
def quiet():
    """Sends the quantizer's and the runtime's chatter on stderr (progress
    bars, delegate notices from C++) to /dev/null; errors still arrive as
    Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _calibration_feed(calib: dict) -> list[dict]:
    """One signature input per frame, read from the file as needed (the
    quantizer walks the list more than once)."""
    frames = np.load(calib["path"], mmap_mode="r")
    return [{"images": frames[i : i + 1]} for i in range(frames.shape[0])]


def _input_range(float_manifest: str) -> tuple[float, float]:
    lo, hi = tomllib.loads(float_manifest)["input"].get("range", [0.0, 1.0])
    return float(lo), float(hi)


#: Lowest person score an int8 score head represents: a decade below the
#: lowest threshold edgepose applies (0.001, `edgepose eval`). Below it every
#: score is the same to edgepose; the int8 steps go to the scores that rank.
SCORE_FLOOR = 1e-4


def _static(model, float_manifest: str, calib: dict, algorithm: str,
            keep_float: str | None = None, score_floor: bool = False) -> bytes:
    """Static int8 (int8 weights per channel, int8 activations per tensor)
    of `model`, with the ops whose output names match `keep_float` left
    unquantized.

    Activation ranges are the global min/max over the calibration frames
    (`qsv_utils.min_max_update`), not the quantizer's default moving
    average of per-frame ranges: on YOLO11n-pose the moving average clips
    ranges that later frames need and cost about 0.06 AP more."""
    graph.set_signature(model)
    buf = bytearray(graph.to_bytes(model))
    key = MSE if algorithm == "mse" else aeq_recipe.AlgorithmName.MIN_MAX_UNIFORM_QUANT
    rm = recipe_manager.RecipeManager()
    rm.load_quantization_recipe(aeq_recipe.static_wi8_ai8(algorithm_key=key))
    if keep_float:
        rm.add_quantization_config(keep_float, "*", None, NO_QUANTIZE)
    try:
        with quiet():
            cal = calibrator.Calibrator(buf, num_threads=2,
                                        qsv_update_func=qsv_utils.min_max_update)
            cal.calibrate({graph.SIGNATURE: _calibration_feed(calib)}, rm)
        result = cal.get_model_qsvs()
    except Exception as e:  # the quantizer raises many kinds
        raise RecipeError(f"calibration failed: {e}") from None
    q = quantizer.Quantizer(buf, rm.get_quantization_recipe())
    # The input's range is the manifest's pixel range, exactly: pixel p maps
    # to an integer without rounding (for [0, 1]: scale 1/255, zero point
    # -128, q = p - 128), whatever the calibration frames' extremes were.
    lo, hi = _input_range(float_manifest)
    g = graph.Graph(model)
    name = graph.tensor_name(g.tensor(g.sg.inputs[0]))
    if name in result:
        qsv = result[name]
        result[name] = {**qsv, "min": np.full_like(qsv["min"], lo), "max": np.full_like(qsv["max"], hi)}
    if score_floor:
        floor = float(np.log(SCORE_FLOOR / (1 - SCORE_FLOOR)))
        for t in g.sg.outputs:
            n = graph.tensor_name(g.tensor(t))
            if n.endswith("_score") and n in result:
                qsv = result[n]
                result[n] = {**qsv, "min": np.maximum(qsv["min"], floor),
                             "max": np.maximum(qsv["max"], floor + 1.0)}
    try:
        with quiet():
            return bytes(q.quantize(result, enable_progress_report=False).quantized_model)
    except Exception as e:
        raise RecipeError(f"quantization failed: {e}") from None


def _int8(model, heads, float_manifest, calib, algorithm) -> bytes:
    return _static(model, float_manifest, calib, algorithm)


def _int8_heads(model, heads, float_manifest, calib, algorithm) -> bytes:
    graph.cut_at_heads(model, heads)
    graph.split_keypoint_heads(model)
    return _static(model, float_manifest, calib, algorithm, score_floor=True)


def _int8_float_decode(model, heads, float_manifest, calib, algorithm) -> bytes:
    graph.mark_tail(model, heads, with_head_convs=True)
    return _static(model, float_manifest, calib, algorithm,
                   keep_float="^" + re.escape(graph.TAIL_PREFIX))


def _dynamic(model, heads, float_manifest, calib, algorithm) -> bytes:
    graph.set_signature(model)
    q = quantizer.Quantizer(bytearray(graph.to_bytes(model)))
    q.load_quantization_recipe(aeq_recipe.dynamic_wi8_afp32())
    try:
        with quiet():
            return bytes(q.quantize(enable_progress_report=False).quantized_model)
    except Exception as e:
        raise RecipeError(f"quantization failed: {e}") from None


def _float_heads(model, heads, float_manifest, calib, algorithm) -> bytes:
    graph.cut_at_heads(model, heads)
    return graph.to_bytes(model)


@dataclasses.dataclass(frozen=True)
class Recipe:
    build: Callable[..., bytes]
    needs_calibration: bool
    #: Every op integer, input and outputs integer (checked on the result).
    full_integer: bool
    #: Output layout of the result; None: the float model's.
    layout: str | None
    summary: str


RECIPES: dict[str, Recipe] = {
    "int8": Recipe(_int8, True, False, None,
                   "static int8 everywhere, integer input and output (the baseline)"),
    "int8-heads": Recipe(_int8_heads, True, True, "yolo-raw-heads",
                         "full-integer graph cut before the decode; edgepose decodes the heads"),
    "int8-float-decode": Recipe(_int8_float_decode, True, False, None,
                                "static int8 except the decode tail, kept float"),
    "dynamic": Recipe(_dynamic, False, False, None, "int8 weights, float activations"),
    "float-heads": Recipe(_float_heads, False, False, "yolo-raw-heads",
                          "the float graph cut before the decode (not quantized)"),
}
