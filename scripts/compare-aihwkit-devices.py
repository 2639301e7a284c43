#!/usr/bin/env python3
"""Side-by-side pulse responses of the presets that cite aihwkit, against aihwkit itself.

Optional, never a dependency: it needs a Python with IBM aihwkit (1.2.0) and torch, e.g. the
throwaway venv (recipe: docs/performance.md, "Side by side with aihwkit"), and a built xbar. For every pair
(aihwkit preset device, xbar preset) and start (lower bound, w = 0) it runs aihwkit's protocol,
P up pulses then P down pulses on N devices (one pulse per device per update: no bit-line or update
management, BL 1, learning rate 1, x = -1, d = +1 up / -1 down), runs `xbar devices show` with the
same P and start on as many devices as all aihwkit tiles together, and compares per-pulse
statistics of the weights at every 50th pulse: mean error as a fraction of the weight range
(w_max - w_min), and the ratio of standard deviations (and of the 5-95 % spreads). Writes
OUT/aihwkit-devices.json, OUT/aihwkit-devices.md (the table) and OUT/aihwkit-devices.svg.

    VENV/bin/python scripts/compare-aihwkit-devices.py --xbar .build/release/xbar --out runs/aihwkit-devices
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import aihwkit
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.presets.devices import EcRamPresetDevice, PCMPresetDevice, ReRamSBPresetDevice
from aihwkit.simulator.tiles import AnalogTile

PAIRS = [  # (xbar preset, aihwkit device class, pulses per direction)
    ("ecram", EcRamPresetDevice, 1000),
    ("reram-sb", ReRamSBPresetDevice, 1000),
    ("pcm-aihwkit", PCMPresetDevice, 100),
]


def aihwkit_trace(device_class, pulses, devices, start, seed):
    """Weights of `devices` devices after each of P up then P down pulses (2P + 1 rows), one tile."""
    torch.manual_seed(seed)
    config = SingleRPUConfig(device=device_class())
    config.update.update_bl_management = False
    config.update.update_management = False
    config.update.desired_bl = 1
    tile = AnalogTile(devices, 1, config)
    tile.set_learning_rate(1.0)
    # -1000 clips every device to its own lower bound; 0 is clipped to its bounds too.
    tile.set_weights(torch.full((devices, 1), -1000.0 if start == "lower" else 0.0))
    x = torch.full((1, 1), -1.0)
    rows = [tile.get_weights()[0][:, 0].numpy().copy()]
    for k in range(2 * pulses):
        d = torch.full((1, devices), 1.0 if k < pulses else -1.0)
        tile.update(x, d)
        rows.append(tile.get_weights()[0][:, 0].numpy().copy())
    return np.array(rows, dtype=np.float64)


def stats(rows):
    return {
        "mean": rows.mean(axis=1),
        "std": rows.std(axis=1),
        "p05": np.percentile(rows, 5, axis=1),
        "p95": np.percentile(rows, 95, axis=1),
    }


def xbar_curve(xbar, preset, pulses, devices, start, seed, out):
    folder = os.path.join(out, f"xbar-{preset}-{start}")
    subprocess.run([xbar, "devices", "show", preset, "--pulses", str(pulses), "--devices", str(devices),
                    "--start", start, "--seed", str(seed), "--out", folder], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(folder, "device.json")) as f:
        c = json.load(f)["curve"]
    return {"mean": np.array(c["weight_mean"]), "std": np.array(c["weight_std"]),
            "p05": np.array(c["weight_p05"]), "p95": np.array(c["weight_p95"]),
            "range": c["weight_max"] - c["weight_min"]}


def svg(results, path):
    """One panel per preset (start at the lower bound): mean and 5-95 % band of aihwkit (grey) and xbar (blue)."""
    rows = [r for r in results if r["start"] == "lower"]
    W, H, pad = 360, 240, 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W * len(rows)}" height="{H + 30}" font-family="sans-serif" font-size="11">']
    for n, r in enumerate(rows):
        x0 = n * W
        xs = r["pulse"]
        ys = r["aihwkit_p05"] + r["aihwkit_p95"] + r["xbar_p05"] + r["xbar_p95"]
        lo, hi = min(ys), max(ys)
        fx = lambda k: x0 + pad + (W - 2 * pad) * k / xs[-1]
        fy = lambda v: 20 + (H - pad) * (1 - (v - lo) / (hi - lo))
        line = lambda v, color, dash="": (f'<polyline fill="none" stroke="{color}" stroke-width="1.5" {dash} points="'
                                          + " ".join(f"{fx(k):.1f},{fy(y):.1f}" for k, y in zip(xs, v)) + '"/>')
        out.append(f'<text x="{x0 + pad}" y="14">{r["preset"]} vs {r["aihwkit"]} ({r["devices"]} devices)</text>')
        out.append(f'<rect x="{x0 + pad}" y="20" width="{W - 2 * pad}" height="{H - pad}" fill="none" stroke="#999"/>')
        for key, color in (("aihwkit", "#888"), ("xbar", "#1f77b4")):
            dash = 'stroke-dasharray="4,3"' if key == "xbar" else ""
            out.append(line(r[f"{key}_mean"], color, dash))
            out.append(line(r[f"{key}_p05"], color, dash + ' stroke-opacity="0.6"'))
            out.append(line(r[f"{key}_p95"], color, dash + ' stroke-opacity="0.6"'))
        out.append(f'<text x="{x0 + pad}" y="{H + 12}">pulse 0…{xs[-1]} (up, then down); weight {lo:.2f}…{hi:.2f}</text>')
        out.append(f'<text x="{x0 + pad}" y="{H + 26}" fill="#888">aihwkit: solid</text>'
                   f'<text x="{x0 + pad + 90}" y="{H + 26}" fill="#1f77b4">xbar: dashed (mean, 5 % and 95 %)</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xbar", required=True, help="path of the xbar executable")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--devices", type=int, default=4096, help="devices per aihwkit tile")
    ap.add_argument("--tiles", type=int, default=16, help="aihwkit tiles (seeds) pooled; xbar simulates devices × tiles")
    ap.add_argument("--every", type=int, default=50, help="compare at every k-th pulse")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = []
    for preset, cls, pulses in PAIRS:
        for start in ("lower", "zero"):
            # aihwkit's CPU simulator draws its c2c normals from one fixed table of 32,768 values per
            # tile, so each tile's noise has a mean of about ±1/√32768 σ that every pulse repeats:
            # independent tiles (seeds) average that bias away.
            ref = stats(np.concatenate([aihwkit_trace(cls, pulses, a.devices, start, a.seed + k) for k in range(a.tiles)], axis=1))
            ours = xbar_curve(a.xbar, preset, pulses, a.devices * a.tiles, start, a.seed, a.out)
            r = ours["range"]
            idx = list(range(0, 2 * pulses + 1, a.every))
            mean_err = [abs(ours["mean"][k] - ref["mean"][k]) / r for k in idx]
            # Spread ratios where aihwkit's spread is not negligible (1e-3 of the range).
            std_ratio = [ours["std"][k] / ref["std"][k] for k in idx if ref["std"][k] > 1e-3 * r]
            band = [(ours["p95"][k] - ours["p05"][k]) / (ref["p95"][k] - ref["p05"][k]) for k in idx
                    if ref["p95"][k] - ref["p05"][k] > 1e-3 * r]
            row = {"preset": preset, "aihwkit": cls.__name__, "start": start, "pulses": pulses, "devices": a.devices * a.tiles,
                   "max_mean_error": max(mean_err), "mean_mean_error": float(np.mean(mean_err)),
                   "std_ratio_min": min(std_ratio), "std_ratio_max": max(std_ratio),
                   "band_ratio_min": min(band), "band_ratio_max": max(band),
                   "pulse": idx,
                   "aihwkit_mean": [ref["mean"][k] for k in idx], "xbar_mean": [ours["mean"][k] for k in idx],
                   "aihwkit_std": [ref["std"][k] for k in idx], "xbar_std": [ours["std"][k] for k in idx],
                   "aihwkit_p05": [ref["p05"][k] for k in idx], "xbar_p05": [ours["p05"][k] for k in idx],
                   "aihwkit_p95": [ref["p95"][k] for k in idx], "xbar_p95": [ours["p95"][k] for k in idx]}
            results.append(row)
            print(f"{preset:12s} {start:6s} mean error ≤ {row['max_mean_error']:.4f} of the range, "
                  f"std ratio {row['std_ratio_min']:.2f}–{row['std_ratio_max']:.2f}, "
                  f"5–95 % band ratio {row['band_ratio_min']:.2f}–{row['band_ratio_max']:.2f}", flush=True)
    with open(os.path.join(a.out, "aihwkit-devices.json"), "w") as f:
        json.dump({"aihwkit": aihwkit.__version__, "results": results}, f, indent=1,
                  default=lambda v: float(v))
    svg(results, os.path.join(a.out, "aihwkit-devices.svg"))
    with open(os.path.join(a.out, "aihwkit-devices.md"), "w") as f:
        f.write(f"Pulse responses against aihwkit {aihwkit.__version__}: {a.devices * a.tiles} devices "
                f"({a.tiles} aihwkit tiles of {a.devices}), P up then P down pulses, "
                f"statistics at every {a.every}th pulse (`scripts/compare-aihwkit-devices.py`).\n\n")
        f.write("| preset | aihwkit device | start | P | max \\|mean error\\| / range | std ratio (xbar/aihwkit) | 5–95 % band ratio |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        for r in results:
            f.write(f"| `{r['preset']}` | {r['aihwkit']} | {r['start']} | {r['pulses']} | {r['max_mean_error']:.4f} | "
                    f"{r['std_ratio_min']:.2f}–{r['std_ratio_max']:.2f} | {r['band_ratio_min']:.2f}–{r['band_ratio_max']:.2f} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
