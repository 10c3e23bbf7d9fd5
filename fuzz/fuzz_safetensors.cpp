#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run([&] {
    auto h = lazuli::io::parse_safetensors({data, size}, "fuzz");
    for (auto& t : h.tensors) fuzz::sink = fuzz::touch(data + t.offset, t.nbytes);
  });
}
