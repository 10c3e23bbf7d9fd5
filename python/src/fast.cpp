// lazuli.core.fast: MLX's fused fast ops.
#include "nn_ops.h"

void init_fast(nanobind::module_& m) { m.def_submodule("fast", "Fused fast ops: rms_norm, layer_norm, rope, attention."); }
