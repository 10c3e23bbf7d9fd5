// export_function, import_function, exporter and export_to_dot (python/src/export.cpp).
#pragma once
#include "convert.h"

void init_export(nb::module_& m);
