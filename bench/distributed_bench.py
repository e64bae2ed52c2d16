#!/usr/bin/env python3
"""Data-parallel training on this machine (issue 16), run by hand, not in CI.

  /usr/bin/python3 bench/distributed_bench.py [--build build] [--rounds 3] [--epochs 2]
                                              [--models mlp,cnn] [--buckets 64,256,1024,4096]

1. Throughput: train_fashion_mnist on all 54,000 training images, global batch 128, Adam, as
   1 rank x 2 OpenMP threads and as 2 ranks x 1 thread (mpirun -np 2), the two alternating,
   --rounds times each. The figure is the last epoch's throughput/samples_per_s (training only,
   whole epoch; the first epoch is warm-up), as recorded in the version; medians and min-max.
2. All-reduce time per step by bucket size: 2 ranks x 1 thread, the MLP, --allreduce-bucket-kb
   over --buckets, without and with --overlap (buckets summed on a thread while backward runs);
   the figures are the last epoch's time/allreduce_ms_per_step (time in the gradient
   all-reduces, waiting for the other rank included) and time/allreduce_blocking_ms_per_step (what
   the sums cost the training thread: packing, the all-reduces it ran or waited for, the metric
   sums; with --overlap, the part backward did not hide), medians.
3. On paper, weak scaling to 8 and 64 ranks (64 samples per rank and step): per-step compute c
   = the 2-rank step time minus what the sums blocked, gradient bytes S = 4 x trainable
   parameters, ring all-reduce T(N) = 2 (N-1)/N x S / bandwidth + 2 (N-1) x latency, for 25 Gb
   Ethernet (2.5 GB/s, 25 us) and 100 Gb/s InfiniBand (11 GB/s, 3 us); efficiency c / (c + T)
   without overlap, and c / (c + max(0, T - backward)) when the sums hide behind backward
   (taken as 2/3 of c).
Prints Markdown tables for docs/benchmarks.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile


def metric(strata, log, name):
    out = subprocess.run([strata, "--log", log, "show", "main"], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"^\s+" + re.escape(name) + r" = (\S+)$", out, re.M).group(1))


def train(build, log, model, epochs, ranks, threads, extra=()):
    exe = os.path.join(build, "examples", "train_fashion_mnist")
    args = [exe, "--model", model, "--epochs", str(epochs), "--threads", str(threads), "--log-dir", log,
            "--no-tensorboard", "--batch-size", "128", *extra]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if ranks > 1:
        args = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks), "-x", f"OMP_NUM_THREADS={threads}",
                *args, "--distributed"]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return int(re.search(r"(\d+) trainable parameters", out).group(1))


def summary(values):
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--buckets", default="64,256,1024,4096")
    a = ap.parse_args()
    strata = os.path.join(a.build, "tools", "strata")
    with tempfile.TemporaryDirectory() as tmp:
        print("| model | 1 rank x 2 threads, samples/s | 2 ranks x 1 thread, samples/s | ratio | all-reduce ms/step (2 ranks) |")
        print("|---|---|---|---|---|")
        paper = {}
        for model in a.models.split(","):
            single, double, reduce_ms, blocked_ms = [], [], [], []
            for r in range(a.rounds):
                for ranks in (1, 2) if r % 2 == 0 else (2, 1):
                    log = os.path.join(tmp, f"{model}-{ranks}-{r}")
                    params = train(a.build, log, model, a.epochs, ranks, 2 // ranks)
                    (single if ranks == 1 else double).append(metric(strata, log, "throughput/samples_per_s"))
                    if ranks == 2:
                        reduce_ms.append(metric(strata, log, "time/allreduce_ms_per_step"))
                        blocked_ms.append(metric(strata, log, "time/allreduce_blocking_ms_per_step"))
            ratio = statistics.median(double) / statistics.median(single)
            print(f"| {model} | {summary(single)} | {summary(double)} | {ratio:.2f} | {statistics.median(reduce_ms):.2f} |")
            step_ms = 1000 * 128 / statistics.median(double)
            paper[model] = (step_ms - statistics.median(blocked_ms), 4 * params)
        print()
        print("| model | compute ms/step (64 samples) | gradient MB | link | T(8) ms | efficiency 8 (overlap) | T(64) ms | efficiency 64 (overlap) |")
        print("|---|---|---|---|---|---|---|---|")
        for model, (c, grad_bytes) in paper.items():
            for link, bandwidth, latency in (("25 GbE", 2.5e9, 25e-6), ("100 Gb IB", 11e9, 3e-6)):
                cells = []
                for n in (8, 64):
                    t = 1000 * (2 * (n - 1) / n * grad_bytes / bandwidth + 2 * (n - 1) * latency)
                    hidden = max(0.0, t - 2 * c / 3)
                    cells += [f"{t:.2f}", f"{100 * c / (c + t):.0f}% ({100 * c / (c + hidden):.0f}%)"]
                print(f"| {model} | {c:.2f} | {grad_bytes / 1e6:.2f} | {link} | " + " | ".join(cells) + " |")
        print()
        print("| bucket KiB | overlap | all-reduce ms/step (MLP, 2 ranks x 1 thread) | training thread blocked, ms/step | samples/s |")
        print("|---|---|---|---|---|")
        for kb in a.buckets.split(","):
            for overlap in (False, True):
                ms, wait, rate = [], [], []
                for r in range(a.rounds):
                    log = os.path.join(tmp, f"bucket-{kb}-{overlap}-{r}")
                    extra = ("--allreduce-bucket-kb", kb) + (("--overlap",) if overlap else ())
                    train(a.build, log, "mlp", a.epochs, 2, 1, extra)
                    ms.append(metric(strata, log, "time/allreduce_ms_per_step"))
                    wait.append(metric(strata, log, "time/allreduce_blocking_ms_per_step"))
                    rate.append(metric(strata, log, "throughput/samples_per_s"))
                print(f"| {kb} | {'yes' if overlap else 'no'} | {statistics.median(ms):.3f} ({min(ms):.3f}-{max(ms):.3f}) | "
                      f"{statistics.median(wait):.3f} | {summary(rate)} |")


if __name__ == "__main__":
    main()
