"""The convolution cases of bench_conv.cpp in PyTorch (CPU, 2 threads), each in its fastest
layout (channels-last where that is faster). Run with Debian's /usr/bin/python3 (torch).
Prints JSON lines {"case", "lib": "torch", "ms"}."""
import json
import math

import torch

from timing import median_ms


def values(shape, phase):
    n = math.prod(shape)
    return torch.sin(torch.arange(n, dtype=torch.float32) * phase).reshape(shape)


def fastest(f, reps):
    """The faster of channels-first and channels-last for a 4-D case."""
    return min(median_ms(lambda: f(False), reps), median_ms(lambda: f(True), reps))


def main():
    torch.set_num_threads(2)
    fmt = lambda t, cl: t.contiguous(memory_format=torch.channels_last) if cl else t.contiguous()
    # torch layouts: input (N, C, H, W), weight (C_out, C_in, KH, KW)
    x = values((32, 32, 32, 64), 0.37).permute(0, 3, 1, 2)
    w = values((64, 3, 3, 64), 0.11).permute(0, 3, 1, 2)
    ct = values((32, 32, 32, 64), 0.23).permute(0, 3, 1, 2)

    def forward(cl):
        xi, wi = fmt(x, cl), fmt(w, cl)
        return lambda: torch.nn.functional.conv2d(xi, wi, padding=1)

    with torch.no_grad():
        ms = min(median_ms(forward(False), 21), median_ms(forward(True), 21))
    print(json.dumps({"case": "conv2d 3x3 64->64 32x32 n32 f32", "lib": "torch", "ms": ms}), flush=True)

    def backward(cl):
        xi, wi, gi = fmt(x, cl).requires_grad_(), fmt(w, cl).requires_grad_(), fmt(ct, cl)

        def step():
            y = torch.nn.functional.conv2d(xi, wi, padding=1)
            torch.autograd.grad(y, (xi, wi), gi)
        return step

    # Forward plus both gradients, as Lazuli's vjp case runs them.
    ms = min(median_ms(backward(False), 11), median_ms(backward(True), 11))
    print(json.dumps({"case": "conv2d 3x3 64->64 32x32 n32 f32 fwd+vjp (input+weight)", "lib": "torch", "ms": ms}),
          flush=True)

    with torch.no_grad():
        a = values((16, 1024, 128), 0.31).permute(0, 2, 1).contiguous()
        k = values((128, 5, 128), 0.07).permute(0, 2, 1).contiguous()
        ms = median_ms(lambda: torch.nn.functional.conv1d(a, k, padding=2), 21)
        print(json.dumps({"case": "conv1d k5 128->128 L1024 n16 f32", "lib": "torch", "ms": ms}), flush=True)

        # Lazuli's weight (C_out, KH, KW, C_in) is torch's transposed-conv weight (C_in, C_out, KH, KW)
        # with the kernel flipped; timing does not depend on the values.
        xt = values((32, 16, 16, 64), 0.29).permute(0, 3, 1, 2)
        wt = values((32, 3, 3, 64), 0.13).permute(3, 0, 1, 2)

        def transpose(cl):
            xi, wi = fmt(xt, cl), fmt(wt, cl)
            return lambda: torch.nn.functional.conv_transpose2d(xi, wi, stride=2, padding=1, output_padding=1)

        ms = min(median_ms(transpose(False), 21), median_ms(transpose(True), 21))
        print(json.dumps({"case": "conv_transpose2d 3x3 s2 64->32 16x16 n32 f32", "lib": "torch", "ms": ms}),
              flush=True)


if __name__ == "__main__":
    main()
