"""The cases of bench_optimizers.cpp in PyTorch (torch.optim, CPU, 2 threads), run by Debian's python3."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import median_ms, report  # noqa: E402


def main():
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(2)
    n = 1 << 22
    for case, make in [
        ("optim adam step 4M", lambda p: torch.optim.Adam([p], lr=1e-3)),
        ("optim sgd momentum step 4M", lambda p: torch.optim.SGD([p], lr=1e-3, momentum=0.9, weight_decay=1e-4)),
    ]:
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n)
        opt = make(p)
        with torch.no_grad():
            report(case, "torch", median_ms(opt.step, 21))



if __name__ == "__main__":
    main()
