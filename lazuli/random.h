// Random numbers: counter-based (Threefry-2x32 with 20 rounds), with explicit keys as in
// MLX and JAX. A key is a uint32 array of shape (2,). Every sampler takes an optional key;
// without one it splits the global key (set with `seed`). Element i of a draw depends only
// on the key and i, so results are the same on any device and thread count.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "lazuli/ops.h"

namespace lazuli::random {

using Key = std::optional<array>;

// The Threefry-2x32-20 block function on one (key, counter) pair: the generator's core,
// exposed so that it can be checked against the Random123 reference vectors.
std::array<uint32_t, 2> threefry2x32_20(std::array<uint32_t, 2> key, std::array<uint32_t, 2> counter);

// A key made from a seed: (seed >> 32, seed & 0xffffffff) as uint32.
array key(uint64_t seed);
// Seeds the global key.
void seed(uint64_t value);
// The global key as an array of shape (2,) (MLX's `mx.random.state[0]`).
array global_key();
// Replaces the global key (MLX's `mx.random.state[0] = key`). The key may be a lazy or
// traced array: then the draws that use the global key split it lazily.
void set_global_key(const array& key);
// Two new keys from `key`, or `num` of them as an array of shape (num, 2).
std::pair<array, array> split(const array& key, S s = {});
array split(const array& key, int num, S s = {});

// Random bits: `width` bytes (1, 2 or 4) per element, as uint8, uint16 or uint32.
array bits(const Shape& shape, int width = 4, const Key& key = std::nullopt, S s = {});

// Uniform in [low, high); low and high broadcast to `shape`. dtype: a floating type.
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const Key& key = std::nullopt, S s = {});
array uniform(const Shape& shape, Dtype dtype = float32, const Key& key = std::nullopt, S s = {});

// Normal with mean `loc` and standard deviation `scale` (erfinv of a uniform, as MLX).
array normal(const Shape& shape, Dtype dtype, const std::optional<array>& loc, const std::optional<array>& scale,
             const Key& key = std::nullopt, S s = {});
array normal(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0,
             const Key& key = std::nullopt, S s = {});

// Standard normal truncated to [lower, upper]; the shape defaults to theirs broadcast.
array truncated_normal(const array& lower, const array& upper, const std::optional<Shape>& shape = std::nullopt,
                       Dtype dtype = float32, const Key& key = std::nullopt, S s = {});

// True with probability p; the shape defaults to p's.
array bernoulli(const array& p, const std::optional<Shape>& shape = std::nullopt, const Key& key = std::nullopt,
                S s = {});
array bernoulli(double p = 0.5, const std::optional<Shape>& shape = std::nullopt, const Key& key = std::nullopt,
                S s = {});

// Integers uniform in [low, high). The int overload checks low < high.
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const Key& key = std::nullopt, S s = {});
array randint(int64_t low, int64_t high, const Shape& shape, Dtype dtype = int32, const Key& key = std::nullopt,
              S s = {});

// Samples from the categorical distribution with unnormalised log-probabilities `logits`
// along `axis`: of `shape` (broadcast with the other axes of logits), or `num_samples` per
// row (appended as the last axis). Gives uint32 indices.
array categorical(const array& logits, int axis = -1, const std::optional<Shape>& shape = std::nullopt,
                  const Key& key = std::nullopt, S s = {});
array categorical(const array& logits, int axis, int num_samples, const Key& key = std::nullopt, S s = {});

// Standard Gumbel: -log(-log(u)) for u uniform in (0, 1).
array gumbel(const Shape& shape, Dtype dtype = float32, const Key& key = std::nullopt, S s = {});

// Laplace with location `loc` and scale `scale`.
array laplace(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0,
              const Key& key = std::nullopt, S s = {});

// A random permutation of arange(n) (uint32), or of x along `axis`.
array permutation(int n, const Key& key = std::nullopt, S s = {});
array permutation(const array& x, int axis = 0, const Key& key = std::nullopt, S s = {});

// Multivariate normal with mean (..., n) and covariance (..., n, n) (symmetric positive
// semi-definite); samples have shape `shape` + (n,), shape broadcast with the batch axes.
array multivariate_normal(const array& mean, const array& cov, const Shape& shape = {}, Dtype dtype = float32,
                          const Key& key = std::nullopt, S s = {});

}  // namespace lazuli::random
