"""The cases of bench_nn_layers.cpp in PyTorch (CPU, 2 threads), run by Debian's python3:
torch.nn.LSTM, F.interpolate (NCHW, its native layout) and the float32 Linear. PyTorch has no
4-bit linear layer on CPU in its stable API, so the QuantizedLinear case has no peer here."""
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
    with torch.no_grad():
        lstm = torch.nn.LSTM(256, 256, batch_first=True)
        x = torch.randn(32, 64, 256)
        report("lstm forward b32 seq64 256-256", "torch", median_ms(lambda: lstm(x), 11))
        img = torch.randn(8, 32, 64, 64)
        F = torch.nn.functional
        report("upsample bilinear x2 8x64x64x32", "torch",
               median_ms(lambda: F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False), 21))
        report("upsample nearest x2 8x64x64x32", "torch",
               median_ms(lambda: F.interpolate(img, scale_factor=2, mode="nearest"), 21))
        linear = torch.nn.Linear(4096, 4096)
        v = torch.randn(1, 4096)
        report("linear f32 batch 1 4096x4096", "torch", median_ms(lambda: linear(v), 21))


if __name__ == "__main__":
    main()
