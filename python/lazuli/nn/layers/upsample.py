"""Upsample and the upsample_nearest, upsample_linear, upsample_cubic functions."""
__all__ = []
