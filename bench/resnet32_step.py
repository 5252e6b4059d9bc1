"""Python PyTorch half of bench/resnet32-step.ts: the same functional ResNet-32 training step (batch of
CIFAR shapes, forward + cross-entropy + backward + SGD update), timed the same way. Prints JSON.
Arguments: batch steps warmup threads device [capture|eager] [float32|bfloat16] [channels-last|contiguous];
capture records the step with torch.cuda.graph after the warm-up steps (on a side stream) and replays it."""
import json
import sys
import time

import torch
import torch.nn.functional as F


def make_params(device, memory_format=torch.contiguous_format):
    params, bn = {}, {}

    def conv(name, cin, cout):
        weight = (torch.randn(cout, cin, 3, 3, device=device) * (2.0 / (9 * cin)) ** 0.5).contiguous(memory_format=memory_format)
        params[name] = weight.requires_grad_()

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


def training_step(params, bn, x, y, device, precision):
    if precision == "bfloat16":
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
            logits = forward(params, bn, x)
        logits = logits.float()
    else:
        logits = forward(params, bn, x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    with torch.no_grad():
        for p in params.values():
            p.sub_(p.grad, alpha=0.01)
            p.grad = None
    return loss


def main():
    batch, steps, warmup, threads, device = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    mode, precision, layout = (sys.argv[6:9] + ["eager", "float32", "contiguous"][len(sys.argv[6:9]):])
    memory_format = torch.channels_last if layout == "channels-last" else torch.contiguous_format
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    params, bn = make_params(device, memory_format)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=memory_format)
    y = torch.randint(0, 10, (batch,), device=device)
    times = []
    if mode == "capture":
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                training_step(params, bn, x, y, device, precision).item()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            loss = training_step(params, bn, x, y, device, precision)
        for _ in range(steps):
            start = time.perf_counter()
            graph.replay()
            loss.item()
            times.append(time.perf_counter() - start)
    else:
        for step in range(warmup + steps):
            start = time.perf_counter()
            loss = training_step(params, bn, x, y, device, precision)
            loss.item()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if step >= warmup:
                times.append(time.perf_counter() - start)
    print(json.dumps({"stepSeconds": times, "loss": loss.item(), "version": torch.__version__}))


if __name__ == "__main__":
    main()
