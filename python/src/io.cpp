// Python bindings of file formats (save, load, savez, safetensors, gguf).
#include "convert.h"

void init_io(nb::module_& m) {}
