"""The reference half of test/nn/layers-parity.test.ts. Usage: nn_layers_parity.py IN OUT SEED.
Seeded with SEED, builds PyTorch's layers in the test's order and writes their initial state, fills
tensors with torch.nn.init's functions, then runs the layers on the test's inputs: convolutions, linear
and cosine layers, and batch norm in training (twice, to move the running statistics) and evaluation."""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import init

from ldam_resnet_cifar import NormedLinear
from safetensors_io import save
from safetensors_io import load


def main(source, destination, seed):
    torch.manual_seed(seed)
    layers = {
        "conv": nn.Conv2d(4, 6, 3, stride=2, padding=1),
        "grouped": nn.Conv2d(6, 8, (3, 1), padding=(1, 0), groups=2, bias=False),
        "linear": nn.Linear(20, 7),
        "cosine": NormedLinear(20, 7),
        "bn2d": nn.BatchNorm2d(8),
        "bn1d": nn.BatchNorm1d(7, momentum=None),
    }
    out = {f"init.{name}.{k}": v.clone() for name, layer in layers.items() for k, v in layer.state_dict().items()}
    shape = (16, 8, 3, 3)
    out["fill.kaiming_normal"] = init.kaiming_normal_(torch.empty(shape), mode="fan_out", nonlinearity="relu")
    out["fill.kaiming_uniform"] = init.kaiming_uniform_(torch.empty(shape), a=0.2)
    out["fill.xavier_uniform"] = init.xavier_uniform_(torch.empty(shape), gain=2.0)
    out["fill.xavier_normal"] = init.xavier_normal_(torch.empty(shape), gain=0.5)

    inputs = load(source)
    image, vector = inputs["image"], inputs["vector"]
    hidden = layers["grouped"](layers["conv"](image))
    out["conv"] = hidden
    out["bn2d.train1"] = layers["bn2d"](hidden)
    out["bn2d.train2"] = layers["bn2d"](hidden * 2 + 1)
    layers["bn2d"].eval()
    out["bn2d.eval"] = layers["bn2d"](hidden)
    projected = layers["linear"](vector)
    out["linear"] = projected
    out["cosine"] = layers["cosine"](vector) * 16
    out["bn1d.train1"] = layers["bn1d"](projected)
    out["bn1d.train2"] = layers["bn1d"](projected - 3)
    layers["bn1d"].eval()
    out["bn1d.eval"] = layers["bn1d"](projected)
    out.update({f"after.{name}.{k}": v for name in ("bn2d", "bn1d") for k, v in layers[name].state_dict().items()})
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
