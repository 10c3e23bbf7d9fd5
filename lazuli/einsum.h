// Einstein summation, the special matmuls (block-masked, gathered, segmented), the
// Walsh-Hadamard transform and the window functions. einsum and block_masked_mm are
// compositions of existing ops (so their derivatives come from those ops' rules);
// gather_mm, segmented_mm and hadamard_transform are primitives of their own
// (lazuli/primitives/einsum.h).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lazuli/ops.h"

namespace lazuli {

// NumPy's einsum: explicit ('ij,jk->ik') or implicit ('ij,jk') output, '...' for broadcast
// dimensions, a repeated index on one operand takes its diagonal, indices missing from the
// output are summed. Operands are contracted pairwise in the order einsum_path chooses.
array einsum(const std::string& subscripts, const std::vector<array>& operands, StreamOrDevice s = {});

// The contraction order einsum uses, in NumPy's format (each pair of positions in the
// current operand list is replaced by its contraction, appended at the end), and a report
// of the naive and optimised flop counts and of each step.
std::pair<std::vector<std::vector<int>>, std::string> einsum_path(const std::string& subscripts,
                                                                  const std::vector<array>& operands);

// matmul of a (..., M, K) and b (..., K, N) where blocks of block_size x block_size of a, b
// and the output are multiplied by the matching element of their mask (bool: kept or
// zeroed; float: scaled). Masks have shapes (..., ceil(M/bs), ceil(K/bs)) for a,
// (..., ceil(K/bs), ceil(N/bs)) for b and (..., ceil(M/bs), ceil(N/bs)) for the output.
array block_masked_mm(const array& a, const array& b, int block_size = 64,
                      const std::optional<array>& mask_out = std::nullopt,
                      const std::optional<array>& mask_lhs = std::nullopt,
                      const std::optional<array>& mask_rhs = std::nullopt, StreamOrDevice s = {});

// matmul of the matrices of a (A..., M, K) and b (B..., K, N) picked by flat indices into
// their batch dimensions; the index arrays broadcast, giving the output's batch shape.
// Missing indices mean every matrix, in order (arange shaped like the batch); negative
// ones count from the end; out-of-range ones raise std::out_of_range on evaluation.
// sorted_indices is a hint only (the kernel finds sorted runs by itself).
array gather_mm(const array& a, const array& b, const std::optional<array>& lhs_indices = std::nullopt,
                const std::optional<array>& rhs_indices = std::nullopt, bool sorted_indices = false,
                StreamOrDevice s = {});

// For each [start, end) pair along the last axis of segments (..., 2): the product of
// a[:, start:end] (M, K) and b[start:end, :] (K, N). Output (..., M, N). Bounds clip to
// [0, K]; an empty segment gives zeros.
array segmented_mm(const array& a, const array& b, const array& segments, StreamOrDevice s = {});

// The Walsh-Hadamard transform along the last axis, times scale (default 1/sqrt(n)), for
// n = m * 2^k with m in {1, 12, 20, 28}. Integer inputs compute in float32.
array hadamard_transform(const array& a, std::optional<float> scale = std::nullopt, StreamOrDevice s = {});

// NumPy's window functions of M points (float32).
array bartlett(int M, StreamOrDevice s = {});
array hanning(int M, StreamOrDevice s = {});
array hamming(int M, StreamOrDevice s = {});
array blackman(int M, StreamOrDevice s = {});

}  // namespace lazuli
