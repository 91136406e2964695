#!/usr/bin/python3
"""PyTorch CPU reference throughput for robustq's networks, to compare against `go test -bench`.

Run with Debian's PyTorch (apt-get install -y python3-torch libopenblas0), from the module root:
    /usr/bin/python3 bench/torch_ref.py                 # all cases, 2 threads, batch 128
    /usr/bin/python3 bench/torch_ref.py --case train/mnist-cnn --reps 7
Prints one line per case: `case img/s median min max`, then a JSON line per case (prefix RESULT).
Inputs are random (speed only). Networks are robustq's nn.MNISTCNN and nn.WideResNet32:
  mnist-cnn   conv5x5x32(same)-ReLU-maxpool2-conv5x5x64(same)-ReLU-maxpool2-FC3136x1024-ReLU-FC1024x10
  resnet32-wN the Madry CIFAR-10 wide ResNet-32: 3 stages x 5 pre-activation residual units,
              widths 16, 16N, 32N, 64N, batch norm, leaky ReLU 0.1, 1x1 projection shortcut on shape change.
Cases: train/* (forward, backward, SGD-momentum step), igrad/* (gradient w.r.t. the input only, one FGSM step),
infer/* (forward only, eval mode).
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 5, padding=2)
        self.c2 = nn.Conv2d(32, 64, 5, padding=2)
        self.f1 = nn.Linear(7 * 7 * 64, 1024)
        self.f2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(x.flatten(1))))


class Unit(nn.Module):
    """Pre-activation residual unit: BN-LReLU-conv3x3(stride)-BN-LReLU-conv3x3, plus shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        h = F.leaky_relu(self.bn1(x), 0.1)
        s = x if self.short is None else self.short(h)
        h = self.c1(h)
        h = self.c2(F.leaky_relu(self.bn2(h), 0.1))
        return h + s


class WideResNet32(nn.Module):
    def __init__(self, width=1):
        super().__init__()
        widths = [16, 16 * width, 32 * width, 64 * width]
        self.stem = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        units, cin = [], widths[0]
        for stage, cout in enumerate(widths[1:]):
            for i in range(5):
                units.append(Unit(cin, cout, 2 if (stage > 0 and i == 0) else 1))
                cin = cout
        self.units = nn.Sequential(*units)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        h = self.units(self.stem(x))
        h = F.leaky_relu(self.bn(h), 0.1)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def network(name):
    if name == "mnist-cnn":
        return MnistCNN(), (1, 28, 28)
    if name.startswith("resnet32-w"):
        return WideResNet32(int(name[len("resnet32-w"):])), (3, 32, 32)
    raise SystemExit(f"unknown network {name}")


def make_step(kind, model, x, y):
    if kind == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return step
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if kind == "igrad":
        def step():
            xv = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(F.cross_entropy(model(xv), y), xv)
            return g
        return step
    if kind == "infer":
        def step():
            with torch.no_grad():
                return model(x)
        return step
    raise SystemExit(f"unknown kind {kind}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", help="kind/network, e.g. train/mnist-cnn (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum time per repetition")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = args.case or ["train/mnist-cnn", "igrad/mnist-cnn", "infer/mnist-cnn",
                          "train/resnet32-w1", "igrad/resnet32-w1"]
    for case in cases:
        kind, name = case.split("/", 1)
        model, shape = network(name)
        x = torch.rand(args.batch, *shape)
        y = torch.randint(0, 10, (args.batch,))
        step = make_step(kind, model, x, y)
        for _ in range(2):
            step()
        rates = []
        for _ in range(args.reps):
            n, t0 = 0, time.perf_counter()
            while True:
                step()
                n += 1
                dt = time.perf_counter() - t0
                if dt >= args.seconds:
                    break
            rates.append(n * args.batch / dt)
        med = statistics.median(rates)
        print(f"{case} img/s median {med:.1f} min {min(rates):.1f} max {max(rates):.1f}")
        print("RESULT " + json.dumps({"case": case, "img_per_s": med, "reps": rates, "batch": args.batch,
                                      "threads": torch.get_num_threads(), "torch": torch.__version__}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
