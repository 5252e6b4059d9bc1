"""The reference half of the mixed-loss test in test/longtail/losses.test.ts. Usage: mixed_loss.py IN OUT CONFIG_JSON.
IN holds float64 logits "logits" [N, C] and int64 targets "a", "b" [N]; CONFIG is {"counts", "lam", "cases":
[{"id", "epoch", "config": scatter's loss config}]}. Each loss is written here from its paper's formula in torch
(LDAM as LDAM-DRW's LDAMLoss, the focal loss as scatter defines it: p the model's probability, the batch mean of
w_y (1 - p)^gamma CE), and the mixed loss is lam L(z, a) + (1 - lam) L(z, b). OUT gets "<id>" (the loss) and
"<id>.grad" (its gradient in the logits); for unweighted ce also "<id>.soft": PyTorch's cross-entropy of the mixed
probability target lam e_a + (1 - lam) e_b with the same label smoothing."""
import json
import sys

import torch
import torch.nn.functional as F

from safetensors_io import load, save


def class_balanced(counts, beta):
    weights = (1 - beta) / (1 - beta ** counts)
    return weights * len(counts) / weights.sum()


def single_loss(config, epoch, counts, z, y):
    name = config["name"]
    smoothing = config.get("labelSmoothing", 0.0)
    classes = len(counts)
    weight = None
    if name in ("cb-ce", "cb-focal"):
        weight = class_balanced(counts, config.get("cbBeta", 0.9999))
    elif config.get("drw") and epoch >= config["drw"]["startEpoch"]:
        weight = class_balanced(counts, config["drw"].get("beta", 0.9999))
    if name == "ldam":
        margins = counts ** -0.25
        margins = margins * (config.get("ldamMaxMargin", 0.5) / margins.max())
        index = F.one_hot(y, classes).bool()
        z = config.get("ldamScale", 30) * torch.where(index, z - margins[y][:, None], z)
    elif name == "la":
        z = z + config.get("laTau", 1.0) * torch.log(counts / counts.sum())
    elif name == "bsce":
        z = z + torch.log(counts)
    if name in ("focal", "cb-focal"):
        ce = F.cross_entropy(z, y, reduction="none", label_smoothing=smoothing)
        p = torch.softmax(z, 1).gather(1, y[:, None]).squeeze(1)
        w = 1.0 if weight is None else weight[y]
        return (w * (1 - p).clamp(min=1e-6) ** config.get("focalGamma", 1.0) * ce).mean()
    return F.cross_entropy(z, y, weight=weight, label_smoothing=smoothing)


def main(source, destination, spec):
    tensors = load(source)
    counts = torch.tensor(spec["counts"], dtype=torch.float64)
    lam = spec["lam"]
    out = {}
    for case in spec["cases"]:
        logits = tensors["logits"].clone().requires_grad_(True)
        config, epoch = case["config"], case["epoch"]
        loss = lam * single_loss(config, epoch, counts, logits, tensors["a"]) + (1 - lam) * single_loss(
            config, epoch, counts, logits, tensors["b"])
        loss.backward()
        out[case["id"]] = loss.detach()
        out[case["id"] + ".grad"] = logits.grad
        if config["name"] == "ce" and not config.get("drw"):
            classes = len(spec["counts"])
            one_hot = lambda y: F.one_hot(y, classes).double()
            target = lam * one_hot(tensors["a"]) + (1 - lam) * one_hot(tensors["b"])
            out[case["id"] + ".soft"] = F.cross_entropy(
                tensors["logits"], target, label_smoothing=config.get("labelSmoothing", 0.0))
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
