// Printing arrays like NumPy and MLX: array([[1, 2], [3, 4]], dtype=int32), with large
// arrays summarised by their edges.
#pragma once
#include <iosfwd>
#include <string>

#include "lazuli/array.h"

namespace lazuli {

struct PrintOptions {
  int precision = 6;    // significant digits of floats
  int threshold = 1000;  // summarise arrays with more elements than this
  int edgeitems = 3;     // elements kept at each edge of a summarised axis
};
PrintOptions get_printoptions();
void set_printoptions(const PrintOptions& options);

std::ostream& operator<<(std::ostream& os, array a);  // evaluates a
std::string to_string(array a);

}  // namespace lazuli
