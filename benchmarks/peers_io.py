"""The cases of bench_io.cpp in the peers: the reference safetensors package
(safetensors.numpy.load_file, then np.sum of each tensor: the "numpy" column) and MLX
(mx.load, then mx.sum of each). The 1 GB file is made in /tmp, warmed into the page
cache, and deleted afterwards.

Prints one JSON object per case and library: {"case", "lib", "ms"}.
"""
import mmap
import os
import shutil
import tempfile

import numpy as np
from safetensors.numpy import load_file, save_file

from timing import median_ms, report


def main():
    d = tempfile.mkdtemp(prefix="lazuli-peers-io-")
    path = os.path.join(d, "model.safetensors")
    try:
        save_file({f"layers.{i}.weight": np.full((4096, 1024), i / 64, np.float32) for i in range(64)}, path)
        size = os.path.getsize(path)
        buf = mmap.mmap(-1, size)  # page-aligned, like the C++ benchmark's buffer
        buf.write(b"\1" * size)

        def read_all():
            with open(path, "rb", buffering=0) as f:
                view = memoryview(buf)
                done = 0
                while done < size:
                    done += f.readinto(view[done:done + (16 << 20)])

        read_all()  # into the page cache
        report("safetensors 1GB: read() from page cache", "numpy", median_ms(read_all, 7))

        def numpy_load_sum():
            tensors = load_file(path)
            return [np.sum(t) for t in tensors.values()]

        report("safetensors 1GB: load + sum each tensor", "numpy", median_ms(numpy_load_sum, 7))
        try:
            import mlx.core as mx
        except ImportError:
            return

        def mlx_load_sum():
            tensors = mx.load(path)
            mx.eval([mx.sum(t) for t in tensors.values()])

        report("safetensors 1GB: load + sum each tensor", "mlx", median_ms(mlx_load_sum, 7))
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
