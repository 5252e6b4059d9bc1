"""The reference half of test/optim/sam.test.ts: davda54/sam's SAM (github.com/davda54/sam, sam.py, MIT), as
published, on a tiny model (Linear 6-5 without bias, which batch norm would cancel, BatchNorm1d 5, ReLU, Linear 5-3) with its example's batch-norm
handling (utility/bypass_bn.py: momentum 0 in the second pass). Usage: sam_parity.py IN OUT CONFIG_JSON.
IN holds the model's initial state dict "model.<name>" and batches "x.<step>", "y.<step>"; CONFIG is {"steps",
"variants": [{"name", "base": "SGD" or "AdamW", "kwargs": {...}, "rho", "adaptive"}]}. OUT gets
"<variant>.<step>.<name>": the model's state after each step."""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import load, save


class SAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer, rho=0.05, adaptive=False, **kwargs):
        assert rho >= 0.0, f"Invalid rho, should be non-negative: {rho}"

        defaults = dict(rho=rho, adaptive=adaptive, **kwargs)
        super(SAM, self).__init__(params, defaults)

        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)

            for p in group["params"]:
                if p.grad is None: continue
                self.state[p]["old_p"] = p.data.clone()
                e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e_w)  # climb to the local maximum "w + e(w)"

        if zero_grad: self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None: continue
                p.data = self.state[p]["old_p"]  # get back to "w" from "w + e(w)"

        self.base_optimizer.step()  # do the actual "sharpness-aware" update

        if zero_grad: self.zero_grad()

    def _grad_norm(self):
        shared_device = self.param_groups[0]["params"][0].device  # put everything on the same device, in case of model parallelism
        norm = torch.norm(
                    torch.stack([
                        ((torch.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2).to(shared_device)
                        for group in self.param_groups for p in group["params"]
                        if p.grad is not None
                    ]),
                    p=2
               )
        return norm


def disable_running_stats(model):
    def _disable(module):
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.backup_momentum = module.momentum
            module.momentum = 0

    model.apply(_disable)


def enable_running_stats(model):
    def _enable(module):
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and hasattr(module, "backup_momentum"):
            module.momentum = module.backup_momentum

    model.apply(_enable)


def main(source, destination, config):
    tensors = load(source)
    out = {}
    for variant in config["variants"]:
        model = nn.Sequential(nn.Linear(6, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
        model.load_state_dict({name[len("model."):]: t for name, t in tensors.items() if name.startswith("model.")})
        model.train()
        base = getattr(torch.optim, variant["base"])
        optimizer = SAM(model.parameters(), base, rho=variant["rho"], adaptive=variant["adaptive"], **variant["kwargs"])
        for step in range(config["steps"]):
            x, y = tensors[f"x.{step}"], tensors[f"y.{step}"]
            enable_running_stats(model)
            F.cross_entropy(model(x), y).backward()
            optimizer.first_step(zero_grad=True)
            disable_running_stats(model)
            F.cross_entropy(model(x), y).backward()
            optimizer.second_step(zero_grad=True)
            for name, t in model.state_dict().items():
                out[f"{variant['name']}.{step}.{name}"] = t.detach().clone()
    save(out, destination)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
