"""PyTorch on the same GPU, for benches/gpu.rs: torch.mm at N = 1024, 2048, 4096 (TFLOP/s,
median of timed calls) and elementwise add of 256M floats against a device copy (GB/s).

Usage: python3 benches/gpu/torch_baseline.py [--rounds 20]
Needs torch with CUDA (pip install torch); run on the GPU machine beside `cargo bench --bench gpu`.
"""
import argparse
import statistics
import time

import torch


def timed(fn, rounds):
    times = []
    for r in range(rounds + 1):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if r:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=20)
    a = p.parse_args()
    dev = torch.device("cuda:0")
    torch.backends.cuda.matmul.allow_tf32 = False  # mxr's sgemm is full float32
    print("device:", torch.cuda.get_device_name(0))
    for n in (1024, 2048, 4096):
        x = torch.ones(n, n, device=dev)
        y = torch.ones(n, n, device=dev)
        s = timed(lambda: torch.mm(x, y), a.rounds)
        print(f"torch.mm N={n}: {2 * n**3 / s / 1e12:.2f} TFLOP/s")
    n = 256 << 20
    x = torch.ones(n, device=dev)
    y = torch.ones(n, device=dev)
    out = torch.empty(n, device=dev)
    add = timed(lambda: torch.add(x, y, out=out), a.rounds)
    copy = timed(lambda: out.copy_(x), a.rounds)
    print(f"add 256M floats: {3 * 4 * n / add / 1e9:.0f} GB/s; copy: {2 * 4 * n / copy / 1e9:.0f} GB/s")


if __name__ == "__main__":
    main()
