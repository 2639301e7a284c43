#!/usr/bin/env python3
"""Times the seed paper's official PyTorch code (ernoult/updatesEPgradientsBPTT) training with EP.

Optional, never a dependency: needs a Python with torch and numpy and an export of the official code
(`git archive` of github.com/ernoult/updatesEPgradientsBPTT). The code is used as published: its
`train` function on its own network classes. Only what it imports for data loading and plotting is
replaced: `main` (which parses its command line and loads MNIST when imported) by a module that holds
its two activation functions, and `torchvision`/`matplotlib` (imported, not used by `train`) by empty
modules. The data are random 784-pixel images with one-hot labels, in batches of 20, as `xbar bench`.
Prints one JSON object: samples/s, the median over --repeats timed runs of --batches batches.

    PY scripts/bench-vs-seed.py --code DIR [--model p-1h|p-conv] [--threads 1] [--batches 50]

The network is the seed's command for Table 1 with the same T, K as `xbar bench`:
  p-1h:   --discrete --dt 1 --size_tab 10 512 784 --activation-function sigm --T 30 --Kmax 10
  p-conv: --C_tab 64 32 1 --size_tab 10 --activation-function hardsigm --T 200 --Kmax 10
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
import types


def stub_imports(activation):
    import torch

    main = types.ModuleType("main")
    if activation == "sigm":
        main.rho = lambda x: 1 / (1 + torch.exp(-(4 * (x - 0.5))))
        main.rhop = lambda x: 4 * torch.mul(main.rho(x), 1 - main.rho(x))
    else:  # hardsigm
        main.rho = lambda x: x.clamp(min=0).clamp(max=1)
        main.rhop = lambda x: (x >= 0) & (x <= 1)
    sys.modules["main"] = main
    for name in ("torchvision", "matplotlib", "matplotlib.pyplot"):
        sys.modules[name] = types.ModuleType(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", required=True, help="folder with the official code (netClasses.py, netFunctions.py)")
    ap.add_argument("--model", choices=["p-1h", "p-conv"], default="p-1h")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--batches", type=int, default=None, help="batches per timed run (p-1h 50, p-conv 3)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    conv = a.model == "p-conv"
    batches = (3 if conv else 50) if a.batches is None else a.batches
    for name, value in (("--threads", a.threads), ("--batches", batches), ("--repeats", a.repeats)):
        if value < 1:
            sys.exit("bench-vs-seed.py: %s must be a whole number ≥ 1 (got %d)" % (name, value))
    for f in ("netClasses.py", "netFunctions.py"):
        if not os.path.isfile(os.path.join(a.code, f)):
            sys.exit("bench-vs-seed.py: --code %s has no %s (an export of ernoult/updatesEPgradientsBPTT)" % (a.code, f))
    try:
        import torch
    except ImportError as e:
        sys.exit("bench-vs-seed.py: this Python cannot import torch (%s)" % e)
    stub_imports("hardsigm" if conv else "sigm")
    sys.path.insert(0, a.code)
    from netClasses import EPdisc, convEP
    from netFunctions import train

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if conv:
        args = argparse.Namespace(C_tab=[64, 32, 1], size_tab=[10], lr_tab=[0.015, 0.035, 0.15], T=200, Kmax=10,
                                  beta=0.4, Fconv=5, Fpool=2, padding=0, device_label=-1, batch_size=20,
                                  activation_function="hardsigm", no_clamp=False, discrete=False, dt=1.0,
                                  conv=True, benchmark=False, toymodel=False)
        net, shape = convEP(args), (20, 1, 28, 28)
    else:
        args = argparse.Namespace(size_tab=[10, 512, 784], lr_tab=[0.04, 0.08], T=30, Kmax=10, beta=0.5, dt=1.0,
                                  device_label=-1, batch_size=20, activation_function="sigm", no_clamp=False,
                                  discrete=True, conv=False, benchmark=False, toymodel=False, C_tab=[])
        net, shape = EPdisc(args), (20, 784)
    class Loader(list):  # what `train` uses of a DataLoader: iteration, and the data set's length
        def __init__(self, batches):
            super().__init__(batches)
            self.dataset = range(20 * len(batches))

    data = Loader([(torch.rand(shape), torch.nn.functional.one_hot(torch.randint(0, 10, (20,)), 10).float())
                   for _ in range(batches)])
    rates = []
    with contextlib.redirect_stdout(io.StringIO()):
        train(net, Loader(data[:1]), 1, "eqprop")  # warm-up
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            train(net, data, 1, "eqprop")
            rates.append(batches * 20 / (time.perf_counter() - t0))
    print(json.dumps({"model": a.model, "threads": a.threads, "samples_per_s": statistics.median(rates),
                      "torch": torch.__version__, "torch_mkl": torch.backends.mkl.is_available()}))


if __name__ == "__main__":
    main()
