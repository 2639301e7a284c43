#!/usr/bin/env python3
"""Reads an xbar checkpoint in Python and evaluates its network without xbar.

Loads DIR/checkpoint.safetensors with PyPI's `safetensors` and NumPy, runs the free phase of the
fully connected P (prototypical) model it holds, and prints the test error (%) on the first N test
images, as one JSON line: {"test_error": …, "predictions": […]}. It is the Python check of the
tests (Tests/EqPropTests/CheckpointClientTests.swift) and an example of reading the format:

- tensors (float32): W<a><b> = the weights from layer a to layer b as [n_b, n_a] (row i is unit i of
  layer b), b<l> = the biases of layer l (1 … L); layer 0 is the input;
- metadata: `spec` (the network preset, YAML), `options` (JSON), `epoch`, `format`.

The free phase, as xbar runs it: all layers start at 0; each of T steps computes every layer's drive
from the previous state, h_l = b_l + s_{l−1}·W_{l−1,l}ᵀ + s_{l+1}·W_{l,l+1} (s_0 = x, the pixels / 255),
then s_l ← s_l + dt·(σ(h_l) − s_l) with σ(x) = 1/(1 + e^(−4(x − ½))) (`sigm`); the prediction is the
largest output. (Weights read through a crossbar are noisy; a checkpoint holds the weights the
arrays hold, so the error of a crossbar run evaluated here is that of exact reads.)

    python3 scripts/checkpoint-client.py runs/p1h/checkpoint.safetensors --test-subset 1000
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, name):
    for candidate in (name, name + ".gz"):
        p = os.path.join(folder, candidate)
        if os.path.exists(p):
            return p
    sys.exit(f"error: no {name}[.gz] in {folder}")


def spec_fields(text):
    """The scalar fields and the layer list of the spec YAML xbar writes (one field per line)."""
    fields, layers, in_layers = {}, [], False
    for line in text.splitlines():
        if line.startswith("- ") and in_layers:
            layers.append(int(line[2:]))
            continue
        in_layers = line.strip() == "layers:"
        if ":" in line and not line.startswith(" "):
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    fields["layers"] = layers
    return fields


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--test-subset", type=int, default=10000)
    ap.add_argument("--data", default=os.environ.get("XBAR_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    with safe_open(a.checkpoint, framework="numpy") as f:
        meta = f.metadata()
    spec = spec_fields(meta["spec"])
    if spec["kind"] != "prototypical" or spec["activation"] != "sigm" or spec.get("input_to_output") == "true":
        sys.exit(f"error: this client evaluates fully connected P models with sigm (got {spec['kind']}, {spec['activation']})")
    t = load_file(a.checkpoint)
    layers, steps, dt = spec["layers"], int(spec["T"]), np.float32(float(spec["dt"]))
    depth = len(layers) - 1
    w = [t[f"W{l}{l + 1}"] for l in range(depth)]          # w[l]: layer l → l+1, [n_{l+1}, n_l]
    b = [t[f"b{l}"] for l in range(1, depth + 1)]
    x = read_idx(find(a.data, "t10k-images-idx3-ubyte"))[: a.test_subset].reshape(-1, layers[0]).astype(np.float32) / np.float32(255)
    labels = read_idx(find(a.data, "t10k-labels-idx1-ubyte"))[: a.test_subset]
    s = [np.zeros((x.shape[0], n), dtype=np.float32) for n in layers[1:]]
    sigm = lambda h: np.float32(1) / (np.float32(1) + np.exp(np.float32(-4) * (h - np.float32(0.5))))
    for _ in range(steps):
        below = [x] + s[:-1]
        h = [b[l] + below[l] @ w[l].T + (s[l + 1] @ w[l + 1] if l + 1 < depth else 0) for l in range(depth)]
        s = [s[l] + dt * (sigm(h[l]) - s[l]) for l in range(depth)]
    predictions = s[-1].argmax(axis=1)
    print(json.dumps({"test_error": 100 * float((predictions != labels).mean()), "predictions": predictions.tolist()}))


if __name__ == "__main__":
    main()
