"""Which ops of a model XNNPACK leaves to TFLite's own kernels, as the
runtime in the factory's venv (ai-edge-litert, the same version edgepose's
LiteRT runs) delegates them on this machine.

The interpreter lists the original nodes and, after them, one DELEGATE
node per XNNPACK partition. A partition's inner tensors stay inside it, so
an original node runs outside XNNPACK exactly when one of its outputs is
read by a delegate node, by another node running outside, or is a graph
output, without being a delegate node's output."""

from __future__ import annotations

import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def left_out(model_path: str, threads: int = 2) -> list[str]:
    """Op names (one entry per node) that XNNPACK does not take."""
    it = Interpreter(model_path=model_path, num_threads=threads)
    it.allocate_tensors()
    ops = it._get_ops_details()  # the interpreter's only view of its nodes
    delegates = [o for o in ops if o["op_name"] == "DELEGATE"]
    nodes = [o for o in ops if o["op_name"] != "DELEGATE"]
    produced_by_delegate = {int(t) for o in delegates for t in o["outputs"]}
    wanted = {int(t) for o in delegates for t in o["inputs"]}
    wanted |= {int(d["index"]) for d in it.get_output_details()}
    producer = {int(t): o for o in nodes for t in o["outputs"]}
    outside: dict[int, dict] = {}
    todo = [t for t in wanted if t not in produced_by_delegate]
    while todo:
        t = todo.pop()
        node = producer.get(t)
        if node is None or node["index"] in outside:
            continue
        outside[node["index"]] = node
        todo += [int(i) for i in node["inputs"] if int(i) >= 0 and int(i) not in produced_by_delegate]
    return [outside[i]["op_name"] for i in sorted(outside)]


def summary(names: list[str]) -> str:
    """`NAME ×count, ...`, or `none`."""
    if not names:
        return "none"
    counts = collections.Counter(names)
    return ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in sorted(counts.items()))
