// Quantized layers in functional form, on weights packed by lazuli::quantize.
#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"
#include "lazuli/quantized.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {
// y + bias, bias (if any) of shape (y.shape(-1),).
array add_bias(const array& y, const OptArray& bias, const char* op, S s) {
  if (!bias) return y;
  if (bias->ndim() != 1 || bias->shape(0) != y.shape(-1))
    fail(op, "bias must have shape (" + std::to_string(y.shape(-1)) + ",), got shape " + shape_str(bias->shape()) + ".");
  return add(y, *bias, s);
}
}  // namespace

array quantized_linear(const array& x, const array& w, const array& scales, const OptArray& biases,
                       const OptArray& bias, int group_size, int bits, const std::string& mode, S s) {
  return add_bias(quantized_matmul(x, w, scales, biases, true, group_size, bits, mode, s), bias, "quantized_linear", s);
}

array qq_linear(const array& x, const array& w, const OptArray& scales, const OptArray& bias, int group_size, int bits,
                const std::string& mode, S s) {
  return add_bias(qqmm(x, w, scales, group_size, bits, mode, std::nullopt, std::nullopt, s), bias, "qq_linear", s);
}

array quantized_embedding(const array& indices, const array& w, const array& scales, const OptArray& biases,
                          int group_size, int bits, const std::string& mode, S s) {
  if (!is_integral(indices.dtype()) || indices.dtype() == bool_)
    fail("quantized_embedding", "indices must be integers.");
  // Only the looked-up rows are dequantized.
  auto rows = [&](const array& a) { return take(a, indices, 0, s); };
  return dequantize(rows(w), rows(scales), biases ? OptArray(rows(*biases)) : std::nullopt, group_size, bits, mode,
                    std::nullopt, std::nullopt, s);
}

}  // namespace lazuli::nn
