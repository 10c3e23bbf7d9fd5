// lazuli.core.fast: MLX's fused fast ops (lazuli/fast.h), with MLX's Python signatures.
#include "nn_ops.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "convert.h"

using lz::array;
namespace py = lz::py;

namespace {

// The arguments of a cuda_kernel call, converted with the messages MLX users expect.
std::vector<array> cuda_kernel_inputs(nb::handle inputs) {
  std::vector<array> out;
  for (nb::handle x : inputs) out.push_back(py::to_array(x));
  return out;
}
std::vector<lz::Shape> cuda_kernel_shapes(nb::handle shapes) {
  std::vector<lz::Shape> out;
  for (nb::handle shape : shapes) out.push_back(py::to_shape(shape));
  return out;
}
std::vector<lz::Dtype> cuda_kernel_dtypes(nb::handle dtypes) {
  std::vector<lz::Dtype> out;
  for (nb::handle t : dtypes) {
    if (!nb::isinstance<lz::Dtype>(t))
      py::type_error("[cuda_kernel] output_dtypes must be Dtypes, not " + py::py_type_name(t) + ".");
    out.push_back(nb::cast<lz::Dtype>(t));
  }
  return out;
}
std::array<int, 3> launch_dims(nb::handle dims, const char* what) {
  std::vector<int> v;
  for (nb::handle d : dims) v.push_back(nb::cast<int>(d));
  if (v.size() != 3)
    throw std::invalid_argument(std::string("[cuda_kernel] ") + what + " must have 3 entries (x, y, z), not " +
                                std::to_string(v.size()) + ".");
  return {v[0], v[1], v[2]};
}
// template=[("T", mx.float32), ("N", 3), ("flag", True)]
std::vector<std::pair<std::string, lz::fast::TemplateArg>> template_arguments(nb::handle args, const std::string& kernel) {
  std::vector<std::pair<std::string, lz::fast::TemplateArg>> out;
  if (args.is_none()) return out;
  for (nb::handle pair : args) {
    if (nb::len(pair) != 2) throw std::invalid_argument("[cuda_kernel] template arguments are (name, value) pairs.");
    std::string name = nb::cast<std::string>(pair[0]);
    nb::handle value = pair[1];
    if (nb::isinstance<nb::bool_>(value)) out.emplace_back(name, nb::cast<bool>(value));
    else if (nb::isinstance<nb::int_>(value)) out.emplace_back(name, nb::cast<int>(value));
    else if (nb::isinstance<lz::Dtype>(value)) out.emplace_back(name, nb::cast<lz::Dtype>(value));
    else
      throw std::invalid_argument("[cuda_kernel] kernel '" + kernel + "': template argument '" + name + "' is a " +
                                  py::py_type_name(value) + "; it must be an int, a bool or a Dtype.");
  }
  return out;
}

}  // namespace

void init_fast(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fast", "Fused fast ops: rms_norm, layer_norm, rope, attention.");
  m.def(
      "rms_norm",
      [](nb::handle x, nb::handle weight, float eps, nb::handle s) {
        return lz::fast::rms_norm(py::to_array(x), opt_array(weight), eps, py::stream_of(s));
      },
      "x"_a, "weight"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none(),
      "x / sqrt(mean(x^2) + eps) over the last axis, times weight (None: no scaling).");
  m.def(
      "layer_norm",
      [](nb::handle x, nb::handle weight, nb::handle bias, float eps, nb::handle s) {
        return lz::fast::layer_norm(py::to_array(x), opt_array(weight), opt_array(bias), eps, py::stream_of(s));
      },
      "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, nb::kw_only(), "stream"_a = nb::none(),
      "(x - mean) / sqrt(var + eps) over the last axis, times weight plus bias (either may be None).");
  m.def(
      "rope",
      [](nb::handle a, int dims, bool traditional, std::optional<float> base, float scale, nb::handle offset,
         nb::handle freqs, nb::handle s) {
        // offset: an int, or an integer array (scalar or one per batch entry).
        array off = nb::isinstance<nb::int_>(offset) ? array(nb::cast<int>(offset), lz::int32) : py::to_array(offset);
        return lz::fast::rope(py::to_array(a), dims, traditional, base, scale, off, opt_array(freqs), py::stream_of(s));
      },
      "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
      "freqs"_a = nb::none(), "stream"_a = nb::none(),
      "Rotary positional encoding of the first dims features of a (batch, ..., sequence, features); exactly one "
      "of base and freqs is given.");
  m.def(
      "scaled_dot_product_attention",
      [](nb::handle q, nb::handle k, nb::handle v, float scale, nb::handle mask, nb::handle sinks, bool force_fused,
         nb::handle s) {
        (void)force_fused;  // accepted as MLX's API lists it; there is no fused kernel to force yet
        std::string mode;
        std::optional<array> mask_array;
        if (nb::isinstance<nb::str>(mask)) {
          mode = nb::cast<std::string>(mask);
          if (mode != "causal")
            throw std::invalid_argument("[scaled_dot_product_attention] invalid mask option '" + mode +
                                        "'; it must be 'causal', an array or None.");
        } else {
          mask_array = opt_array(mask);
        }
        return lz::fast::scaled_dot_product_attention(py::to_array(q), py::to_array(k), py::to_array(v), scale, mode,
                                                      mask_array, opt_array(sinks), py::stream_of(s));
      },
      "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a = nb::none(), "sinks"_a = nb::none(),
      "force_fused"_a = false, "stream"_a = nb::none(),
      "softmax(scale * q k^T + mask) v over (batch, heads, sequence, features) inputs; mask None, 'causal' or an "
      "array (bool: keep where true; otherwise additive); grouped-query heads; optional per-head sinks.");

  m.def(
      "cuda_kernel",
      [](const std::string& name, const std::vector<std::string>& input_names,
         const std::vector<std::string>& output_names, const std::string& source, const std::string& header,
         bool ensure_row_contiguous, int shared_memory, bool atomic_outputs) {
        auto kernel = lz::fast::cuda_kernel(name, input_names, output_names, source, header, ensure_row_contiguous,
                                            shared_memory, atomic_outputs);
        return nb::cpp_function(
            [kernel, name](nb::handle inputs, nb::handle output_shapes, nb::handle output_dtypes, nb::handle grid,
                           nb::handle threadgroup, nb::handle template_args, std::optional<float> init_value,
                           bool verbose, nb::handle s) {
              return kernel(cuda_kernel_inputs(inputs), cuda_kernel_shapes(output_shapes),
                            cuda_kernel_dtypes(output_dtypes), launch_dims(grid, "grid"),
                            launch_dims(threadgroup, "threadgroup"), template_arguments(template_args, name),
                            init_value, verbose, py::stream_of(s));
            },
            nb::kw_only(), "inputs"_a, "output_shapes"_a, "output_dtypes"_a, "grid"_a, "threadgroup"_a,
            "template"_a = nb::none(), "init_value"_a = nb::none(), "verbose"_a = false, "stream"_a = nb::none());
      },
      "name"_a, "input_names"_a, "output_names"_a, "source"_a, "header"_a = "", "ensure_row_contiguous"_a = true,
      "shared_memory"_a = 0, "atomic_outputs"_a = false,
      "A custom CUDA kernel from the body `source` (Lazuli writes the signature), compiled at run time with NVRTC. "
      "Returns a callable kernel(*, inputs, output_shapes, output_dtypes, grid, threadgroup, template=None, "
      "init_value=None, verbose=False, stream=None) -> list of arrays; grid counts threads, as in MLX. Runs on "
      "the GPU only; see docs/gpu.md.");
}
