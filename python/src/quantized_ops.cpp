// Python bindings of quantization (quantize, dequantize, quantized_matmul, gather_qmm, to_fp8, from_fp8).
#include "convert.h"

void init_quantized_ops(nb::module_& m) {}
