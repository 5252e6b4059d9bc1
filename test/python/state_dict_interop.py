"""The reference half of test/export/state-dict.test.ts. Usage: state_dict_interop.py STATE INPUT OUT MODEL_JSON.
Builds the upstream model that MODEL_JSON names ({"kind": "resnet32", "num_classes", "use_norm"} for LDAM-DRW's
CIFAR ResNet-32, or {"kind": "torchvision", "block", "layers", "groups", "width_per_group", "num_classes"}),
loads scatter's exported state dict into it with strict=True (every name and shape must match), and saves its
evaluation-mode logits on INPUT's images as OUT's 'logits'."""
import json
import sys

import torch

from ldam_resnet_cifar import resnet32
from safetensors_io import load, save
from torchvision_resnet import BasicBlock, Bottleneck, ResNet


def main(state_file, input_file, out_file, spec):
    if spec["kind"] == "resnet32":
        model = resnet32(spec["num_classes"], use_norm=spec["use_norm"])
    else:
        block = BasicBlock if spec["block"] == "basic" else Bottleneck
        model = ResNet(block, spec["layers"], spec["num_classes"], spec["groups"], spec["width_per_group"])
    model.load_state_dict(load(state_file), strict=True)
    model.eval()
    with torch.no_grad():
        save({"logits": model(load(input_file)["images"])}, out_file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
