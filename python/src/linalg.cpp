// Python bindings of mx.linalg.
#include "convert.h"

void init_linalg(nb::module_& m) {}
