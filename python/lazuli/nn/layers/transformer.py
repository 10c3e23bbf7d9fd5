"""Attention and transformers: MultiHeadAttention, Transformer{Encoder,Decoder}{,Layer}, Transformer.

Attention's math is C++ (lazuli.core._nn.multi_head_attention over
lazuli.core.fast.scaled_dot_product_attention); the transformer layers wire attention,
LayerNorm, Linear and Dropout modules together as MLX's do."""
import math
from typing import Any, Callable, Optional

import lazuli.core as mx
from lazuli.core import _nn

from ..utils import checkpoint
from .activations import relu
from .base import Module
from .dropout import Dropout
from .linear import Linear
from .normalization import LayerNorm

__all__ = [
    "MultiHeadAttention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "TransformerDecoder",
    "Transformer",
]


class MultiHeadAttention(Module):
    """Scaled dot-product attention over ``num_heads`` heads, with queries, keys, values
    and output linearly projected (no biases unless ``bias``). ``mask`` is None, "causal",
    or an additive or boolean array broadcastable to (batch, heads, queries, keys)."""

    def __init__(self, dims: int, num_heads: int, query_input_dims: Optional[int] = None,
                 key_input_dims: Optional[int] = None, value_input_dims: Optional[int] = None,
                 value_dims: Optional[int] = None, value_output_dims: Optional[int] = None, bias: bool = False):
        super().__init__()
        if dims % num_heads != 0:
            raise ValueError(f"[MultiHeadAttention] dims ({dims}) must be divisible by num_heads ({num_heads}).")
        query_input_dims = query_input_dims or dims
        key_input_dims = key_input_dims or dims
        value_input_dims = value_input_dims or key_input_dims
        value_dims = value_dims or dims
        value_output_dims = value_output_dims or dims
        self.num_heads = num_heads
        self.query_proj = Linear(query_input_dims, dims, bias=bias)
        self.key_proj = Linear(key_input_dims, dims, bias=bias)
        self.value_proj = Linear(value_input_dims, value_dims, bias=bias)
        self.out_proj = Linear(value_dims, value_output_dims, bias=bias)

    def __call__(self, queries, keys, values, mask=None):
        projections = (self.query_proj, self.key_proj, self.value_proj, self.out_proj)
        weights = [p["weight"] for p in projections]
        biases = [p.get("bias") for p in projections]
        return _nn.multi_head_attention(queries, keys, values, self.num_heads, *weights, *biases, mask)

    @staticmethod
    def create_additive_causal_mask(N: int, dtype: mx.Dtype = mx.float32):
        """(N, N): 0 where key <= query, the lowest finite value of dtype elsewhere."""
        return _nn.additive_causal_mask(N, dtype)


def _feed_forward(layer, x, dropout):
    """The layer's MLP block: linear2(dropout(activation(linear1(x))))."""
    return layer.linear2(dropout(layer.activation(layer.linear1(x))))


class TransformerEncoderLayer(Module):
    """Self-attention and an MLP (``mlp_dims``, default 4 * dims), each in a residual
    branch with LayerNorm before (``norm_first``) or after the sum."""

    def __init__(self, dims: int, num_heads: int, mlp_dims: Optional[int] = None, dropout: float = 0.0,
                 activation: Callable[[Any], Any] = relu, norm_first: bool = True):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def __call__(self, x, mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.attention(y, y, y, mask))
            return x + _feed_forward(self, self.ln2(x), self.dropout2)
        x = self.ln1(x + self.dropout1(self.attention(x, x, x, mask)))
        return self.ln2(x + _feed_forward(self, x, self.dropout2))


class TransformerDecoderLayer(Module):
    """Self-attention, attention to the encoder's output (memory) and an MLP, each in a
    residual branch with LayerNorm before (``norm_first``) or after the sum."""

    def __init__(self, dims: int, num_heads: int, mlp_dims: Optional[int] = None, dropout: float = 0.0,
                 activation: Callable[[Any], Any] = relu, norm_first: bool = True):
        super().__init__()
        mlp_dims = mlp_dims or dims * 4
        self.self_attention = MultiHeadAttention(dims, num_heads)
        self.cross_attention = MultiHeadAttention(dims, num_heads)
        self.ln1 = LayerNorm(dims)
        self.ln2 = LayerNorm(dims)
        self.ln3 = LayerNorm(dims)
        self.linear1 = Linear(dims, mlp_dims)
        self.linear2 = Linear(mlp_dims, dims)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = activation
        self.norm_first = norm_first

    def __call__(self, x, memory, x_mask, memory_mask):
        if self.norm_first:
            y = self.ln1(x)
            x = x + self.dropout1(self.self_attention(y, y, y, x_mask))
            y = self.ln2(x)
            x = x + self.dropout2(self.cross_attention(y, memory, memory, memory_mask))
            return x + _feed_forward(self, self.ln3(x), self.dropout3)
        y = self.dropout1(self.self_attention(x, x, x, x_mask))
        x = self.ln1(x + y)
        # As in MLX (whose weights and outputs we match), the post-norm cross-attention
        # queries are the self-attention branch y rather than the normalised sum x.
        y = self.dropout2(self.cross_attention(y, memory, memory, memory_mask))
        x = self.ln2(x + y)
        return self.ln3(x + _feed_forward(self, x, self.dropout3))


class _LayerStack(Module):
    """num_layers layers of one kind, then a LayerNorm; ``checkpoint`` recomputes each
    layer's intermediate values in the backward pass instead of keeping them."""

    def __init__(self, layer_type, num_layers, dims, num_heads, mlp_dims, dropout, activation, norm_first,
                 checkpoint):
        super().__init__()
        self.layers = [layer_type(dims, num_heads, mlp_dims, dropout, activation, norm_first)
                       for _ in range(num_layers)]
        self.ln = LayerNorm(dims)
        self.checkpoint = checkpoint

    def _run(self, x, *args):
        for layer in self.layers:
            x = (checkpoint(layer) if self.checkpoint else layer)(x, *args)
        return self.ln(x)


class TransformerEncoder(_LayerStack):
    """A stack of TransformerEncoderLayer and a final LayerNorm."""

    def __init__(self, num_layers: int, dims: int, num_heads: int, mlp_dims: Optional[int] = None,
                 dropout: float = 0.0, activation=relu, norm_first: bool = True, checkpoint: bool = False):
        super().__init__(TransformerEncoderLayer, num_layers, dims, num_heads, mlp_dims, dropout, activation,
                         norm_first, checkpoint)

    def __call__(self, x, mask):
        return self._run(x, mask)


class TransformerDecoder(_LayerStack):
    """A stack of TransformerDecoderLayer and a final LayerNorm."""

    def __init__(self, num_layers: int, dims: int, num_heads: int, mlp_dims: Optional[int] = None,
                 dropout: float = 0.0, activation=relu, norm_first: bool = True, checkpoint: bool = False):
        super().__init__(TransformerDecoderLayer, num_layers, dims, num_heads, mlp_dims, dropout, activation,
                         norm_first, checkpoint)

    def __call__(self, x, memory, x_mask, memory_mask):
        return self._run(x, memory, x_mask, memory_mask)


class Transformer(Module):
    """An encoder (custom_encoder or a TransformerEncoder) whose output is the memory of a
    decoder (custom_decoder or a TransformerDecoder)."""

    def __init__(self, dims: int = 512, num_heads: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, mlp_dims: Optional[int] = None, dropout: float = 0.0,
                 activation: Callable[[Any], Any] = relu, custom_encoder: Optional[Any] = None,
                 custom_decoder: Optional[Any] = None, norm_first: bool = True, checkpoint: bool = False):
        super().__init__()
        settings = (dims, num_heads, mlp_dims, dropout, activation, norm_first, checkpoint)
        self.encoder = custom_encoder or TransformerEncoder(num_encoder_layers, *settings)
        self.decoder = custom_decoder or TransformerDecoder(num_decoder_layers, *settings)

    def __call__(self, src, tgt, src_mask, tgt_mask, memory_mask):
        memory = self.encoder(src, src_mask)
        return self.decoder(tgt, memory, tgt_mask, memory_mask)
