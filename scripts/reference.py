#!/usr/bin/env python3
"""Independent reference results for edgepose's tests.

Runs each pose model on each test image with the LiteRT Python interpreter and numpy,
following Ultralytics' letterbox and NMS conventions, and writes one JSON fixture per
model. The Rust tests compare edgepose's output against these files. This is our own
short implementation, kept independent of edgepose's code on purpose.

Two pre-processings (--resize):
- pillow (the default; tests/fixtures/reference/, reference-classic/ and the ARM sets): Pillow decodes and
  resizes (antialiased BILINEAR), what edgepose's --resize pillow matches;
- opencv (tests/fixtures/reference-opencv*/): what Ultralytics does, cv2.imdecode, BGR->RGB,
  cv2.resize(..., INTER_LINEAR) and cv2.copyMakeBorder with the pad value; edgepose's
  default. With --camera it also makes YUYV and NV12 frames out of every image (an integer
  BT.601 RGB->YUV formula, below) and records the input tensor that cv2.cvtColor
  (COLOR_YUV2RGB_YUYV / COLOR_YUV2RGB_NV12) + the same letterbox gives, and with
  --images all it adds the 80 images of coco-train-mini; --eval adds the COCO AP of the
  pipeline on coco-val-mini and coco-train-mini (tests/fixtures/reference-opencv/README.md).

Regenerate (from the repository root, only when you mean to change the fixtures):

    .cache/venv/bin/python scripts/reference.py \
        --models-dir ../shared/models --data-dir ../shared/data --out tests/fixtures/reference
    .cache/venv-tflite214/bin/python scripts/reference.py --kernels builtin \
        --models-dir ../shared/models --data-dir ../shared/data --out tests/fixtures/reference-classic
    .cache/venv/bin/python scripts/reference.py --resize opencv --images all --camera --eval \
        --models-dir ../shared/models --data-dir ../shared/data --out tests/fixtures/reference-opencv
    .cache/venv-tflite214/bin/python scripts/reference.py --kernels builtin --resize opencv \
        --images all --eval --models-dir ../shared/models --data-dir ../shared/data \
        --out tests/fixtures/reference-opencv-classic

The interpreter comes from `ai_edge_litert` (LiteRT 2.3, what the LiteRT flavour runs) or,
when that is not installed, from `tflite_runtime` (2.14.0, the same TFLite version as
Debian's classic library). --kernels xnnpack (default) runs the default XNNPACK delegate,
as LiteRT's CPU accelerator does; --kernels builtin runs TFLite's built-in kernels only, as
a classic library built without XNNPACK (Debian's) does. int8 kernels differ in rounding
between those families and versions, so each runtime flavour is checked against its own
set: `reference/` for LiteRT, `reference-classic/` for the classic C API.

--models-dir / --data-dir default to $EDGEPOSE_MODEL_MIRROR / $EDGEPOSE_DATA_DIR.
"""
import argparse
import hashlib
import json
import os
import re
import sys

import numpy as np
from PIL import Image
try:
    import cv2
except ImportError:           # --resize opencv needs it (scripts/setup.sh pins it)
    cv2 = None
try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    RUNTIME = "ai-edge-litert"
except ImportError:
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
        RUNTIME = "tflite-runtime"
    except ImportError:       # --capi only (Debian's library has no Python binding)
        Interpreter = OpResolverType = None
        RUNTIME = None


MODELS = [
    "yolov8n_320_quant_pc_uf_pose_coco-st.tflite",
    "yolov8n_256_quant_pc_uf_pose_coco-st.tflite",
    "yolo11n_256_quant_pc_uf_pose_coco-st.tflite",
    "yolo11n-pose-320-float32.tflite",
    "yolo11n-pose-320-int8.tflite",
    "movenet-singlepose-lightning-int8-4.tflite",
]
IMAGES = [
    "samples/bus.jpg",
    "samples/zidane.jpg",
    "coco-val-mini/000000000785.jpg",
    "coco-val-mini/000000040083.jpg",
    "coco-val-mini/000000196141.jpg",
    "coco-val-mini/000000197388.jpg",
]
CONF = 0.25        # person score threshold (strictly greater than)
IOU = 0.7          # NMS: suppress a box whose IoU with a kept one is > IOU
MAX_DET = 300
MOVENET_BOX_KP = 0.5  # MoveNet box: keypoints with score >= this (all 17 if none)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Detection floats are rounded to 4 decimals in the fixtures; --eval keeps them whole.
ROUND = 4


def r4(x):
    return round(float(x), ROUND) if ROUND is not None else float(x)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def letterbox(img, size, pad_value):
    """Ultralytics-style letterbox of an RGB PIL image onto a size x size uint8 canvas."""
    w, h = img.size
    r = min(size / h, size / w)
    # Python's round() (half to even) of the float product, as Ultralytics does.
    new_w, new_h = int(round(w * r)), int(round(h * r))
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    left, top = int(round(dw - 0.1)), int(round(dh - 0.1))
    canvas = np.full((size, size, 3), pad_value, dtype=np.uint8)
    canvas[top:top + new_h, left:left + new_w] = np.asarray(img, dtype=np.uint8)
    lb = {"scale": r, "left": left, "top": top, "new_w": new_w, "new_h": new_h}
    return canvas, lb


def letterbox_cv2(img, size, pad_value):
    """Ultralytics' LetterBox (ultralytics/data/augment.py) on an RGB uint8 array."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    if (new_w, new_h) != (w, h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    canvas = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(pad_value,) * 3)
    assert canvas.shape == (size, size, 3), canvas.shape
    lb = {"scale": r, "left": left, "top": top, "new_w": new_w, "new_h": new_h}
    return canvas, lb


def decode_cv2(path):
    """cv2.imread as Ultralytics reads images (BGR), then to RGB."""
    bgr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def camera_frames(rgb):
    """YUYV and NV12 frames made from an RGB image cropped to even sizes, with the
    integer BT.601 limited-range formula Y = ((66R + 129G + 25B + 128) >> 8) + 16,
    U = ((-38R - 74G + 112B + 128) >> 8) + 128, V = ((112R - 94G - 18B + 128) >> 8) + 128;
    chroma from the even pixel of each pair (YUYV) or the top-left pixel of each 2x2
    block (NV12). tests/reference.rs makes the same frames. Returns (name, RGB as
    cv2.cvtColor converts the frame back)."""
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    p = rgb[:h, :w].astype(np.int32)
    R, G, B = p[..., 0], p[..., 1], p[..., 2]
    Y = (((66 * R + 129 * G + 25 * B + 128) >> 8) + 16).astype(np.uint8)
    U = (((-38 * R - 74 * G + 112 * B + 128) >> 8) + 128).astype(np.uint8)
    V = (((112 * R - 94 * G - 18 * B + 128) >> 8) + 128).astype(np.uint8)
    yuyv = np.empty((h, w * 2), np.uint8)
    yuyv[:, 0::2] = Y
    yuyv[:, 1::4] = U[:, 0::2]
    yuyv[:, 3::4] = V[:, 0::2]
    nv12 = np.empty((h * 3 // 2, w), np.uint8)
    nv12[:h] = Y
    nv12[h:, 0::2] = U[0::2, 0::2]
    nv12[h:, 1::2] = V[0::2, 0::2]
    return [
        ("yuyv", cv2.cvtColor(yuyv.reshape(h, w, 2), cv2.COLOR_YUV2RGB_YUYV)),
        ("nv12", cv2.cvtColor(nv12, cv2.COLOR_YUV2RGB_NV12)),
    ]


def make_input(pixels, detail, raw_pixels):
    """Turns a uint8 HxWx3 canvas into the model's input tensor [1,S,S,3]."""
    dtype = detail["dtype"]
    scale, zp = detail["quantization"]
    if raw_pixels or (np.issubdtype(dtype, np.integer) and scale == 0):
        # MoveNet: uint8 input without quantization parameters -> raw 0..255 pixels.
        assert dtype == np.uint8
        x = pixels
    elif dtype == np.float32:
        # real = p / 255, computed in float32 (correctly rounded division).
        x = pixels.astype(np.float32) / np.float32(255.0)
    else:
        # q = clip(round(real / scale + zp)); np.round rounds half to even. With
        # scale = float32(1/255) no ties occur: q is exactly p (+ zp).
        info = np.iinfo(dtype)
        real = pixels.astype(np.float64) / 255.0
        x = np.clip(np.round(real / scale + zp), info.min, info.max).astype(dtype)
    return np.ascontiguousarray(x[None])


def dequantize(out, detail):
    scale, zp = detail["quantization"]
    if np.issubdtype(out.dtype, np.integer):
        return (out.astype(np.float32) - np.float32(zp)) * np.float32(scale)
    return out.astype(np.float32)


def nms(boxes, scores):
    """Greedy NMS, torchvision IoU (no +1) in float32 as torchvision computes it on
    Ultralytics' float32 boxes. Returns kept indices, best first."""
    boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
    order = np.argsort(-scores, kind="stable")  # ties keep anchor order
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size and len(keep) < MAX_DET:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= np.float32(IOU)]
    return keep


def unletterbox(xy, lb, w, h):
    """Maps input-pixel x,y (arrays, ...x2) back to the original image and clips."""
    xy = xy.astype(np.float64).copy()
    xy[..., 0] = np.clip((xy[..., 0] - lb["left"]) / lb["scale"], 0, w)
    xy[..., 1] = np.clip((xy[..., 1] - lb["top"]) / lb["scale"], 0, h)
    return xy


def decode_yolo(out, size, lb, w, h):
    p = out[0]                                   # [56, N]
    if p[0:2].max() <= 2.0:                      # normalised coordinates -> pixels
        p = p.copy()
        p[0:4] *= size
        p[5::3] *= size
        p[6::3] *= size
    keep_mask = p[4] > CONF
    p = p[:, keep_mask].T                        # [M, 56]
    if p.shape[0] == 0:
        return []
    cx, cy, bw, bh = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    scores = p[:, 4]
    kps = p[:, 5:].reshape(-1, 17, 3)
    persons = []
    for i in nms(boxes, scores):
        box = unletterbox(boxes[i].reshape(2, 2), lb, w, h).reshape(4)
        kxy = unletterbox(kps[i, :, :2], lb, w, h)
        persons.append({
            "box": [r4(v) for v in box],
            "score": r4(scores[i]),
            "keypoints": [[r4(x), r4(y), r4(s)] for (x, y), s in zip(kxy, kps[i, :, 2])],
        })
    return persons


def decode_movenet(out, size, lb, w, h):
    k = out.reshape(17, 3)                       # (y, x, score), normalised to S x S
    xy = unletterbox(np.stack([k[:, 1] * size, k[:, 0] * size], axis=1), lb, w, h)
    s = k[:, 2]
    sel = xy[s >= MOVENET_BOX_KP] if (s >= MOVENET_BOX_KP).any() else xy
    box = [sel[:, 0].min(), sel[:, 1].min(), sel[:, 0].max(), sel[:, 1].max()]
    score = float(s.astype(np.float32).mean())
    if score < CONF:                              # one pose, kept if its mean score >= CONF
        return []
    return [{
        "box": [r4(v) for v in box],
        "score": r4(score),
        "keypoints": [[r4(x), r4(y), r4(c)] for (x, y), c in zip(xy, s)],
    }]


class CApiInterpreter:
    """A TFLite C library (libtensorflowlite_c, Debian's libtensorflow-lite) driven
    through its C API with ctypes, with the few methods of the Python Interpreter
    that run_model uses. Default interpreter options: the library's own kernels."""

    DTYPES = {1: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}

    def __init__(self, lib, model_path, num_threads):
        import ctypes as c

        class QuantParams(c.Structure):
            _fields_ = [("scale", c.c_float), ("zero_point", c.c_int32)]

        self.c = c
        L = self.lib = c.CDLL(lib)
        p = c.c_void_p
        for fn, res, args in [
            ("TfLiteModelCreateFromFile", p, [c.c_char_p]),
            ("TfLiteInterpreterOptionsCreate", p, []),
            ("TfLiteInterpreterOptionsSetNumThreads", None, [p, c.c_int32]),
            ("TfLiteInterpreterCreate", p, [p, p]),
            ("TfLiteInterpreterAllocateTensors", c.c_int, [p]),
            ("TfLiteInterpreterInvoke", c.c_int, [p]),
            ("TfLiteInterpreterGetInputTensor", p, [p, c.c_int32]),
            ("TfLiteInterpreterGetOutputTensor", p, [p, c.c_int32]),
            ("TfLiteTensorType", c.c_int, [p]),
            ("TfLiteTensorNumDims", c.c_int32, [p]),
            ("TfLiteTensorDim", c.c_int32, [p, c.c_int32]),
            ("TfLiteTensorByteSize", c.c_size_t, [p]),
            ("TfLiteTensorQuantizationParams", QuantParams, [p]),
            ("TfLiteTensorCopyFromBuffer", c.c_int, [p, p, c.c_size_t]),
            ("TfLiteTensorCopyToBuffer", c.c_int, [p, p, c.c_size_t]),
        ]:
            f = getattr(L, fn)
            f.restype, f.argtypes = res, args
        self.model = L.TfLiteModelCreateFromFile(model_path.encode())
        opts = L.TfLiteInterpreterOptionsCreate()
        L.TfLiteInterpreterOptionsSetNumThreads(opts, num_threads)
        self.it = L.TfLiteInterpreterCreate(self.model, opts)
        if not self.model or not self.it:
            raise RuntimeError("%s: cannot load %s" % (lib, model_path))

    def _tensor(self, index):
        kind, i = index
        get = (self.lib.TfLiteInterpreterGetInputTensor if kind == "in"
               else self.lib.TfLiteInterpreterGetOutputTensor)
        return get(self.it, i)

    def _details(self, index):
        t = self._tensor(index)
        q = self.lib.TfLiteTensorQuantizationParams(t)
        shape = [self.lib.TfLiteTensorDim(t, d) for d in range(self.lib.TfLiteTensorNumDims(t))]
        return {"index": index, "shape": np.array(shape, dtype=np.int32),
                "dtype": self.DTYPES[self.lib.TfLiteTensorType(t)],
                "quantization": (q.scale, q.zero_point)}

    def allocate_tensors(self):
        assert self.lib.TfLiteInterpreterAllocateTensors(self.it) == 0

    def get_input_details(self):
        return [self._details(("in", 0))]

    def get_output_details(self):
        return [self._details(("out", 0))]

    def set_tensor(self, index, x):
        x = np.ascontiguousarray(x)
        assert self.lib.TfLiteTensorCopyFromBuffer(self._tensor(index), x.ctypes.data, x.nbytes) == 0

    def invoke(self):
        assert self.lib.TfLiteInterpreterInvoke(self.it) == 0

    def get_tensor(self, index):
        d = self._details(index)
        out = np.empty(d["shape"], dtype=d["dtype"])
        assert self.lib.TfLiteTensorCopyToBuffer(self._tensor(index), out.ctypes.data, out.nbytes) == 0
        return out


def image_list(data_dir, which):
    if which == "small":
        return IMAGES
    train = sorted(f for f in os.listdir(os.path.join(data_dir, "coco-train-mini"))
                   if f.endswith(".jpg"))
    return IMAGES + ["coco-train-mini/" + f for f in train]


def load_model(model_path, kernels, capi):
    """The interpreter for one model; returns (infer, size, pad, input, output details),
    infer(canvas, lb, w, h) -> (input tensor, persons best first, output probe)."""
    name = os.path.basename(model_path)
    movenet = name.startswith("movenet")
    pad = 0 if movenet else 114
    if capi:
        it = CApiInterpreter(capi, model_path, 2)
    else:
        resolver = (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES if kernels == "builtin"
                    else OpResolverType.AUTO)
        it = Interpreter(model_path=model_path, num_threads=2, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    ind, outd = it.get_input_details()[0], it.get_output_details()[0]
    size = int(ind["shape"][1])

    def infer(canvas, lb, w, h):
        x = make_input(canvas, ind, raw_pixels=movenet)
        it.set_tensor(ind["index"], x)
        it.invoke()
        out = dequantize(it.get_tensor(outd["index"]), outd)
        if movenet:
            persons = decode_movenet(out, size, lb, w, h)
            probe = out.reshape(-1)[:8]
        else:
            persons = decode_yolo(out, size, lb, w, h)
            probe = out[0, :8, 0]                # channels 0..7 of anchor 0
        persons.sort(key=lambda d: -d["score"])
        return x, persons, probe

    return infer, size, pad, ind, outd


def eval_model(model_path, data_dir, kernels, capi):
    """COCO keypoint AP/AR (pycocotools, via scripts/cocoeval_ref.py) of the OpenCV
    pipeline on coco-val-mini and coco-train-mini, with edgepose eval's settings:
    score > 0.001, at most 20 persons per image after NMS, maxDets 20."""
    import subprocess
    import tempfile
    global CONF, MAX_DET, ROUND
    CONF, MAX_DET, ROUND = 0.001, 20, None
    infer, size, pad, _, _ = load_model(model_path, kernels, capi)
    stats = {}
    for ds in ("coco-val-mini", "coco-train-mini"):
        gt_path = os.path.join(data_dir, ds, "person_keypoints.json")
        with open(gt_path) as f:
            ids = {i["file_name"]: i["id"] for i in json.load(f)["images"]}
        results = []
        for fname in sorted(ids):
            rgb = decode_cv2(os.path.join(data_dir, ds, fname))
            h, w = rgb.shape[:2]
            canvas, lb = letterbox_cv2(rgb, size, pad)
            for p in infer(canvas, lb, w, h)[1]:
                results.append({"image_id": ids[fname], "category_id": 1, "score": p["score"],
                                "keypoints": [v for k in p["keypoints"] for v in k]})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(results, f)
        out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "cocoeval_ref.py"),
                              gt_path, f.name], capture_output=True, text=True, check=True)
        os.unlink(f.name)
        stats[ds] = json.loads(out.stdout.strip().splitlines()[-1])
    CONF, MAX_DET, ROUND = 0.25, 300, 4
    return stats


def run_model(model_path, data_dir, command, kernels, capi=None, resize="pillow",
              images_list=IMAGES, camera=False):
    name = os.path.basename(model_path)
    movenet = name.startswith("movenet")
    infer, size, pad, ind, outd = load_model(model_path, kernels, capi)

    images = []
    for rel in images_list:
        # No EXIF rotation is applied: pixels are used in stored order (none of the
        # images has an EXIF orientation).
        if resize == "opencv":
            rgb = decode_cv2(os.path.join(data_dir, rel))
            h, w = rgb.shape[:2]
            canvas, lb = letterbox_cv2(rgb, size, pad)
        else:
            img = Image.open(os.path.join(data_dir, rel)).convert("RGB")
            w, h = img.size
            canvas, lb = letterbox(img, size, pad)
        x, persons, probe = infer(canvas, lb, w, h)
        entry = {
            "file": rel, "width": w, "height": h, "letterbox": lb,
            "input_sha256": hashlib.sha256(x.tobytes()).hexdigest(),
            "output_probe": [r4(v) for v in probe],
            "persons": persons,
        }
        if camera:
            entry["camera"] = {}
            for fmt, crgb in camera_frames(rgb):
                ch, cw = crgb.shape[:2]
                ccanvas, clb = letterbox_cv2(crgb, size, pad)
                cx, cpersons, _ = infer(ccanvas, clb, cw, ch)
                cam = {"width": cw, "height": ch,
                       "input_sha256": hashlib.sha256(cx.tobytes()).hexdigest()}
                if rel in IMAGES:                # persons for the small set only
                    cam["persons"] = cpersons
                entry["camera"][fmt] = cam
        images.append(entry)
    q = lambda d: {"dtype": np.dtype(d["dtype"]).name,
                   "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])}
    return {
        "generator": "scripts/reference.py",
        "command": command,
        "model": name,
        "runtime": "tflite-c-api " + os.path.basename(capi) if capi else RUNTIME,
        "kernels": kernels,
        "model_sha256": sha256_file(model_path),
        "family": "movenet" if movenet else "yolo-pose",
        "input_size": size,
        "input": q(ind),
        "output": q(outd),
        "conf_threshold": CONF,
        "iou_threshold": None if movenet else IOU,
        "pad_value": pad,
        "resize": resize,
        "opencv": cv2.__version__ if resize == "opencv" else None,
        "images": images,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default=os.environ.get("EDGEPOSE_MODEL_MIRROR"))
    ap.add_argument("--data-dir", default=os.environ.get("EDGEPOSE_DATA_DIR"))
    ap.add_argument("--out", default="tests/fixtures/reference")
    ap.add_argument("--kernels", choices=["xnnpack", "builtin"], default="xnnpack")
    ap.add_argument("--resize", choices=["pillow", "opencv"], default="pillow",
                    help="pre-processing to reproduce (module docs)")
    ap.add_argument("--images", choices=["small", "all"], default="small",
                    help="small: samples + coco-val-mini; all: also coco-train-mini")
    ap.add_argument("--camera", action="store_true",
                    help="also YUYV/NV12 frames made from each image (--resize opencv)")
    ap.add_argument("--eval", action="store_true",
                    help="also write eval.json: COCO AP of every model on coco-val-mini and "
                         "coco-train-mini (--resize opencv; needs pycocotools)")
    ap.add_argument("--capi", metavar="LIB",
                    help="run this TFLite C library through its C API (ctypes) instead of a Python interpreter")
    a = ap.parse_args()
    if a.capi:
        a.kernels = "builtin"
    elif Interpreter is None:
        ap.error("neither ai_edge_litert nor tflite_runtime is installed: use --capi LIB")
    if a.resize == "opencv" and cv2 is None:
        ap.error("--resize opencv needs cv2: run scripts/setup.sh (opencv-python-headless)")
    if (a.camera or a.eval) and a.resize != "opencv":
        ap.error("--camera and --eval go with --resize opencv")
    if not a.models_dir or not a.data_dir:
        ap.error("need --models-dir and --data-dir (or EDGEPOSE_MODEL_MIRROR / EDGEPOSE_DATA_DIR)")
    # Recorded command: paths relative to the repository root, so it is machine-independent.
    rel = lambda p: os.path.relpath(os.path.abspath(p), REPO)
    venv = ".cache/venv" if RUNTIME == "ai-edge-litert" else ".cache/venv-tflite214"
    # scripts/reference-arm.sh names its qemu launcher here.
    launcher = os.environ.get("EDGEPOSE_REFERENCE_LAUNCHER") or venv + "/bin/python"
    command = (launcher + " scripts/reference.py --kernels {} --models-dir {} --data-dir {} --out {}"
               .format(a.kernels, rel(a.models_dir), rel(a.data_dir), rel(a.out)))
    if a.resize != "pillow":
        command += " --resize " + a.resize
    if a.images != "small":
        command += " --images " + a.images
    if a.camera:
        command += " --camera"
    if a.eval:
        command += " --eval"
    if a.capi:
        command += " --capi " + os.environ.get("EDGEPOSE_REFERENCE_CAPI_NAME", a.capi)
    os.makedirs(a.out, exist_ok=True)
    images_list = image_list(a.data_dir, a.images)
    print("%-46s %s" % ("model", " ".join("%9s" % os.path.basename(i)[-9:-4] for i in IMAGES)))
    for m in MODELS:
        res = run_model(os.path.join(a.models_dir, m), a.data_dir, command, a.kernels, a.capi,
                        a.resize, images_list, a.camera)
        if a.eval:
            res["eval"] = eval_model(os.path.join(a.models_dir, m), a.data_dir, a.kernels, a.capi)
        path = os.path.join(a.out, os.path.splitext(m)[0] + ".json")
        text = json.dumps(res, indent=1)
        # Put flat number lists (boxes, keypoints, probes) on one line each.
        text = re.sub(r"\[[^\[\]{}\"]*\]", lambda m: " ".join(m.group(0).split()), text)
        with open(path, "w") as f:
            f.write(text + "\n")
        print("%-46s %s" % (m, " ".join("%9d" % len(i["persons"]) for i in res["images"][:len(IMAGES)])),
              " AP %s" % " ".join("%.4f" % v[0] for v in res["eval"].values()) if a.eval else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
