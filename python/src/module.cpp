// lazuli.core: MLX's Python API over Lazuli.
#include "convert.h"
#include "export.h"
#include "nn_ops.h"

NB_MODULE(core, m) {
  m.doc() = "Lazuli: lazy NumPy-like arrays with MLX's Python API.";
  m.attr("__version__") = "0.1.0";
  init_dtypes(m);
  init_devices(m);
  init_array(m);
  init_ops(m);
  init_transforms(m);
  init_compile(m);
  init_scan_ops(m);
  init_sort_ops(m);
  init_random(m);
  init_indexing_ops(m);
  init_einsum_ops(m);
  init_conv_ops(m);
  init_linalg(m);
  init_fft(m);
  init_quantized_ops(m);
  init_io(m);
  init_nn_ops(m);
  init_fast(m);
  init_export(m);
}
