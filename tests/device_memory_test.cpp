// lazuli/device_memory.h on any machine: Lazuli's and the host's buffers need no staging.
// Device-only memory (DLPack imports of CUDA tensors): tests/gpu_device_memory_test.cpp.
#include "lazuli/device_memory.h"

#include "test_util.h"

namespace lazuli {
namespace {

TEST(DeviceMemory, OwnAndHostBuffersAreReadInPlace) {
  bool gpu = device_count(Device::gpu) > 0;
  array a = arange(6.0f);
  a.eval();
  EXPECT_EQ(memory_kind(a), gpu ? MemoryKind::managed : MemoryKind::host);
  EXPECT_EQ(cuda_device() >= 0, gpu);
  EXPECT_EQ(host_readable(a).buffer().ptr, a.buffer().ptr);

  std::vector<float> values{1, 2, 3, 4};
  array wrapped(values.data(), {2, 2}, float32, [](void*) {});
  EXPECT_EQ(memory_kind(wrapped), MemoryKind::host);
  EXPECT_EQ(host_readable(wrapped).buffer().ptr, values.data());
  EXPECT_FALSE(host_readable(std::vector<array>{a, wrapped, array(1.0f)}).has_value());
  test::expect_values(add(wrapped, array(1.0f), Device::cpu), {2, 3, 4, 5});

  array lazy = add(a, array(1.0f));  // no data yet: host, without a driver query
  EXPECT_EQ(memory_kind(lazy), MemoryKind::host);
  synchronize_dlpack_producers();  // a no-op without a GPU, a stream wait with one
}

}  // namespace
}  // namespace lazuli
