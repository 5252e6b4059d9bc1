"""The reference half of scatter's parity test: the same small conv net as test/torch/parity.test.ts, in
Python PyTorch, on the inputs and weights that the test wrote. Usage: convnet_parity.py IN OUT."""
import sys

import torch
import torch.nn.functional as F

from safetensors_io import load, save


def forward(p, x, target):
    h = F.conv2d(x, p["conv1.weight"], None, padding=1)
    h = F.batch_norm(h, p["bn1.running_mean"], p["bn1.running_var"], p["bn1.weight"], p["bn1.bias"], training=True, momentum=0.1, eps=1e-5)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.conv2d(h, p["conv2.weight"], None, stride=2, padding=1, groups=2)
    h = F.batch_norm(h, p["bn2.running_mean"], p["bn2.running_var"], p["bn2.weight"], p["bn2.bias"], training=True, momentum=0.1, eps=1e-5)
    h = F.adaptive_avg_pool2d(F.gelu(h), 1).flatten(1)
    logits = F.linear(h, p["fc.weight"], p["fc.bias"])
    loss = F.cross_entropy(logits, target, weight=p["class_weights"], label_smoothing=0.1)
    return logits, loss


def main(source, destination):
    tensors = load(source)
    x, target = tensors.pop("input"), tensors.pop("target")
    trainable = [name for name in tensors if "running" not in name and name != "class_weights"]
    for name in trainable:
        tensors[name].requires_grad_(True)
    logits, loss = forward(tensors, x, target)
    loss.backward()
    out = {"logits": logits, "loss": loss.reshape(1)}
    for name in trainable:
        out["grad." + name] = tensors[name].grad
    for name in ("bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"):
        out[name] = tensors[name]
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
