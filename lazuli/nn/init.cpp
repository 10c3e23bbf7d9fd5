// Parameter initialisers (MLX's nn.init): new arrays of a given shape.
#include <cmath>

#include "lazuli/linalg.h"
#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn::init {

using namespace lazuli::detail;

array constant(const Shape& shape, double value, Dtype dtype, S s) { return full(shape, array(value), dtype, s); }

array normal(const Shape& shape, double mean, double std, Dtype dtype, const random::Key& key, S s) {
  return random::normal(shape, dtype, mean, std, key, s);
}

array uniform(const Shape& shape, double low, double high, Dtype dtype, const random::Key& key, S s) {
  return random::uniform(array(low), array(high), shape, dtype, key, s);
}

array identity(const Shape& shape, Dtype dtype, S s) {
  if (shape.size() != 2 || shape[0] != shape[1])
    fail("init.identity", "the array must be a square matrix but got shape " + shape_str(shape) + ".");
  return eye(shape[0], dtype, s);
}

std::pair<int64_t, int64_t> fan_in_fan_out(const Shape& shape) {
  if (shape.size() < 2)
    fail("init", "Glorot / He initialisation needs at least 2 dimensions, got shape " + shape_str(shape) + ".");
  int64_t receptive = 1;
  for (size_t i = 1; i + 1 < shape.size(); ++i) receptive *= shape[i];
  return {int64_t(shape.back()) * receptive, int64_t(shape[0]) * receptive};
}

namespace {
int64_t fan_of(const Shape& shape, const std::string& mode, const char* op) {
  auto [fan_in, fan_out] = fan_in_fan_out(shape);
  if (mode == "fan_in") return fan_in;
  if (mode == "fan_out") return fan_out;
  fail(op, "invalid mode '" + mode + "'; expected 'fan_in' or 'fan_out'.");
}
}  // namespace

array glorot_normal(const Shape& shape, double gain, Dtype dtype, const random::Key& key, S s) {
  auto [fan_in, fan_out] = fan_in_fan_out(shape);
  return normal(shape, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)), dtype, key, s);
}

array glorot_uniform(const Shape& shape, double gain, Dtype dtype, const random::Key& key, S s) {
  auto [fan_in, fan_out] = fan_in_fan_out(shape);
  double limit = gain * std::sqrt(6.0 / double(fan_in + fan_out));
  return uniform(shape, -limit, limit, dtype, key, s);
}

array he_normal(const Shape& shape, const std::string& mode, double gain, Dtype dtype, const random::Key& key,
                S s) {
  double fan = double(fan_of(shape, mode, "init.he_normal"));
  return normal(shape, 0.0, gain / std::sqrt(fan), dtype, key, s);
}

array he_uniform(const Shape& shape, const std::string& mode, double gain, Dtype dtype, const random::Key& key,
                 S s) {
  double limit = gain * std::sqrt(3.0 / double(fan_of(shape, mode, "init.he_uniform")));
  return uniform(shape, -limit, limit, dtype, key, s);
}

array sparse(const Shape& shape, double sparsity, double mean, double std, Dtype dtype, const random::Key& key,
             S s) {
  const char* op = "init.sparse";
  if (shape.size() != 2) fail(op, "only 2-d arrays are supported, got shape " + shape_str(shape) + ".");
  if (!(sparsity >= 0 && sparsity <= 1)) fail(op, "sparsity must be in [0, 1], got " + std::to_string(sparsity) + ".");
  int num_zeros = int(std::ceil(sparsity * shape[1]));
  std::optional<array> k_order, k_values;
  if (key) {
    auto [a, b] = random::split(*key, s);
    k_order = a;
    k_values = b;
  }
  // The rank of each element among random keys of its row: the num_zeros lowest are zeroed,
  // a uniformly random choice of positions per row.
  array order = argsort(random::uniform(shape, float32, k_order, s), 1, s);
  array rank = argsort(order, 1, s);
  array values = normal(shape, mean, std, dtype, k_values, s);
  return where(less(rank, array(num_zeros, uint32), s), zeros_like(values, s), values, s);
}

array orthogonal(const Shape& shape, double gain, Dtype dtype, const random::Key& key, S s) {
  if (shape.size() != 2)
    fail("init.orthogonal", "orthogonal initialisation needs a 2-d array, got shape " + shape_str(shape) + ".");
  int rows = shape[0], cols = shape[1];
  int n = std::max(rows, cols);
  std::vector<array> qr = linalg::qr(random::normal({n, n}, float32, 0.0, 1.0, key, s), s);
  // Signs of R's diagonal make the factorisation unique, so Q is Haar-distributed.
  array q = multiply(qr[0], sign(diagonal(qr[1], 0, 0, 1, s), s), s);
  q = slice(q, {0, 0}, {rows, cols}, s);
  return astype(multiply(q, array(gain, float32), s), dtype, s);
}

}  // namespace lazuli::nn::init
