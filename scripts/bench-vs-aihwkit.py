#!/usr/bin/env python3
"""Times IBM aihwkit (1.2.0, CPU) on the work `xbar bench` times; `scripts/bench-vs-aihwkit` runs it.

Optional, never a dependency: needs a Python with aihwkit and torch (a throwaway venv; recipe in
docs/performance.md). Prints one JSON object with median seconds:

- read_s: one forward read of a 512x784 tile at batch 20 with aihwkit's default periphery
  (`IOParameters()`: 7-bit DAC, output noise 0.06, 9-bit ADC, noise and bound management), weights
  U(+-0.05), inputs U[0, 1), two input sets alternated (xbar: `Benchmarks.ioRead`).
- update_s: one update of a 512x784 EcRamPresetDevice tile at batch 20 with aihwkit's default update
  parameters (stochastic compressed pulse trains, BL 31, bit-line and update management), lr 0.01,
  d ~ N(0, 0.02^2), x ~ U[0, 1) (xbar: `Benchmarks.pulseUpdate`, the same expected pulse counts).
- ep_samples_per_s: EP training of P-1h (784-512-10, T 30, K 10, beta 0.1, learning rates 0.08 and
  0.04, batch 20, sigmoid 1/(1+exp(-4(x-1/2))), digital biases: xbar's p-1h preset) on two
  EcRamPresetDevice tiles with the default periphery,
  the way a user would write it with tiles: every step one forward read of the output tile and one
  transposed read, the input tile read once per phase (its input is constant), the contrastive
  update as one `tile.update` per tile with the two phases stacked. Random 784-pixel inputs.

--part kernels times read_s and update_s, --part ep the training, --part all (default) both; torch
and aihwkit use --threads threads (set OMP_NUM_THREADS and OPENBLAS_NUM_THREADS to the same).

    VENV/bin/python scripts/bench-vs-aihwkit.py [--part all|kernels|ep] [--threads 1] [--seconds 0.3] [--batches 10]
"""
import argparse
import json
import statistics
import sys
import time


def median_time(body, seconds):
    body()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tile(out_size, in_size):
    return AnalogTile(out_size, in_size, SingleRPUConfig(device=EcRamPresetDevice()), bias=False)


def kernels(seconds):
    torch.manual_seed(1)
    w = torch.rand(512, 784) * 0.1 - 0.05
    xs = [torch.rand(20, 784) for _ in range(2)]
    ds = [0.02 * torch.randn(20, 512) for _ in range(2)]
    t = tile(512, 784)
    t.set_weights(w)
    k = [0]

    def read():
        k[0] ^= 1
        t.forward(xs[k[0]])

    read_s = median_time(read, seconds)
    t.set_learning_rate(0.01)

    def update():
        k[0] ^= 1
        t.update(xs[k[0]], ds[k[0]])

    update_s = median_time(update, seconds)
    return read_s, update_s


def sigm(x):
    return torch.sigmoid(4 * (x - 0.5))


def ep_throughput(batches, T=30, K=10, beta=0.1, batch=20, lrs=(0.08, 0.04)):
    torch.manual_seed(1)
    w1, w2 = tile(512, 784), tile(10, 512)
    for t, fan_in in ((w1, 784), (w2, 512)):
        bound = fan_in ** -0.5
        t.set_weights((torch.rand(t.out_size, t.in_size) * 2 - 1) * bound)
    b1 = (torch.rand(512) * 2 - 1) / 784 ** 0.5
    b2 = (torch.rand(10) * 2 - 1) / 512 ** 0.5
    # aihwkit's update is W <- W - lr * d^T x summed over the batch: the EP step lr/(beta B).
    w1.set_learning_rate(lrs[0] / (beta * batch))
    w2.set_learning_rate(lrs[1] / (beta * batch))
    data = [(torch.rand(batch, 784), torch.nn.functional.one_hot(torch.randint(0, 10, (batch,)), 10).float())
            for _ in range(batches)]

    def relax(x, y, s1, s2, steps, nudge):
        a = w1.forward(x)  # the input is constant over the phase: read once
        for _ in range(steps):
            s1_new = sigm(a + w2.backward(s2) + b1)
            s2 = sigm(w2.forward(s1) + b2)
            if nudge:
                s2 = s2 + beta * (y - s2)
            s1 = s1_new
        return s1, s2

    def train_batch(x, y):
        z1, z2 = torch.zeros(batch, 512), torch.zeros(batch, 10)
        f1, f2 = relax(x, y, z1, z2, T, False)
        n1, n2 = relax(x, y, f1, f2, K, True)
        # Delta W = lr/(beta B) (s^beta post s^beta pre^T - s* post s* pre^T), as one stacked update.
        w1.update(torch.cat([x, x]), torch.cat([-n1, f1]))
        w2.update(torch.cat([n1, f1]), torch.cat([-n2, f2]))
        with torch.no_grad():
            b1.add_((n1 - f1).sum(0), alpha=lrs[0] / (beta * batch))
            b2.add_((n2 - f2).sum(0), alpha=lrs[1] / (beta * batch))

    with torch.no_grad():  # EP needs no autograd graph
        train_batch(*data[0])  # warm-up
        t0 = time.perf_counter()
        for x, y in data:
            train_batch(x, y)
        return batches * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "kernels", "ep"], default="all")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (≥ 1)")
    ap.add_argument("--seconds", type=float, default=0.3, help="minimum timing per kernel, s (> 0)")
    ap.add_argument("--batches", type=int, default=10, help="EP training batches timed (≥ 1)")
    a = ap.parse_args()
    for name, ok in (("--threads", a.threads >= 1), ("--seconds", a.seconds > 0), ("--batches", a.batches >= 1)):
        if not ok:
            sys.exit("bench-vs-aihwkit.py: %s must be %s (got %s)" % (
                name, "> 0" if name == "--seconds" else "a whole number ≥ 1", getattr(a, name[2:])))
    global torch, SingleRPUConfig, EcRamPresetDevice, AnalogTile
    try:
        import torch
        from aihwkit.simulator.configs import SingleRPUConfig
        from aihwkit.simulator.presets.devices import EcRamPresetDevice
        from aihwkit.simulator.tiles import AnalogTile
    except ImportError as e:
        sys.exit("bench-vs-aihwkit.py: this Python cannot import aihwkit 1.2.0 and torch (%s)" % e)
    torch.set_num_threads(a.threads)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    if a.part in ("all", "kernels"):
        out["read_s"], out["update_s"] = kernels(a.seconds)
    if a.part in ("all", "ep"):
        out["ep_samples_per_s"] = ep_throughput(a.batches)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
