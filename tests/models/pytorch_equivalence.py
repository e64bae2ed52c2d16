#!/usr/bin/env python3
"""PyTorch's side of tests/models/pytorch_equivalence_test.cc: reads a Strata model's parameters
and a batch (raw little-endian files written by the test), builds the same network from
torch.nn (the LSTM classifier or the Transformer encoder classifier of models/), and writes its
logits, the cross-entropy loss and every parameter's gradient back as raw float32 files under
Strata's names.   usage: pytorch_equivalence.py lstm|transformer DIR"""
import json, os, sys

import numpy as np
import torch
import torch.nn as nn

kind, d = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(d, "meta.json")))
V, T, C, D, H, L = (meta[k] for k in ("vocab", "steps", "classes", "dim", "hidden", "layers"))
params = {name: torch.from_numpy(np.fromfile(os.path.join(d, "p_" + name.replace("/", "__")), np.float32).reshape(shape))
          for name, shape in meta["params"].items()}
ids = torch.from_numpy(np.fromfile(os.path.join(d, "ids"), np.int64).reshape(-1, T))
labels = torch.from_numpy(np.fromfile(os.path.join(d, "labels"), np.int64))


def masked_mean(h):
    keep = (ids != 0).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(1) / keep.sum(1).clamp(min=1)


class LstmClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D, padding_idx=0)
        self.rnn = nn.LSTM(D, H, num_layers=L, batch_first=True, bidirectional=meta["bidirectional"])
        self.fc = nn.Linear(H * (2 if meta["bidirectional"] else 1), C)

    def forward(self, x):
        return self.fc(masked_mean(self.rnn(self.embed(x))[0]))


class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(V, D, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(T, D))
        layer = nn.TransformerEncoderLayer(D, meta["heads"], H, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.fc = nn.Linear(D, C)

    def forward(self, x):
        h = self.blocks(self.embed(x) + self.pos, src_key_padding_mask=x == 0)
        return self.fc(masked_mean(self.norm(h)))


net = LstmClassifier() if kind == "lstm" else TransformerClassifier()
# Strata name -> (torch parameter, row range of a fused tensor or None)
mapping = {"embed/weight": (net.embed.weight, None), "classifier/weight": (net.fc.weight, None),
           "classifier/bias": (net.fc.bias, None)}
if kind == "lstm":
    for name, p in net.rnn.named_parameters():
        mapping["rnn/" + name] = (p, None)
else:
    mapping["positions/weight"] = (net.pos, None)
    mapping["ln_final/weight"], mapping["ln_final/bias"] = (net.norm.weight, None), (net.norm.bias, None)
    for l, layer in enumerate(net.blocks.layers, 1):
        b = f"block{l}/"
        for k, part in enumerate("qkv"):
            rows = (k * D, (k + 1) * D)
            mapping[b + f"attn/{part}/weight"] = (layer.self_attn.in_proj_weight, rows)
            mapping[b + f"attn/{part}/bias"] = (layer.self_attn.in_proj_bias, rows)
        for strata_name, module in (("attn/out", layer.self_attn.out_proj), ("ln1", layer.norm1), ("ln2", layer.norm2),
                                    ("ff1", layer.linear1), ("ff2", layer.linear2)):
            mapping[b + strata_name + "/weight"] = (module.weight, None)
            mapping[b + strata_name + "/bias"] = (module.bias, None)
assert set(mapping) == set(params), sorted(set(mapping) ^ set(params))
with torch.no_grad():
    for name, (p, rows) in mapping.items():
        (p if rows is None else p[rows[0]:rows[1]]).copy_(params[name])
logits = net(ids)
loss = nn.functional.cross_entropy(logits, labels)
loss.backward()
logits.detach().numpy().astype(np.float32).tofile(os.path.join(d, "torch_logits"))
np.array([loss.item()], np.float64).tofile(os.path.join(d, "torch_loss"))
for name, (p, rows) in mapping.items():
    g = p.grad if rows is None else p.grad[rows[0]:rows[1]]
    g.numpy().astype(np.float32).tofile(os.path.join(d, "g_" + name.replace("/", "__")))
