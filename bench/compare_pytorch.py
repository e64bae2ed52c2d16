#!/usr/bin/env python3
"""Strata vs PyTorch 1.13 (Debian python3-torch) and libtorch (Debian libtorch-dev) on the same
work: batches of 128, Adam, the MLP 784-512-256-10 and the LeNet-style CNN on Fashion-MNIST, the
small ResNet on synthetic 3x32x32 images; data preloaded as tensors; the same thread count; each
side in its own process (so peak memory is its own); warm-up excluded; sides alternate within
each round. Training runs a whole epoch (469 steps) per repetition for the MLP and --steps for
the CNN and the ResNet; evaluation covers the test images in batches of 1000.

Debian's OpenBLAS is the pthread build: its threads oversubscribe the cores next to PyTorch's
OpenMP threads. So PyTorch and libtorch run both with OPENBLAS_NUM_THREADS=1 and without, and
the ratios are taken against the faster PyTorch configuration ("fair").

    scripts/install_deps.sh && scripts/build.sh
    /usr/bin/python3 bench/compare_pytorch.py --threads 2 --rounds 3
"""
import argparse, gzip, json, os, resource, statistics, subprocess, sys, time

DATA = "/usr/share/datasets/fashion-mnist"


def torch_side(model, steps, repeats, threads):
    import numpy as np
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    if model == "resnet":
        x, tx = torch.rand(12800, 3, 32, 32), torch.rand(2000, 3, 32, 32)
        y = torch.arange(12800) * 7919 % 10
    else:
        def idx(name, offset):
            with gzip.open(os.path.join(DATA, name)) as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)
        x = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
        y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
        tx = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
            self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.proj = None
            if stride != 1 or cin != cout:
                self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            h = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(h + (self.proj(x) if self.proj is not None else x))

    class ResNet(nn.Module):  # models::resnet(3x32x32, 10, 1 block per stage)
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean((2, 3)))

    if model == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    elif model == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
                            nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        net = ResNet()
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

    def evaluate():
        net.eval()
        with torch.no_grad():
            for b in range(0, len(tx), 1000):
                net(tx[b:b + 1000])
        net.train()
    for _ in range(5):
        step()
    evaluate()
    train, evals = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        train.append(steps * 128 / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        evaluate()
        evals.append(len(tx) / (time.perf_counter() - t0))
    print(json.dumps({"framework": "pytorch", "model": model, "train_samples_per_s": statistics.median(train),
                      "train_min": min(train), "train_max": max(train),
                      "ms_per_step": 128e3 / statistics.median(train), "eval_samples_per_s": statistics.median(evals),
                      "eval_min": min(evals), "eval_max": max(evals),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions inside each process")
    ap.add_argument("--steps", type=int, default=80, help="training steps per repetition (CNN, ResNet)")
    ap.add_argument("--models", default="mlp,cnn,resnet")
    ap.add_argument("--json", help="also write every run's JSON line to this file")
    ap.add_argument("--torch-side", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_side:
        model, steps, repeats = a.torch_side.split(":")
        return torch_side(model, int(steps), int(repeats), a.threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    base.pop("OPENBLAS_NUM_THREADS", None)
    one_blas = dict(base, OPENBLAS_NUM_THREADS="1")
    libtorch = os.path.join(root, "build/bench/libtorch_bench")
    log = open(a.json, "w") if a.json else None
    print("| model | side | train samples/s (min-max) | ms/step | eval samples/s (min-max) | peak RSS MB | "
          "train GFLOP/s |\n|---|---|---|---|---|---|---|")
    summary = []
    for model in a.models.split(","):
        steps = 469 if model == "mlp" else a.steps
        sides = {
            "strata": ([os.path.join(root, "build/bench/fashion_mnist_bench"), model, str(steps), str(a.repeats)], base),
            "pytorch": (["/usr/bin/python3", __file__, "--threads", str(a.threads), "--torch-side",
                         f"{model}:{steps}:{a.repeats}"], base),
        }
        sides["pytorch OPENBLAS_NUM_THREADS=1"] = (sides["pytorch"][0], one_blas)
        if os.path.exists(libtorch):
            cmd = [libtorch, model, str(steps), str(a.repeats), str(a.threads)]
            sides["libtorch"] = (cmd, base)
            sides["libtorch OPENBLAS_NUM_THREADS=1"] = (cmd, one_blas)
        runs = {side: [] for side in sides}
        for _ in range(a.rounds):
            for side, (cmd, env) in sides.items():
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                line = json.loads(out.strip().splitlines()[-1])
                line["side"] = side
                if log:
                    log.write(json.dumps(line) + "\n")
                runs[side].append(line)
        med = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], float)}
               for side, rs in runs.items()}
        for side, rs in runs.items():
            m = med[side]
            lo_t, hi_t = min(r["train_min"] for r in rs), max(r["train_max"] for r in rs)
            lo_e, hi_e = min(r["eval_min"] for r in rs), max(r["eval_max"] for r in rs)
            gf = f"{m['train_gflops']:.0f} of {m['sgemm_peak_gflops']:.0f} sgemm peak" if "train_gflops" in m else ""
            print(f"| {model} | {side} | {m['train_samples_per_s']:.0f} ({lo_t:.0f}-{hi_t:.0f}) | {m['ms_per_step']:.1f} | "
                  f"{m['eval_samples_per_s']:.0f} ({lo_e:.0f}-{hi_e:.0f}) | {m['peak_rss_mb']:.0f} | {gf} |")
        fair = max((s for s in med if s.startswith("pytorch")), key=lambda s: med[s]["train_samples_per_s"])
        fair_eval = max((s for s in med if s.startswith("pytorch")), key=lambda s: med[s]["eval_samples_per_s"])
        line = (f"{model}: training x{med['strata']['train_samples_per_s'] / med[fair]['train_samples_per_s']:.2f} "
                f"vs {fair}, evaluation x{med['strata']['eval_samples_per_s'] / med[fair_eval]['eval_samples_per_s']:.2f} "
                f"vs {fair_eval}, peak RSS x{med['strata']['peak_rss_mb'] / med[fair]['peak_rss_mb']:.2f}")
        if "libtorch" in med:
            lt = max((s for s in med if s.startswith("libtorch")), key=lambda s: med[s]["train_samples_per_s"])
            line += f"; training x{med['strata']['train_samples_per_s'] / med[lt]['train_samples_per_s']:.2f} vs {lt}"
        summary.append(line)
        sys.stdout.flush()
    print("\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
