// Python bindings of mx.fft.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <vector>

#include "convert.h"
#include "lazuli/fft.h"

using lz::array;
namespace py = lz::py;
namespace fft = lz::fft;

using py::stream_of;

namespace {

using OneAxisN = array (*)(const array&, int, int, lz::StreamOrDevice);
using OneAxis = array (*)(const array&, int, lz::StreamOrDevice);
using ManyAxesN = array (*)(const array&, const lz::Shape&, const std::vector<int>&, lz::StreamOrDevice);
using ManyAxes = array (*)(const array&, const std::vector<int>&, lz::StreamOrDevice);
using AllAxes = array (*)(const array&, lz::StreamOrDevice);

// s and axes as NumPy takes them: axes None means every axis (or the last len(s) ones).
array many_axes(ManyAxesN with_n, ManyAxes with_axes, AllAxes all, const array& a, nb::handle s_obj,
                nb::handle axes_obj, lz::StreamOrDevice s) {
  std::optional<std::vector<int>> axes = py::to_axes(axes_obj);
  if (s_obj.is_none()) return axes ? with_axes(a, *axes, s) : all(a, s);
  lz::Shape n = py::to_shape(s_obj);
  if (!axes) {
    // The last len(s) axes (the op names the error when the array has fewer).
    axes.emplace();
    for (int i = -static_cast<int>(n.size()); i < 0; ++i) axes->push_back(i);
  }
  return with_n(a, n, *axes, s);
}

}  // namespace

void init_fft(nb::module_& parent) {
  nb::module_ m = parent.def_submodule("fft", "Discrete Fourier transforms.");

  struct One {
    const char* name;
    OneAxisN with_n;
    OneAxis plain;
    const char* doc;
  };
  const One one[] = {
      {"fft", &fft::fft, &fft::fft, "One-dimensional discrete Fourier transform along an axis (complex64)."},
      {"ifft", &fft::ifft, &fft::ifft, "One-dimensional inverse discrete Fourier transform, normalised by 1/n."},
      {"rfft", &fft::rfft, &fft::rfft,
       "One-dimensional transform of a real input: the n // 2 + 1 non-negative frequencies."},
      {"irfft", &fft::irfft, &fft::irfft,
       "Inverse of rfft: a real (float32) output of length n (default 2 * (a.shape[axis] - 1))."},
  };
  for (const One& op : one)
    m.def(
        op.name,
        [op](nb::handle a, std::optional<int> n, int axis, nb::handle s) {
          array x = py::to_array(a);
          return n ? op.with_n(x, *n, axis, stream_of(s)) : op.plain(x, axis, stream_of(s));
        },
        "a"_a, "n"_a.none() = nb::none(), "axis"_a = -1, nb::kw_only(), "stream"_a = nb::none(), op.doc);

  struct Many {
    const char* name;
    ManyAxesN with_n;
    ManyAxes with_axes;
    AllAxes all;
    bool two;  // axes default to (-2, -1)
    const char* doc;
  };
  const Many many[] = {
      {"fft2", &fft::fft2, &fft::fft2, &fft::fftn, true, "Two-dimensional discrete Fourier transform."},
      {"ifft2", &fft::ifft2, &fft::ifft2, &fft::ifftn, true, "Two-dimensional inverse discrete Fourier transform."},
      {"fftn", &fft::fftn, &fft::fftn, &fft::fftn, false, "n-dimensional discrete Fourier transform."},
      {"ifftn", &fft::ifftn, &fft::ifftn, &fft::ifftn, false, "n-dimensional inverse discrete Fourier transform."},
      {"rfft2", &fft::rfft2, &fft::rfft2, &fft::rfftn, true, "Two-dimensional transform of a real input."},
      {"irfft2", &fft::irfft2, &fft::irfft2, &fft::irfftn, true, "Inverse of rfft2 (float32 output)."},
      {"rfftn", &fft::rfftn, &fft::rfftn, &fft::rfftn, false,
       "n-dimensional transform of a real input; the last axis keeps n // 2 + 1 frequencies."},
      {"irfftn", &fft::irfftn, &fft::irfftn, &fft::irfftn, false, "Inverse of rfftn (float32 output)."},
  };
  for (const Many& op : many) {
    auto f = [op](nb::handle a, nb::handle s_obj, nb::handle axes, nb::handle s) {
      return many_axes(op.with_n, op.with_axes, op.all, py::to_array(a), s_obj, axes, stream_of(s));
    };
    if (op.two)
      m.def(op.name, f, "a"_a, "s"_a.none() = nb::none(), "axes"_a.none() = std::vector<int>{-2, -1}, nb::kw_only(),
            "stream"_a = nb::none(), op.doc);
    else
      m.def(op.name, f, "a"_a, "s"_a.none() = nb::none(), "axes"_a.none() = nb::none(), nb::kw_only(),
            "stream"_a = nb::none(), op.doc);
  }

  m.def(
      "fftfreq", [](int n, double d, nb::handle s) { return fft::fftfreq(n, d, stream_of(s)); }, "n"_a, "d"_a = 1.0,
      nb::kw_only(), "stream"_a = nb::none(), "Sample frequencies (float32) of an n-point DFT with sample spacing d.");
  m.def(
      "rfftfreq", [](int n, double d, nb::handle s) { return fft::rfftfreq(n, d, stream_of(s)); }, "n"_a,
      "d"_a = 1.0, nb::kw_only(), "stream"_a = nb::none(),
      "The n // 2 + 1 non-negative sample frequencies (float32) of an n-point rfft.");

  using Shift = array (*)(const array&, const std::vector<int>&, lz::StreamOrDevice);
  using ShiftAll = array (*)(const array&, lz::StreamOrDevice);
  struct ShiftOp {
    const char* name;
    Shift axes;
    ShiftAll all;
    const char* doc;
  };
  const ShiftOp shifts[] = {
      {"fftshift", &fft::fftshift, &fft::fftshift, "Moves the zero frequency to the centre of the spectrum."},
      {"ifftshift", &fft::ifftshift, &fft::ifftshift, "The inverse of fftshift."},
  };
  for (const ShiftOp& op : shifts)
    m.def(
        op.name,
        [op](nb::handle a, nb::handle axes_obj, nb::handle s) {
          array x = py::to_array(a);
          auto axes = py::to_axes(axes_obj);
          return axes ? op.axes(x, *axes, stream_of(s)) : op.all(x, stream_of(s));
        },
        "a"_a, "axes"_a.none() = nb::none(), nb::kw_only(), "stream"_a = nb::none(), op.doc);
}
