// The name a scatter of each kind goes by in error messages, for the op and both backends.
#pragma once
#include "lazuli/primitives.h"

namespace lazuli {

inline const char* scatter_op_name(ScatterOp op) {
  switch (op) {
    case ScatterOp::Set: return "scatter";
    case ScatterOp::Add: return "scatter_add";
    case ScatterOp::Prod: return "scatter_prod";
    case ScatterOp::Max: return "scatter_max";
    case ScatterOp::Min: return "scatter_min";
  }
  return "scatter";
}

}  // namespace lazuli
