#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run([&] {
    auto h = lazuli::io::parse_npy({data, size}, "fuzz");
    fuzz::sink = fuzz::touch(data + h.data_offset, h.nbytes);
  });
}
