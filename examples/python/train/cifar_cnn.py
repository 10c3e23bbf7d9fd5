"""Trains a small convolutional network on CIFAR-10, read from its binary format.

CIFAR-10 is not in the repository and nothing is downloaded: unpack the binary version
(cifar-10-binary.tar.gz: data_batch_1.bin ... data_batch_5.bin, test_batch.bin) and pass
its folder with --data.

    python examples/python/train/cifar_cnn.py --data ~/cifar-10-batches-bin
"""
import argparse
import pathlib
import sys

import numpy as np

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim

from training import accuracy, train_classifier, use_gpu_if_present

SIDE, CHANNELS, NUM_CLASSES = 32, 3, 10
RECORD_BYTES = 1 + CHANNELS * SIDE * SIDE  # a label byte, then the red, green, blue planes
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILES = ["test_batch.bin"]


def read_cifar10(path):
    """Reads one CIFAR-10 binary batch file: returns images (N, 32, 32, 3) uint8 in
    channels-last order, as MLX's convolutions take them, and labels (N,) uint32.
    Raises ValueError naming the file if its size is not whole records or a label is
    not a class number."""
    path = pathlib.Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of "
                         f"{RECORD_BYTES}-byte CIFAR-10 records")
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.uint32)
    if labels.max() >= NUM_CLASSES:
        bad = int(np.argmax(labels >= NUM_CLASSES))
        raise ValueError(f"{path}: record {bad} has label {labels[bad]}, "
                         f"expected 0..{NUM_CLASSES - 1}")
    images = records[:, 1:].reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_split(folder, names):
    """Concatenates the named batch files; images become float32, scaled to [0, 1]."""
    parts = [read_cifar10(folder / name) for name in names]
    images = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    return images, np.concatenate([p[1] for p in parts])


def load_cifar10(folder):
    folder = pathlib.Path(folder)
    if not (folder / TRAIN_FILES[0]).exists() and (folder / "cifar-10-batches-bin").is_dir():
        folder = folder / "cifar-10-batches-bin"
    missing = [n for n in TRAIN_FILES + TEST_FILES if not (folder / n).exists()]
    if missing:
        sys.exit(f"CIFAR-10 files missing in {folder}: {', '.join(missing)}.\n"
                 "Unpack the binary version (cifar-10-binary.tar.gz) and pass its folder with --data.")
    train, test = load_split(folder, TRAIN_FILES), load_split(folder, TEST_FILES)
    # Standardise with the training set's per-channel statistics.
    mean, std = train[0].mean(axis=(0, 1, 2)), train[0].std(axis=(0, 1, 2))
    return ((train[0] - mean) / std, train[1]), ((test[0] - mean) / std, test[1])


class CNN(nn.Module):
    """Two conv-ReLU-maxpool stages (32x32 -> 16x16 -> 8x8), then two linear layers."""

    def __init__(self, width=32, hidden=128):
        super().__init__()
        self.conv1 = nn.Conv2d(CHANNELS, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc1 = nn.Linear(2 * width * (SIDE // 4) ** 2, hidden)
        self.fc2 = nn.Linear(hidden, NUM_CLASSES)

    def __call__(self, x):
        x = self.pool(nn.relu(self.conv1(x)))
        x = self.pool(nn.relu(self.conv2(x)))
        x = nn.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder holding the CIFAR-10 .bin files")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=32, help="channels of the first convolution")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("device:", use_gpu_if_present())
    train, (test_x, test_y) = load_cifar10(args.data)
    mx.random.seed(args.seed)
    model = CNN(args.width)
    optimizer = optim.Adam(learning_rate=args.lr)
    train_classifier(model, optimizer, train, args.epochs, args.batch_size, args.seed)
    print(f"test accuracy: {accuracy(model, test_x, test_y):.4f}")


if __name__ == "__main__":
    main()
