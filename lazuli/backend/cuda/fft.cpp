// CUDA backend: the FFT primitive through cuFFT. Lines along the axis are gathered into a
// dense [lines][length] buffer unless they already are one (the last axis of a row-major
// input), transformed as one batched cuFFT plan, and scattered back when the axis is not
// the last; inverse kinds are scaled by 1/n as the CPU does. Plans are cached per Lazuli
// stream by (n, lines, type) and bound to its CUDA stream.
#include <cufft.h>

#include <map>
#include <mutex>
#include <tuple>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/backend/cuda/cuda_check.h"
#include "lazuli/backend/cuda/fft.h"
#include "lazuli/backend/cuda/host.h"
#include "lazuli/primitives/fft.h"

namespace lazuli::cuda {
namespace {

void check_cufft(cufftResult r, const char* call) {
  if (r != CUFFT_SUCCESS) throw std::runtime_error(std::string("[cuda] ") + call + " failed: cuFFT error " + std::to_string(int(r)) + ".");
}
#define LAZULI_CUFFT_CHECK(call) check_cufft((call), #call)

constexpr size_t kPlansPerStream = 16;  // past this a stream's plans are all destroyed

// The plan of `lines` dense transforms of length n of `type` for this Lazuli stream, bound
// to its CUDA stream. Each stream runs on one thread and every node ends synchronised, so
// dropping a stream's plans never cuts short a transform in flight.
cufftHandle fft_plan(const GpuContext& ctx, int64_t n, int64_t lines, cufftType type) {
  using Key = std::tuple<int64_t, int64_t, int>;
  static std::mutex mutex;
  static auto* plans = new std::map<int, std::map<Key, cufftHandle>>;  // never destroyed
  std::lock_guard<std::mutex> lock(mutex);
  auto& mine = (*plans)[ctx.stream_index];
  Key key{n, lines, static_cast<int>(type)};
  auto it = mine.find(key);
  if (it == mine.end()) {
    if (mine.size() >= kPlansPerStream) {
      for (auto& [k, plan] : mine) cufftDestroy(plan);
      mine.clear();
    }
    cufftHandle plan;
    LAZULI_CUFFT_CHECK(cufftCreate(&plan));
    long long len = n;
    size_t work = 0;
    cufftResult r = cufftMakePlanMany64(plan, 1, &len, nullptr, 1, 0, nullptr, 1, 0, type, lines, &work);
    if (r != CUFFT_SUCCESS) cufftDestroy(plan);
    LAZULI_CUFFT_CHECK(r);
    it = mine.emplace(key, plan).first;
  }
  LAZULI_CUFFT_CHECK(cufftSetStream(it->second, ctx.stream));
  return it->second;
}

// `shape` with `axis` moved last, and the dims' order that does it.
std::vector<int> axis_last_order(int nd, int axis) {
  std::vector<int> order;
  for (int d = 0; d < nd; ++d)
    if (d != axis) order.push_back(d);
  order.push_back(axis);
  return order;
}

void eval_fft(FFT& p, const std::vector<array>& inputs, std::vector<array>& outs, const GpuContext& ctx) {
  const array& in = inputs[0];
  array& out = outs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  const FFTKind kind = p.kind();
  const bool real_in = kind == FFTKind::RealForward, real_out = kind == FFTKind::RealInverse;
  Dtype expected = real_in ? float32 : complex64;
  if (in.dtype() != expected)
    throw std::invalid_argument("[fft] the FFT primitive expects " + dtype_name(expected) + " input, got " +
                                dtype_name(in.dtype()) + ".");
  const int nd = static_cast<int>(in.ndim()), axis = p.axis();
  const int64_t n = p.n(), in_len = in.shape(axis), out_len = out.shape(axis);
  const int64_t lines = static_cast<int64_t>(out.size()) / out_len;
  const cudaStream_t s = ctx.stream;
  const std::vector<int> order = axis_last_order(nd, axis);
  const bool axis_last = axis == nd - 1;

  // The input lines, dense. cuFFT's complex-to-real transform overwrites its input, and
  // the CPU ignores the imaginary parts of X_0 and X_{n/2}: always a copy, those cleared.
  array src = in;
  if (!axis_last || !row_major_dense(in) || real_out) {
    Shape shape;
    Strides strides;
    for (int d : order) shape.push_back(in.shape(d)), strides.push_back(in.strides(d));
    src = array(shape, in.dtype(), nullptr, {});
    cpu::allocate(src);
    copy_strided(data_of(in), strides, shape, in.dtype(), src.raw_data(), s, "fft");
  }
  if (real_out)
    launch_clear_imag(static_cast<float*>(src.raw_data()), lines, in_len, 0, n % 2 == 0 ? n / 2 : -1, s);

  // The result lines: straight into the output when the axis is its last.
  array res = out;
  if (!axis_last) {
    Shape shape;
    for (int d : order) shape.push_back(out.shape(d));
    res = array(shape, out.dtype(), nullptr, {});
    cpu::allocate(res);
  }
  void* x = const_cast<void*>(data_of(src));
  void* y = res.raw_data();
  switch (kind) {
    case FFTKind::Forward:
    case FFTKind::Inverse:
      LAZULI_CUFFT_CHECK(cufftExecC2C(fft_plan(ctx, n, lines, CUFFT_C2C), static_cast<cufftComplex*>(x),
                                      static_cast<cufftComplex*>(y),
                                      kind == FFTKind::Forward ? CUFFT_FORWARD : CUFFT_INVERSE));
      break;
    case FFTKind::RealForward:
      LAZULI_CUFFT_CHECK(cufftExecR2C(fft_plan(ctx, n, lines, CUFFT_R2C), static_cast<cufftReal*>(x),
                                      static_cast<cufftComplex*>(y)));
      break;
    case FFTKind::RealInverse:
      LAZULI_CUFFT_CHECK(cufftExecC2R(fft_plan(ctx, n, lines, CUFFT_C2R), static_cast<cufftComplex*>(x),
                                      static_cast<cufftReal*>(y)));
      break;
  }
  if (kind == FFTKind::Inverse || real_out) {
    int64_t floats = static_cast<int64_t>(res.size()) * (real_out ? 1 : 2);
    launch_scale_floats(static_cast<float*>(y), floats, 1.0f / static_cast<float>(n), s);
  }
  if (!axis_last) {  // scatter: res's strides, in out's order of dims
    Strides res_strides(nd);
    for (int i = 0; i < nd; ++i) res_strides[order[i]] = res.strides(i);
    copy_strided(res.raw_data(), res_strides, out.shape(), out.dtype(), out.raw_data(), s, "fft");
  }
  LAZULI_CUDA_CHECK(cudaStreamSynchronize(s));  // before the temporaries are freed
}

}  // namespace

LAZULI_GPU_KERNEL(FFT, eval_fft);

}  // namespace lazuli::cuda
