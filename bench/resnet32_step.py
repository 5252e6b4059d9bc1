"""Python PyTorch half of bench/resnet32-step.ts: the same functional ResNet-32 training step (batch of
CIFAR shapes, forward + cross-entropy + backward + SGD update), timed the same way. Prints JSON."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def make_params(device):
    params, bn = {}, {}

    def conv(name, cin, cout):
        params[name] = (torch.randn(cout, cin, 3, 3, device=device) * (2.0 / (9 * cin)) ** 0.5).requires_grad_()

    def norm(name, c):
        params[name + ".weight"] = torch.ones(c, device=device, requires_grad=True)
        params[name + ".bias"] = torch.zeros(c, device=device, requires_grad=True)
        bn[name] = (torch.zeros(c, device=device), torch.ones(c, device=device))

    conv("stem", 3, 16)
    norm("stem.bn", 16)
    cin = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(5):
            name = f"s{stage}b{block}"
            conv(name + ".conv1", cin, width)
            norm(name + ".bn1", width)
            conv(name + ".conv2", width, width)
            norm(name + ".bn2", width)
            cin = width
    params["fc.weight"] = (torch.randn(10, 64, device=device) * 0.1).requires_grad_()
    params["fc.bias"] = torch.zeros(10, device=device, requires_grad=True)
    return params, bn


def bn_relu(x, params, bn, name, relu=True):
    mean, var = bn[name]
    x = F.batch_norm(x, mean, var, params[name + ".weight"], params[name + ".bias"], training=True, momentum=0.1, eps=1e-5)
    return F.relu(x) if relu else x


def forward(params, bn, x):
    h = bn_relu(F.conv2d(x, params["stem"], padding=1), params, bn, "stem.bn")
    cin = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(5):
            name = f"s{stage}b{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            out = bn_relu(F.conv2d(h, params[name + ".conv1"], stride=stride, padding=1), params, bn, name + ".bn1")
            out = bn_relu(F.conv2d(out, params[name + ".conv2"], padding=1), params, bn, name + ".bn2", relu=False)
            shortcut = h
            if stride != 1 or cin != width:
                # Option A: subsample and zero-pad the channels (the LDAM-DRW ResNet-32).
                pad = (width - cin) // 2
                shortcut = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))
            h = F.relu(out + shortcut)
            cin = width
    h = F.adaptive_avg_pool2d(h, 1).flatten(1)
    return F.linear(h, params["fc.weight"], params["fc.bias"])


def main():
    batch, steps, warmup, threads, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params, bn = make_params(device)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        loss = F.cross_entropy(forward(params, bn, x), y)
        loss.backward()
        with torch.no_grad():
            for p in params.values():
                p.sub_(p.grad, alpha=0.01)
                p.grad = None
        loss.item()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    print(json.dumps({"stepSeconds": times, "loss": loss.item(), "version": torch.__version__}))


if __name__ == "__main__":
    main()
