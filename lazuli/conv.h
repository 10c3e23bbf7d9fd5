// Convolution, with MLX's signatures and channels-last layouts: input (N, *spatial, C_in),
// weight (C_out, *kernel, C_in / groups), output (N, *out_spatial, C_out). Floating-point
// inputs only (float16, bfloat16, float32, float64; 16-bit types accumulate in float32).
#pragma once
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/device.h"

namespace lazuli {

// Cross-correlation (flip = false) or convolution (flip = true) of every spatial dimension:
// the input is dilated by input_dilation (zeros between its elements), padded by padding_lo
// / padding_hi (negative values crop), and the kernel, dilated by kernel_dilation, moves by
// stride. Empty vectors mean 1 (stride, dilations) or 0 (padding) in every dimension; one
// value applies to every dimension; an empty padding_hi means padding_hi = padding_lo.
array conv_general(const array& input, const array& weight, std::vector<int> stride = {},
                   std::vector<int> padding_lo = {}, std::vector<int> padding_hi = {},
                   std::vector<int> kernel_dilation = {}, std::vector<int> input_dilation = {},
                   int groups = 1, bool flip = false, StreamOrDevice s = {});
array conv1d(const array& input, const array& weight, int stride = 1, int padding = 0, int dilation = 1,
             int groups = 1, StreamOrDevice s = {});
array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride = {1, 1},
             const std::pair<int, int>& padding = {0, 0}, const std::pair<int, int>& dilation = {1, 1},
             int groups = 1, StreamOrDevice s = {});
array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride = {1, 1, 1},
             const std::tuple<int, int, int>& padding = {0, 0, 0},
             const std::tuple<int, int, int>& dilation = {1, 1, 1}, int groups = 1, StreamOrDevice s = {});

// Transposed convolutions (the gradient of conv* with respect to its input), with MLX's
// weight layout (C_out, *kernel, C_in / groups). Output size per dimension:
// (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + 1 + output_padding.
array conv_transpose1d(const array& input, const array& weight, int stride = 1, int padding = 0,
                       int dilation = 1, int output_padding = 0, int groups = 1, StreamOrDevice s = {});
array conv_transpose2d(const array& input, const array& weight, const std::pair<int, int>& stride = {1, 1},
                       const std::pair<int, int>& padding = {0, 0}, const std::pair<int, int>& dilation = {1, 1},
                       const std::pair<int, int>& output_padding = {0, 0}, int groups = 1, StreamOrDevice s = {});
array conv_transpose3d(const array& input, const array& weight,
                       const std::tuple<int, int, int>& stride = {1, 1, 1},
                       const std::tuple<int, int, int>& padding = {0, 0, 0},
                       const std::tuple<int, int, int>& dilation = {1, 1, 1},
                       const std::tuple<int, int, int>& output_padding = {0, 0, 0}, int groups = 1,
                       StreamOrDevice s = {});

// NumPy's np.convolve of two 1-D arrays: mode "full", "same" or "valid".
array convolve(const array& a, const array& v, const std::string& mode = "full", StreamOrDevice s = {});

}  // namespace lazuli
