// Bindings of lazuli::nn's positional encodings and attention into lazuli.core._nn.
#include "nn_ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "convert.h"
#include "lazuli/nn/functional.h"

using lz::array;
namespace py = lz::py;
namespace fn = lz::nn;

void init_nn_transformer_ops(nb::module_& m) {
  m.def(
      "sinusoidal_frequencies",
      [](int dims, double min_freq, double max_freq, bool full_turns) {
        return fn::sinusoidal_frequencies(dims, min_freq, max_freq, full_turns);
      },
      "dims"_a, "min_freq"_a = 1e-4, "max_freq"_a = 1.0, "full_turns"_a = false);
  m.def(
      "sinusoidal_positional_encoding",
      [](nb::handle x, nb::handle sigmas, double scale, bool cos_first) {
        return fn::sinusoidal_positional_encoding(py::to_array(x), py::to_array(sigmas), scale, cos_first);
      },
      "x"_a, "sigmas"_a, "scale"_a, "cos_first"_a = false);
  m.def("alibi_slope", [](int num_heads) { return fn::alibi_slope(num_heads); }, "num_heads"_a);
  m.def(
      "alibi_matrix",
      [](int q_len, int k_len, int num_heads, int offset, lz::Dtype dtype) {
        return fn::alibi_matrix(q_len, k_len, num_heads, offset, dtype);
      },
      "q_sequence_length"_a, "k_sequence_length"_a, "num_heads"_a, "offset"_a, "dtype"_a = lz::float32);
  m.def(
      "alibi",
      [](nb::handle scores, int offset, nb::handle mask) {
        return fn::alibi(py::to_array(scores), offset, opt_array(mask));
      },
      "attention_scores"_a, "offset"_a = 0, "mask"_a = nb::none());
  m.def(
      "additive_causal_mask", [](int n, lz::Dtype dtype) { return fn::additive_causal_mask(n, dtype); }, "N"_a,
      "dtype"_a = lz::float32);
  m.def(
      "multi_head_attention",
      [](nb::handle queries, nb::handle keys, nb::handle values, int num_heads, nb::handle query_weight,
         nb::handle key_weight, nb::handle value_weight, nb::handle out_weight, nb::handle query_bias,
         nb::handle key_bias, nb::handle value_bias, nb::handle out_bias, nb::handle mask) {
        fn::AttentionWeights w{py::to_array(query_weight), py::to_array(key_weight), py::to_array(value_weight),
                               py::to_array(out_weight),   opt_array(query_bias),    opt_array(key_bias),
                               opt_array(value_bias),      opt_array(out_bias)};
        // mask: None, "causal" or an array, as fast.scaled_dot_product_attention takes it.
        bool causal = nb::isinstance<nb::str>(mask);
        std::string mode = causal ? nb::cast<std::string>(mask) : "";
        return fn::multi_head_attention(py::to_array(queries), py::to_array(keys), py::to_array(values), num_heads, w,
                                        mode, causal ? std::nullopt : opt_array(mask));
      },
      "queries"_a, "keys"_a, "values"_a, "num_heads"_a, "query_weight"_a, "key_weight"_a, "value_weight"_a,
      "out_weight"_a, "query_bias"_a.none(), "key_bias"_a.none(), "value_bias"_a.none(), "out_bias"_a.none(),
      "mask"_a = nb::none());
}
