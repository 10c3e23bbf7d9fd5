// CPU: the Convolution primitive as an indirect GEMM. For each group, the output rows
// (n, out positions...) times the output channels is the product of the patch matrix (rows
// x kernel positions * C_in_g) and the weight (the same x C_out_g). The patch matrix is
// never built: for a block of 6 output rows, a table holds, for every kernel position, the
// address of the C_in_g input channels each row reads there (or of zeros, for padding and
// the holes of input dilation), and the micro-kernel walks those rows straight from the
// input while the weight, packed once into panels of NR output channels, streams beside
// them. Accumulators (6 rows x NR channels) stay in registers across the whole reduction
// (AVX2 + FMA where the CPU has them). Row tiles run in parallel on the thread pool; very
// long reductions (weight gradients) go in slices of kernel positions, and wide layers in
// passes over their output channels, so that the weight a pass uses stays in L2. Depthwise
// convolutions (one channel per group) vectorise over channels instead. float16 / bfloat16
// compute in float32; float64 in double. The gradients' transposed operands are copied to
// row-major first, in tiles.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lazuli/backend/cpu/kernels.h"
#include "lazuli/primitives/conv.h"

namespace lazuli {
using namespace cpu;

namespace {

// Register block: MR output rows by NR output channels (two vectors of 256 bits).
constexpr int kMR = 6;
template <typename T> inline constexpr int kNR = 64 / static_cast<int>(sizeof(T));
constexpr int64_t kSliceBytes = 512 << 10;  // weight panels of one reduction slice: half of L2
constexpr int64_t kTileRows = 96;           // output rows per task, at most

// Writes (or adds) the first mr x nr entries of a register block to C.
template <typename T, int NR>
void store_block(const T (&c)[kMR][NR], int mr, T* C, int64_t ldc, int nr, bool acc) {
  for (int i = 0; i < mr; ++i) {
    T* row = C + i * ldc;
    if (acc)
      for (int j = 0; j < nr; ++j) row[j] += c[i][j];
    else
      for (int j = 0; j < nr; ++j) row[j] = c[i][j];
  }
}

// C[mr x nr] (+)= sum over kernel positions p < np of A_p[mr x kc] * B_p[kc x NR], where
// row i of A_p starts at rows[p * kMR + i] and B_p (row-major, NR wide) at B + boff[p].
template <typename T>
void tile_generic(int64_t np, const T* const* rows, const int64_t* boff, int64_t kc, int mr, const T* B, T* C,
                  int64_t ldc, int nr, bool acc) {
  constexpr int NR = kNR<T>;
  T c[kMR][NR] = {};
  for (int64_t p = 0; p < np; ++p, rows += kMR) {
    const T* b = B + boff[p];
    for (int64_t k = 0; k < kc; ++k, b += NR)
      for (int i = 0; i < mr; ++i) {
        T a = rows[i][k];
        for (int j = 0; j < NR; ++j) c[i][j] += a * b[j];
      }
  }
  store_block(c, mr, C, ldc, nr, acc);
}

// Rows past mr repeat row 0 in the table (their results are dropped).
__attribute__((target("avx2,fma"))) void tile_avx2(int64_t np, const float* const* rows, const int64_t* boff,
                                                   int64_t kc, int mr, const float* B, float* C, int64_t ldc, int nr,
                                                   bool acc) {
  __m256 c[kMR][2];
  for (int i = 0; i < kMR; ++i) c[i][0] = c[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < np; ++p, rows += kMR) {
    const float *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
    const float* b = B + boff[p];
    for (int64_t k = 0; k < kc; ++k, b += 16) {
      __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      __m256 av = _mm256_broadcast_ss(a0 + k);
      c[0][0] = _mm256_fmadd_ps(av, b0, c[0][0]), c[0][1] = _mm256_fmadd_ps(av, b1, c[0][1]);
      av = _mm256_broadcast_ss(a1 + k);
      c[1][0] = _mm256_fmadd_ps(av, b0, c[1][0]), c[1][1] = _mm256_fmadd_ps(av, b1, c[1][1]);
      av = _mm256_broadcast_ss(a2 + k);
      c[2][0] = _mm256_fmadd_ps(av, b0, c[2][0]), c[2][1] = _mm256_fmadd_ps(av, b1, c[2][1]);
      av = _mm256_broadcast_ss(a3 + k);
      c[3][0] = _mm256_fmadd_ps(av, b0, c[3][0]), c[3][1] = _mm256_fmadd_ps(av, b1, c[3][1]);
      av = _mm256_broadcast_ss(a4 + k);
      c[4][0] = _mm256_fmadd_ps(av, b0, c[4][0]), c[4][1] = _mm256_fmadd_ps(av, b1, c[4][1]);
      av = _mm256_broadcast_ss(a5 + k);
      c[5][0] = _mm256_fmadd_ps(av, b0, c[5][0]), c[5][1] = _mm256_fmadd_ps(av, b1, c[5][1]);
    }
  }
  // The accumulators leave registers only here (indexing them by a run-time row would
  // keep them in memory throughout the loop).
  alignas(32) float res[kMR][16];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) _mm256_store_ps(res[i], c[i][0]), _mm256_store_ps(res[i] + 8, c[i][1]);
  store_block(res, mr, C, ldc, nr, acc);
}

__attribute__((target("avx2,fma"))) void tile_avx2(int64_t np, const double* const* rows, const int64_t* boff,
                                                   int64_t kc, int mr, const double* B, double* C, int64_t ldc, int nr,
                                                   bool acc) {
  __m256d c[kMR][2];
  for (int i = 0; i < kMR; ++i) c[i][0] = c[i][1] = _mm256_setzero_pd();
  for (int64_t p = 0; p < np; ++p, rows += kMR) {
    const double *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
    const double* b = B + boff[p];
    for (int64_t k = 0; k < kc; ++k, b += 8) {
      __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
      __m256d av = _mm256_broadcast_sd(a0 + k);
      c[0][0] = _mm256_fmadd_pd(av, b0, c[0][0]), c[0][1] = _mm256_fmadd_pd(av, b1, c[0][1]);
      av = _mm256_broadcast_sd(a1 + k);
      c[1][0] = _mm256_fmadd_pd(av, b0, c[1][0]), c[1][1] = _mm256_fmadd_pd(av, b1, c[1][1]);
      av = _mm256_broadcast_sd(a2 + k);
      c[2][0] = _mm256_fmadd_pd(av, b0, c[2][0]), c[2][1] = _mm256_fmadd_pd(av, b1, c[2][1]);
      av = _mm256_broadcast_sd(a3 + k);
      c[3][0] = _mm256_fmadd_pd(av, b0, c[3][0]), c[3][1] = _mm256_fmadd_pd(av, b1, c[3][1]);
      av = _mm256_broadcast_sd(a4 + k);
      c[4][0] = _mm256_fmadd_pd(av, b0, c[4][0]), c[4][1] = _mm256_fmadd_pd(av, b1, c[4][1]);
      av = _mm256_broadcast_sd(a5 + k);
      c[5][0] = _mm256_fmadd_pd(av, b0, c[5][0]), c[5][1] = _mm256_fmadd_pd(av, b1, c[5][1]);
    }
  }
  alignas(32) double res[kMR][8];
#pragma GCC unroll 6
  for (int i = 0; i < kMR; ++i) _mm256_store_pd(res[i], c[i][0]), _mm256_store_pd(res[i] + 4, c[i][1]);
  store_block(res, mr, C, ldc, nr, acc);
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

template <typename T>
void tile(int64_t np, const T* const* rows, const int64_t* boff, int64_t kc, int mr, const T* B, T* C, int64_t ldc,
          int nr, bool acc) {
  if (has_avx2()) tile_avx2(np, rows, boff, kc, mr, B, C, ldc, nr, acc);
  else tile_generic(np, rows, boff, kc, mr, B, C, ldc, nr, acc);
}

// Everything about one convolution the kernel needs, in elements.
struct Geometry {
  int d = 0;
  int64_t n = 0, ci = 0, co = 0, groups = 1, ci_g = 0, co_g = 0;
  std::vector<int64_t> in, ker, out;
  int64_t ksp = 1, osp = 1;  // kernel positions, output positions per image
  int64_t depth = 0;         // GEMM reduction length: ksp * ci_g
  int64_t rows = 0;          // n * osp
  std::vector<int64_t> in_step;  // input strides of the spatial dims, in elements
  // For each spatial dim, the offset (input index * in_step) that output o and kernel tap k
  // read, at [o * ker + k]; -1 for padding or a hole of the input dilation.
  std::vector<std::vector<int64_t>> taps;
};

Geometry make_geometry(const array& x, const array& w, const array& out, const Convolution::Params& p) {
  Geometry G;
  G.d = static_cast<int>(x.ndim()) - 2;
  G.n = x.shape()[0];
  G.ci = x.shape().back();
  G.co = w.shape()[0];
  G.groups = p.groups;
  G.ci_g = w.shape().back();
  G.co_g = G.co / G.groups;
  for (int i = 0; i < G.d; ++i) {
    G.in.push_back(x.shape()[1 + i]);
    G.ker.push_back(w.shape()[1 + i]);
    G.out.push_back(out.shape()[1 + i]);
    G.ksp *= G.ker[i];
    G.osp *= G.out[i];
  }
  G.in_step.assign(G.d, G.ci);
  for (int i = G.d - 2; i >= 0; --i) G.in_step[i] = G.in_step[i + 1] * G.in[i + 1];
  for (int i = 0; i < G.d; ++i) {
    std::vector<int64_t> t(G.out[i] * G.ker[i]);
    for (int64_t o = 0; o < G.out[i]; ++o)
      for (int64_t k = 0; k < G.ker[i]; ++k) {
        int64_t pos = o * p.stride[i] + k * p.kernel_dilation[i] - p.padding_lo[i];
        int64_t dil = p.input_dilation[i];
        bool hit = pos >= 0 && pos % dil == 0 && pos / dil < G.in[i];
        t[o * G.ker[i] + k] = hit ? pos / dil * G.in_step[i] : -1;
      }
    G.taps.push_back(std::move(t));
  }
  G.depth = G.ksp * G.ci_g;
  G.rows = G.n * G.osp;
  return G;
}

// The weight (C_out, kernel positions, C_in_g) packed for the micro-kernel: for group g and
// panel j of NR output channels, [kernel position][C_in_g][NR] (missing channels zero),
// with the kernel positions reversed when flipped. Parallel over panels. Runs of each of
// the NR weight rows are read whole into a buffer first: reading the NR rows element by
// element in step would hit one cache set when the row length is a power of two.
template <typename T>
std::vector<T> pack_weight(const Geometry& G, const T* w, bool flip, int64_t panels) {
  constexpr int NR = kNR<T>;
  constexpr int64_t kRun = 64;
  std::vector<T> packed(G.groups * panels * G.depth * NR);
  parallel_for(G.groups * panels, std::max<int64_t>(1, kGrain / (G.depth * NR)), [&](int64_t begin, int64_t end) {
    T buf[NR][kRun];
    for (int64_t gp = begin; gp < end; ++gp) {
      int64_t g = gp / panels, o0 = (gp % panels) * NR, n = std::min<int64_t>(NR, G.co_g - o0);
      T* dst = packed.data() + gp * G.depth * NR;
      for (int64_t kp = 0; kp < G.ksp; ++kp) {
        int64_t from = flip ? G.ksp - 1 - kp : kp;
        for (int64_t c0 = 0; c0 < G.ci_g; c0 += kRun) {
          int64_t len = std::min(kRun, G.ci_g - c0);
          for (int64_t j = 0; j < NR; ++j) {
            if (j < n) std::memcpy(buf[j], w + ((g * G.co_g + o0 + j) * G.ksp + from) * G.ci_g + c0, len * sizeof(T));
            else std::fill(buf[j], buf[j] + len, T(0));
          }
          for (int64_t c = 0; c < len; ++c, dst += NR)
            for (int j = 0; j < NR; ++j) dst[j] = buf[j][c];
        }
      }
    }
  });
  return packed;
}

// The kernel positions' per-dim taps, [position][dim].
std::vector<int32_t> kernel_taps(const Geometry& G) {
  std::vector<int32_t> kidx(G.ksp * G.d);
  for (int64_t kp = 0; kp < G.ksp; ++kp) {
    int64_t rem = kp;
    for (int i = G.d - 1; i >= 0; --i) kidx[kp * G.d + i] = static_cast<int32_t>(rem % G.ker[i]), rem /= G.ker[i];
  }
  return kidx;
}

// Depthwise (one input and one output channel per group): each output row is the sum over
// kernel positions of the input row there times that position's weights, channel by
// channel; the channels, contiguous in this layout, are the vector lanes.
template <typename T>
void depthwise_typed(const Geometry& G, const T* x, const T* w, T* out, bool flip) {
  int64_t C = G.co;
  std::vector<T> wt(G.ksp * C);  // [kernel position][channel]
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kp = 0; kp < G.ksp; ++kp) wt[kp * C + c] = w[c * G.ksp + (flip ? G.ksp - 1 - kp : kp)];
  std::vector<int32_t> kidx = kernel_taps(G);
  parallel_for(G.rows, std::max<int64_t>(1, kGrain / (G.ksp * C)), [&](int64_t begin, int64_t end) {
    std::vector<int64_t> pos(G.d + 1);  // (n, out position...) of row r
    int64_t rem = begin;
    for (int dd = G.d - 1; dd >= 0; --dd) pos[1 + dd] = rem % G.out[dd], rem /= G.out[dd];
    pos[0] = rem;
    for (int64_t r = begin; r < end; ++r) {
      T* o = out + r * C;
      std::fill(o, o + C, T(0));
      const T* image = x + pos[0] * G.in_step[0] * G.in[0];
      for (int64_t kp = 0; kp < G.ksp; ++kp) {
        int64_t off = 0, miss = 0;
        for (int dd = 0; dd < G.d; ++dd) {
          int64_t tap = G.taps[dd][pos[1 + dd] * G.ker[dd] + kidx[kp * G.d + dd]];
          off += tap, miss |= tap;
        }
        if (miss < 0) continue;
        const T *xi = image + off, *wk = wt.data() + kp * C;
        for (int64_t c = 0; c < C; ++c) o[c] += xi[c] * wk[c];
      }
      for (int dd = G.d; dd >= 1; --dd) {
        if (++pos[dd] < G.out[dd - 1]) break;
        pos[dd] = 0;
        if (dd == 1) ++pos[0];
      }
    }
  });
}

template <typename T>
void conv_typed(const Geometry& G, const T* x, const T* w, T* out, bool flip) {
  constexpr int NR = kNR<T>;
  if (G.ci_g == 1 && G.co_g == 1) return depthwise_typed(G, x, w, out, flip);
  int64_t panels = (G.co_g + NR - 1) / NR;
  std::vector<T> packed = pack_weight(G, w, flip, panels);
  std::vector<int32_t> kidx = kernel_taps(G);
  // Kernel positions per reduction slice, and panels per pass, such that the weight a pass
  // multiplies stays in L2 (wide layers take their output channels in several passes).
  int64_t position_bytes = int64_t(sizeof(T)) * NR * G.ci_g;  // one position of one panel
  int64_t slice = std::clamp<int64_t>(kSliceBytes / (position_bytes * panels), 1, G.ksp);
  int64_t pass = std::clamp<int64_t>(kSliceBytes / (position_bytes * slice), 1, panels);
  int64_t slices = (G.ksp + slice - 1) / slice, passes = (panels + pass - 1) / pass;
  // Fewer rows per task when there are few rows (weight gradients), so that every thread
  // gets several tasks.
  int64_t tile_rows = (G.rows * G.groups + 4 * thread_count() - 1) / (4 * thread_count()) / G.groups;
  tile_rows = std::clamp<int64_t>((tile_rows + kMR - 1) / kMR * kMR, kMR, kTileRows);
  int64_t tiles = (G.rows + tile_rows - 1) / tile_rows;
  std::vector<T> zeros(G.ci_g, T(0));
  parallel_for(G.groups * tiles, 1, [&](int64_t begin, int64_t end) {
    std::vector<const T*> table(slice * kMR);
    std::vector<int64_t> boff(slice);
    std::vector<const int64_t*> taps(kMR * G.d);  // per row of the block: its taps in each dim
    std::vector<const T*> image(kMR);              // per row: its image's channels of group g
    std::vector<int64_t> pos(G.d + 1);             // (n, out position...) of a row
    for (int64_t task = begin; task < end; ++task) {
      int64_t g = task / tiles, r0 = (task % tiles) * tile_rows;
      int64_t r1 = std::min(G.rows, r0 + tile_rows);
      for (int64_t step = 0; step < passes * slices; ++step) {
        int64_t j0 = step / slices * pass, kp0 = step % slices * slice;
        int64_t np = std::min(slice, G.ksp - kp0);
        // Rows are visited in order: their (n, out position...) advances like an odometer.
        int64_t rem = r0;
        for (int dd = G.d - 1; dd >= 0; --dd) pos[1 + dd] = rem % G.out[dd], rem /= G.out[dd];
        pos[0] = rem;
        for (int64_t i = r0; i < r1; i += kMR) {
          int mr = static_cast<int>(std::min<int64_t>(kMR, r1 - i));
          for (int rr = 0; rr < mr; ++rr) {
            for (int dd = 0; dd < G.d; ++dd) taps[rr * G.d + dd] = G.taps[dd].data() + pos[1 + dd] * G.ker[dd];
            image[rr] = x + pos[0] * G.in_step[0] * G.in[0] + g * G.ci_g;
            for (int dd = G.d; dd >= 0; --dd) {
              if (dd == 0 || ++pos[dd] < G.out[dd - 1]) {
                if (dd == 0) ++pos[0];
                break;
              }
              pos[dd] = 0;
            }
          }
          // The address each row reads at each kernel position of the slice (rows past mr
          // repeat row 0). Positions where every row reads padding or input-dilation holes
          // add nothing and are left out: the borders, and most of a transposed
          // convolution's taps.
          int64_t active = 0;
          for (int64_t p = 0; p < np; ++p) {
            const int32_t* ki = kidx.data() + (kp0 + p) * G.d;
            bool any = false;
            for (int rr = 0; rr < kMR; ++rr) {
              const int64_t* const* t = taps.data() + (rr < mr ? rr : 0) * G.d;
              int64_t off = 0, miss = 0;  // miss < 0: some dim reads padding
              for (int dd = 0; dd < G.d; ++dd) {
                int64_t tap = t[dd][ki[dd]];
                off += tap, miss |= tap;
              }
              any = any || miss >= 0;
              table[active * kMR + rr] = miss >= 0 ? image[rr < mr ? rr : 0] + off : zeros.data();
            }
            if (any) boff[active++] = (kp0 + p) * G.ci_g * NR;
          }
          T* c = out + i * G.co + g * G.co_g;
          for (int64_t j = j0; j < std::min(panels, j0 + pass); ++j) {
            int nr = static_cast<int>(std::min<int64_t>(NR, G.co_g - j * NR));
            const T* b = packed.data() + (g * panels + j) * G.depth * NR;
            tile(active, table.data(), boff.data(), G.ci_g, mr, b, c + j * NR, G.co, nr, kp0 > 0);
          }
        }
      }
    }
  });
}

// dst (row-major) = src when src has a unit-stride axis other than the last one (the
// gradients' transposed views): copies tiles of the (unit-stride axis, last axis) plane, so
// that every cache line read or written is used whole. Returns false for other layouts.
template <typename T>
bool transpose_copy(const array& src, T* dst) {
  int nd = static_cast<int>(src.ndim());
  const Shape& shape = src.shape();
  const Strides& st = src.strides();
  int b = nd - 1, a = -1;
  for (int i = 0; i < nd; ++i)
    if (st[i] == 1 && shape[i] > 1) a = i;
  if (a < 0 || a == b || shape[b] <= 1) return false;
  Strides dst_st(nd, 1);
  for (int i = nd - 2; i >= 0; --i) dst_st[i] = dst_st[i + 1] * shape[i + 1];
  std::vector<int> outer;
  int64_t count = 1;
  for (int i = 0; i < nd; ++i)
    if (i != a && i != b) outer.push_back(i), count *= shape[i];
  const T* s = static_cast<const T*>(const_cast<array&>(src).raw_data());
  constexpr int64_t BB = 16, BA = 64;
  int64_t na = shape[a], nb = shape[b], sb = st[b], da = dst_st[a];
  parallel_for(count, std::max<int64_t>(1, kGrain / (na * nb)), [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      int64_t rem = idx, so = 0, dof = 0;
      for (int k = static_cast<int>(outer.size()) - 1; k >= 0; --k) {
        int d = outer[k];
        int64_t i = rem % shape[d];
        rem /= shape[d];
        so += i * st[d], dof += i * dst_st[d];
      }
      // Through a small buffer: source runs are read whole along a, destination runs
      // written whole along b. (Copying element by element across the tile instead makes
      // both sides hit one cache set when the strides are powers of two.)
      T tmp[BB * BA];
      for (int64_t b0 = 0; b0 < nb; b0 += BB)
        for (int64_t a0 = 0; a0 < na; a0 += BA) {
          int64_t b1 = std::min(nb, b0 + BB), a1 = std::min(na, a0 + BA);
          for (int64_t ib = b0; ib < b1; ++ib) {
            const T* from = s + so + ib * sb;
            for (int64_t ia = a0; ia < a1; ++ia) tmp[(ib - b0) * BA + (ia - a0)] = from[ia];
          }
          for (int64_t ia = a0; ia < a1; ++ia) {
            T* to = dst + dof + ia * da;
            for (int64_t ib = b0; ib < b1; ++ib) to[ib] = tmp[(ib - b0) * BA + (ia - a0)];
          }
        }
    }
  });
  return true;
}

// The array as a row-major buffer of `dtype` (itself when it already is one).
array dense(const array& a, Dtype dtype) {
  if (a.dtype() == dtype && a.flags().row_contiguous) return a;
  array c(a.shape(), dtype, nullptr, {});
  allocate(c);
  bool done = false;
  if (a.dtype() == dtype && dtype == float32) done = transpose_copy(a, static_cast<float*>(c.raw_data()));
  if (a.dtype() == dtype && dtype == float64) done = transpose_copy(a, static_cast<double*>(c.raw_data()));
  if (!done) copy_to(a, c, c.strides(), 0);
  return c;
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  allocate(out);
  if (out.size() == 0) return;
  Dtype t = out.dtype();
  Dtype compute = t == float64 ? float64 : float32;
  array x = dense(inputs[0], compute), w = dense(inputs[1], compute);
  array o = t == compute ? out : array(out.shape(), compute, nullptr, {});
  if (t != compute) allocate(o);
  Geometry G = make_geometry(x, w, o, p_);
  if (G.depth == 0) {
    std::memset(o.raw_data(), 0, o.nbytes());
  } else if (compute == float64) {
    conv_typed(G, static_cast<const double*>(x.raw_data()), static_cast<const double*>(w.raw_data()),
               static_cast<double*>(o.raw_data()), p_.flip);
  } else {
    conv_typed(G, static_cast<const float*>(x.raw_data()), static_cast<const float*>(w.raw_data()),
               static_cast<float*>(o.raw_data()), p_.flip);
  }
  if (t != compute) copy_to(o, out, out.strides(), 0);
}

}  // namespace lazuli
