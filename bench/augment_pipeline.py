"""The Python half of bench/augment-pipeline.ts: torchvision 0.14's transforms on uint8 CHW tensors, one thread,
one image at a time as a DataLoader worker applies them; images per second (median of rounds) per variant."""
import json
import statistics
import sys
import time

import torch
import torchvision.transforms as T

torch.set_num_threads(1)
spec = json.loads(sys.argv[1])


def build(item):
    name, args = (item, {}) if isinstance(item, str) else next(iter(item.items()))
    args = dict(args or {})
    if name == "AutoAugment":
        args["policy"] = T.AutoAugmentPolicy(args["policy"])
    return getattr(T, name)(**args)


generator = torch.Generator().manual_seed(0)
images = torch.randint(0, 256, (spec["count"], 3, 32, 32), dtype=torch.uint8, generator=generator)
rates = {}
for name, items in spec["variants"].items():
    # Normalize needs floats: the uint8 image is scaled to 0-1 first, as ToTensor / ConvertImageDtype do.
    # torchvision 0.14's equalize fails on the non-contiguous view a crop returns: each step's output made contiguous.
    contiguous = T.Lambda(lambda x: x.contiguous())
    steps = [step for item in items for step in (build(item), contiguous)]
    at = 2 * next(i for i, item in enumerate(items) if not isinstance(item, str) and "Normalize" in item)
    pipeline = T.Compose(steps[:at] + [T.ConvertImageDtype(torch.float32)] + steps[at:])
    times = []
    for _ in range(spec["rounds"]):
        started = time.perf_counter()
        for image in images:
            pipeline(image)
        times.append(time.perf_counter() - started)
    rates[name] = spec["count"] / statistics.median(times)
print(json.dumps(rates))
