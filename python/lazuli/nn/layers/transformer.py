"""Attention and transformers: MultiHeadAttention, Transformer{Encoder,Decoder}{,Layer}, Transformer."""
__all__ = []
