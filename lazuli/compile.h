// compile: trace a function once per input signature, simplify the traced graph (merge
// equal nodes, fold constants, drop dead nodes), fuse its elementwise groups, and replay
// that graph on later calls.
#pragma once
#include <cstddef>

#include "lazuli/transforms.h"

namespace lazuli {

// fun traced on its first call for each signature (input dtypes and shapes; with shapeless,
// dtypes, ranks and which axes are empty or of size 1). A traced graph whose primitives fix shapes (reshape, broadcast_to,
// slicing, ...) is re-traced for new shapes even when shapeless, so it never returns a
// stale result. Arrays fun reads without taking them as inputs are captured as constants
// at the first trace. Each compiled function keeps at most `max_traces` traces and drops
// the least recently used one past that.
Fn compile(Fn fun, bool shapeless = false, size_t max_traces = 64);

// Turn compilation off or on for the whole process: disabled, compiled functions call fun
// directly. LAZULI_DISABLE_COMPILE (or MLX_DISABLE_COMPILE) set in the environment disables
// it at start.
void disable_compile();
void enable_compile();
bool compile_enabled();

}  // namespace lazuli
