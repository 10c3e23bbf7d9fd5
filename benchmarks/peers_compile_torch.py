"""The MLP Adam training step of bench_compile.cpp in PyTorch (CPU, 2 threads), run by
Debian's python3. Its torch (1.13) has no torch.compile: eager only."""
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
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        adam.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        adam.step()

    report("nn mlp adam step 784-512-512-10 b256", "torch", median_ms(train_step, 21))


if __name__ == "__main__":
    main()
