"""Python PyTorch half of bench/op-overhead.ts: microseconds per call of tiny operators, where the cost is
the call itself, not the kernel. Same cases, same loop shape. Prints JSON.
Usage: op_overhead.py CALLS REPEATS THREADS"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def main():
    calls, repeats, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    x = torch.ones(1)
    y = torch.ones(1)
    image = torch.ones(1, 1, 2, 2)
    kernel = torch.ones(1, 1, 2, 2)

    def add():
        for _ in range(calls):
            x + y

    def mul_scalar():
        for _ in range(calls):
            x * 2.5

    def conv2d():
        for _ in range(calls):
            F.conv2d(image, kernel)

    def chain():
        for _ in range(calls):
            x.mul(2).add(y).relu().sum()

    cases = {"add": add, "mulScalar": mul_scalar, "conv2d": conv2d, "chain": chain}
    result = {}
    for name, run in cases.items():
        run()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) / calls * 1e6)
        result[name] = times
    print(json.dumps({"microseconds": result, "version": torch.__version__}))


if __name__ == "__main__":
    main()
