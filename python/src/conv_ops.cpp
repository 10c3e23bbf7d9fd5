// Python bindings of convolution (conv1d/2d/3d, conv_transpose*, conv_general, convolve).
#include "convert.h"

void init_conv_ops(nb::module_& m) {}
