#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets that read edgepose's own
files and strings (settings_toml, spec, listen_stream, mjpeg_frame,
raw_frame) from what the repository ships: its config file, manifests and
board profiles, the specs its docs show, the serial captures of
wire_stream, and small JPEGs and raw frames made from samples/bus.jpg with
Pillow (the reference venv:
`.cache/venv/bin/python3 fuzz/seeds.py`). Deterministic: rerunning it
rewrites the same files."""

import io
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def settings():
    write("settings_toml", "config-dist", b"\x00" + (ROOT / "dist/edgepose.toml").read_bytes())
    for p in sorted((ROOT / "models").glob("*.toml")):
        write("settings_toml", "manifest-" + p.stem, b"\x01" + p.read_bytes())
    for p in sorted((ROOT / "boards").glob("*.toml")):
        write("settings_toml", "board-" + p.stem, b"\x02" + p.read_bytes())


SPECS = [
    "v4l2:/dev/video0?format=MJPG&width=640&height=480&fps=30",
    "v4l2:/dev/video0?format=YUYV&width=1280&height=720&timeout_ms=2000&give_up_s=60",
    "raw:cap.yuyv?format=YUYV&width=640&height=480&fps=30&yuv=bt709",
    "raw:-?format=I420&width=640&height=480&max_bytes=8388608&eof=end",
    "serial:/dev/ttyUSB0?baud=921600&encoding=binary&queue=4&timeout_ms=20&wait=true",
    "serial:/dev/ttyAMA0?data_bits=7&parity=even&stop_bits=2&flow=hardware",
    "mqtt://broker.local:1883?topic=edgepose/cam1/poses&qos=1&device_id=cam1",
    "mqtt://broker.local?tls=true&ca=/etc/ssl/ca.pem&username=edge&buffer=64&flush_timeout=10",
    "json:out.jsonl",
    "json",
    "annotate:out",
    "ssd1306:/dev/i2c-1?address=0x3c&rotation=180",
    "fb:/dev/fb0?width=320&height=240&format=rgb565",
    "x:y?a=16384&b=0.01&c=86400&d=600000&e=y&f=on",
    "x:y?a=0&b=1e300&c=-1&d=1e30&e=z&f=maybe&g=1",
]


def specs():
    for i, s in enumerate(SPECS):
        write("spec", f"spec-{i:02}", s.encode())


def listen():
    # mode 0: auto; seed 0: one read, 7: reads of 1-64 bytes.
    for p in sorted((CORPUS / "wire_stream").glob("capture-*")):
        # wire_stream's inputs start with its own [mode, seed] pair.
        write("listen_stream", p.name, b"\x00\x07" + p.read_bytes()[2:])
    lines = b'{"seq":1,"persons":[]}\n{"seq":2}\n{"seq":9}\nnot json\n{"seq":3'
    write("listen_stream", "json-lines", b"\x02\x00" + lines)
    write("listen_stream", "json-tail-first", b"\x00\x07" + b'q":7}\n' + lines)


def jpegs():
    from PIL import Image

    bus = Image.open(ROOT.parent / "shared/data/samples/bus.jpg").convert("RGB")
    small = bus.resize((32, 24))

    def jpeg(img, **kw):
        b = io.BytesIO()
        img.save(b, "JPEG", **kw)
        return b.getvalue()

    seeds = {
        "baseline-420": jpeg(small, quality=75),
        "grey": jpeg(small.convert("L"), quality=80),
        "progressive-444": jpeg(small, quality=90, progressive=True, subsampling=0),
        "restart-422": jpeg(bus.resize((48, 16)), quality=60, subsampling=1, optimize=True),
        "cmyk": jpeg(small.convert("CMYK"), quality=70),
        "odd-size": jpeg(bus.resize((17, 9)), quality=50),
    }
    for mode in range(3):
        for name, data in seeds.items():
            write("mjpeg_frame", f"{name}-mode{mode}", bytes([mode]) + data)


# raw_frame's format indices (fuzz/fuzz_targets/raw_frame.rs's FORMATS).
I420, NV12, YUYV, RGB3, GREY = range(5)


def raws():
    from PIL import Image

    bus = Image.open(ROOT.parent / "shared/data/samples/bus.jpg").convert("RGB")

    def planes(w, h):
        y, u, v = bus.resize((w, h)).convert("YCbCr").split()
        cw, ch = (w + 1) // 2, (h + 1) // 2
        return y.tobytes(), u.resize((cw, ch)).tobytes(), v.resize((cw, ch)).tobytes()

    def frame(fmt, w, h):
        if fmt == RGB3:
            return bus.resize((w, h)).tobytes()
        if fmt == GREY:
            return bus.resize((w, h)).convert("L").tobytes()
        y, u, v = planes(w, h)
        if fmt == I420:
            return y + u + v
        if fmt == NV12:
            return y + bytes(b for pair in zip(u, v) for b in pair)
        # YUYV: Y0 U Y1 V per pixel pair.
        cw = (w + 1) // 2
        out = bytearray()
        for r in range(h):
            for c in range(cw):
                out += bytes([y[r * w + 2 * c], u[r // 2 * cw + c], y[r * w + 2 * c + 1], v[r // 2 * cw + c]])
        return bytes(out)

    names = {I420: "i420", NV12: "nv12", YUYV: "yuyv", RGB3: "rgb3", GREY: "grey"}
    # [format, width-1, height-1, stride extra, model size, input type, yuv,
    # checked, pixels...]; model size 0x33: 20 × 20.
    for fmt, name in names.items():
        for ty in range(3):
            head = [fmt, 31, 23, 0, 0x33, ty, ty, 1]
            write("raw_frame", f"{name}-32x24-type{ty}", bytes(head) + frame(fmt, 32, 24))
        # A padded stride, and 2:1 down to the input (the area path).
        write("raw_frame", f"{name}-40x40-padded", bytes([fmt, 39, 39, 6, 0x44, 0, 3, 1]) + frame(fmt, 40, 40))
    # Unchecked: an odd width, and a stride past the frame.
    write("raw_frame", "nv12-odd-unchecked", bytes([NV12, 2, 1, 1, 0x11, 0, 0, 0]) + bytes(9))
    write("raw_frame", "grey-stride-unchecked", bytes([GREY, 3, 3, 0xFF, 0x3F, 0, 0, 0]) + bytes(16))


if __name__ == "__main__":
    settings()
    specs()
    listen()
    if len(sys.argv) < 2 or sys.argv[1] != "--no-jpeg":
        jpegs()
        raws()
