"""The cases of bench_nn.cpp in PyTorch (CPU, 2 threads), run by Debian's python3."""
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
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    x = torch.randn(256, 784)
    y = torch.randint(0, 10, (256,))

    def step():
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad

    report("nn mlp sgd step 784-512-512-10 b256", "torch", median_ms(step, 21))
    a = torch.randn(1024, 1024)
    ln = torch.nn.LayerNorm(1024)
    with torch.no_grad():
        report("nn layer_norm 1024x1024", "torch", median_ms(lambda: ln(a), 21))
        g = torch.randn(1 << 22)
        report("nn gelu 4M", "torch", median_ms(lambda: torch.nn.functional.gelu(g), 21))
        logits = torch.randn(4096, 1000)
        t = torch.randint(0, 1000, (4096,))
        report("nn cross_entropy 4096x1000", "torch", median_ms(lambda: torch.nn.functional.cross_entropy(logits, t), 21))


if __name__ == "__main__":
    main()
