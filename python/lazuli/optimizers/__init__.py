"""lazuli.optimizers: MLX's ``mlx.optimizers`` API. The update math of each optimizer is C++
(lazuli/nn/optimizers.h, reached through lazuli.core._nn); these classes keep the state tree."""
from .optimizers import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
