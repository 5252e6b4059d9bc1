"""torchvision's (v0.14) PIL path for image files: Image.open + convert('RGB'), then resized_crop (what
RandomResizedCrop does given its rectangle) or resize (Resize), bilinear, for scatter's decoding tests.

Reads a JSON list of cases from argv[1] ({"file", "left", "top", "width", "height", "out": [h, w]} for a crop,
{"file", "resize": size} for Resize(size)) and writes to argv[2] the channel-major bytes of each result, one
after another, with their shapes in argv[2] + ".json"."""
import json
import sys

import numpy as np
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode


def run(case):
    with Image.open(case["file"]) as opened:
        image = opened.convert("RGB")
    if "resize" in case:
        out = F.resize(image, case["resize"], InterpolationMode.BILINEAR)
    else:
        out = F.resized_crop(image, case["top"], case["left"], case["height"], case["width"], case["out"], InterpolationMode.BILINEAR)
    return np.asarray(out).transpose(2, 0, 1)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = [run(case) for case in cases]
    with open(sys.argv[2], "wb") as f:
        for result in results:
            f.write(np.ascontiguousarray(result).tobytes())
    with open(sys.argv[2] + ".json", "w") as f:
        json.dump([list(result.shape) for result in results], f)


main()
