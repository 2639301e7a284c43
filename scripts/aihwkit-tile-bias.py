#!/usr/bin/env python3
"""The per-tile bias of aihwkit's CPU cycle-to-cycle noise, measured.

Optional, never a dependency: needs a Python with IBM aihwkit (1.2.0) and torch. A constant-step
device (LinearStepDevice, gamma 0, dw_min 0.002, additive noise dw_min_std 3.75, bounds far away) on
N devices of one tile gets P up pulses (one per device per update, no update management, BL 1); the
expected mean weight is P * dw_min. Prints, per seed (one tile each), the mean weight's offset from
that, and the sampling error of N devices' mean, sqrt(P) * dw_min_std * dw_min / sqrt(N).

    VENV/bin/python scripts/aihwkit-tile-bias.py [--devices 4096] [--pulses 1000] [--seeds 6]
"""
import argparse
import math

import torch
from aihwkit.simulator.configs import SingleRPUConfig
from aihwkit.simulator.configs.devices import LinearStepDevice
from aihwkit.simulator.tiles import AnalogTile


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=4096)
    ap.add_argument("--pulses", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=6)
    a = ap.parse_args()
    dw, std = 0.002, 3.75
    offsets = []
    for seed in range(1, a.seeds + 1):
        torch.manual_seed(seed)
        dev = LinearStepDevice(dw_min=dw, dw_min_std=std, dw_min_dtod=0.0, up_down=0.0, up_down_dtod=0.0,
                               gamma_up=0.0, gamma_down=0.0, w_min=-100.0, w_max=100.0, w_min_dtod=0.0,
                               w_max_dtod=0.0, mult_noise=False)
        config = SingleRPUConfig(device=dev)
        config.update.update_bl_management = False
        config.update.update_management = False
        config.update.desired_bl = 1
        tile = AnalogTile(a.devices, 1, config)
        tile.set_learning_rate(1.0)
        tile.set_weights(torch.zeros((a.devices, 1)))
        x, d = torch.full((1, 1), -1.0), torch.full((1, a.devices), 1.0)
        for _ in range(a.pulses):
            tile.update(x, d)
        offsets.append(float(tile.get_weights()[0].mean()) - a.pulses * dw)
    sampling = math.sqrt(a.pulses) * std * dw / math.sqrt(a.devices)
    print(" ".join("%+.3f" % o for o in offsets))
    print("%.3f" % sampling)


if __name__ == "__main__":
    main()
