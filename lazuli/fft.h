// Discrete Fourier transforms (MLX's mx.fft). Float and complex inputs give complex64
// (integer and bool inputs are promoted to float32 first); irfft* give float32. `n` / `s`
// truncate or zero-pad the transformed axes, as in NumPy; the inverse transforms are
// normalised by 1/n. Lengths of any size: mixed radix 2/3/4/5 and odd radices, Bluestein's
// algorithm for lengths with large prime factors.
#pragma once
#include <vector>

#include "lazuli/array.h"
#include "lazuli/device.h"

namespace lazuli::fft {

using S = StreamOrDevice;

// n-dimensional transforms over `axes` with sizes `n` (the same length as `axes`).
array fftn(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array fftn(const array& a, const std::vector<int>& axes, S s = {});
array fftn(const array& a, S s = {});  // every axis
array ifftn(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array ifftn(const array& a, const std::vector<int>& axes, S s = {});
array ifftn(const array& a, S s = {});

array fft(const array& a, int n, int axis, S s = {});
array fft(const array& a, int axis = -1, S s = {});
array ifft(const array& a, int n, int axis, S s = {});
array ifft(const array& a, int axis = -1, S s = {});

array fft2(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array fft2(const array& a, const std::vector<int>& axes = {-2, -1}, S s = {});
array ifft2(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array ifft2(const array& a, const std::vector<int>& axes = {-2, -1}, S s = {});

// Real input: the last of `axes` keeps its non-negative frequencies (n/2 + 1 of them).
array rfftn(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array rfftn(const array& a, const std::vector<int>& axes, S s = {});
array rfftn(const array& a, S s = {});
array rfft(const array& a, int n, int axis, S s = {});
array rfft(const array& a, int axis = -1, S s = {});
array rfft2(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array rfft2(const array& a, const std::vector<int>& axes = {-2, -1}, S s = {});

// Inverses of the real transforms: `n` is the length of the real output along the last
// axis (default 2 * (length - 1)).
array irfftn(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array irfftn(const array& a, const std::vector<int>& axes, S s = {});
array irfftn(const array& a, S s = {});
array irfft(const array& a, int n, int axis, S s = {});
array irfft(const array& a, int axis = -1, S s = {});
array irfft2(const array& a, const Shape& n, const std::vector<int>& axes, S s = {});
array irfft2(const array& a, const std::vector<int>& axes = {-2, -1}, S s = {});

// Sample frequencies (float32) of an n-point transform with sample spacing d.
array fftfreq(int n, double d = 1.0, S s = {});
array rfftfreq(int n, double d = 1.0, S s = {});

// The zero frequency moved to the centre (and back) along `axes` (default: all).
array fftshift(const array& a, const std::vector<int>& axes, S s = {});
array fftshift(const array& a, S s = {});
array ifftshift(const array& a, const std::vector<int>& axes, S s = {});
array ifftshift(const array& a, S s = {});

}  // namespace lazuli::fft
