// Bindings of lazuli::nn's positional encodings and attention into lazuli.core._nn.
#include "nn_ops.h"

void init_nn_transformer_ops(nanobind::module_& nn) { (void)nn; }
