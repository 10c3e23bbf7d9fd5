// Registration of lazuli.core._nn, the C++ math behind the Python package lazuli.nn.
#pragma once
#include <nanobind/nanobind.h>

#include <optional>

#include "lazuli/array.h"

void init_nn_ops(nanobind::module_& m);
// None -> nullopt, anything else -> an array (nn_ops.cpp); for optional array arguments.
std::optional<lazuli::array> opt_array(nanobind::handle a);

// Bindings of further layer families into lazuli.core._nn, one file each.
void init_nn_transformer_ops(nanobind::module_& nn);  // nn_transformer_ops.cpp
void init_nn_recurrent_ops(nanobind::module_& nn);    // nn_recurrent_ops.cpp
// lazuli.core.fast (fast.cpp).
void init_fast(nanobind::module_& m);
