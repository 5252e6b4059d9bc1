"""The reference half of test/models/pretrained.test.ts. Usage: pretrained_checkpoints.py INPUT OUT_DIR.
Writes torchvision ResNets (torchvision's own where python3-torchvision is installed, else the trimmed copy in
torchvision_resnet.py: ResNet-10, ResNet-50, ResNeXt-50 32x4d, 10 classes) with random
weights and random batch-norm running statistics as torch.save files (NAME.pth) and safetensors (NAME.safetensors),
and their evaluation-mode logits on INPUT's images (NAME.logits in reference.safetensors). Also, for ResNet-10:
- wrapped.pth: a training script's checkpoint ({'state_dict': {'module.' + name: ...}, 'epoch', 'best_acc1', ...})
  whose tensors are strided views (channels-last, transposed, slices of one shared storage at offsets) in float16,
  bfloat16 and float64, with the logits of the float32 model loaded from it (wrapped.logits);
- imagenet.pth: the same backbone with a 1000-class fc, and the pooled features of that backbone (resnet10.features)."""
import collections
import sys

import torch

from safetensors_io import load, save
try:
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
except ImportError:
    from torchvision_resnet import BasicBlock, Bottleneck, ResNet

MODELS = {
    "resnet10": dict(block=BasicBlock, layers=[1, 1, 1, 1]),
    "resnet50": dict(block=Bottleneck, layers=[3, 4, 6, 3]),
    "resnext50_32x4d": dict(block=Bottleneck, layers=[3, 4, 6, 3], groups=32, width_per_group=4),
}


def build(name, num_classes):
    spec = MODELS[name]
    return ResNet(
        spec["block"], spec["layers"], num_classes=num_classes, groups=spec.get("groups", 1), width_per_group=spec.get("width_per_group", 64)
    )


def randomise(model):
    """Batch norm away from its identity init, so that a running statistic loaded wrongly changes the logits."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(int(torch.randint(1, 1000, ()).item()))
        model.fc.bias.uniform_(-0.5, 0.5)
    return model.eval()


def features(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return torch.flatten(model.avgpool(x), 1)


def strided(state):
    """The same values in the layouts and dtypes a real checkpoint may hold them in: 4-d weights channels-last in
    float16, 2-d transposed in float64, 1-d slices of one shared float32 storage at offsets."""
    out = collections.OrderedDict()
    vectors = [name for name, t in state.items() if t.dim() == 1 and t.is_floating_point()]
    shared = torch.cat([state[name] for name in vectors])
    offset = 0
    for name, tensor in state.items():
        if tensor.dim() == 4:
            out[name] = tensor.half().contiguous(memory_format=torch.channels_last)
        elif tensor.dim() == 2:
            out[name] = tensor.double().t().contiguous().t()
        elif name in vectors:
            out[name] = shared[offset:offset + tensor.numel()]
            offset += tensor.numel()
        else:
            out[name] = tensor
    # One vector in bfloat16, as a slice of its own larger storage.
    name = vectors[0]
    out[name] = torch.cat([torch.zeros(3), state[name], torch.zeros(2)]).bfloat16()[3:3 + state[name].numel()]
    return out


def main(input_file, out_dir):
    torch.manual_seed(0)
    x = load(input_file)["images"]
    reference = {}
    for name in MODELS:
        model = randomise(build(name, 10))
        # Copies: loading wrapped.pth below changes the model's own tensors.
        state = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
        torch.save(state, f"{out_dir}/{name}.pth")
        save(state, f"{out_dir}/{name}.safetensors")
        with torch.no_grad():
            reference[f"{name}.logits"] = model(x)
            if name != "resnet10":
                continue
            reference["resnet10.features"] = features(model, x)
            wrapped_state = strided(state)
            assert not all(t.is_contiguous() and t.storage_offset() == 0 for t in wrapped_state.values())
            torch.save({"state_dict": collections.OrderedDict(("module." + k, v) for k, v in wrapped_state.items()),
                        "epoch": 90, "best_acc1": 76.13, "arch": "resnet10", "seen": 2 ** 40}, f"{out_dir}/wrapped.pth")
            model.load_state_dict(wrapped_state)
            reference["wrapped.logits"] = model(x)
            imagenet = build(name, 1000)
            imagenet.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
            torch.save(imagenet.state_dict(), f"{out_dir}/imagenet.pth")
    save(reference, f"{out_dir}/reference.safetensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
