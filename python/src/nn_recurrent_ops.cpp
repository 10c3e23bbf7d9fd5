// Bindings of lazuli::nn's recurrent layers and upsampling into lazuli.core._nn.
#include "nn_ops.h"

void init_nn_recurrent_ops(nanobind::module_& nn) { (void)nn; }
