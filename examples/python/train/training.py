"""Pieces the training examples share: device choice, a progress bar, minibatches and a
classifier training loop. Written against MLX's API (swap the imports to run on MLX)."""
import sys
import time

import numpy as np

import lazuli.core as mx
import lazuli.nn as nn


def use_gpu_if_present():
    """Makes the GPU the default device when there is one and it computes (a small
    matmul and softmax run there); returns the device used."""
    if mx.is_available(mx.gpu):
        try:
            x = mx.ones((4, 4), stream=mx.gpu)
            mx.eval(mx.softmax(mx.matmul(x, x, stream=mx.gpu), axis=-1, stream=mx.gpu))
            mx.set_default_device(mx.gpu)
        except Exception as e:  # e.g. a build without kernels for this GPU
            print(f"a GPU is present but cannot run this program ({e}); using the CPU", file=sys.stderr)
    return mx.default_device()


class ProgressBar:
    """One line on stderr, rewritten in place with a carriage return:
    a bar, the step, and any named values (loss, tokens/s, ...) with the elapsed time.

    `total` is how much work the bar stands for (steps or seconds); `update(done, step,
    values)` says how much of it is done and shows `values`, a dict of label -> number."""

    def __init__(self, total, width=24, stream=sys.stderr):
        self.total, self.width, self.stream = total, width, stream
        self.start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.start

    def update(self, done, step, values):
        filled = int(self.width * min(done / self.total, 1.0)) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        fields = "  ".join(f"{k} {_fmt(v)}" for k, v in values.items())
        self.stream.write(f"\r[{bar}] step {step}  {fields}  {self.elapsed():.1f}s ")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def minibatches(x, y, batch_size, rng=None):
    """Yields (x, y) minibatches of NumPy arrays as mx arrays, shuffled when rng is given."""
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        rows = order[start:start + batch_size]
        yield mx.array(x[rows]), mx.array(y[rows])


def accuracy(model, x, y, batch_size=1000):
    correct = 0
    for xb, yb in minibatches(x, y, batch_size):
        correct += mx.sum(mx.argmax(model(xb), axis=-1) == yb).item()
    return correct / len(x)


def train_classifier(model, optimizer, train, epochs, batch_size, seed=0, log=print):
    """Trains `model` on train=(x, y) with cross-entropy; returns the mean loss of the
    last epoch. Progress goes to stderr, one summary line per epoch through `log`."""
    x, y = train
    rng = np.random.default_rng(seed)

    def loss_fn(model, xb, yb):
        return nn.losses.cross_entropy(model(xb), yb, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, loss_fn)
    steps_per_epoch = -(-len(x) // batch_size)
    bar = ProgressBar(epochs * steps_per_epoch)
    step = 0
    for epoch in range(epochs):
        total, count = 0.0, 0
        for xb, yb in minibatches(x, y, batch_size, rng):
            loss, grads = loss_and_grad(model, xb, yb)
            optimizer.update(model, grads)
            mx.eval(model.parameters(), optimizer.state, loss)
            total, count, step = total + loss.item() * len(xb), count + len(xb), step + 1
            bar.update(step, step, {"epoch": epoch + 1, "loss": total / count,
                                    "samples/s": int(step * batch_size / bar.elapsed())})
        bar.close()
        log(f"epoch {epoch + 1}: loss {total / count:.4f}")
    return total / count
