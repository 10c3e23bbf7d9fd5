// CUDA backend: quantization kernels. Quantize and dequantize run one thread per group / per
// eight codes with the scalar rules of backend/common/quant.h, so they give the CPU's bits.
// The matrix-vector kernel (affine 4- and 8-bit, the decode step of a quantized model) reads
// each row of packed weights once with 16-byte loads and turns codes into floats without
// conversion instructions: a code masked where it sits in a word, ORed into the mantissa of
// a float whose exponent makes the code's lowest bit worth 1, is 2^e + code exactly; one
// subtraction leaves the code. sum(x * (s*q + b)) = s * sum(x*q) + b * sum(x) keeps the bias
// out of the inner loop.
#include "lazuli/backend/common/quant.h"
#include "lazuli/backend/cuda/device_util.cuh"
#include "lazuli/backend/cuda/quantized.h"

namespace lazuli::cuda {
namespace {

using quant::dequantized;

// ---- quantize ----------------------------------------------------------------------------

// Thread per group: its values are read twice (range, then codes) and its codes packed into
// the gs * bits / 32 words the group owns (groups start on a word).
template <typename T>
__global__ void quantize_kernel(const T* w, int64_t groups, int gs, int bits, QuantizationMode mode,
                                const float* global_ptr, uint32_t* wq, void* scales, T* biases) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float global = global_ptr ? *global_ptr : 0.f;
  LAZULI_GRID_STRIDE(g, groups) {
    const T* v = w + g * gs;
    float scale, bias = 0.f;
    if (mode == QuantizationMode::Affine) {
      float lo = INFINITY, hi = -INFINITY;
      for (int j = 0; j < gs; ++j) {
        float x = static_cast<float>(load(v[j]));
        lo = quant::min_of(lo, x), hi = quant::max_of(hi, x);
      }
      auto grp = quant::affine_group(lo, hi, n_bins);
      scale = grp.scale, bias = grp.bias;
      static_cast<T*>(scales)[g] = convert<T>(scale);
      biases[g] = convert<T>(bias);
    } else {
      float amax = 0.f;
      for (int j = 0; j < gs; ++j) amax = quant::max_of(amax, fabsf(static_cast<float>(load(v[j]))));
      auto grp = mode == QuantizationMode::Nvfp4 ? quant::nvfp4_group(amax, global) : quant::mx_group(amax, bits);
      scale = grp.scale;
      static_cast<uint8_t*>(scales)[g] = grp.code;
    }
    uint32_t* out = wq + g * gs * bits / 32;
    uint64_t pending = 0;  // codes not yet stored, lowest first
    int filled = 0;
    for (int j = 0; j < gs; ++j) {
      float x = static_cast<float>(load(v[j]));
      uint32_t code;
      if (mode == QuantizationMode::Affine) code = quant::affine_code(x, bias, scale, n_bins);
      else code = quant::fp_code(scale != 0.f ? x / scale : 0.f, bits);
      pending |= uint64_t{code} << filled;
      filled += bits;
      if (filled >= 32) {
        *out++ = static_cast<uint32_t>(pending);
        pending >>= 32;
        filled -= 32;
      }
    }
  }
}

// ---- dequantize --------------------------------------------------------------------------

enum class Codes { Affine, Fp4, E4m3 };

template <Codes C>
__device__ float code_value(uint32_t c) {
  if constexpr (C == Codes::Affine) return static_cast<float>(c);
  else if constexpr (C == Codes::Fp4) return quant::fp4_value(c);
  else return quant::e4m3_decode(static_cast<uint8_t>(c));
}

// Thread per eight codes: they fill exactly `Bits` bytes of the row's bit stream.
template <int Bits, Codes C, typename Out>
__global__ void dequantize_kernel(const uint32_t* w, int64_t chunks, int64_t len, int gs, const void* scales,
                                  const float* biases, bool nvfp4, const float* global_ptr, Out* out) {
  const int64_t chunks_per_row = len / 8, groups = len / gs;
  const float factor = quant::nvfp4_factor(global_ptr ? *global_ptr : 0.f);
  constexpr uint64_t mask = (uint64_t{1} << Bits) - 1;
  LAZULI_GRID_STRIDE(c, chunks) {
    int64_t row = c / chunks_per_row, j = (c - row * chunks_per_row) * 8;
    const uint8_t* src = reinterpret_cast<const uint8_t*>(w + row * (len * Bits / 32)) + j * Bits / 8;
    uint64_t u = 0;
    for (int i = 0; i < Bits; ++i) u |= uint64_t{src[i]} << (8 * i);
    int64_t g = row * groups + j / gs;
    float s, b = 0.f;
    if constexpr (C == Codes::Affine) {
      s = static_cast<const float*>(scales)[g], b = biases[g];
    } else {
      s = quant::fp_scale(static_cast<const uint8_t*>(scales)[g], nvfp4, factor);
    }
    Out* d = out + row * len + j;
#pragma unroll
    for (int k = 0; k < 8; ++k)
      d[k] = convert<Out>(dequantized(code_value<C>(static_cast<uint32_t>((u >> (k * Bits)) & mask)), s, b));
  }
}

template <int Bits, Codes C>
void dequantize_typed(const uint32_t* w, int64_t rows, int64_t len, const QuantParams& p, const void* scales,
                      const float* biases, const float* global, Dtype out_t, void* out, cudaStream_t s) {
  int64_t chunks = rows * (len / 8);
  dispatch(out_t, "dequantize", [&](auto o) {
    using O = decltype(o);
    if constexpr (std::is_floating_point_v<O> || is_half_v<O>) {
      dequantize_kernel<Bits, C, O><<<blocks_for(chunks), kThreads, 0, s>>>(
          w, chunks, len, p.group_size, scales, biases, p.mode == QuantizationMode::Nvfp4, global, static_cast<O*>(out));
      check_launch("dequantize");
    } else {
      throw std::invalid_argument("[dequantize] Only floating output types are supported.");
    }
  });
}

// ---- matrix-vector products (affine 4 and 8 bits) ------------------------------------------

// The field of `Bits` bits at bit `Shift` of w as a float: ORed into the mantissa of
// 2^(23 - Shift), whose lowest mantissa bit the field's lowest bit then weighs 1, and that
// power of two taken off again. Exact; needs Shift + Bits <= 23.
template <int Bits, int Shift>
__device__ __forceinline__ float field(uint32_t w) {
  static_assert(Shift + Bits <= 23, "the field must lie in the mantissa");
  constexpr uint32_t exponent = (150u - Shift) << 23;
  constexpr float power = static_cast<float>(1u << (23 - Shift));
  return __uint_as_float(exponent | (w & (((1u << Bits) - 1) << Shift))) - power;
}

// The 32 / Bits codes of one word, in order.
template <int Bits>
__device__ __forceinline__ void word_codes(uint32_t w, float* v) {
  if constexpr (Bits == 4) {
    uint32_t hi = w >> 12;  // nibbles 5..7 move to where 2..4 were
    v[0] = field<4, 0>(w), v[1] = field<4, 4>(w), v[2] = field<4, 8>(w), v[3] = field<4, 12>(w);
    v[4] = field<4, 16>(w), v[5] = field<4, 8>(hi), v[6] = field<4, 12>(hi), v[7] = field<4, 16>(hi);
  } else {
    uint32_t hi = w >> 16;
    v[0] = field<8, 0>(w), v[1] = field<8, 8>(w), v[2] = field<8, 0>(hi), v[3] = field<8, 8>(hi);
  }
}

// n (a multiple of 8) values of x as floats, in 16-byte loads.
template <typename T, int n>
__device__ __forceinline__ void load_x(const T* x, float* v) {
  const uint4* p = reinterpret_cast<const uint4*>(x);
  if constexpr (std::is_same_v<T, float>) {
#pragma unroll
    for (int i = 0; i < n / 4; ++i) {
      uint4 q = p[i];
      v[4 * i] = __uint_as_float(q.x), v[4 * i + 1] = __uint_as_float(q.y);
      v[4 * i + 2] = __uint_as_float(q.z), v[4 * i + 3] = __uint_as_float(q.w);
    }
  } else {
#pragma unroll
    for (int i = 0; i < n / 8; ++i) {
      uint4 q = p[i];
      const T* h = reinterpret_cast<const T*>(&q);
#pragma unroll
      for (int k = 0; k < 8; ++k) v[8 * i + k] = load(h[k]);
    }
  }
}

constexpr int kGemvWarps = 4;    // per block
constexpr int kGemvRowsPerWarp = 4;

// Warps of a block split into row groups of kGemvRowsPerWarp rows; the `split` warps of a row
// group take turns over the row's 16-byte chunks, and their partial sums meet in shared memory.
// Each chunk (32 / 16 codes) lies in one group, so it takes one scale and one bias. The next
// chunk's loads are issued before the current one is computed, to keep memory busy.
template <int Bits, typename T, int MT>
__global__ void __launch_bounds__(kGemvWarps * 32)
    qmm_gemv_kernel(const T* x, const uint32_t* w, const T* scales, const T* biases, T* out, QmmProducts products,
                    int M, int N, int K, int gs, int split) {
  constexpr int per_chunk = 128 / Bits;  // codes in 16 bytes
  constexpr int R = kGemvRowsPerWarp;
  __shared__ float partial[kGemvWarps][R][MT];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int part = warp % split, groups_per_block = kGemvWarps / split;
  const int row0 = (blockIdx.x * groups_per_block + warp / split) * R;
  const QmmProduct pr = products.table ? products.table[blockIdx.y] : products.inline_table[blockIdx.y];
  const int chunks = K / per_chunk, G = K / gs, step = 32 * split;
  const uint4* rows[R];
  const T* row_scales[R];
  const T* row_biases[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    int row = min(row0 + r, N - 1);  // rows past N repeat the last one, not stored
    rows[r] = reinterpret_cast<const uint4*>(w + pr.w + int64_t(row) * (K * Bits / 32));
    row_scales[r] = scales + pr.scales + int64_t(row) * G;
    row_biases[r] = biases + pr.biases + int64_t(row) * G;
  }
  float acc[R][MT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[r][m] = 0.f;

  uint4 q[R];
  T s[R], b[R];
  auto fetch = [&](int c) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      q[r] = __ldcs(rows[r] + c);  // read once: streamed past the caches
      s[r] = row_scales[r][c * per_chunk / gs];
      b[r] = row_biases[r][c * per_chunk / gs];
    }
  };
  int c = lane + 32 * part;
  if (c < chunks) fetch(c);
  for (; c < chunks; c += step) {
    uint4 qc[R];
    float sc[R], bc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) qc[r] = q[r], sc[r] = load(s[r]), bc[r] = load(b[r]);
    if (c + step < chunks) fetch(c + step);
    const int k0 = c * per_chunk;
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      if (m >= M) break;
      float xv[per_chunk];
      load_x<T, per_chunk>(x + pr.x + int64_t(m) * K + k0, xv);
      float xsum = 0.f;
#pragma unroll
      for (int k = 0; k < per_chunk; ++k) xsum += xv[k];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const uint32_t words[4] = {qc[r].x, qc[r].y, qc[r].z, qc[r].w};
        float dot = 0.f;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          float v[32 / Bits];
          word_codes<Bits>(words[i], v);
#pragma unroll
          for (int k = 0; k < 32 / Bits; ++k) dot = fmaf(v[k], xv[i * (32 / Bits) + k], dot);
        }
        acc[r][m] = fmaf(sc[r], dot, fmaf(bc[r], xsum, acc[r][m]));
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < MT; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[r][m] = v;
    }
  if (split > 1) {
    if (lane == 0)
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < MT; ++m) partial[warp][r][m] = acc[r][m];
    __syncthreads();
    if (part != 0) return;
    for (int r = 0; r < R; ++r)
      for (int m = 0; m < MT; ++m) {
        float v = 0.f;
        for (int k = 0; k < split; ++k) v += partial[warp + k][r][m];
        acc[r][m] = v;
      }
  }
  if (lane == 0)
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int m = 0; m < MT; ++m)
        if (row0 + r < N && m < M) out[pr.out + int64_t(m) * N + row0 + r] = convert<T>(acc[r][m]);
}

template <int Bits, typename T>
void gemv_typed(const void* x, const uint32_t* w, const void* scales, const void* biases, void* out,
                const QmmProducts& products, int M, int N, int K, int gs, cudaStream_t s) {
  const int64_t count = products.count;
  // Enough warps in flight to cover memory latency: split rows over more warps when there
  // are few row groups.
  int64_t row_groups = (N + kGemvRowsPerWarp - 1) / kGemvRowsPerWarp * count;
  int chunk_rounds = K / (128 / Bits) / 32;  // chunks per lane with one warp per row group
  int split = row_groups >= 2048 || chunk_rounds < 2 ? 1 : row_groups >= 1024 || chunk_rounds < 4 ? 2 : 4;
  int rows_per_block = kGemvWarps / split * kGemvRowsPerWarp;
  dim3 grid(static_cast<unsigned>((N + rows_per_block - 1) / rows_per_block), static_cast<unsigned>(count));
  auto run = [&](auto mt) {
    constexpr int MT = decltype(mt)::value;
    qmm_gemv_kernel<Bits, T, MT><<<grid, kGemvWarps * 32, 0, s>>>(
        static_cast<const T*>(x), w, static_cast<const T*>(scales), static_cast<const T*>(biases),
        static_cast<T*>(out), products, M, N, K, gs, split);
  };
  if (M == 1) run(std::integral_constant<int, 1>{});
  else if (M == 2) run(std::integral_constant<int, 2>{});
  else if (M <= 4) run(std::integral_constant<int, 4>{});
  else run(std::integral_constant<int, 8>{});
  check_launch("quantized_matmul");
}

// ---- fp8 ---------------------------------------------------------------------------------

template <typename T>
__global__ void to_fp8_kernel(const T* x, uint8_t* out, int64_t n) {
  LAZULI_GRID_STRIDE(i, n) out[i] = quant::e4m3_encode(static_cast<float>(load(x[i])));
}
template <typename T>
__global__ void from_fp8_kernel(const uint8_t* x, T* out, int64_t n) {
  LAZULI_GRID_STRIDE(i, n) out[i] = convert<T>(quant::e4m3_decode(x[i]));
}

template <typename F>
void dispatch_float(Dtype t, const char* op, F&& f) {
  if (t == float16) f(__half{});
  else if (t == bfloat16) f(__nv_bfloat16{});
  else if (t == float32) f(float{});
  else if (t == float64) f(double{});
  else throw std::invalid_argument(std::string("[") + op + "] Only real floating types are supported but got " +
                                   dtype_name(t) + ".");
}

}  // namespace

void launch_quantize(const QuantParams& p, Dtype t, const void* w, int64_t rows, int64_t len, const float* global,
                     uint32_t* wq, void* scales, void* biases, cudaStream_t s) {
  int64_t groups = rows * (len / p.group_size);
  if (groups == 0) return;
  dispatch_float(t, "quantize", [&](auto v) {
    using T = decltype(v);
    quantize_kernel<T><<<blocks_for(groups), kThreads, 0, s>>>(static_cast<const T*>(w), groups, p.group_size, p.bits,
                                                               p.mode, global, wq, scales, static_cast<T*>(biases));
    check_launch("quantize");
  });
}

void launch_dequantize(const QuantParams& p, const uint32_t* w, int64_t rows, int64_t len, const void* scales,
                       const float* biases, const float* global, Dtype out_t, void* out, cudaStream_t s) {
  if (rows * len == 0) return;
  switch (p.mode) {
    case QuantizationMode::Mxfp4:
    case QuantizationMode::Nvfp4: return dequantize_typed<4, Codes::Fp4>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case QuantizationMode::Mxfp8: return dequantize_typed<8, Codes::E4m3>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case QuantizationMode::Affine: break;
  }
  switch (p.bits) {
    case 2: return dequantize_typed<2, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case 3: return dequantize_typed<3, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case 4: return dequantize_typed<4, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case 5: return dequantize_typed<5, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
    case 6: return dequantize_typed<6, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
    default: return dequantize_typed<8, Codes::Affine>(w, rows, len, p, scales, biases, global, out_t, out, s);
  }
}

bool gemv_supported(const QuantParams& p, Dtype t) {
  return p.mode == QuantizationMode::Affine && (p.bits == 4 || p.bits == 8) &&
         (t == float16 || t == bfloat16 || t == float32);
}

void launch_qmm_gemv(const QuantParams& p, Dtype t, const void* x, const uint32_t* w, const void* scales,
                     const void* biases, void* out, const QmmProducts& products, int64_t M, int64_t N, int64_t K,
                     cudaStream_t s) {
  if (products.count > 65535)
    throw std::invalid_argument("[quantized_matmul] The GPU kernel takes at most 65535 products, got " +
                                std::to_string(products.count) + ".");
  int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  auto with_bits = [&](auto v) {
    using T = decltype(v);
    if (p.bits == 4) gemv_typed<4, T>(x, w, scales, biases, out, products, m, n, k, p.group_size, s);
    else gemv_typed<8, T>(x, w, scales, biases, out, products, m, n, k, p.group_size, s);
  };
  if (t == float16) with_bits(__half{});
  else if (t == bfloat16) with_bits(__nv_bfloat16{});
  else with_bits(float{});
}

void launch_to_fp8(Dtype t, const void* x, uint8_t* out, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float(t, "to_fp8", [&](auto v) {
    using T = decltype(v);
    to_fp8_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), out, n);
    check_launch("to_fp8");
  });
}

void launch_from_fp8(Dtype t, const uint8_t* x, void* out, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float(t, "from_fp8", [&](auto v) {
    using T = decltype(v);
    from_fp8_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(x, static_cast<T*>(out), n);
    check_launch("from_fp8");
  });
}

}  // namespace lazuli::cuda
