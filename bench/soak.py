#!/usr/bin/env python3
"""Soak test of the version log (issue 15), run by hand, not in CI: the adversary's probe at scale.

  /usr/bin/python3 bench/soak.py [--build build] [--kills 200] [--flips 1000] [--disk-full 12]
                                 [--seed 1] [--phases kills,flips,disk] [--json FILE]

1. Kills: a training run (train_fashion_mnist, MLP with dropout and Adam, --limit 3000, a
   mid-epoch snapshot every 7 steps) is started with --resume main (after the first round),
   and SIGKILLed at a random instant, --kills times, while a reader process lists and verifies
   the log in a loop. After every kill: `strata verify` passes, every version seen before is
   still there, and the reader never failed. At the end the run is trained on to a fixed epoch
   and its parameters and optimizer state (strata export --with-optim) must equal, byte for
   byte, an uninterrupted run's.
2. Byte flips: --flips times, one random byte anywhere in a copy of a small finished log's data.mdb
   (2 epoch versions of the MLP on 3000 images: keyframe and delta chunks) is XORed with a random non-zero
   value; `strata verify`, `strata log --all`, `strata show main`
   and `strata export main --with-optim` then run with a timeout. Each flip is classified:
   detected (a verb exits non-zero with an error message), still correct (every verb exits 0
   with exactly the undamaged outputs: the byte was unused or redundant), crash (a signal),
   hang (timeout), wrong data (a verb exits 0 with different output while verify passes).
3. Disk full: training with the log on a small tmpfs (a random size, so the disk fills at a
   random moment), --disk-full times: the run must fail with a message saying the disk is full,
   and every version it reported as committed must verify and read back.

Prints the counts; the targets are 0 crashes, 0 hangs, 0 wrong reads, 0 lost versions.
"""
import argparse
import concurrent.futures
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

P = argparse.ArgumentParser(description=__doc__.split("\n")[0])
P.add_argument("--build", default="build")
P.add_argument("--kills", type=int, default=200)
P.add_argument("--flips", type=int, default=1000)
P.add_argument("--disk-full", type=int, default=12)
P.add_argument("--seed", type=int, default=1)
P.add_argument("--phases", default="kills,flips,disk", help="comma-separated subset of kills, flips, disk")
P.add_argument("--json")
A = P.parse_args()

TRAIN = os.path.join(A.build, "examples", "train_fashion_mnist")
STRATA = os.path.join(A.build, "tools", "strata")
ENV = dict(os.environ, OMP_NUM_THREADS="2")
TRAIN_ARGS = ["--limit", "3000", "--dropout", "0.2", "--optimizer", "adam", "--snapshot-every", "7",
              "--no-tensorboard", "--threads", "2"]
rng = random.Random(A.seed)
work = tempfile.mkdtemp(prefix="strata-soak-")
counts = {}


def bump(key, n=1):
    counts[key] = counts.get(key, 0) + n


def strata(log, *args, timeout=60):
    return subprocess.run([STRATA, "--log", log, *args], capture_output=True, env=ENV, timeout=timeout)


def versions(log):
    """Every version id in the log (all branches), or None when the log has none yet."""
    r = strata(log, "--json", "log", "--all")
    if r.returncode != 0:
        return None
    return {v["id"] for v in json.loads(r.stdout)["versions"]}


def export(log, name, path):
    r = strata(log, "export", name, "--params", path, "--with-optim")
    if r.returncode != 0:
        raise SystemExit(f"export {name} failed: {r.stderr.decode()}")
    with open(path, "rb") as f:
        return f.read()


# ---- 1. kills ------------------------------------------------------------------------------------
def soak_kills():
    log = os.path.join(work, "killed")
    seen = set()
    reader_stop = os.path.join(work, "reader.stop")
    reader_log = os.path.join(work, "reader.out")
    # The reader: log + verify in a loop while training writes and gets killed.
    reader = subprocess.Popen(
        ["bash", "-c",
         f'while [ ! -e {reader_stop} ]; do if [ -d {log}/versions.lmdb ]; then '
         f'{STRATA} --log {log} log --all >/dev/null 2>{work}/reader.err || '
         f'{{ grep -q "no versions\\|being created\\|not found" {work}/reader.err || cat {work}/reader.err >> {reader_log}; }}; '
         f'{STRATA} --log {log} verify >/dev/null 2>{work}/reader.err || '
         f'{{ grep -q "no versions\\|being created\\|not found" {work}/reader.err || cat {work}/reader.err >> {reader_log}; }}; '
         f'fi; done'], env=ENV)
    t0 = time.time()
    for k in range(A.kills):
        args = [TRAIN, "--epochs", "1000", "--log-dir", log, *TRAIN_ARGS]
        if seen:
            args += ["--resume", "main"]
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        time.sleep(rng.uniform(0.3, 2.5))
        if p.poll() is not None:
            bump("kills: run ended by itself (error)")
            print("run ended by itself:", p.stderr.read().decode()[-500:], file=sys.stderr)
            continue
        p.send_signal(signal.SIGKILL)
        p.wait()
        bump("kills")
        v = strata(log, "verify")
        if v.returncode != 0 and seen:
            bump("kills: verify failed")
            print(v.stdout.decode()[-2000:], v.stderr.decode()[-2000:], file=sys.stderr)
        now = versions(log) or set()
        lost = seen - now
        if lost:
            bump("kills: lost versions", len(lost))
        seen |= now
        if (k + 1) % 20 == 0:
            print(f"  {k + 1} kills, {len(seen)} versions, {time.time() - t0:.0f} s", flush=True)
    open(reader_stop, "w").close()
    reader.wait()
    reader_errors = open(reader_log).read() if os.path.exists(reader_log) else ""
    counts["kills: reader errors"] = reader_errors.count("error")
    if reader_errors:
        print("reader errors:", reader_errors[:2000], file=sys.stderr)
    counts["kills: versions"] = len(seen)

    # Train on to a fixed epoch; compare with an uninterrupted run.
    head_epoch = int(json.loads(strata(log, "--json", "show", "main").stdout)["epoch"])
    final = head_epoch + 2
    r = subprocess.run([TRAIN, "--epochs", str(final), "--log-dir", log, "--resume", "main", *TRAIN_ARGS],
                       capture_output=True, env=ENV)
    if r.returncode != 0:
        raise SystemExit("final resume failed: " + r.stderr.decode())
    ref = os.path.join(work, "reference")
    r = subprocess.run([TRAIN, "--epochs", str(final), "--log-dir", ref, *TRAIN_ARGS], capture_output=True, env=ENV)
    if r.returncode != 0:
        raise SystemExit("reference run failed: " + r.stderr.decode())
    same = export(log, f"main@{final}", os.path.join(work, "a.npz")) == export(ref, f"main@{final}",
                                                                                 os.path.join(work, "b.npz"))
    counts["kills: final epoch"] = final
    counts["kills: final state equals the uninterrupted run"] = int(same)


# ---- 2. byte flips -------------------------------------------------------------------------------
def run_verbs(log, out_npz):
    """(classification of the run, outputs) for the reader verbs on `log`."""
    outs, failed = [], False
    for args in (["verify"], ["log", "--all"], ["show", "main"], ["export", "main", "--params", out_npz, "--with-optim"]):
        if os.path.exists(out_npz):
            os.remove(out_npz)
        try:
            r = strata(log, *args, timeout=60)
        except subprocess.TimeoutExpired:
            return "hang", None
        if r.returncode < 0 or r.returncode >= 128:
            return "crash", r.stderr.decode()[-500:]
        if r.returncode != 0:
            if not r.stderr.strip():
                return "silent failure", args
            failed = True
            outs.append(("fail", args[0]))
            continue
        out = r.stdout
        if args[0] == "export":
            with open(out_npz, "rb") as f:
                out = f.read()
        outs.append(("ok", out))
    return ("detected" if failed else "ok"), outs


def soak_flips():
    pristine = os.path.join(work, "pristine")
    flip_args = [a for a in TRAIN_ARGS if a not in ("--snapshot-every", "7")]  # 2 versions: a keyframe and a delta
    r = subprocess.run([TRAIN, "--epochs", "2", "--log-dir", pristine, *flip_args], capture_output=True, env=ENV)
    if r.returncode != 0:
        raise SystemExit("training the log to damage failed: " + r.stderr.decode())
    for f in ("lock.mdb",):
        p = os.path.join(pristine, "versions.lmdb", f)
        if os.path.exists(p):
            os.remove(p)
    kind, want = run_verbs(pristine, os.path.join(work, "p.npz"))
    assert kind == "ok", kind
    data = os.path.join(pristine, "versions.lmdb", "data.mdb")
    size = os.path.getsize(data)
    flips = [(rng.randrange(size), rng.randrange(1, 256)) for _ in range(A.flips)]

    def one(i):
        pos, x = flips[i]
        damaged = os.path.join(work, f"damaged{i}")
        shutil.copytree(pristine, damaged)
        with open(os.path.join(damaged, "versions.lmdb", "data.mdb"), "r+b") as f:
            f.seek(pos)
            b = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([b ^ x]))
        kind, outs = run_verbs(damaged, os.path.join(work, f"d{i}.npz"))
        shutil.rmtree(damaged, ignore_errors=True)
        if kind == "ok":
            kind = "still correct" if outs == want else "wrong data"
        elif kind == "detected":
            # A verb that still succeeded must have given the undamaged answer.
            for got, expect in zip(outs, want):
                if got[0] == "ok" and got != expect:
                    kind = "wrong data"
        return pos, x, kind, outs

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # one per core
        for i, (pos, x, kind, outs) in enumerate(pool.map(one, range(A.flips))):
            bump("flips: " + kind)
            if kind in ("crash", "hang", "wrong data", "silent failure"):
                print(f"flip at byte {pos} (xor {x:#04x}): {kind}: {outs if kind != 'wrong data' else ''}", file=sys.stderr)
            if (i + 1) % 100 == 0:
                print(f"  {i + 1} flips, {time.time() - t0:.0f} s", flush=True)


# ---- 3. disk full --------------------------------------------------------------------------------
def soak_disk_full():
    mnt = os.path.join(work, "tmpfs")
    os.makedirs(mnt)
    for i in range(A.disk_full):
        size_mb = rng.randrange(12, 60)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", mnt]).returncode != 0:
            bump("disk full: skipped (cannot mount a tmpfs)")
            return
        try:
            log = os.path.join(mnt, "log")
            r = subprocess.run([TRAIN, "--epochs", "1000", "--log-dir", log, *TRAIN_ARGS], capture_output=True,
                               env=ENV, timeout=600)
            err = r.stderr.decode()
            committed = [line.split("-> ")[1].split()[0] for line in r.stdout.decode().splitlines() if "-> " in line]
            if r.returncode == 0 or r.returncode >= 128:
                bump("disk full: crash or no error")
                print(f"tmpfs {size_mb} MB: exit {r.returncode}: {err[-500:]}", file=sys.stderr)
                continue
            bump("disk full: told the disk is full" if "disk is full" in err or "No space" in err else
                 "disk full: other message")
            if "disk is full" not in err:
                print(f"tmpfs {size_mb} MB: {err[-500:]}", file=sys.stderr)
            # Everything the run printed as pending may or may not have landed; what is in the log verifies.
            v = strata(log, "verify")
            if v.returncode != 0:
                bump("disk full: verify failed")
                print(v.stdout.decode()[-1000:], v.stderr.decode()[-1000:], file=sys.stderr)
            ids = versions(log) or set()
            bump("disk full: versions kept", len(ids))
            for short in committed[:-2]:  # all but the last two were durable before the failure
                if not any(v.startswith(short) for v in ids):
                    bump("disk full: lost versions")
        finally:
            subprocess.run(["umount", mnt])


try:
    print(f"soak in {work}")
    phases = A.phases.split(",")
    if "kills" in phases:
        soak_kills()
        print(json.dumps(counts, indent=1), flush=True)
    if "flips" in phases:
        soak_flips()
        print(json.dumps(counts, indent=1), flush=True)
    if "disk" in phases:
        soak_disk_full()
finally:
    print(json.dumps(counts, indent=1))
    if A.json:
        with open(A.json, "w") as f:
            json.dump(counts, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
