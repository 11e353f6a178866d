#!/usr/bin/env python3
"""COCO keypoint AP/AR of a results file, computed by pycocotools itself.

    cocoeval_ref.py GT.json RESULTS.json [MAX_DETS]

Prints the 10 summary numbers (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm,
ARl) as one JSON list with full-precision floats on the last line of stdout;
pycocotools' own messages go to stderr. This is the reference that
`src/eval/cocoeval.rs` is tested against (tests/cocoeval.rs).

Settings: COCOeval(iouType='keypoints') with its defaults, except that the
category is fixed to person (catIds = [1]) and maxDets to MAX_DETS (20 by
default).

Three things pycocotools cannot take as they come are adapted, without
changing what it computes:
- Each result is cut down to image_id, category_id, keypoints and score. A
  result with a `bbox` field would otherwise send loadRes down its box
  branch, taking the detection's area from that box instead of from the
  keypoints.
- An empty results list makes loadRes fail (it reads the first element).
  The results are then an empty COCO object built from the ground truth's
  images and categories, i.e. an evaluation with no detections: AP and AR
  are 0 where an area range has ground truth, -1 where it has none.
- summarize() hard-codes maxDets=20 for keypoints and reports -1 for any
  other value. After accumulate(), with MAX_DETS other than 20, the
  params' maxDets label is set to [20]: summarize() then reads the one
  (MAX_DETS) slice that accumulate() computed.

Exit status 2 when pycocotools is missing (run scripts/setup.sh).
"""

import contextlib
import json
import sys


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 1
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        print(f"pycocotools not importable ({e}): run scripts/setup.sh", file=sys.stderr)
        return 2
    gt_path, results_path = argv[1], argv[2]
    max_dets = int(argv[3]) if len(argv) == 4 else 20

    with open(results_path) as f:
        results = json.load(f)
    keep = ("image_id", "category_id", "keypoints", "score")
    results = [{k: r[k] for k in keep} for r in results]

    with contextlib.redirect_stdout(sys.stderr):
        gt = COCO(gt_path)
        if results:
            dt = gt.loadRes(results)
        else:
            dt = COCO()
            dt.dataset = {
                "images": list(gt.dataset["images"]),
                "categories": list(gt.dataset.get("categories", [])),
                "annotations": [],
            }
            dt.createIndex()
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.catIds = [1]
        ev.params.maxDets = [max_dets]
        ev.evaluate()
        ev.accumulate()
        ev.params.maxDets = [20]
        ev.summarize()
    print(json.dumps([float(x) for x in ev.stats]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
