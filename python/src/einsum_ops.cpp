// Python bindings of einsum, einsum_path, block_masked_mm, gather_mm, segmented_mm, hadamard_transform, window functions.
#include "convert.h"

void init_einsum_ops(nb::module_& m) {}
