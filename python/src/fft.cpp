// Python bindings of mx.fft.
#include "convert.h"

void init_fft(nb::module_& m) {}
