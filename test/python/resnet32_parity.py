"""The reference half of test/models/resnet32-parity.test.ts. Usage: resnet32_parity.py IN OUT SEED.
Writes LDAM-DRW's ResNet-32 as seeded with SEED (linear classifier) and SEED + 1 (cosine classifier), then
loads the weights the test wrote and runs a training-mode forward, cross-entropy and backward (logits,
loss, every parameter's gradient, running statistics after) and an evaluation-mode forward."""
import sys

import torch
import torch.nn.functional as F

from ldam_resnet_cifar import resnet32
from safetensors_io import save
from safetensors_io import load


def main(source, destination, seed):
    out = {}
    torch.manual_seed(seed)
    out.update({"init_linear." + k: v for k, v in resnet32(10).state_dict().items()})
    torch.manual_seed(seed + 1)
    out.update({"init_cosine." + k: v for k, v in resnet32(10, use_norm=True).state_dict().items()})

    tensors = load(source)
    x, target = tensors.pop("input"), tensors.pop("target")
    model = resnet32(10)
    model.load_state_dict(tensors)
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    out["train_logits"] = logits
    out["loss"] = loss.reshape(1)
    out.update({"grad." + name: p.grad for name, p in model.named_parameters()})
    out.update({"after." + name: b for name, b in model.named_buffers()})
    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(x)
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
