"""Positional encodings: RoPE, SinusoidalPositionalEncoding, ALiBi."""
__all__ = []
