"""The cases of bench_fast.cpp in PyTorch (CPU, 2 threads), run by Debian's python3.

Its torch (1.13) has attention only as the private F._scaled_dot_product_attention (scale
1 / sqrt(head dim), here 0.125 as in bench_fast) and no rms_norm: that one is composed."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from timing import median_ms, report  # noqa: E402


def rope(torch, x, dims, base, positions):
    """Non-traditional rotary embedding (pairs half the features apart), as mx.fast.rope;
    the angles are computed on each call, as a fused kernel's would be."""
    half = dims // 2
    theta = torch.arange(positions, dtype=torch.float32)[:, None] * base ** (-torch.arange(half) / half)
    cos, sin = torch.cos(theta), torch.sin(theta)
    x1, x2 = x[..., :half], x[..., half:dims]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, x[..., dims:]], -1)


def main():
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(2)
    F = torch.nn.functional
    with torch.no_grad():
        q, k, v = (torch.randn(4, 8, 256, 64) for _ in range(3))
        report("fast sdpa b4 h8 s256 d64 causal", "torch",
               median_ms(lambda: F._scaled_dot_product_attention(q, k, v, is_causal=True)[0], 11))
        x, w, b = torch.randn(4096, 4096), torch.randn(4096), torch.randn(4096)
        rms_norm = lambda: x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-5) * w  # noqa: E731
        report("fast rms_norm 4096x4096", "torch", median_ms(rms_norm, 11))
        report("fast layer_norm 4096x4096", "torch", median_ms(lambda: F.layer_norm(x, (4096,), w, b, 1e-5), 11))
        r = torch.randn(4, 8, 256, 64)
        report("fast rope b4 h8 s256 d64", "torch", median_ms(lambda: rope(torch, r, 64, 10000.0, 256), 11))


if __name__ == "__main__":
    main()
