#!/usr/bin/env python3
"""Strata vs PyTorch (Debian python3-torch 1.13) and libtorch (libtorch-dev, bench/libtorch_text_bench.cc)
on the text models of models/: the LSTM
classifier (Embedding 60x64 with padding 0 -> LSTM 64->128 -> mean over the non-padding steps
-> Linear 128->8) and the Transformer encoder classifier (Embedding + learned positions -> 2
pre-norm encoder layers, width 64, 4 heads, feed-forward 128, GELU, the padding mask -> LayerNorm
-> masked mean -> Linear), on the same synthetic token ids (bench/text_bench.cc), batches of 64,
Adam, no dropout, the same thread count. Each side runs in its own process: a warm-up of 20
steps, then --repeats timed repetitions of one epoch (200 steps) and of inference over 6,400
samples in batches of 512. Rounds alternate the sides. PyTorch runs with OPENBLAS_NUM_THREADS=1
and without (Debian's pthread OpenBLAS oversubscribes the cores; without libopenblas0 Debian's
torch falls back to the reference BLAS: STRATA_BENCH_DEPS=1 scripts/install_deps.sh installs it);
ratios use each peer's faster figure.

    STRATA_BENCH_DEPS=1 scripts/install_deps.sh && scripts/build.sh
    /usr/bin/python3 bench/text_pytorch.py --threads 2 --rounds 3 --repeats 3
"""
import argparse, json, os, statistics, subprocess, sys, time

V, T, C, BATCH, NTRAIN, NEVAL, EVAL_BATCH = 60, 16, 8, 64, 12800, 6400, 512


def torch_side(model, repeats, threads):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(1)

    def data(n):
        i = torch.arange(n).unsqueeze(1)
        t = torch.arange(T).unsqueeze(0)
        ids = 1 + (7919 * i + 104729 * t) % (V - 1)
        ids = torch.where(t < 3 + i % 14, ids, torch.zeros_like(ids))
        return ids, torch.arange(n) % C

    def masked_mean(h, ids):
        keep = (ids != 0).unsqueeze(-1).to(h.dtype)
        return (h * keep).sum(1) / keep.sum(1).clamp(min=1)

    class LstmClassifier(nn.Module):  # models::recurrent_classifier
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, 64, padding_idx=0)
            self.rnn = nn.LSTM(64, 128, batch_first=True)
            self.fc = nn.Linear(128, C)

        def forward(self, ids):
            return self.fc(masked_mean(self.rnn(self.embed(ids))[0], ids))

    class TransformerClassifier(nn.Module):  # models::transformer_classifier
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, 64, padding_idx=0)
            self.pos = nn.Parameter(torch.randn(T, 64) * 0.02)
            layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(64)
            self.fc = nn.Linear(64, C)

        def forward(self, ids):
            h = self.blocks(self.embed(ids) + self.pos, src_key_padding_mask=ids == 0)
            return self.fc(masked_mean(self.norm(h), ids))

    net = LstmClassifier() if model == "lstm" else TransformerClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data(NTRAIN)
    ex, _ = data(NEVAL)
    bx, by = list(x.split(BATCH)), list(y.split(BATCH))
    last = [0.0]

    def step(b):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(bx[b]), by[b])
        loss.backward()
        opt.step()
        last[0] = loss.item()

    def infer():
        net.eval()
        with torch.no_grad():
            for e in ex.split(EVAL_BATCH):
                net(e)
        net.train()

    for b in range(20):
        step(b)
    infer()
    train, inf = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for b in range(len(bx)):
            step(b)
        train.append(NTRAIN / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        infer()
        inf.append(NEVAL / (time.perf_counter() - t0))
    print(json.dumps({"framework": "pytorch", "model": model, "train_samples_per_s": statistics.median(train),
                      "train_min": min(train), "train_max": max(train), "infer_samples_per_s": statistics.median(inf),
                      "infer_min": min(inf), "infer_max": max(inf), "final_loss": last[0],
                      "parameters": sum(p.numel() for p in net.parameters())}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="lstm,transformer")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.side == "torch":
        return torch_side(a.model, a.repeats, a.threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    strata = os.path.join(root, "build", "bench", "text_bench")
    libtorch = os.path.join(root, "build", "bench", "libtorch_text_bench")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.pop("OPENBLAS_NUM_THREADS", None)
    for model in a.models.split(","):
        sides = {
            "strata": ([strata, model, str(a.repeats), str(a.threads)], env),
            "pytorch": ([sys.executable, __file__, "--side", "torch", "--model", model, "--repeats", str(a.repeats),
                         "--threads", str(a.threads)], env),
        }
        sides["pytorch OPENBLAS_NUM_THREADS=1"] = (sides["pytorch"][0], dict(env, OPENBLAS_NUM_THREADS="1"))
        if os.path.exists(libtorch):  # Debian libtorch-dev: the C++ frontend, no Python overhead
            cmd = [libtorch, model, str(a.repeats), str(a.threads)]
            sides["libtorch"] = (cmd, env)
            sides["libtorch OPENBLAS_NUM_THREADS=1"] = (cmd, dict(env, OPENBLAS_NUM_THREADS="1"))
        results = {s: [] for s in sides}
        for r in range(a.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(list(sides)))
            for s in order:
                cmd, e = sides[s]
                results[s].append(json.loads(subprocess.run(cmd, env=e, check=True, capture_output=True, text=True).stdout))
        print(f"\n{model}: {a.rounds} rounds x {a.repeats} repetitions, {a.threads} threads, samples/s median [min-max over rounds]")
        med = {}
        for s, rs in results.items():
            med[s] = {k: statistics.median(r[k] for r in rs) for k in ("train_samples_per_s", "infer_samples_per_s")}
            rng = {k: (min(r[k] for r in rs), max(r[k] for r in rs)) for k in med[s]}
            print(f"  {s:34s} train {med[s]['train_samples_per_s']:9.0f} [{rng['train_samples_per_s'][0]:.0f}-"
                  f"{rng['train_samples_per_s'][1]:.0f}]  inference {med[s]['infer_samples_per_s']:9.0f} "
                  f"[{rng['infer_samples_per_s'][0]:.0f}-{rng['infer_samples_per_s'][1]:.0f}]  params {rs[0]['parameters']}")
        for peer in ("pytorch", "libtorch"):
            names = [s for s in med if s.startswith(peer)]
            if not names:
                continue
            best = {k: max(med[s][k] for s in names) for k in ("train_samples_per_s", "infer_samples_per_s")}
            print(f"  strata / best {peer}: train {med['strata']['train_samples_per_s'] / best['train_samples_per_s']:.2f}, "
                  f"inference {med['strata']['infer_samples_per_s'] / best['infer_samples_per_s']:.2f}")


if __name__ == "__main__":
    main()
