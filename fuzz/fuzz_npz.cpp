#include <vector>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run([&] {
    lazuli::io::Bytes archive{data, size};
    for (auto& e : lazuli::io::parse_zip(archive, "fuzz")) {
      std::vector<uint8_t> buffer;
      try {
        auto member = lazuli::io::zip_member(archive, e, buffer, "fuzz");
        auto h = lazuli::io::parse_npy(member, "fuzz");
        fuzz::sink = fuzz::touch(member.data + h.data_offset, h.nbytes);
      } catch (const std::invalid_argument&) {  // the other members still get read
      }
    }
  });
}
