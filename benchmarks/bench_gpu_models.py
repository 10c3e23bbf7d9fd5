"""Model benchmarks (issue P9): small real models written twice, with lazuli.nn and with
torch.nn, same shapes, dtypes and random weights, timed in one process on the same device.
Prints a markdown table to stdout and progress to stderr; `make bench-gpu` runs it after
benchmarks/bench_gpu.py.

  mlp     MLP 784-512-512-10, batch 256, one Adam step (Lazuli: the whole value_and_grad +
          update under mx.compile; PyTorch eager): ms/step.
  bert    BERT-base encoder forward (12 post-norm layers, 768 wide, 12 heads, MLP 3072,
          GELU), float16, batch 64 x 128 tokens: sequences/s (Lazuli eager and compiled).
  resnet  ResNet-18 for 32x32 images (CIFAR), 10 classes, one SGD-momentum training step,
          batch 256, parameters and compute in bfloat16 (BatchNorm in training mode): images/s.
          Lazuli is channels-last (NHWC, as MLX), PyTorch NCHW (--channels-last: its
          channels_last memory format).
  llama   batch-1 greedy decoding with a KV cache of a Llama-2-7B-shaped model (RMSNorm,
          RoPE, SwiGLU), float16 random weights, prompt then generated tokens: tokens/s, for
          Lazuli float16 and nn.quantize (4-bit, group 64) and PyTorch float16 eager
          (--torch-compile adds torch.compile). Lazuli runs and frees its weights before
          PyTorch builds its own, so only one framework's weights are resident at a time.

Timing: the median of --reps runs after warm-up, synchronised on both sides (mx.eval
returns when the device is done; PyTorch is followed by torch.cuda.synchronize()).

Before timing, each model is built at tiny float32 shapes on both sides with the same
weights (copied from PyTorch) and their outputs (and, for training, the loss after one
optimizer step) compared, so the two sides are known to compute the same function."""
import argparse
import gc
import math
import statistics
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

import lazuli.core as mx
import lazuli.nn as nn
import lazuli.optimizers as optim

ARGS = None
ROWS = []


def log(*what):
    print(*what, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- timing and table

def sync():
    if ARGS.device == "gpu":
        torch.cuda.synchronize()


def median_s(f, reps=None, warmup=2):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps or ARGS.reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def lz_time(fn, reps=None):
    return median_s(lambda: mx.eval(fn()), reps)


def torch_time(fn, reps=None):
    def run():
        fn()
        sync()

    return median_s(run, reps)


def row(case, lz_s, torch_s, unit, per_run):
    """per_run: how many `unit`s (sequences, images, tokens) one timed run processes; None
    reports milliseconds per run instead of a rate."""
    if per_run is None:
        lz_rate, t_rate = f"{lz_s * 1e3:.2f} ms/{unit}", f"{torch_s * 1e3:.2f} ms/{unit}"
    else:
        lz_rate, t_rate = f"{per_run / lz_s:,.0f} {unit}/s", f"{per_run / torch_s:,.0f} {unit}/s"
    ROWS.append((case, lz_s * 1e3, torch_s * 1e3, lz_rate, t_rate, torch_s / lz_s))
    log(f"{case}: lazuli {lz_s * 1e3:.3f} ms ({lz_rate}), torch {torch_s * 1e3:.3f} ms ({t_rate})")


# ---------------------------------------------------------------- shared helpers

TORCH_DTYPE = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def half():
    """The inference dtype: float16 on the GPU; bfloat16 on the CPU, where PyTorch's CPU
    kernels (1.13) lack float16 matmul."""
    return "float16" if ARGS.device == "gpu" else "bfloat16"


def tdev():
    return "cuda" if ARGS.device == "gpu" else "cpu"


def to_lz(t):
    """A PyTorch tensor as a Lazuli array (through float32 NumPy)."""
    return mx.array(t.detach().cpu().float().numpy())


def copy_weights(lz_model, torch_model, rename=lambda name, t: [(name, t)]):
    """Loads torch_model's parameters and BatchNorm statistics into lz_model: same dotted
    names unless `rename` maps one (name, tensor) to a list of them; 4-D convolution
    weights go from OIHW to OHWI."""
    weights = []
    for name, t in torch_model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        for lz_name, lz_t in rename(name, t):
            if lz_t.ndim == 4:
                lz_t = lz_t.permute(0, 2, 3, 1)
            weights.append((lz_name, to_lz(lz_t)))
    lz_model.load_weights(weights)
    mx.eval(lz_model.parameters())


def assert_close(what, lz_value, torch_value, rtol=1e-4, atol=1e-4):
    a = np.array(lz_value.astype(mx.float32))
    b = torch_value.detach().cpu().float().numpy()
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, lazuli {a.shape} vs torch {b.shape}")
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not np.allclose(a, b, rtol=rtol, atol=atol):
        raise AssertionError(f"{what}: lazuli and torch differ (max abs diff {err:.3g})")
    log(f"check {what}: agrees (max abs diff {err:.2g})")


def assert_moved(what, loss1, loss2):
    """The training step changed the model: the same batch's loss moved (both sides having
    agreed on both losses, the update was the same)."""
    if abs(loss2.item() - loss1.item()) < 1e-3:
        raise AssertionError(f"{what}: the loss did not move after a step ({loss1.item()} then {loss2.item()})")


def lz_train_step(model, optimizer, loss_fn):
    """One training step, value_and_grad + optimizer update; unless --no-compile, compiled
    as MLX's idiom has it, with the model's and optimizer's state as the compiled
    function's implicit inputs and outputs. Returns the loss and the state, for mx.eval."""
    loss_and_grad = nn.value_and_grad(model, loss_fn)
    state = [model.state, optimizer.state]

    def step(*batch):
        loss, grads = loss_and_grad(model, *batch)
        optimizer.update(model, grads)
        return loss

    if not ARGS.no_compile:
        step = mx.compile(step, inputs=state, outputs=state)
    return lambda *batch: [step(*batch), state]


def lz_cross_entropy(model, x, y):
    return mx.mean(nn.losses.cross_entropy(model(x), y))


def torch_train_step(model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def free_lazuli():
    gc.collect()
    if hasattr(mx, "clear_cache"):
        mx.clear_cache()


def free_torch():
    gc.collect()
    if ARGS.device == "gpu":
        torch.cuda.empty_cache()


def torch_sdpa(q, k, v, causal):
    """(batch, heads, length, head_dim) attention; by hand where PyTorch predates 2.0."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if causal:
        lq, lk = q.shape[-2], k.shape[-2]
        keep = torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(lk - lq)
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores.float(), -1).to(q.dtype) @ v


# ---------------------------------------------------------------- 1. MLP + Adam

class LzMLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = nn.relu(layer(x))
        return self.layers[-1](x)


class TorchMLP(tnn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = tnn.ModuleList(tnn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)


def mlp_pair(sizes, batch, lr=1e-3):
    torch_model = TorchMLP(sizes).to(tdev())
    lz_model = LzMLP(sizes)
    copy_weights(lz_model, torch_model)
    lz_opt = optim.Adam(learning_rate=lr, bias_correction=True)  # as torch.optim.Adam
    lz_opt.init(lz_model.trainable_parameters())
    t_opt = torch.optim.Adam(torch_model.parameters(), lr=lr)
    x = torch.randn(batch, sizes[0], device=tdev())
    y = torch.randint(0, sizes[-1], (batch,), device=tdev())
    lz_step = lz_train_step(lz_model, lz_opt, lz_cross_entropy)
    return (lz_model, lz_step, to_lz(x), to_lz(y).astype(mx.int32)), (torch_model, t_opt, x, y)


def check_mlp():
    (lz_model, lz_step, lx, ly), (t_model, t_opt, x, y) = mlp_pair([12, 16, 16, 5], 6, lr=1e-2)
    assert_close("mlp forward", lz_model(lx), t_model(x))
    losses = []
    for i in range(2):  # the second loss shows that the first step updated both models alike
        losses.append(lz_step(lx, ly)[0])
        assert_close(f"mlp Adam step {i + 1} loss", losses[-1], torch_train_step(t_model, t_opt, x, y))
    assert_moved("mlp", *losses)


def bench_mlp():
    sizes, batch = ([784, 64, 64, 10], 4) if ARGS.small else ([784, 512, 512, 10], 256)
    (_, lz_step, lx, ly), (t_model, t_opt, x, y) = mlp_pair(sizes, batch)
    mode = "eager" if ARGS.no_compile else "compiled"
    row(f"MLP {'-'.join(map(str, sizes))} Adam step, batch {batch} (Lazuli {mode}, PyTorch eager)",
        lz_time(lambda: lz_step(lx, ly)), torch_time(lambda: torch_train_step(t_model, t_opt, x, y)), "step",
        None)


# ---------------------------------------------------------------- 2. BERT-base encoder

class LzBertLayer(nn.Module):
    """Post-norm encoder layer laid out as torch.nn.TransformerEncoderLayer: fused QKV
    projection with biases, LayerNorm after each residual sum, exact GELU."""

    def __init__(self, dims, heads, mlp_dims):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(dims, 3 * dims)
        self.out_proj = nn.Linear(dims, dims)
        self.linear1 = nn.Linear(dims, mlp_dims)
        self.linear2 = nn.Linear(mlp_dims, dims)
        self.norm1 = nn.LayerNorm(dims)
        self.norm2 = nn.LayerNorm(dims)

    def __call__(self, x):
        B, L, D = x.shape
        qkv = self.in_proj(x).reshape(B, L, 3, self.heads, D // self.heads).transpose(2, 0, 3, 1, 4)
        a = mx.fast.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], scale=(D // self.heads) ** -0.5)
        x = self.norm1(x + self.out_proj(a.transpose(0, 2, 1, 3).reshape(B, L, D)))
        return self.norm2(x + self.linear2(nn.gelu(self.linear1(x))))


class LzBert(nn.Module):
    def __init__(self, layers, dims, heads, mlp_dims):
        super().__init__()
        self.layers = [LzBertLayer(dims, heads, mlp_dims) for _ in range(layers)]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def torch_bert(layers, dims, heads, mlp_dims):
    layer = tnn.TransformerEncoderLayer(dims, heads, mlp_dims, dropout=0.0, activation="gelu", batch_first=True,
                                        norm_first=False)
    return tnn.TransformerEncoder(layer, layers, enable_nested_tensor=False).to(tdev()).eval()


def bert_rename(name, t):
    return [(name.replace("self_attn.in_proj_", "in_proj.").replace("self_attn.out_proj.", "out_proj."), t)]


def bert_pair(shape, dtype):
    layers, dims, heads, mlp_dims = shape
    t_model = torch_bert(*shape)
    lz_model = LzBert(*shape)
    copy_weights(lz_model, t_model, bert_rename)
    lz_model.set_dtype(getattr(mx, dtype))
    return lz_model, t_model.to(TORCH_DTYPE[dtype])


def check_bert():
    lz_model, t_model = bert_pair((2, 16, 4, 32), "float32")
    x = torch.randn(3, 5, 16, device=tdev())
    with torch.inference_mode():
        assert_close("bert forward", lz_model(to_lz(x)), t_model(x))


def bench_bert():
    shape, (batch, seq) = ((2, 64, 4, 256), (4, 16)) if ARGS.small else ((12, 768, 12, 3072), (64, 128))
    lz_model, t_model = bert_pair(shape, half())
    x = torch.randn(batch, seq, shape[1], device=tdev(), dtype=TORCH_DTYPE[half()])
    lx = to_lz(x).astype(getattr(mx, half()))
    mx.eval(lx)
    with torch.inference_mode():
        t_s = torch_time(lambda: t_model(x))
    what = f"BERT encoder {shape[0]}×{shape[1]} ({shape[2]} heads, MLP {shape[3]}) {half()} forward, {batch}×{seq}"
    row(what + " (Lazuli eager)", lz_time(lambda: lz_model(lx)), t_s, "seq", batch)
    compiled = mx.compile(lz_model)
    row(what + " (Lazuli compiled)", lz_time(lambda: compiled(lx)), t_s, "seq", batch)


# ---------------------------------------------------------------- 3. ResNet-18 (CIFAR)

class LzBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm(cout)
        if stride != 1 or cin != cout:
            self.shortcut = [nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm(cout)]

    def __call__(self, x):
        y = nn.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if "shortcut" in self:
            x = self.shortcut[1](self.shortcut[0](x))
        return nn.relu(x + y)


class TorchBlock(tnn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                           tnn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu((x if self.shortcut is None else self.shortcut(x)) + y)


def resnet_plan(width):
    """ResNet-18's eight basic blocks: (in channels, out channels, stride)."""
    plan, cin = [], width
    for stage in range(4):
        cout = width << stage
        for i in range(2):
            plan.append((cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    return plan


class LzResNet18(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm(width)
        self.blocks = [LzBlock(*p) for p in resnet_plan(width)]
        self.fc = nn.Linear(8 * width, classes)

    def __call__(self, x):  # NHWC
        x = nn.relu(self.bn1(self.conv1(x)))
        for block in self.blocks:
            x = block(x)
        return self.fc(mx.mean(x, axis=(1, 2)))


class TorchResNet18(tnn.Module):
    def __init__(self, width, classes):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.blocks = tnn.ModuleList(TorchBlock(*p) for p in resnet_plan(width))
        self.fc = tnn.Linear(8 * width, classes)

    def forward(self, x):  # NCHW
        x = F.relu(self.bn1(self.conv1(x)))
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean((2, 3)))


def resnet_pair(width, batch, size, dtype, lr=0.1):
    t_model = TorchResNet18(width, 10).to(tdev())
    lz_model = LzResNet18(width, 10)
    copy_weights(lz_model, t_model)
    lz_model.set_dtype(getattr(mx, dtype))
    t_model = t_model.to(TORCH_DTYPE[dtype])
    if ARGS.channels_last:
        t_model = t_model.to(memory_format=torch.channels_last)
    lz_opt = optim.SGD(learning_rate=lr, momentum=0.9)
    lz_opt.init(lz_model.trainable_parameters())
    t_opt = torch.optim.SGD(t_model.parameters(), lr=lr, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=tdev(), dtype=TORCH_DTYPE[dtype])
    y = torch.randint(0, 10, (batch,), device=tdev())
    lx = to_lz(x.permute(0, 2, 3, 1)).astype(getattr(mx, dtype))
    if ARGS.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    lz_step = lz_train_step(lz_model, lz_opt, lz_cross_entropy)
    return (lz_model, lz_step, lx, to_lz(y).astype(mx.int32)), (t_model, t_opt, x, y)


def check_resnet():
    (lz_model, lz_step, lx, ly), (t_model, t_opt, x, y) = resnet_pair(4, 3, 8, "float32", lr=0.05)
    assert_close("resnet forward (batch statistics)", lz_model(lx), t_model(x), rtol=1e-3, atol=1e-3)
    losses = []
    for i in range(2):
        losses.append(lz_step(lx, ly)[0])
        assert_close(f"resnet SGD step {i + 1} loss", losses[-1], torch_train_step(t_model, t_opt, x, y),
                     rtol=1e-3, atol=1e-3)
    assert_moved("resnet", *losses)


def bench_resnet():
    width, batch, size = (8, 4, 16) if ARGS.small else (64, 256, 32)
    (_, lz_step, lx, ly), (t_model, t_opt, x, y) = resnet_pair(width, batch, size, "bfloat16")
    mode = "eager" if ARGS.no_compile else "compiled"
    layout = "NCHW channels_last" if ARGS.channels_last else "NCHW"
    row(f"ResNet-18 (width {width}, {size}×{size}) bf16 SGD step, batch {batch} "
        f"(Lazuli {mode} NHWC, PyTorch eager {layout})",
        lz_time(lambda: lz_step(lx, ly)), torch_time(lambda: torch_train_step(t_model, t_opt, x, y)), "img",
        batch)


# ---------------------------------------------------------------- 4. Llama decoding

class LzAttention(nn.Module):
    def __init__(self, dims, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dims, dims, bias=False)
        self.k_proj = nn.Linear(dims, dims, bias=False)
        self.v_proj = nn.Linear(dims, dims, bias=False)
        self.o_proj = nn.Linear(dims, dims, bias=False)
        self.rope = nn.RoPE(dims // heads, traditional=False, base=10000)

    def __call__(self, x, cache):
        B, L, D = x.shape
        q, k, v = (p(x).reshape(B, L, self.heads, -1).transpose(0, 2, 1, 3)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        offset = 0 if cache is None else cache[0].shape[2]
        q, k = self.rope(q, offset), self.rope(k, offset)
        if cache is not None:
            k, v = mx.concatenate([cache[0], k], axis=2), mx.concatenate([cache[1], v], axis=2)
        o = mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5,
                                                 mask="causal" if L > 1 else None)
        return self.o_proj(o.transpose(0, 2, 1, 3).reshape(B, L, D)), (k, v)


class LzMLPBlock(nn.Module):
    def __init__(self, dims, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(dims, hidden, bias=False)
        self.up_proj = nn.Linear(dims, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dims, bias=False)

    def __call__(self, x):
        return self.down_proj(nn.silu(self.gate_proj(x)) * self.up_proj(x))


class LzLlamaLayer(nn.Module):
    def __init__(self, dims, hidden, heads):
        super().__init__()
        self.input_layernorm = nn.RMSNorm(dims, eps=1e-5)
        self.self_attn = LzAttention(dims, heads)
        self.post_attention_layernorm = nn.RMSNorm(dims, eps=1e-5)
        self.mlp = LzMLPBlock(dims, hidden)

    def __call__(self, x, cache):
        a, cache = self.self_attn(self.input_layernorm(x), cache)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), cache


class LzLlama(nn.Module):
    def __init__(self, layers, dims, hidden, heads, vocab):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dims)
        self.layers = [LzLlamaLayer(dims, hidden, heads) for _ in range(layers)]
        self.norm = nn.RMSNorm(dims, eps=1e-5)
        self.lm_head = nn.Linear(dims, vocab, bias=False)

    def __call__(self, tokens, caches=None):
        x = self.embed_tokens(tokens)
        caches = caches or [None] * len(self.layers)
        new_caches = []
        for layer, cache in zip(self.layers, caches):
            x, cache = layer(x, cache)
            new_caches.append(cache)
        return self.lm_head(self.norm(x)), new_caches


class TorchRMSNorm(tnn.Module):
    def __init__(self, dims, eps=1e-5):
        super().__init__()
        self.weight = tnn.Parameter(torch.ones(dims))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def torch_rope(x, offset, base=10000.0):
    """Rotates pairs of features half the head apart (Llama's layout, nn.RoPE traditional=False)."""
    L, d = x.shape[-2], x.shape[-1]
    inv = base ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    angles = torch.arange(offset, offset + L, device=x.device, dtype=torch.float32)[:, None] * inv
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class TorchAttention(tnn.Module):
    def __init__(self, dims, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (tnn.Linear(dims, dims, bias=False) for _ in range(4))

    def forward(self, x, cache):
        B, L, D = x.shape
        q, k, v = (p(x).view(B, L, self.heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        offset = 0 if cache is None else cache[0].shape[2]
        q, k = torch_rope(q, offset), torch_rope(k, offset)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        o = torch_sdpa(q, k, v, causal=L > 1)
        return self.o_proj(o.transpose(1, 2).reshape(B, L, D)), (k, v)


class TorchMLPBlock(tnn.Module):
    def __init__(self, dims, hidden):
        super().__init__()
        self.gate_proj = tnn.Linear(dims, hidden, bias=False)
        self.up_proj = tnn.Linear(dims, hidden, bias=False)
        self.down_proj = tnn.Linear(hidden, dims, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class TorchLlamaLayer(tnn.Module):
    def __init__(self, dims, hidden, heads):
        super().__init__()
        self.input_layernorm = TorchRMSNorm(dims)
        self.self_attn = TorchAttention(dims, heads)
        self.post_attention_layernorm = TorchRMSNorm(dims)
        self.mlp = TorchMLPBlock(dims, hidden)

    def forward(self, x, cache):
        a, cache = self.self_attn(self.input_layernorm(x), cache)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), cache


class TorchLlama(tnn.Module):
    def __init__(self, layers, dims, hidden, heads, vocab):
        super().__init__()
        self.embed_tokens = tnn.Embedding(vocab, dims)
        self.layers = tnn.ModuleList(TorchLlamaLayer(dims, hidden, heads) for _ in range(layers))
        self.norm = TorchRMSNorm(dims)
        self.lm_head = tnn.Linear(dims, vocab, bias=False)

    def forward(self, tokens, caches=None):
        x = self.embed_tokens(tokens)
        caches = caches or [None] * len(self.layers)
        new_caches = []
        for layer, cache in zip(self.layers, caches):
            x, cache = layer(x, cache)
            new_caches.append(cache)
        return self.lm_head(self.norm(x)), new_caches


def llama_shape():
    a = ARGS
    if a.small:
        return dict(layers=2, dims=64, hidden=128, heads=4, vocab=256), 8, 8
    return dict(layers=a.layers, dims=a.dim, hidden=a.hidden, heads=a.heads, vocab=a.vocab), a.prompt, a.generate


def lz_llama(shape, dtype):
    """Random weights, materialised layer by layer in `dtype` so that the float32 initial
    values of only one layer exist at a time."""
    model = LzLlama(**shape)
    for part in [model.embed_tokens, model.norm, model.lm_head, *model.layers]:
        part.set_dtype(dtype)
        mx.eval(part.parameters())
    return model


def torch_llama(shape, dtype):
    """Random weights, initialised on the device itself where PyTorch allows it (2.0+)."""
    if hasattr(torch.device, "__enter__"):
        with torch.device(tdev()):
            model = TorchLlama(**shape)
    else:
        model = TorchLlama(**shape)
    return model.to(tdev(), dtype).eval()


def lz_generate(model, prompt, n):
    """(prefill seconds, decode seconds) of greedy decoding n tokens after `prompt`."""
    t0 = time.perf_counter()
    logits, caches = model(prompt)
    token = mx.argmax(logits[:, -1], axis=-1, keepdims=True)
    mx.eval(token, caches)
    t1 = time.perf_counter()
    for _ in range(n):
        logits, caches = model(token, caches)
        token = mx.argmax(logits[:, -1], axis=-1, keepdims=True)
        mx.eval(token)
    return t1 - t0, time.perf_counter() - t1


def torch_generate(step, prompt, n):
    t0 = time.perf_counter()
    logits, caches = step(prompt, None)
    token = logits[:, -1].argmax(-1, keepdim=True)
    sync()
    t1 = time.perf_counter()
    for _ in range(n):
        logits, caches = step(token, caches)
        token = logits[:, -1].argmax(-1, keepdim=True)
        sync()  # as token.item() would in a real decoder
    return t1 - t0, time.perf_counter() - t1


def median_generate(generate, n):
    generate(min(n, 2))  # warm-up
    runs = [generate(n) for _ in range(max(1, ARGS.reps // 5))]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def check_llama():
    shape = dict(layers=2, dims=32, hidden=64, heads=4, vocab=50)
    t_model = TorchLlama(**shape).to(tdev()).eval()
    lz_model = LzLlama(**shape)
    copy_weights(lz_model, t_model)
    tokens = torch.randint(0, 50, (1, 7), device=tdev())
    with torch.inference_mode():
        t_logits, t_caches = t_model(tokens)
        lz_logits, lz_caches = lz_model(to_lz(tokens).astype(mx.int32))
        assert_close("llama prefill logits", lz_logits, t_logits)
        nxt = torch.tensor([[3]], device=tdev())
        assert_close("llama decode-step logits (KV cache, RoPE offset)",
                     lz_model(to_lz(nxt).astype(mx.int32), lz_caches)[0], t_model(nxt, t_caches)[0])


def bench_llama():
    shape, n_prompt, n_gen = llama_shape()
    what = (f"Llama decode ({shape['layers']} layers, {shape['dims']} wide, MLP {shape['hidden']}), "
            f"batch 1, prompt {n_prompt}, {n_gen} new tokens")
    prompt = np.random.default_rng(0).integers(0, shape["vocab"], (1, n_prompt))
    # Each framework's weights live only inside its function: Lazuli's are freed before
    # PyTorch's are made.
    lz_results = lz_decode_times(shape, prompt, n_gen)
    free_lazuli()
    for t_mode, (t_prefill, t_decode) in torch_decode_times(shape, prompt, n_gen).items():
        for lz_mode, (lz_prefill, lz_decode) in lz_results.items():
            row(f"{what}: decode, Lazuli {lz_mode} vs PyTorch {half()} {t_mode}", lz_decode, t_decode, "tok", n_gen)
            row(f"{what}: prefill, Lazuli {lz_mode} vs PyTorch {half()} {t_mode}", lz_prefill, t_prefill, "tok",
                n_prompt)


def lz_decode_times(shape, prompt, n_gen):
    """{mode: (prefill s, decode s)} for the float16 (CPU: bfloat16) model, then quantized."""
    results = {}
    model = lz_llama(shape, getattr(mx, half()))
    lz_prompt = mx.array(prompt.astype(np.int32))
    for mode in [half(), "4-bit g64"]:
        if mode != half():
            nn.quantize(model, group_size=64, bits=4)
            mx.eval(model.parameters())
            free_lazuli()
        results[mode] = median_generate(lambda n: lz_generate(model, lz_prompt, n), n_gen)
        log(f"lazuli {mode}: prefill {results[mode][0] * 1e3:.1f} ms, decode {n_gen / results[mode][1]:.1f} tok/s")
    return results


def torch_decode_times(shape, prompt, n_gen):
    """{mode: (prefill s, decode s)} for PyTorch eager and, with --torch-compile, compiled."""
    t_model = torch_llama(shape, TORCH_DTYPE[half()])
    t_prompt = torch.from_numpy(prompt).to(tdev())
    makers = {"eager": lambda: t_model}
    if ARGS.torch_compile:
        makers["torch.compile"] = lambda: torch.compile(t_model, dynamic=True)
    results = {}
    for mode, make in makers.items():
        try:
            step = make()
            with torch.inference_mode():
                results[mode] = median_generate(lambda n: torch_generate(step, t_prompt, n), n_gen)
        except Exception as e:  # torch.compile is optional; report and go on
            log(f"torch {mode} failed: {type(e).__name__}: {e}")
    return results


# ---------------------------------------------------------------- driver

BENCHES = {"mlp": (check_mlp, bench_mlp), "bert": (check_bert, bench_bert), "resnet": (check_resnet, bench_resnet),
           "llama": (check_llama, bench_llama)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["gpu", "cpu"], default="gpu")
    p.add_argument("--small", action="store_true", help="tiny shapes, for smoke tests")
    p.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only this model (repeatable)")
    p.add_argument("--reps", type=int, default=10, help="timed runs per case (llama: reps/5 generations)")
    p.add_argument("--no-check", action="store_true", help="skip the tiny same-weights agreement checks")
    p.add_argument("--no-compile", action="store_true", help="Lazuli training steps eager, not mx.compile")
    p.add_argument("--channels-last", action="store_true", help="PyTorch ResNet in channels_last memory format")
    p.add_argument("--torch-compile", action="store_true", help="also time torch.compile for llama decoding")
    p.add_argument("--layers", type=int, default=32, help="llama layers")
    p.add_argument("--dim", type=int, default=4096, help="llama width")
    p.add_argument("--hidden", type=int, default=11008, help="llama MLP width")
    p.add_argument("--heads", type=int, default=32, help="llama heads")
    p.add_argument("--vocab", type=int, default=32000, help="llama vocabulary")
    p.add_argument("--prompt", type=int, default=128, help="llama prompt tokens")
    p.add_argument("--generate", type=int, default=128, help="llama generated tokens")
    return p.parse_args(argv)


def main():
    global ARGS
    ARGS = parse_args()
    mx.set_default_device(mx.gpu if ARGS.device == "gpu" else mx.cpu)
    torch.manual_seed(0)
    mx.random.seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 checks compare IEEE float32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    failures = []
    for name in ARGS.only or list(BENCHES):
        # A model that fails (its check or its run) is reported and the others still run;
        # one whose check fails is not timed, as the two sides would be different models.
        check, bench = BENCHES[name]
        for stage, fn in [("check", None if ARGS.no_check else check), ("benchmark", bench)]:
            if fn is None:
                continue
            try:
                fn()
            except Exception as e:
                traceback.print_exc()
                failures.append(f"{name} {stage}: {type(e).__name__}: {e}")
                break
            finally:  # the model is gone with fn's frame; its memory goes back now
                free_lazuli()
                free_torch()
    device = torch.cuda.get_device_name() if ARGS.device == "gpu" else "CPU"
    print(f"\nModels on {device}; PyTorch {torch.__version__}; one process, medians of {ARGS.reps}"
          f"{' (--small shapes)' if ARGS.small else ''}.\n")
    print("| case | Lazuli ms | PyTorch ms | Lazuli rate | PyTorch rate | speed vs PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for case, lz_ms, t_ms, lz_r, t_r, ratio in ROWS:
        print(f"| {case} | {lz_ms:.3f} | {t_ms:.3f} | {lz_r} | {t_r} | {ratio:.2f}× |")
    print("\nms: one timed run (a training step, a forward pass, a whole prefill or decode of all new tokens).")
    for failure in failures:
        print(f"\nFAILED {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
