// nonzero and unique: ops whose output shapes depend on the data. Each evaluates what it
// needs (a sync point), finds the positions on the host, and returns arrays (lazy gathers
// of the evaluated input, or int64 index arrays).
#include <algorithm>
#include <cstring>
#include <cstdint>

#include "lazuli/backend/cpu/thread_pool.h"
#include "lazuli/indexing.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

namespace {

// `x` evaluated as a row-major host vector of T (T a dtype Lazuli can cast to).
template <typename T>
std::vector<T> host_values(const array& x) {
  array c = contiguous(astype(x, dtype_of<T>));
  c.eval();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.size());
}

array int64_vector(const std::vector<int64_t>& v) {
  return array(v.begin(), Shape{static_cast<int32_t>(v.size())}, int64);
}

// Whether consecutive rows (axis 0) of `sorted` differ; NaNs count as equal.
array rows_differ(const array& sorted) {
  int32_t n = sorted.shape()[0];
  Shape first(sorted.ndim(), 0), stop = sorted.shape();
  Shape next = first;
  next[0] = 1;
  Shape prev_stop = stop;
  prev_stop[0] = n - 1;
  array cur = slice(sorted, next, stop), prev = slice(sorted, first, prev_stop);
  array differ = not_equal(cur, prev);
  if (inexact(sorted)) differ = logical_and(differ, logical_not(logical_and(isnan(cur), isnan(prev))));
  if (sorted.ndim() > 1) differ = any(differ, 1);
  return differ;
}

}  // namespace

std::vector<array> nonzero(const array& a, S s) {
  if (a.ndim() == 0) fail("nonzero", "A 0-d array has no axes to index; use atleast_1d(a) first.");
  array mask = contiguous(a.dtype() == bool_ ? a : not_equal(a, zeros({}, a.dtype(), s), s), false, s);
  mask.eval();
  // Bools are stored as bytes of 0 or 1, so they count and advance positions as numbers.
  const uint8_t* nz = reinterpret_cast<const uint8_t*>(mask.data<bool>());
  int nd = static_cast<int>(a.ndim());
  int64_t size = static_cast<int64_t>(mask.size());
  // Two passes over chunks of the mask spread over the cores: count each chunk's nonzeros,
  // then write each chunk's coordinates from where the chunks before it end.
  int64_t chunks = std::clamp<int64_t>(size / (1 << 16), 1, 4 * cpu::thread_count());
  std::vector<int64_t> start(chunks + 1, 0);
  auto chunk_begin = [&](int64_t c) { return size * c / chunks; };
  cpu::run_chunks(chunks, [&](int64_t c) {
    // Eight bytes of 0 or 1 at a time: multiplying by 0x0101... sums them into the top byte.
    int64_t count = 0, i = chunk_begin(c), end = chunk_begin(c + 1);
    for (; i + 8 <= end; i += 8) {
      uint64_t word;
      std::memcpy(&word, nz + i, 8);
      count += static_cast<int64_t>((word * 0x0101010101010101ull) >> 56);
    }
    for (; i < end; ++i) count += nz[i];
    start[c + 1] = count;
  });
  for (int64_t c = 0; c < chunks; ++c) start[c + 1] += start[c];
  int64_t count = start[chunks];
  // The coordinates go straight into buffers that the result arrays then own.
  std::vector<int64_t*> coords(nd);
  std::vector<array> out;
  for (int d = 0; d < nd; ++d) {
    coords[d] = new int64_t[std::max<int64_t>(count, 1)];
    out.emplace_back(coords[d], Shape{static_cast<int32_t>(count)}, int64,
                     [](void* p) { delete[] static_cast<int64_t*>(p); });
  }
  int64_t last = a.shape()[nd - 1];
  cpu::run_chunks(chunks, [&](int64_t c) {
    int64_t i0 = chunk_begin(c), k = start[c];
    // Branch-free (the mask is unpredictable): write an element's coordinates at slot k and
    // keep them only when it is nonzero. The chunk stops at its last nonzero element, so no
    // write lands on the next chunk's first slot.
    int64_t last_nz = chunk_begin(c + 1) - 1;
    while (last_nz >= i0 && !nz[last_nz]) --last_nz;
    if (last_nz < i0) return;
    if (nd == 1) {
      int64_t* c0 = coords[0];
      for (int64_t i = i0; i <= last_nz; ++i) c0[k] = i, k += nz[i];
      return;
    }
    std::vector<int64_t> at(nd);  // the coordinates of element i0, advanced row-major
    for (int64_t d = nd - 1, r = i0; d >= 0; --d) at[d] = r % a.shape()[d], r /= a.shape()[d];
    for (int64_t i = i0; i <= last_nz; ++i) {
      for (int d = 0; d < nd; ++d) coords[d][k] = at[d];
      k += nz[i];
      if (++at[nd - 1] < last) continue;
      at[nd - 1] = 0;
      for (int d = nd - 2; d >= 0; --d) {
        if (++at[d] < a.shape()[d]) break;
        at[d] = 0;
      }
    }
  });
  return out;
}

UniqueResult unique(const array& a, bool return_index, bool return_inverse, bool return_counts,
                    std::optional<int> axis, S s) {
  if (is_complex(a.dtype())) fail("unique", "complex64 has no order to sort unique values by.");
  int ax = 0;
  array rows = reshape(a, {-1}, s);  // one row per candidate: elements, or subarrays along axis
  if (axis) {
    if (a.ndim() == 0) fail("unique", "A 0-d array has no axis " + std::to_string(*axis) + ".");
    ax = normalize_axis(*axis, static_cast<int>(a.ndim()), "unique");
    int32_t length = 1;  // of a row: the product of the other axes
    for (int d = 0; d < static_cast<int>(a.ndim()); ++d)
      if (d != ax) length *= a.shape()[d];
    rows = reshape(moveaxis(a, ax, 0, s), {a.shape()[ax], length}, s);
  }
  int32_t n = rows.shape()[0];
  // A stable lexicographic order of the rows: stable argsorts from the last column to the
  // first (NaNs sort last), so equal rows end up adjacent, first occurrence first.
  int32_t columns = rows.ndim() == 2 ? rows.shape()[1] : 1;
  array perm = arange(0, n, 1, s);
  for (int32_t c = columns - 1; c >= 0 && n > 0; --c) {
    array column = rows.ndim() == 2 ? reshape(slice(rows, {0, c}, {n, c + 1}, s), {n}, s) : rows;
    perm = c == columns - 1 ? argsort(column, 0, s) : take(perm, argsort(take(column, perm, 0, s), 0, s), 0, s);
  }
  std::vector<int64_t> order = host_values<int64_t>(perm);
  std::vector<uint8_t> differ;
  if (n > 1) differ = host_values<uint8_t>(rows_differ(take(rows, perm, 0, s)));
  std::vector<int64_t> first, counts, inverse(n);
  for (int32_t j = 0; j < n; ++j) {
    if (j == 0 || differ[j - 1]) {
      first.push_back(order[j]);
      counts.push_back(0);
    }
    ++counts.back();
    inverse[order[j]] = static_cast<int64_t>(first.size()) - 1;
  }
  array values = axis ? take(a, int64_vector(first), ax, s) : take(reshape(a, {-1}, s), int64_vector(first), 0, s);
  UniqueResult r{values, std::nullopt, std::nullopt, std::nullopt};
  if (return_index) r.index = int64_vector(first);
  if (return_inverse) {  // as in NumPy 2: without an axis, shaped like `a`
    r.inverse = int64_vector(inverse);
    if (!axis) r.inverse = reshape(*r.inverse, a.shape(), s);
  }
  if (return_counts) r.counts = int64_vector(counts);
  return r;
}

}  // namespace lazuli
