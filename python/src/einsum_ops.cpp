// Python bindings of einsum, einsum_path, block_masked_mm, gather_mm, segmented_mm, hadamard_transform, window functions.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "lazuli/einsum.h"

using lz::array;
namespace py = lz::py;

using py::stream_of;

namespace {

std::vector<array> operands_of(const nb::args& ops) {
  std::vector<array> out;
  for (nb::handle h : ops) out.push_back(py::to_array(h));
  return out;
}

// (*operands, stream=None): the one keyword einsum takes besides its positionals.
nb::handle stream_kwarg(const nb::kwargs& kw, const char* op) {
  for (auto [k, v] : kw) {
    std::string key = nb::cast<std::string>(k);
    if (key != "stream") py::type_error(std::string(op) + "() got an unexpected keyword argument '" + key + "'");
  }
  return kw.contains("stream") ? nb::handle(kw["stream"]) : nb::none();
}

std::optional<array> opt_array(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return py::to_array(h);
}

}  // namespace

void init_einsum_ops(nb::module_& m) {
  m.def(
      "einsum",
      [](const std::string& subscripts, nb::args operands, nb::kwargs kw) {
        nb::handle s = stream_kwarg(kw, "einsum");
        return lz::einsum(subscripts, operands_of(operands), stream_of(s));
      },
      "subscripts"_a, "operands"_a, "kwargs"_a,
      nb::sig("def einsum(subscripts: str, *operands, stream: Union[None, Stream, Device] = None) -> array"),
      "Einstein summation over the operands ('ij,jk->ik', implicit output, '...' broadcasting).");
  m.def(
      "einsum_path",
      [](const std::string& subscripts, nb::args operands) {
        auto [path, info] = lz::einsum_path(subscripts, operands_of(operands));
        nb::list out;
        for (const auto& step : path) {
          nb::list t;
          for (int i : step) t.append(i);
          out.append(nb::tuple(t));
        }
        return nb::make_tuple(out, info);
      },
      "subscripts"_a, "operands"_a,
      nb::sig("def einsum_path(subscripts: str, *operands) -> tuple[list[tuple[int, ...]], str]"),
      "The contraction order einsum uses (NumPy's path format) and a report of its cost.");

  m.def(
      "block_masked_mm",
      [](nb::handle a, nb::handle b, int block_size, nb::handle mask_out, nb::handle mask_lhs, nb::handle mask_rhs,
         nb::handle s) {
        return lz::block_masked_mm(py::to_array(a), py::to_array(b), block_size, opt_array(mask_out),
                                   opt_array(mask_lhs), opt_array(mask_rhs), stream_of(s));
      },
      "a"_a, "b"_a, nb::arg("block_size") = 64, nb::arg("mask_out").none() = nb::none(),
      nb::arg("mask_lhs").none() = nb::none(), nb::arg("mask_rhs").none() = nb::none(), nb::kw_only(),
      "stream"_a = nb::none(),
      "Matrix multiplication with block_size x block_size blocks of the inputs and output masked (bool) or "
      "scaled (float) by the masks.");
  m.def(
      "gather_mm",
      [](nb::handle a, nb::handle b, nb::handle lhs_indices, nb::handle rhs_indices, bool sorted_indices,
         nb::handle s) {
        return lz::gather_mm(py::to_array(a), py::to_array(b), opt_array(lhs_indices), opt_array(rhs_indices),
                             sorted_indices, stream_of(s));
      },
      "a"_a, "b"_a, nb::arg("lhs_indices").none() = nb::none(), nb::arg("rhs_indices").none() = nb::none(),
      nb::kw_only(), "sorted_indices"_a = false, "stream"_a = nb::none(),
      "Matrix multiplication of the matrices of a and b picked by flat indices into their batch dimensions.");
  m.def(
      "segmented_mm",
      [](nb::handle a, nb::handle b, nb::handle segments, nb::handle s) {
        return lz::segmented_mm(py::to_array(a), py::to_array(b), py::to_array(segments), stream_of(s));
      },
      "a"_a, "b"_a, "segments"_a, nb::kw_only(), "stream"_a = nb::none(),
      "a[:, start:end] @ b[start:end] for each (start, end) pair along the last axis of segments.");
  m.def(
      "hadamard_transform",
      [](nb::handle a, std::optional<float> scale, nb::handle s) {
        return lz::hadamard_transform(py::to_array(a), scale, stream_of(s));
      },
      "a"_a, "scale"_a.none() = nb::none(), "stream"_a = nb::none(),
      "The Walsh-Hadamard transform along the last axis (n = m * 2^k, m in 1, 12, 20, 28), times scale "
      "(default 1/sqrt(n)).");

  struct Window {
    const char* name;
    array (*fn)(int, lz::StreamOrDevice);
    const char* doc;
  };
  const Window windows[] = {
      {"bartlett", &lz::bartlett, "The Bartlett (triangular) window of M points, as NumPy's."},
      {"hanning", &lz::hanning, "The Hann window of M points, as NumPy's hanning."},
      {"hamming", &lz::hamming, "The Hamming window of M points, as NumPy's."},
      {"blackman", &lz::blackman, "The Blackman window of M points, as NumPy's."},
  };
  for (const Window& w : windows)
    m.def(
        w.name, [fn = w.fn](int M, nb::handle s) { return fn(M, stream_of(s)); }, "M"_a, nb::kw_only(),
        "stream"_a = nb::none(), w.doc);
}
