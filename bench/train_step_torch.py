"""PyTorch peer of train_step_bench.cc: same nets, batch 128, Adam, threads from argv."""
import sys, time, statistics
import torch, torch.nn as nn

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50

def bench(name, net, steps, repeats=5, batch=128):
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28); y = torch.arange(batch) % 10
    lossf = nn.CrossEntropyLoss()
    def step():
        opt.zero_grad(); loss = lossf(net(x), y); loss.backward(); opt.step()
    for _ in range(5): step()
    per = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps): step()
        per.append((time.perf_counter() - t0) / steps)
    s = statistics.median(per)
    print(f"{name:4s} batch {batch}: {s*1e3:.2f} ms/step  {1/s:.1f} steps/s  {batch/s:.0f} samples/s")

bench("mlp", nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)), steps)
bench("cnn", nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 10)), max(steps // 5, 5))
