"""Python PyTorch half of bench/train-steps.ts: ResNet-32 training steps on CIFAR-10-LT with a typical
PyTorch input pipeline (a Dataset doing random crop with padding 4, flip and normalisation per image in
numpy, a DataLoader with worker processes), timed per step including the wait for data. Prints JSON.
Usage: train_steps.py CIFAR_DIR BATCH STEPS WARMUP THREADS WORKERS"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from resnet32_step import forward, make_params  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.2023, 0.1994, 0.2010], dtype=np.float32).reshape(3, 1, 1)


def load_cifar10_lt(root, ratio=100):
    records = np.concatenate([np.fromfile(os.path.join(root, f"data_batch_{i}.bin"), dtype=np.uint8).reshape(-1, 3073)
                              for i in range(1, 6)])
    labels, images = records[:, 0].astype(np.int64), records[:, 1:].reshape(-1, 3, 32, 32)
    keep = []
    for c in range(10):
        n = int(5000 * (1 / ratio) ** (c / 9))
        keep.extend(np.nonzero(labels == c)[0][:n])
    keep = np.sort(np.array(keep))
    return images[keep], labels[keep]


class CifarTrain(torch.utils.data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        padded = np.pad(self.images[i], ((0, 0), (4, 4), (4, 4)))
        y, x = np.random.randint(0, 9, size=2)
        image = padded[:, y:y + 32, x:x + 32]
        if np.random.rand() < 0.5:
            image = image[:, :, ::-1]
        image = (image.astype(np.float32) / 255 - MEAN) / STD
        return torch.from_numpy(np.ascontiguousarray(image)), self.labels[i]


def main():
    root, batch, steps, warmup, threads, workers = sys.argv[1], *map(int, sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images, labels = load_cifar10_lt(root)
    loader = torch.utils.data.DataLoader(CifarTrain(images, labels), batch_size=batch, shuffle=True, num_workers=workers,
                                         drop_last=True, persistent_workers=workers > 0)
    params, bn = make_params("cpu")
    optimizer = torch.optim.SGD(params.values(), lr=0.1, momentum=0.9, weight_decay=2e-4)
    times = []
    it = iter(loader)
    for step in range(warmup + steps):
        start = time.perf_counter()
        x, y = next(it)
        loss = F.cross_entropy(forward(params, bn, x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    print(json.dumps({"stepSeconds": times}))


if __name__ == "__main__":
    main()
