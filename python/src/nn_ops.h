// Registration of lazuli.core._nn, the C++ math behind the Python package lazuli.nn.
#pragma once
#include <nanobind/nanobind.h>

void init_nn_ops(nanobind::module_& m);
