// The FFT primitive: a discrete Fourier transform of one length along one axis. The ops in
// lazuli/fft.h resize the axis (truncate or zero-pad) and cast first, and chain one FFT
// node per axis for the 2-D and n-D transforms.
#pragma once
#include "lazuli/primitives.h"

namespace lazuli {

enum class FFTKind {
  Forward,         // complex64 -> complex64, X_k = sum_j x_j e^{-2 pi i jk/n}
  Inverse,         // complex64 -> complex64, with e^{+2 pi i jk/n} and 1/n
  RealForward,     // float32 (n) -> complex64 (n/2 + 1): the non-negative frequencies
  RealInverse,     // complex64 (n/2 + 1) -> float32 (n), Hermitian extension, 1/n
};

class FFT : public Primitive {
 public:
  // n: the transform length (the length of the real side for the real kinds).
  FFT(Stream s, int axis, int n, FFTKind kind) : Primitive(s), axis_(axis), n_(n), kind_(kind) {}
  std::string name() const override { return "FFT"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) const override;
  bool is_equivalent(const Primitive& other) const override;
  LAZULI_TRANSFORMS(FFT)
  void write(Writer& w) const override { w.i32(axis_), w.i32(n_), w.enumeration(kind_); }

  int axis() const { return axis_; }
  int n() const { return n_; }
  FFTKind kind() const { return kind_; }

 private:
  int axis_;
  int n_;
  FFTKind kind_;
};

}  // namespace lazuli
