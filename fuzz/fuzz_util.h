// Shared by the fuzz targets: parse errors are expected (std::invalid_argument); anything
// else (a crash, a sanitizer report, another exception, a huge allocation) is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "lazuli/io/formats.h"

namespace fuzz {
// Reads every byte of a range the parser vouched for, so that ASan checks the bounds.
inline uint64_t touch(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}
inline volatile uint64_t sink;

template <typename F>
int run(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
}  // namespace fuzz
