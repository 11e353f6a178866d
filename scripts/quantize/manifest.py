"""The manifest the factory writes beside a model: the float model's manifest
(as edgepose resolved it) with the new file, sha256, input type and layout,
and a [provenance] table saying how it was made. Same schema as
models/*.toml (edgepose rejects unknown fields, so this stays in step with
src/model/manifest.rs)."""

from __future__ import annotations

import json
import os
import tomllib


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string of this kind is a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(name: str | None, d: dict) -> list[str]:
    lines = [f"[{name}]"] if name else []
    lines += [f"{k} = {_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += [""] + _table(f"{name}.{k}" if name else k, v)
    return lines


def to_toml(m: dict) -> str:
    top = {k: v for k, v in m.items() if not isinstance(v, dict)}
    lines = ["# Written by the edgepose model factory (scripts/quantize.sh); see [provenance]."]
    lines += _table(None, top)
    for k, v in m.items():
        if isinstance(v, dict):
            lines += [""] + _table(k, v)
    return "\n".join(lines) + "\n"


def write_manifest(path: str, *, float_manifest: str, recipe: str, layout: str | None,
                   file_name: str, sha256: str, input_type: str, source_model: str,
                   source_sha256: str, calibration: dict | None, calibration_source: str | None,
                   tools: dict, command: str) -> None:
    m = tomllib.loads(float_manifest)
    base_id = m["id"]
    # The file's stem: unique in a model folder as file names are.
    m["id"] = os.path.splitext(file_name)[0]
    m["file"] = file_name
    m["sha256"] = sha256
    m["source"] = f"factory:{source_model} (recipe {recipe})"
    m["description"] = f"{m.get('description', base_id)}; made by the model factory, recipe {recipe}"
    m["input"]["dtype"] = input_type
    if layout is not None:
        m["output"] = {"layout": layout, "coords": "pixels"}
    else:
        m["output"] = {k: v for k, v in m["output"].items() if v not in ([], None)}
    prov = {
        "source_model": source_model,
        "source_sha256": source_sha256,
        "recipe": recipe,
        "command": command,
    }
    if calibration is not None:
        prov["calibration"] = {
            "source": calibration_source,
            "frames": calibration["frames"],
            "frames_in_source": calibration["frames_in_source"],
            "sha256": calibration["sha256"],
        }
    prov["tools"] = tools
    m["provenance"] = prov
    tmp = path + ".part"
    with open(tmp, "w") as f:
        f.write(to_toml(m))
    os.replace(tmp, path)
