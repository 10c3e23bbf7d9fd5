// lazuli::fast: MLX's mx.fast ops.
#pragma once

namespace lazuli::fast {}  // namespace lazuli::fast
