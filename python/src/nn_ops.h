// Registration of lazuli.core._nn, the C++ math behind the Python package lazuli.nn.
#pragma once
#include <nanobind/nanobind.h>

void init_nn_ops(nanobind::module_& m);

// Bindings of further layer families into lazuli.core._nn, one file each.
void init_nn_transformer_ops(nanobind::module_& nn);  // nn_transformer_ops.cpp
void init_nn_recurrent_ops(nanobind::module_& nn);    // nn_recurrent_ops.cpp
// lazuli.core.fast (fast.cpp).
void init_fast(nanobind::module_& m);
