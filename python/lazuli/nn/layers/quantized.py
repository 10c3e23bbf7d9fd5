"""Quantized layers and nn.quantize."""
__all__ = []
