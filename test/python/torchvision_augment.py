"""torchvision's (v0.14) augmentation operations and policies on uint8 tensor images, for scatter's parity tests.

Reads a JSON list of cases from argv[1] and writes a JSON list of results to argv[2]. A case is
{"kind": "op" | "hue" | "auto" | "rand" | "trivial" | "space" | "pad_crop" | "erase", "image": [...], "shape": [c, h, w],
...}; random transforms take the draws scatter made ("ints" and "floats", in order) in place of torch's own."""
import json
import sys
import types

import torch
import torchvision.transforms.autoaugment as autoaugment
import torchvision.transforms.functional as F
import torchvision.transforms.transforms as transforms


class RecordedDraws:
    """torch.randint / torch.rand answered from scatter's draws, in the order torchvision makes them."""

    def __init__(self, ints, floats):
        self.ints, self.floats = list(ints), list(floats)

    def rand(self, size):
        size = size if isinstance(size, (tuple, list)) else (size,)
        return torch.tensor([self.floats.pop(0) for _ in range(size[0])], dtype=torch.float32)

    def randint(self, *args, size=None, dtype=None):
        """randint(high, size), randint(low, high, size), size positional or not."""
        if size is None:
            *args, size = args
        low, high = (0, args[0]) if len(args) == 1 else args
        values = [self.ints.pop(0) for _ in range(size[0])]
        assert all(low <= value < high for value in values), (values, low, high)
        return torch.tensor(values, dtype=dtype or torch.int64)

    def empty(self, *size, **kwargs):
        """torch.empty(1).uniform_(a, b): scatter's uniform value, in double precision as scatter drew it."""
        draws = self

        class Uniform:
            def uniform_(self, low, high):
                return torch.tensor([draws.floats.pop(0)], dtype=torch.float64)

        return Uniform()


def with_draws(case, make, module=autoaugment):
    draws = RecordedDraws(case["ints"], case["floats"])
    shim = types.SimpleNamespace(**{name: getattr(torch, name) for name in dir(torch) if not name.startswith("__")})
    shim.randint, shim.rand, shim.empty = draws.randint, draws.rand, draws.empty
    original = module.torch
    module.torch = shim
    try:
        out = make()
    finally:
        module.torch = original
    assert not draws.ints and not draws.floats, "scatter drew more than torchvision used"
    return out


def run(case):
    kind = case["kind"]
    if kind == "space":
        if case["policy"] == "trivial":
            space = autoaugment.TrivialAugmentWide()._augmentation_space(case["bins"])
        else:
            cls = autoaugment.AutoAugment if case["policy"] == "auto" else autoaugment.RandAugment
            space = cls._augmentation_space(None, case["bins"], (case["height"], case["width"]))
        return [[name, magnitudes.tolist() if magnitudes.ndim > 0 else None, signed] for name, (magnitudes, signed) in space.items()]
    if kind == "erase":
        img = torch.tensor(case["values"], dtype=torch.float32).reshape(case["shape"])
        t = transforms.RandomErasing(case["p"], tuple(case["scale"]), tuple(case["ratio"]), case["value"])
        return with_draws(case, lambda: t(img), transforms).flatten().tolist()
    img = torch.tensor(case["image"], dtype=torch.uint8).reshape(case["shape"])
    fill = case.get("fill")
    mode = F.InterpolationMode.NEAREST
    if kind == "op":
        out = autoaugment._apply_op(img, case["op"], case["magnitude"], interpolation=mode, fill=fill)
    elif kind == "pad_crop":
        padded = F.pad(img, [case["padding"]], fill=case["fill"], padding_mode=case["mode"])
        out = F.crop(padded, case["top"] + case["padding"], case["left"] + case["padding"], case["size"], case["size"])
    elif kind == "hue":
        out = F.adjust_hue(img, case["factor"])
    elif kind == "auto":
        policy = autoaugment.AutoAugmentPolicy(case["policy"])
        out = with_draws(case, lambda: autoaugment.AutoAugment(policy, fill=fill)(img))
    elif kind == "rand":
        t = autoaugment.RandAugment(case["numOps"], case["magnitude"], case["bins"], fill=fill)
        out = with_draws(case, lambda: t(img))
    elif kind == "trivial":
        out = with_draws(case, lambda: autoaugment.TrivialAugmentWide(case["bins"], fill=fill)(img))
    else:
        raise ValueError(kind)
    return out.flatten().tolist()


cases = json.load(open(sys.argv[1]))
json.dump([run(case) for case in cases], open(sys.argv[2], "w"))
