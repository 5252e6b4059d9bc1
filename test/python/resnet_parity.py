"""The reference half of test/models/resnet-parity.test.ts. Usage: resnet_parity.py IN OUT CONFIG_JSON.
For each model of CONFIG ({"models": [{"name", "block", "layers", "groups", "width_per_group",
"num_classes", "seed"}]}): torchvision's ResNet seeded with its seed, its initial state dict, and on the
test's input a training-mode forward, cross-entropy and backward (logits, gradients) and an
evaluation-mode forward."""
import json
import sys

import torch
import torch.nn.functional as F

from safetensors_io import save
from safetensors_io import load
from torchvision_resnet import BasicBlock, Bottleneck, ResNet


def main(source, destination, config):
    inputs = load(source)
    out = {}
    for spec in config["models"]:
        name = spec["name"]
        block = BasicBlock if spec["block"] == "basic" else Bottleneck
        torch.manual_seed(spec["seed"])
        model = ResNet(block, spec["layers"], spec["num_classes"], spec["groups"], spec["width_per_group"])
        out.update({f"{name}.init.{k}": v.clone() for k, v in model.state_dict().items()})
        logits = model(inputs["input"])
        F.cross_entropy(logits, inputs["target"]).backward()
        out[f"{name}.train_logits"] = logits
        out.update({f"{name}.grad.{k}": p.grad for k, p in model.named_parameters()})
        model.eval()
        with torch.no_grad():
            out[f"{name}.eval_logits"] = model(inputs["input"])
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
