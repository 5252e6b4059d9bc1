"""Unpacks what bench/cifar-lt-pack.ts packed (PACK_DIR: train.webp / test.webp of 32 x 32 tiles, their label bytes,
pack.json, the class-name files) into CIFAR's binary layout in DEST_DIR, byte for byte. In Python (Pillow, NumPy)
because the GPU machine has them and no sharp. Usage: cifar_lt_unpack.py PACK_DIR DEST_DIR"""
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

COLUMNS = 128  # tiles per row, as cifar-lt-pack.ts writes them
SPLITS = {"train": "train.bin", "test": "test.bin"}


def unpack(source, dest):
    info = json.load(open(os.path.join(source, "pack.json")))
    label_bytes = info["labelBytes"]
    os.makedirs(dest, exist_ok=True)
    for split, name in SPLITS.items():
        count = info["records"][split]
        pixels = np.asarray(Image.open(os.path.join(source, f"{split}.webp")).convert("RGB"))
        rows = -(-count // COLUMNS)
        # (rows, 32, COLUMNS, 32, 3) -> tiles in order -> channel-major 3 x 32 x 32 records.
        tiles = pixels[: rows * 32, : COLUMNS * 32].reshape(rows, 32, COLUMNS, 32, 3).transpose(0, 2, 4, 1, 3)
        tiles = tiles.reshape(rows * COLUMNS, 3 * 32 * 32)[:count]
        labels = np.frombuffer(open(os.path.join(source, f"{split}.labels"), "rb").read(), dtype=np.uint8)
        records = np.concatenate([labels.reshape(count, label_bytes), tiles], axis=1)
        records.astype(np.uint8).tofile(os.path.join(dest, name))
    for name in os.listdir(source):
        if name.endswith(".txt"):
            shutil.copyfile(os.path.join(source, name), os.path.join(dest, name))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: cifar_lt_unpack.py PACK_DIR DEST_DIR")
    unpack(sys.argv[1], sys.argv[2])
