"""PyTorch's side of bench/whitening-profile.ts: the host's cost of one operator and a 64 x 64
eigendecomposition on the device, timed the same way (median of 40 calls after 5, each ending in a read).
usage: python3 bench/whitening_profile.py [cpu|cuda]"""
import sys
import time

import torch

device = sys.argv[1] if len(sys.argv) > 1 else 'cpu'


def milliseconds(body):
    for _ in range(5):
        body()
    times = []
    for _ in range(40):
        started = time.perf_counter()
        body()
        times.append((time.perf_counter() - started) * 1e3)
    return round(sorted(times)[20], 3)


def hundred_adds():
    total = small
    for _ in range(100):
        total = total + 1
    total.sum().item()


small = torch.randn(64, device=device)
features = torch.randn(128, 64, device=device, dtype=torch.float64)
covariance = features.T @ features / 128 + 0.1 * torch.eye(64, device=device, dtype=torch.float64)
print({'bench': 'whitening-profile (PyTorch)', 'device': device, 'hundredAdds': milliseconds(hundred_adds),
       'eighFloat64': milliseconds(lambda: torch.linalg.eigh(covariance)[0].sum().item()),
       'eighFloat32': milliseconds(lambda: torch.linalg.eigh(covariance.float())[0].sum().item())})
