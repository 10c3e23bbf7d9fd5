"""The MLP training-step case of bench_core.cpp in PyTorch (CPU), for the P2 table.

Run with the Python that has torch (Debian's python3-torch). Prints JSON lines.
"""
import json
import math

import torch

from timing import median_ms


def main():
    torch.set_num_threads(2)

    def init(rows, cols, seed):
        w = torch.sin(torch.arange(rows * cols, dtype=torch.float32).reshape(rows, cols) * (0.37 * seed))
        return (w / math.sqrt(rows)).requires_grad_()

    params = [init(784, 512, 1), torch.zeros(512, requires_grad=True), init(512, 512, 2),
              torch.zeros(512, requires_grad=True), init(512, 10, 3), torch.zeros(10, requires_grad=True)]
    x = torch.cos(torch.arange(256 * 784, dtype=torch.float32).reshape(256, 784))
    labels = torch.nn.functional.one_hot(torch.arange(256) % 10, 10).float()

    def loss():
        h = torch.tanh(x @ params[0] + params[1])
        h = torch.tanh(h @ params[2] + params[3])
        logits = h @ params[4] + params[5]
        logp = logits - torch.logsumexp(logits, 1, keepdim=True)
        return -(logp * labels).sum(1).mean()

    def forward():
        with torch.no_grad():
            loss()

    def step():
        for p in params:
            p.grad = None
        loss().backward()

    for case, f in (("mlp forward (loss)", forward), ("mlp value_and_grad", step)):
        print(json.dumps({"case": case, "lib": "torch", "ms": round(median_ms(f, 21), 4)}), flush=True)


if __name__ == "__main__":
    main()
