"""The reference half of test/torch/pth.test.ts. Usage: pth_files.py OUT_DIR. Writes with torch.save:
- objects.pth: a dict of tensors in every dtype scatter has, strided views (transposed, stepped, at an offset, two
  views of one storage) and the Python values around them (nested lists and tuples, floats, big ints, None, bools,
  strings), and expected.safetensors: each tensor as a contiguous copy;
- missing-storage.pth and short-storage.pth: objects.pth without its storage 0, and with storage 1 cut short."""
import sys
import zipfile

import torch

from safetensors_io import save


def main(out_dir):
    torch.manual_seed(0)
    base = torch.randn(3, 4)
    tensors = {
        "float32": base,
        "transposed": base.t(),
        "stepped": torch.randn(10)[2:8:2],
        "float64": torch.randn(2, 3, dtype=torch.float64),
        "float16": torch.randn(5).half(),
        "bfloat16": torch.randn(5).bfloat16(),
        "int64": torch.tensor(123456789012),
        "int32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
    }
    extras = {"list": [1, 2.5, None, True, "text", (3, 4)], "big": 2 ** 60, "negative": -7}
    torch.save({"tensors": tensors, **extras}, f"{out_dir}/objects.pth")
    save({name: t.contiguous() for name, t in tensors.items()}, f"{out_dir}/expected.safetensors")
    with zipfile.ZipFile(f"{out_dir}/objects.pth") as source:
        names = source.namelist()
        for variant, edit in [("missing-storage", lambda name, data: None if name.endswith("/data/0") else data),
                              ("short-storage", lambda name, data: data[:-2] if name.endswith("/data/1") else data)]:
            with zipfile.ZipFile(f"{out_dir}/{variant}.pth", "w", zipfile.ZIP_STORED) as target:
                for name in names:
                    data = edit(name, source.read(name))
                    if data is not None:
                        target.writestr(name, data)


if __name__ == "__main__":
    main(sys.argv[1])
