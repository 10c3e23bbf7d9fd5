#include <vector>

#include "fuzz_util.h"

using namespace lazuli::io;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run([&] {
    GgufFile g = parse_gguf({data, size}, "fuzz");
    for (auto& t : g.tensors) {
      auto [block, block_bytes] = ggml_block(t.ggml_type);
      size_t nblocks = t.nbytes / block_bytes;
      const uint8_t* src = data + t.offset;
      fuzz::sink = fuzz::touch(src, t.nbytes);
      // Decode the quantized blocks as load_gguf does, into buffers of the sizes it uses.
      if (t.ggml_type == GGML_Q4_0 || t.ggml_type == GGML_Q4_1 || t.ggml_type == GGML_Q8_0) {
        int bits = t.ggml_type == GGML_Q8_0 ? 8 : 4;
        std::vector<uint32_t> words(nblocks * 32 * bits / 32);
        std::vector<uint16_t> scales(nblocks), biases(nblocks);
        unpack_q_affine(t.ggml_type, src, words.data(), scales.data(), biases.data(), nblocks);
      } else if (block == 256) {
        std::vector<float> y(nblocks * 256);
        if (t.ggml_type == GGML_Q4_K) dequantize_q4_k(src, y.data(), nblocks);
        else if (t.ggml_type == GGML_Q5_K) dequantize_q5_k(src, y.data(), nblocks);
        else dequantize_q6_k(src, y.data(), nblocks);
      }
    }
  });
}
