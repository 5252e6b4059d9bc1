"""The reference half of test/optim/sgd.test.ts and adamw.test.ts. Usage: optimizer_parity.py IN OUT CONFIG_JSON.
IN holds initial parameters "param.<i>" and gradients "grad.<step>.<i>" (absent: no gradient at that
step). CONFIG is {"optimizer": "SGD" or "AdamW", "steps", "lrScales", "variants": [{"name", "groups":
[{"params": [i...], and the torch.optim class's group keywords}]}]}. For each variant the torch.optim class
runs the steps with its defaults, each group's lr scaled by lrScales[step] before the step; OUT gets
"<variant>.<step>.<i>" (parameters after each step) and "<variant>.state.<i>.<name>" (each parameter's final
state tensors: momentum_buffer; exp_avg, exp_avg_sq, step)."""
import json
import sys

import torch

from safetensors_io import load, save


def main(source, destination, config):
    tensors = load(source)
    count = sum(1 for name in tensors if name.startswith("param."))
    out = {}
    for variant in config["variants"]:
        params = [tensors[f"param.{i}"].clone().requires_grad_(True) for i in range(count)]
        groups = [dict(group, params=[params[i] for i in group["params"]]) for group in variant["groups"]]
        optimizer = getattr(torch.optim, config["optimizer"])(groups, lr=groups[0]["lr"])
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        for step in range(config["steps"]):
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * config["lrScales"][step]
            for i, param in enumerate(params):
                grad = tensors.get(f"grad.{step}.{i}")
                param.grad = None if grad is None else grad.clone()
            optimizer.step()
            for i, param in enumerate(params):
                out[f"{variant['name']}.{step}.{i}"] = param.detach().clone()
        for i, param in enumerate(params):
            for name, value in optimizer.state[param].items():
                if torch.is_tensor(value):
                    out[f"{variant['name']}.state.{i}.{name}"] = value
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
