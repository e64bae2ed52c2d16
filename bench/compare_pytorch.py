#!/usr/bin/env python3
"""Strata vs PyTorch (Debian python3-torch) on the same work: Fashion-MNIST batches of 128,
Adam, the same MLP / LeNet-style CNN, the same thread count; each side in its own process (so
peak memory is its own), alternating, several rounds; prints medians and ratios.

    STRATA_BENCH_DEPS=1 scripts/install_deps.sh && scripts/build.sh
    python3 bench/compare_pytorch.py --threads 2 --rounds 3
"""
import argparse, gzip, json, os, resource, statistics, subprocess, sys, time

DATA = "/usr/share/datasets/fashion-mnist"


def torch_side(model, steps, repeats, threads):
    import numpy as np
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    def idx(name, offset):
        with gzip.open(os.path.join(DATA, name)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    x = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    tx = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    if model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        net = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
                            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    order = torch.randperm(len(x))
    pos = [0]

    def step():
        if pos[0] + 128 > len(x):
            pos[0] = 0
        i = order[pos[0]:pos[0] + 128]
        pos[0] += 128
        opt.zero_grad()
        lossf(net(x[i]), y[i]).backward()
        opt.step()
    for _ in range(5):
        step()
    train, evals = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        train.append(steps * 128 / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        with torch.no_grad():
            for b in range(0, len(tx), 1000):
                net(tx[b:b + 1000])
        evals.append(len(tx) / (time.perf_counter() - t0))
    print(json.dumps({"framework": "pytorch", "model": model, "train_samples_per_s": statistics.median(train),
                      "eval_samples_per_s": statistics.median(evals),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--torch-side", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_side:
        model, steps, repeats = a.torch_side.split(":")
        return torch_side(model, int(steps), int(repeats), a.threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    print(f"| model | metric | strata | pytorch | ratio |\n|---|---|---|---|---|")
    for model in a.models.split(","):
        steps = a.steps if model == "mlp" else max(a.steps // 5, 10)
        runs = {"strata": [], "pytorch": []}
        for _ in range(a.rounds):
            for side in ("strata", "pytorch"):
                cmd = ([os.path.join(root, "build/bench/fashion_mnist_bench"), model, str(steps), "3"] if side == "strata"
                       else ["/usr/bin/python3", __file__, "--threads", str(a.threads), "--torch-side", f"{model}:{steps}:3"])
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                runs[side].append(json.loads(out.strip().splitlines()[-1]))
        for key, better in (("train_samples_per_s", "higher"), ("eval_samples_per_s", "higher"), ("peak_rss_mb", "lower")):
            s = statistics.median(r[key] for r in runs["strata"])
            p = statistics.median(r[key] for r in runs["pytorch"])
            print(f"| {model} | {key} ({better} is better) | {s:.0f} | {p:.0f} | {s / p:.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
