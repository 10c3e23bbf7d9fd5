"""Optimizers with MLX's API (``mlx.optimizers``). Each class keeps its hyper-parameters and a
state tree that mirrors the parameters; the per-parameter update is one call into C++
(lazuli.core._nn), which returns the new parameter and state arrays as a lazy graph."""
from typing import Callable, List, Optional, Tuple, Union

import lazuli.core as mx
from lazuli.core import _nn
from lazuli.utils import tree_flatten, tree_map, tree_merge, tree_unflatten

__all__ = [
    "Optimizer", "MultiOptimizer", "SGD", "RMSprop", "Adagrad", "AdaDelta", "Adam", "AdamW", "Adamax",
    "Lion", "Adafactor", "Muon", "clip_grad_norm",
]

Schedulable = Union[float, mx.array, Callable[[mx.array], mx.array]]


class Optimizer:
    """Base class: holds ``state`` (a dict with ``step``, the scheduled hyper-parameters such as
    ``learning_rate``, and one sub-dict per parameter) and applies ``apply_single`` to every
    parameter. Subclasses define ``init_single`` and ``apply_single``."""

    def __init__(self, schedulers=None):
        self._initialized = False
        self._state = {"step": mx.array(0, mx.uint64)}
        self._schedulers = dict(schedulers or {})

    def update(self, model, gradients: dict):
        """Applies the gradients to the parameters of ``model`` and updates it in place."""
        model.update(self.apply_gradients(gradients, model))

    def init(self, parameters: dict):
        """Creates the state of every parameter of the tree ``parameters`` not yet in it
        (optional: the first update does it)."""

        def add_missing(params, state):
            if isinstance(params, (list, tuple)):
                state = list(state)
                for i in range(len(state)):
                    state[i] = add_missing(params[i], state[i])
                state.extend(tree_map(lambda _: {}, params[len(state):]))
                return type(params)(state)
            if isinstance(params, dict):
                for k, v in params.items():
                    state[k] = add_missing(v, state[k]) if k in state else tree_map(lambda _: {}, v)
            return state

        add_missing(parameters, self._state)
        tree_map(lambda p, s: s or self.init_single(p, s), parameters, self._state)
        self._initialized = True

    def init_single(self, parameter: mx.array, state: dict):
        """Fills ``state`` with the initial state of one parameter."""
        raise NotImplementedError()

    def apply_gradients(self, gradients: dict, parameters: dict):
        """The updated parameters (a tree shaped as ``gradients``; ``parameters`` may hold more)."""
        if not self._initialized:
            self.init(gradients)
        for name, scheduler in self._schedulers.items():
            self.state[name] = scheduler(self.step)
        self.state["step"] = self.step + 1
        return tree_map(self.apply_single, gradients, parameters, self.state)

    def apply_single(self, gradient: mx.array, parameter: mx.array, state: dict):
        """The updated ``parameter``; updates ``state`` in place."""
        raise NotImplementedError()

    @property
    def state(self):
        return self._state

    @state.setter
    def state(self, state: dict):
        self._initialized = False
        self._state = state

    @property
    def step(self):
        return self.state["step"]

    @property
    def learning_rate(self):
        return self.state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, learning_rate: Union[float, mx.array]):
        self.state["learning_rate"] = mx.array(learning_rate)

    def _maybe_schedule(self, name: str, param: Schedulable):
        """Stores hyper-parameter ``name``: a value, or a schedule evaluated at each step."""
        if callable(param):
            self._schedulers[name] = param
            value = param(self.step)
        else:
            value = mx.array(param)
        self.state[name] = value


def _store(state: dict, names, values):
    for name, value in zip(names, values):
        state[name] = value


class MultiOptimizer(Optimizer):
    """Several optimizers over one tree: the parameter at dotted path ``k`` goes to the first
    optimizer whose filter ``filters[i](k, gradient)`` is true, else to the last one."""

    def __init__(self, optimizers, filters: list = []):
        super().__init__()
        self._state = {}
        if len(filters) != len(optimizers) - 1:
            raise ValueError(f"Given {len(filters)} filters but {len(optimizers) - 1} needed.")
        self.optimizers = optimizers
        self.filters = list(filters) + [lambda *args, **kwargs: True]

    def _split_dictionary(self, gradients: dict):
        if len(self.optimizers) == 1:
            return [gradients]
        parts = [[] for _ in self.optimizers]
        for k, g in tree_flatten(gradients):
            for i, accepts in enumerate(self.filters):
                if accepts(k, g):
                    parts[i].append((k, g))
                    break
        return [tree_unflatten(p) for p in parts]

    def init(self, parameters: dict):
        for o, p in zip(self.optimizers, self._split_dictionary(parameters)):
            o.init(p)

    def apply_gradients(self, gradients: dict, parameters: dict):
        tree = {}
        for o, g in zip(self.optimizers, self._split_dictionary(gradients)):
            tree = tree_merge(tree, o.apply_gradients(g, parameters))
        return tree

    @property
    def state(self):
        return {"states": [o.state for o in self.optimizers]}

    @state.setter
    def state(self, state: dict):
        if "states" not in state or len(state["states"]) != len(self.optimizers):
            raise ValueError("Invalid state provided")
        for o, s in zip(self.optimizers, state["states"]):
            o.state = s

    @property
    def learning_rate(self):
        return self.optimizers[0].learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Union[float, mx.array]):
        for o in self.optimizers:
            o.learning_rate = learning_rate


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
    weight decay (added to the gradient)."""

    def __init__(self, learning_rate: Schedulable, momentum: float = 0.0, weight_decay: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        new, (v,) = _nn.sgd(parameter, gradient, state["v"], self.learning_rate, self.momentum,
                            self.weight_decay, self.dampening, self.nesterov)
        state["v"] = v
        return new


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps)."""

    def __init__(self, learning_rate: Schedulable, alpha: float = 0.99, eps: float = 1e-8):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.alpha = alpha
        self.eps = eps
        if self.alpha < 0.0:
            raise ValueError(f"RMSprop alpha should be >=0, {self.alpha} was provided instead")
        if self.eps < 0.0:
            raise ValueError(f"RMSprop epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        new, (v,) = _nn.rmsprop(parameter, gradient, state["v"], self.learning_rate, self.alpha, self.eps)
        state["v"] = v
        return new


class Adagrad(Optimizer):
    """v += g^2; w -= lr g / (sqrt(v) + eps)."""

    def __init__(self, learning_rate: Schedulable, eps: float = 1e-8):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps
        if self.eps < 0.0:
            raise ValueError(f"Adagrad epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        new, (v,) = _nn.adagrad(parameter, gradient, state["v"], self.learning_rate, self.eps)
        state["v"] = v
        return new


class AdaDelta(Optimizer):
    """AdaDelta: running averages v of g^2 and u of the squared steps."""

    def __init__(self, learning_rate: Schedulable, rho: float = 0.9, eps: float = 1e-6):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.rho = rho
        self.eps = eps
        if self.rho < 0.0:
            raise ValueError(f"AdaDelta rho should be >=0, {self.rho} was provided instead")
        if self.eps < 0.0:
            raise ValueError(f"AdaDelta epsilon should be >0, {self.eps} was provided instead")

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)
        state["u"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        new, values = _nn.adadelta(parameter, gradient, state["v"], state["u"], self.learning_rate, self.rho,
                                   self.eps)
        _store(state, ("v", "u"), values)
        return new


class Adam(Optimizer):
    """Adam; ``bias_correction`` (default False, as MLX) divides by 1 - beta^step."""

    def __init__(self, learning_rate: Schedulable, betas: List[float] = [0.9, 0.999], eps: float = 1e-8,
                 bias_correction: bool = False):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.eps = eps
        self.bias_correction = bias_correction

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        new, values = _nn.adam(parameter, gradient, state["m"], state["v"], self.learning_rate, self.step, b1, b2,
                               self.eps, self.bias_correction)
        _store(state, ("m", "v"), values)
        return new


class AdamW(Adam):
    """Adam with decoupled weight decay: w is first scaled by 1 - lr weight_decay."""

    def __init__(self, learning_rate: Schedulable, betas: List[float] = [0.9, 0.999], eps: float = 1e-8,
                 weight_decay: float = 0.01, bias_correction: bool = False):
        super().__init__(learning_rate=learning_rate, betas=betas, eps=eps, bias_correction=bias_correction)
        self.weight_decay = weight_decay

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        new, values = _nn.adamw(parameter, gradient, state["m"], state["v"], self.learning_rate, self.step, b1,
                                b2, self.eps, self.weight_decay, self.bias_correction)
        _store(state, ("m", "v"), values)
        return new


class Adamax(Adam):
    """Adam with the infinity norm: v = max(beta2 v, |g|); w -= lr m / (v + eps)."""

    def __init__(self, learning_rate: Schedulable, betas: List[float] = [0.9, 0.999], eps: float = 1e-8):
        super().__init__(learning_rate, betas, eps)
        if not 0.0 <= eps:
            raise ValueError(f"Epsilon value should be >=0, {self.eps} was provided instead")

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        new, values = _nn.adamax(parameter, gradient, state["m"], state["v"], self.learning_rate, b1, b2, self.eps)
        _store(state, ("m", "v"), values)
        return new


class Lion(Optimizer):
    """Lion: w -= lr (sign(beta1 m + (1 - beta1) g) + weight_decay w)."""

    def __init__(self, learning_rate: Schedulable, betas: List[float] = [0.9, 0.99], weight_decay: float = 0.0):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.betas = betas
        self.weight_decay = weight_decay

    def init_single(self, parameter, state):
        state["m"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        b1, b2 = self.betas
        new, (m,) = _nn.lion(parameter, gradient, state["m"], self.learning_rate, b1, b2, self.weight_decay)
        state["m"] = m
        return new


class Adafactor(Optimizer):
    """Adafactor: a factored (row and column) second moment for matrices, relative step sizes."""

    def __init__(self, learning_rate: Optional[Schedulable] = None, eps: Tuple[float, float] = (1e-30, 1e-3),
                 clip_threshold: float = 1.0, decay_rate: float = -0.8, beta_1: Optional[float] = None,
                 weight_decay: float = 0.0, scale_parameter: bool = True, relative_step: bool = True,
                 warmup_init: bool = False):
        super().__init__()
        if learning_rate is not None:
            self._maybe_schedule("learning_rate", learning_rate)
        self.eps = eps
        self.clip_threshold = clip_threshold
        self.decay_rate = decay_rate
        self.beta_1 = beta_1
        self.weight_decay = weight_decay
        self.scale_parameter = scale_parameter
        self.relative_step = relative_step
        self.warmup_init = warmup_init

    def _state_names(self, parameter):
        names = ["exp_avg_sq_row", "exp_avg_sq_col"] if parameter.ndim >= 2 else ["exp_avg_sq"]
        return names + (["exp_avg"] if self.beta_1 is not None else [])

    def init_single(self, parameter, state):
        _store(state, self._state_names(parameter), _nn.adafactor_init(parameter, self.beta_1))

    def apply_single(self, gradient, parameter, state):
        names = self._state_names(gradient)
        lr = self.state.get("learning_rate")
        new, values = _nn.adafactor(parameter, gradient, [state[n] for n in names], lr, self.step, self.eps[0],
                                    self.eps[1], self.clip_threshold, self.decay_rate, self.beta_1,
                                    self.weight_decay, self.scale_parameter, self.relative_step, self.warmup_init)
        _store(state, names, values)
        return new


class Muon(Optimizer):
    """Muon: momentum SGD whose update of each matrix (ndim >= 2, flattened to 2-D) is
    orthogonalised by a Newton-Schulz iteration."""

    def __init__(self, learning_rate: Schedulable, momentum: float = 0.95, weight_decay: float = 0.01,
                 nesterov: bool = True, ns_steps: int = 5):
        super().__init__()
        self._maybe_schedule("learning_rate", learning_rate)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.ns_steps = ns_steps

    def init_single(self, parameter, state):
        state["v"] = mx.zeros_like(parameter)

    def apply_single(self, gradient, parameter, state):
        new, (v,) = _nn.muon(parameter, gradient, state["v"], self.learning_rate, self.momentum,
                             self.weight_decay, self.nesterov, self.ns_steps)
        state["v"] = v
        return new


def clip_grad_norm(grads, max_norm: float):
    """Scales the gradient tree so its total L2 norm is at most ``max_norm``; returns
    ``(clipped gradients, total norm before clipping)``."""
    leaves = [g for _, g in tree_flatten(grads)]
    clipped, total_norm = _nn.clip_grad_norm(leaves, max_norm)
    # tree_map visits the leaves in tree_flatten's order, so the structure is kept exactly.
    replacements = iter(clipped)
    return tree_map(lambda _: next(replacements), grads), total_norm
