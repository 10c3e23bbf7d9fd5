// Python bindings of gather, dynamic slice, masked_scatter, nonzero, unique, unstack, depends.
#include "convert.h"

void init_indexing_ops(nb::module_& m) {}
