"""Trains a multi-layer perceptron on MNIST, read from its IDX files.

MNIST is not in the repository and nothing is downloaded: put the four files
(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte, each raw or .gz) in a folder and pass it with --data.

    python examples/python/train/mnist_mlp.py --data ~/mnist
"""
import argparse
import gzip
import pathlib
import sys

import numpy as np

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim

from training import accuracy, train_classifier, use_gpu_if_present

# IDX element types: the third byte of the magic number.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
NUM_CLASSES = 10
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path):
    """Reads an IDX file (raw or gzip-compressed) into a NumPy array.

    Layout: two zero bytes, a type byte, a dimension-count byte, one big-endian uint32
    per dimension, then the elements, big-endian. Raises ValueError naming the file on
    a bad magic number, an unknown type, or a size that disagrees with the header."""
    path = pathlib.Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: damaged gzip data ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex() or 'missing'}, "
                         "expected 0000 then a type byte and a dimension count)")
    if raw[2] not in IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{raw[2]:02x}")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + dtype.itemsize * int(np.prod(shape))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(f"{path}: {what}: shape {shape} of {dtype.name} needs {expected} bytes, "
                         f"file has {len(raw)}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx(folder, name):
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.exists():
            return candidate
    return None


def load_mnist(folder):
    """Returns ((train_x, train_y), (test_x, test_y)): images as float32 rows in [0, 1],
    labels as uint32. Exits with a message naming the missing files when absent."""
    folder = pathlib.Path(folder)
    paths = {key: find_idx(folder, name) for key, name in MNIST_FILES.items()}
    missing = [MNIST_FILES[key] for key, p in paths.items() if p is None]
    if missing:
        sys.exit(f"MNIST files missing in {folder}: {', '.join(missing)} (raw or .gz).\n"
                 "Download them (e.g. from a mirror of yann.lecun.com/exdb/mnist) and pass "
                 "their folder with --data.")
    split = {}
    for part in ("train", "test"):
        images, labels = read_idx(paths[part + "_images"]), read_idx(paths[part + "_labels"])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{folder}: {part} images {images.shape} and labels {labels.shape} "
                             "do not pair up (want N x rows x cols and N)")
        x = images.reshape(len(images), -1).astype(np.float32) / 255.0
        split[part] = (x, labels.astype(np.uint32))
    return split["train"], split["test"]


class MLP(nn.Module):
    def __init__(self, in_dims, hidden_dims, num_layers, num_classes):
        super().__init__()
        sizes = [in_dims] + [hidden_dims] * num_layers + [num_classes]
        self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder holding the four MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256, help="width of the hidden layers")
    parser.add_argument("--layers", type=int, default=2, help="number of hidden layers")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("device:", use_gpu_if_present())
    (train_x, train_y), (test_x, test_y) = load_mnist(args.data)
    mx.random.seed(args.seed)
    model = MLP(train_x.shape[1], args.hidden, args.layers, NUM_CLASSES)
    optimizer = optim.Adam(learning_rate=args.lr)
    train_classifier(model, optimizer, (train_x, train_y), args.epochs, args.batch_size, args.seed)
    print(f"test accuracy: {accuracy(model, test_x, test_y):.4f}")


if __name__ == "__main__":
    main()
