"""Graph surgery on TFLite flatbuffers for the model factory.

Reads and writes models through the flatbuffer object API that
`ai-edge-litert` ships (`schema_py_generated`, `tools.flatbuffer_utils`).
What is edgepose's own: finding a YOLO-pose export's per-stride heads from
the graph's structure, cutting the graph there, naming the decode tail so a
quantization recipe can address it, giving the graph the SignatureDef the
quantizer needs, turning a quantized graph's float input/output into
integer ones, and checking that a graph is full-integer.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils as fbu

T = schema.TensorType
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k.lower() for k, v in vars(T).items() if not k.startswith("_")}
#: Ops that compute a head: the last layer of each per-stride branch.
HEAD_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D"}
#: Prefix given to the decode tail's tensors (int8-float-decode keeps them float).
TAIL_PREFIX = "edgepose_decode/"
SIGNATURE = "serving_default"


class GraphError(Exception):
    """A model the factory cannot work on; the message is one line."""


def load(path: str) -> schema.ModelT:
    """Reads a .tflite file into the object API, checking that it is one."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise GraphError(f"cannot read model {path}: {e.strerror}") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise GraphError(f"{path} is not a TFLite model (no TFL3 flatbuffer identifier)")
    try:
        model = fbu.read_model_from_bytearray(bytearray(data))
    except Exception as e:  # a damaged flatbuffer raises anything
        raise GraphError(f"{path} is not a readable TFLite model: {e}") from None
    if not model.subgraphs:
        raise GraphError(f"{path} has no subgraph")
    return model


def to_bytes(model: schema.ModelT) -> bytes:
    """Serialises a model."""
    return bytes(fbu.convert_object_to_bytearray(model))


def op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
    code = fbu.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
    return OP_NAMES.get(code, f"op{code}")


def tensor_name(t: schema.TensorT) -> str:
    n = t.name
    return n.decode() if isinstance(n, bytes) else (n or "")


def shape(t: schema.TensorT) -> list[int]:
    return [int(d) for d in (t.shape if t.shape is not None else [])]


class Graph:
    """Subgraph 0 with producer and consumer maps."""

    def __init__(self, model: schema.ModelT):
        self.model = model
        self.sg = model.subgraphs[0]
        self.producer: dict[int, int] = {}
        self.consumers: dict[int, list[int]] = {}
        for i, op in enumerate(self.sg.operators):
            for t in op.outputs:
                self.producer[t] = i
            for t in op.inputs:
                if t >= 0:
                    self.consumers.setdefault(t, []).append(i)

    def tensor(self, i: int) -> schema.TensorT:
        return self.sg.tensors[i]

    def op(self, i: int) -> schema.OperatorT:
        return self.sg.operators[i]

    def op_name(self, i: int) -> str:
        return op_name(self.model, self.sg.operators[i])

    def walk_back(self, starts, stop=lambda t, p: False):
        """Yields `(tensor, producer op index or None)` for every tensor
        reached backwards from `starts` through the producers' inputs, each
        once; a producer's inputs are not followed when `stop(tensor,
        producer)` is true."""
        todo, seen = list(starts), set()
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            p = self.producer.get(t)
            yield t, p
            if p is not None and not stop(t, p):
                op = self.op(p)
                todo.extend(i for i in list(op.inputs) + list(op.intermediates or []) if i >= 0)

    def is_constant(self, t: int) -> bool:
        buf = self.model.buffers[self.tensor(t).buffer]
        return t not in self.producer and buf.data is not None and len(buf.data) > 0


# ---------------------------------------------------------------- checks


def check_float(model: schema.ModelT, path: str) -> None:
    """Refuses a model whose input or activations are already integer."""
    g = Graph(model)
    for i in g.sg.inputs:
        t = g.tensor(i)
        if t.type != T.FLOAT32:
            raise GraphError(
                f"{path} is already quantized (its input is {TYPE_NAMES.get(t.type, t.type)}); "
                "give the float32 model it was made from"
            )
    for i, op in enumerate(g.sg.operators):
        if g.op_name(i) == "QUANTIZE" or any(
            g.tensor(t).type in (T.INT8, T.UINT8, T.INT16) for t in op.outputs
        ):
            raise GraphError(
                f"{path} is already quantized (op {i} {g.op_name(i)} has integer activations); "
                "give the float32 model it was made from"
            )


def input_hw(model: schema.ModelT, path: str) -> tuple[int, int]:
    g = Graph(model)
    if len(g.sg.inputs) != 1:
        raise GraphError(f"{path} has {len(g.sg.inputs)} inputs; expected one image input")
    s = shape(g.tensor(g.sg.inputs[0]))
    if len(s) != 4 or s[0] != 1 or s[3] != 3:
        raise GraphError(f"{path}: input shape {s}; expected [1, H, W, 3]")
    return s[1], s[2]


# ---------------------------------------------------------------- pose heads


@dataclasses.dataclass
class Head:
    """One per-stride head output (an NHWC conv output)."""

    tensor: int
    stride: int
    role: str  # "box" (DFL distribution, 4·reg_max), "score" (classes), "keypoints" (3K)
    h: int
    w: int
    channels: int


@dataclasses.dataclass
class PoseHeads:
    heads: list[Head]  # by stride, then box, score, keypoints
    tail_ops: list[int]  # op indices between the heads and the output
    keypoints: int
    reg_max: int
    classes: int
    anchors: int

    @property
    def strides(self) -> list[int]:
        return sorted({h.stride for h in self.heads})


def find_pose_heads(model: schema.ModelT, path: str) -> PoseHeads:
    """Finds the per-stride heads of an Ultralytics YOLO-pose export.

    The graph's single output `[1, 4+C+3K, N]` is the decoded head; walking
    back from it through the decode ops (reshapes, transposes, softmax, the
    DFL conv, grid arithmetic, concatenations) the walk stops at the first
    conv outputs that are still feature maps of the input at an integer
    stride (`[1, H/s, W/s, c]`). Those are the raw heads; the ops walked
    over are the decode tail.
    """
    g = Graph(model)
    H, W = input_hw(model, path)
    outs = [shape(g.tensor(t)) for t in g.sg.outputs]
    no_head = (
        f"{path} has no YOLO-pose head: outputs {outs}; expected one [1, 4+C+3K, N] output "
        "of an Ultralytics pose export (YOLOv8-pose, YOLO11-pose)"
    )
    if len(outs) != 1 or len(outs[0]) != 3 or outs[0][0] != 1 or outs[0][1] < 8:
        raise GraphError(no_head)
    c_out, n_out = outs[0][1], outs[0][2]

    def feature_map(t: int) -> int | None:
        s = shape(g.tensor(t))
        if len(s) != 4 or s[0] != 1 or s[1] <= 0 or s[2] <= 0:
            return None
        if H % s[1] or W % s[2] or H // s[1] != W // s[2] or H // s[1] < 2:
            return None
        return H // s[1]

    def is_head(t: int, p: int) -> bool:
        return feature_map(t) is not None and g.op_name(p) in HEAD_OPS

    heads: dict[int, int] = {}  # tensor -> stride
    tail: set[int] = set()
    inputs = set(g.sg.inputs)
    for t, p in g.walk_back([g.sg.outputs[0]], is_head):
        if t in inputs:
            raise GraphError(no_head + " (the output depends on the input without a conv head)")
        if p is None:
            continue  # a constant
        if is_head(t, p):
            heads[t] = feature_map(t)
        else:
            tail.add(p)
    by_stride: dict[int, list[int]] = {}
    for t, s in heads.items():
        by_stride.setdefault(s, []).append(t)
    if len(by_stride) < 2 or any(len(v) != 3 for v in by_stride.values()):
        found = {s: [shape(g.tensor(t)) for t in v] for s, v in sorted(by_stride.items())}
        raise GraphError(no_head + f" (heads found per stride: {found}; expected box, score "
                         "and keypoint convs at each stride)")
    result: list[Head] = []
    roles_seen = None
    for s in sorted(by_stride):
        ts = by_stride[s]
        fits = []
        for box, score, kpt in itertools.permutations(ts):
            cb, cs, ck = (shape(g.tensor(x))[3] for x in (box, score, kpt))
            if cb % 4 == 0 and cb // 4 >= 2 and ck % 3 == 0 and ck > 0 and 4 + cs + ck == c_out:
                fits.append((box, score, kpt, cb // 4, cs, ck // 3))
        if len(fits) != 1:
            raise GraphError(no_head + f" (stride {s}: the head channels "
                             f"{[shape(g.tensor(x))[3] for x in ts]} do not split into "
                             f"box 4·R, score C and keypoints 3K with 4+C+3K = {c_out})")
        box, score, kpt, reg_max, classes, k = fits[0]
        if roles_seen is not None and roles_seen != (reg_max, classes, k):
            raise GraphError(no_head + f" (stride {s} has other head sizes than the others)")
        roles_seen = (reg_max, classes, k)
        for role, t in (("box", box), ("score", score), ("keypoints", kpt)):
            sh = shape(g.tensor(t))
            result.append(Head(t, s, role, sh[1], sh[2], sh[3]))
    anchors = sum(h.h * h.w for h in result if h.role == "box")
    if anchors != n_out:
        raise GraphError(no_head + f" (the heads have {anchors} cells, the output {n_out} anchors)")
    reg_max, classes, k = roles_seen
    return PoseHeads(result, sorted(tail), k, reg_max, classes, anchors)


# ---------------------------------------------------------------- surgery


def prune(model: schema.ModelT) -> None:
    """Removes ops that no graph output depends on, then unused tensors,
    buffers and op codes (indices remapped)."""
    g = Graph(model)
    sg = g.sg
    live_ops = {p for _, p in g.walk_back(sg.outputs) if p is not None}
    sg.operators = [op for i, op in enumerate(sg.operators) if i in live_ops]
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used.update(i for i in op.inputs if i >= 0)
        used.update(op.outputs)
        used.update(i for i in (op.intermediates or []) if i >= 0)
    order = sorted(used)
    remap = {old: new for new, old in enumerate(order)}
    sg.tensors = [sg.tensors[i] for i in order]
    sg.inputs = [remap[i] for i in sg.inputs]
    sg.outputs = [remap[i] for i in sg.outputs]
    for op in sg.operators:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
        if op.intermediates:
            op.intermediates = [remap[i] for i in op.intermediates]
    for sig in model.signatureDefs or []:
        for m in list(sig.inputs or []) + list(sig.outputs or []):
            m.tensorIndex = remap[m.tensorIndex]
    # Buffers: keep buffer 0 (the empty sentinel) and those still referenced.
    refs = {0} | {t.buffer for sub in model.subgraphs for t in sub.tensors}
    refs |= {m.buffer for m in (model.metadata or [])}
    border = sorted(refs)
    bmap = {old: new for new, old in enumerate(border)}
    model.buffers = [model.buffers[i] for i in border]
    for sub in model.subgraphs:
        for t in sub.tensors:
            t.buffer = bmap[t.buffer]
    for m in model.metadata or []:
        m.buffer = bmap[m.buffer]
    codes = sorted({op.opcodeIndex for sub in model.subgraphs for op in sub.operators})
    cmap = {old: new for new, old in enumerate(codes)}
    model.operatorCodes = [model.operatorCodes[i] for i in codes]
    for sub in model.subgraphs:
        for op in sub.operators:
            op.opcodeIndex = cmap[op.opcodeIndex]


def set_signature(model: schema.ModelT) -> None:
    """Replaces the SignatureDefs with one naming every input and output
    (the quantizer's calibration feeds and reads tensors by signature)."""
    sg = model.subgraphs[0]

    def maps(indices: list[int], prefix: str) -> list[schema.TensorMapT]:
        out = []
        for n, i in enumerate(indices):
            m = schema.TensorMapT()
            m.name = (prefix if len(indices) == 1 else tensor_name(sg.tensors[i])) or f"{prefix}{n}"
            m.tensorIndex = i
            out.append(m)
        return out

    sig = schema.SignatureDefT()
    sig.signatureKey = SIGNATURE
    sig.subgraphIndex = 0
    sig.inputs = maps(list(sg.inputs), "images")
    sig.outputs = maps(list(sg.outputs), "output0")
    model.signatureDefs = [sig]


def cut_at_heads(model: schema.ModelT, heads: PoseHeads) -> None:
    """Makes the heads the graph's outputs (named `head_s{stride}_{role}`)
    and drops the decode tail."""
    sg = model.subgraphs[0]
    for h in heads.heads:
        sg.tensors[h.tensor].name = f"head_s{h.stride}_{h.role}"
    sg.outputs = [h.tensor for h in heads.heads]
    model.signatureDefs = []
    prune(model)
    set_signature(model)


def split_keypoint_heads(model: schema.ModelT) -> None:
    """Splits each keypoint head conv of a cut graph (output `head_s*_keypoints`,
    3K channels x, y, visibility) into two convs reading the same input: one
    for x, y (2K channels, `head_s*_keypoints_xy`) and one for the
    visibility logits (K channels, `head_s*_keypoints_vis`). Same arithmetic;
    but an int8 output's one scale then covers only the x, y offsets, whose
    range is up to half that of the visibility logits, so keypoints get up
    to twice the resolution."""
    g = Graph(model)
    sg = g.sg
    new_outputs = []
    inserts: list[tuple[int, schema.OperatorT]] = []
    for out in sg.outputs:
        t = g.tensor(out)
        name = tensor_name(t)
        p = g.producer.get(out)
        if not name.endswith("_keypoints") or p is None or g.op_name(p) != "CONV_2D":
            new_outputs.append(out)
            continue
        op = g.op(p)
        w_t, b_t = g.tensor(op.inputs[1]), g.tensor(op.inputs[2])
        if w_t.type != T.FLOAT32 or b_t.type != T.FLOAT32:
            raise GraphError(f"keypoint head {name}: expected float32 weights")
        w = np.frombuffer(bytes(model.buffers[w_t.buffer].data), np.float32).reshape(shape(w_t))
        b = np.frombuffer(bytes(model.buffers[b_t.buffer].data), np.float32)
        c = w.shape[0]
        if c % 3:
            raise GraphError(f"keypoint head {name} has {c} channels, not 3 per keypoint")
        idx = {"xy": np.array([i for i in range(c) if i % 3 != 2]),
               "vis": np.arange(2, c, 3)}
        outs = {}
        for part, sel in idx.items():
            tensors = []
            for src, data in ((w_t, w[sel]), (b_t, b[sel]), (t, None)):
                nt = copy.deepcopy(src)
                nt.shape = list(shape(src))
                nt.shape[0 if data is not None and src is w_t else -1] = len(sel)
                nt.shapeSignature = None
                if data is not None:
                    buf = schema.BufferT()
                    buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
                    model.buffers.append(buf)
                    nt.buffer = len(model.buffers) - 1
                    nt.name = f"{tensor_name(src)}_{part}"
                else:
                    nt.name = f"{name}_{part}"
                sg.tensors.append(nt)
                tensors.append(len(sg.tensors) - 1)
            nop = copy.deepcopy(op)
            nop.inputs = [op.inputs[0], tensors[0], tensors[1]]
            nop.outputs = [tensors[2]]
            inserts.append((p, nop))
            outs[part] = tensors[2]
        new_outputs += [outs["xy"], outs["vis"]]
    if not inserts:
        raise GraphError("no keypoint head conv to split")
    for p, nop in sorted(inserts, key=lambda x: -x[0]):
        sg.operators.insert(p + 1, nop)
    sg.outputs = new_outputs
    model.signatureDefs = []
    prune(model)
    set_signature(model)


def mark_tail(model: schema.ModelT, heads: PoseHeads, with_head_convs: bool = False) -> None:
    """Prefixes the decode tail's tensor names with TAIL_PREFIX; with
    `with_head_convs`, also those of the convs that compute the heads."""
    g = Graph(model)
    ops = set(heads.tail_ops)
    if with_head_convs:
        ops |= {g.producer[h.tensor] for h in heads.heads}
    for i in sorted(ops):
        for t in g.op(i).outputs:
            g.tensor(t).name = TAIL_PREFIX + tensor_name(g.tensor(t))


def integer_io(model: schema.ModelT) -> None:
    """Removes a quantized graph's QUANTIZE op after each float input and
    DEQUANTIZE op before each float output, so the graph takes and gives
    its integer tensors directly (what the TFLite converter's
    `inference_input_type`/`inference_output_type` do). Inputs or outputs
    without such an op stay as they are."""
    g = Graph(model)
    sg = g.sg
    drop: set[int] = set()
    new_inputs = []
    for i in sg.inputs:
        cons = g.consumers.get(i, [])
        if len(cons) == 1 and g.op_name(cons[0]) == "QUANTIZE":
            drop.add(cons[0])
            new_inputs.append(g.op(cons[0]).outputs[0])
        else:
            new_inputs.append(i)
    new_outputs = []
    for o in sg.outputs:
        p = g.producer.get(o)
        src = g.op(p).inputs[0] if p is not None else None
        if (p is not None and g.op_name(p) == "DEQUANTIZE" and src is not None
                and src not in g.sg.inputs and not g.is_constant(src)
                and len(g.consumers.get(src, [])) == 1):
            drop.add(p)
            new_outputs.append(src)
        else:
            new_outputs.append(o)
    if not drop:
        return
    names = {}
    for old, new in itertools.chain(zip(sg.inputs, new_inputs), zip(sg.outputs, new_outputs)):
        names[new] = tensor_name(sg.tensors[old])
    sg.operators = [op for k, op in enumerate(sg.operators) if k not in drop]
    sg.inputs, sg.outputs = new_inputs, new_outputs
    for t, n in names.items():
        sg.tensors[t].name = n
    model.signatureDefs = []
    prune(model)
    set_signature(model)


# ---------------------------------------------------------------- reports


INTEGER = {T.INT8, T.UINT8, T.INT32, T.INT16, T.INT64}


@dataclasses.dataclass
class Report:
    ops: int
    op_counts: dict[str, int]
    float_ops: list[str]  # "index NAME" of ops with a float input or output
    input_types: list[str]
    output_types: list[str]

    @property
    def full_integer(self) -> bool:
        ints = {"int8", "uint8", "int16"}
        return (not self.float_ops and all(t in ints for t in self.input_types)
                and all(t in ints for t in self.output_types))


def report(model: schema.ModelT) -> Report:
    """What ops a graph has and which of them compute in float."""
    g = Graph(model)
    counts: dict[str, int] = {}
    float_ops = []
    for i, op in enumerate(g.sg.operators):
        name = g.op_name(i)
        counts[name] = counts.get(name, 0) + 1
        tensors = [t for t in list(op.inputs) + list(op.outputs) if t >= 0]
        if any(g.tensor(t).type not in INTEGER for t in tensors):
            float_ops.append(f"{i} {name}")
    ty = lambda ts: [TYPE_NAMES.get(g.tensor(t).type, str(g.tensor(t).type)) for t in ts]
    return Report(len(g.sg.operators), counts, float_ops, ty(g.sg.inputs), ty(g.sg.outputs))
