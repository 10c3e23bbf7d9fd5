"""Trains a character-level transformer language model on a text file for a fixed time,
saves it (safetensors), reloads it into a fresh model, and generates text from a prompt.

    python examples/python/train/transformer_lm.py --text data/shakespeare.txt --seconds 90

The model is a decoder-only transformer: token embeddings plus learned position
embeddings, then blocks of pre-norm causal self-attention and MLP, written here with
nn.Linear, nn.LayerNorm, nn.Embedding and mx ops.
"""
import argparse
import math
import pathlib
import time
from functools import partial

import numpy as np

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim
from lazuli.utils import tree_flatten

from training import ProgressBar, use_gpu_if_present

DEFAULT_TEXT = pathlib.Path(__file__).resolve().parent / "../../../data/shakespeare.txt"


class CharVocab:
    """Maps each distinct character of a text to an id, in sorted order."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.ids = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        unknown = sorted(set(text) - self.ids.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return np.array([self.ids[c] for c in text], dtype=np.uint32)

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


def causal_mask(length):
    """Additive attention mask: 0 where a query may see a key (itself and earlier
    positions), -inf where the key lies in its future."""
    position = mx.arange(length)
    return mx.where(position[:, None] >= position[None, :], 0.0, -math.inf)


class CausalSelfAttention(nn.Module):
    def __init__(self, dims, num_heads):
        super().__init__()
        if dims % num_heads:
            raise ValueError(f"dims ({dims}) must be a multiple of num_heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dims, 3 * dims, bias=False)
        self.out = nn.Linear(dims, dims, bias=False)

    def __call__(self, x, mask):
        batch, length, dims = x.shape

        def split_heads(t):  # (batch, length, dims) -> (batch, heads, length, head_dims)
            return t.reshape(batch, length, self.num_heads, -1).transpose(0, 2, 1, 3)

        q, k, v = map(split_heads, mx.split(self.qkv(x), 3, axis=-1))
        scores = (q * (1 / math.sqrt(q.shape[-1]))) @ k.transpose(0, 1, 3, 2) + mask
        heads = mx.softmax(scores, axis=-1) @ v
        return self.out(heads.transpose(0, 2, 1, 3).reshape(batch, length, dims))


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dims, num_heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims)
        self.attention = CausalSelfAttention(dims, num_heads)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = nn.Sequential(nn.Linear(dims, 4 * dims), nn.GELU(), nn.Linear(4 * dims, dims))

    def __call__(self, x, mask):
        x = x + self.attention(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class TransformerLM(nn.Module):
    def __init__(self, vocab_size, context, dims, num_heads, num_layers):
        super().__init__()
        self.context = context
        self.tokens = nn.Embedding(vocab_size, dims)
        self.positions = nn.Embedding(context, dims)
        self.blocks = [Block(dims, num_heads) for _ in range(num_layers)]
        self.norm = nn.LayerNorm(dims)
        self.head = nn.Linear(dims, vocab_size)

    def __call__(self, ids):
        """ids: (batch, length) token ids, length <= context -> (batch, length, vocab) logits."""
        length = ids.shape[1]
        if length > self.context:
            raise ValueError(f"sequence of {length} tokens is longer than the context ({self.context})")
        x = self.tokens(ids) + self.positions(mx.arange(length))
        mask = causal_mask(length)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.norm(x))


def num_parameters(model):
    return sum(p.size for _, p in tree_flatten(model.parameters()))


def windows(data, starts, context):
    """Inputs data[s : s+context] and their next-character targets, one row per start."""
    rows = data[np.asarray(starts)[:, None] + np.arange(context + 1)]
    return mx.array(rows[:, :-1]), mx.array(rows[:, 1:])


def loss_fn(model, inputs, targets):
    return nn.losses.cross_entropy(model(inputs), targets, reduction="mean")


def evaluate(model, data, context, batch_size=32, max_batches=8):
    """Mean loss over evenly spaced windows of `data` (deterministic)."""
    count = min(batch_size * max_batches, (len(data) - 1) // context)
    starts = np.linspace(0, len(data) - context - 1, count).astype(np.int64)
    total = 0.0
    for batch in np.array_split(starts, -(-count // batch_size)):
        total += loss_fn(model, *windows(data, batch, context)).item() * len(batch)
    return total / count


def train(model, data, *, seconds, batch_size, lr, max_steps=None, seed=0, progress=True):
    """Trains on random windows of `data` until `seconds` pass (or `max_steps` steps).
    The learning rate warms up over the first 5% of that budget, then follows a cosine
    down to a tenth. Returns (losses per step, tokens per second)."""
    # beta2 = 0.99 and bias correction: the second-moment estimate adapts within the few
    # hundred steps a short run has (0.999 without correction trained markedly slower).
    optimizer = optim.AdamW(learning_rate=lr, betas=[0.9, 0.99], weight_decay=0.01, bias_correction=True)
    loss_and_grad = nn.value_and_grad(model, loss_fn)
    # The whole step compiled: the model's and the optimizer's arrays are its state.
    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(inputs, targets):
        loss, grads = loss_and_grad(model, inputs, targets)
        optimizer.update(model, grads)
        return loss

    rng = np.random.default_rng(seed)
    bar = ProgressBar(total=1.0) if progress else None
    losses, smoothed, start = [], None, time.perf_counter()

    def spent():  # the fraction of the budget used: time or steps, whichever runs out first
        fraction = (time.perf_counter() - start) / seconds
        return fraction if max_steps is None else max(fraction, len(losses) / max_steps)

    while (fraction := spent()) < 1:
        warmup = min(1.0, fraction / 0.05)
        optimizer.learning_rate = lr * warmup * (0.1 + 0.45 * (1 + math.cos(math.pi * fraction)))
        inputs, targets = windows(data, rng.integers(0, len(data) - model.context - 1, batch_size), model.context)
        loss = step(inputs, targets)
        mx.eval(state, loss)
        losses.append(loss.item())
        smoothed = losses[-1] if smoothed is None else 0.95 * smoothed + 0.05 * losses[-1]
        if bar:
            tokens_per_s = len(losses) * inputs.size / (time.perf_counter() - start)
            bar.update(spent(), len(losses), {"loss": smoothed, "tokens/s": int(tokens_per_s)})
    if bar:
        bar.close()
    return losses, len(losses) * batch_size * model.context / (time.perf_counter() - start)


def generate(model, prompt_ids, length, temperature=0.8):
    """Samples `length` token ids after `prompt_ids`, one at a time, each from the
    model's next-token distribution at `temperature` (0 picks the most likely)."""
    ids = [int(i) for i in prompt_ids]
    for _ in range(length):
        logits = model(mx.array([ids[-model.context:]]))[0, -1]
        next_id = mx.argmax(logits) if temperature == 0 else mx.random.categorical(logits / temperature)
        ids.append(next_id.item())
    return ids[len(prompt_ids):]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=str(DEFAULT_TEXT.resolve()))
    parser.add_argument("--seconds", type=float, default=90, help="training time budget")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    # The defaults are tuned for 90 s on two CPU cores: a small, fast model sees more text.
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--weights", default="transformer_lm.safetensors", help="where to save the model")
    parser.add_argument("--prompt", default="\n")
    parser.add_argument("--generate", type=int, default=400, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("device:", use_gpu_if_present())
    mx.random.seed(args.seed)
    text = pathlib.Path(args.text).read_text()
    vocab = CharVocab(text)
    data = vocab.encode(text)
    split = int(0.95 * len(data))  # the last 5% is held out for validation
    train_data, valid_data = data[:split], data[split:]
    print(f"text: {args.text}: {len(text):,} characters, {len(vocab)} distinct")

    config = dict(vocab_size=len(vocab), context=args.context, dims=args.dims,
                  num_heads=args.heads, num_layers=args.layers)
    model = TransformerLM(**config)
    mx.eval(model.parameters())
    print(f"model: {args.layers} layers, {args.dims} dims, {args.heads} heads, "
          f"context {args.context}: {num_parameters(model):,} parameters")
    print(f"training for {args.seconds:g} s, batches of {args.batch_size} x {args.context} characters")
    losses, tokens_per_s = train(model, train_data, seconds=args.seconds, batch_size=args.batch_size,
                                 lr=args.lr, max_steps=args.steps, seed=args.seed)
    tail = losses[-20:]
    print(f"trained {len(losses)} steps at {tokens_per_s:,.0f} tokens/s; "
          f"training loss {sum(tail) / len(tail):.3f} (mean of the last {len(tail)} steps), "
          f"validation loss {evaluate(model, valid_data, args.context):.3f} nats/char")

    model.save_weights(args.weights)
    reloaded = TransformerLM(**config)
    reloaded.load_weights(args.weights)
    probe, _ = windows(valid_data, [0, len(valid_data) // 2], args.context)
    same = mx.array_equal(model(probe), reloaded(probe)).item()
    print(f"saved {args.weights}; reloaded into a fresh model: logits {'identical' if same else 'DIFFER'}")
    if not same:
        raise SystemExit("reloaded model disagrees with the trained one")

    sample = vocab.decode(generate(reloaded, vocab.encode(args.prompt), args.generate, args.temperature))
    print(f"--- {args.generate} characters sampled at temperature {args.temperature:g} ---")
    print(args.prompt + sample)


if __name__ == "__main__":
    main()
