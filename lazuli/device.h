// Devices and streams. A stream orders work on one device; streams run independently and
// wait on each other only where one's output feeds the other.
#pragma once
#include <variant>

namespace lazuli {

struct Device {
  enum class DeviceType { cpu, gpu };
  static constexpr DeviceType cpu = DeviceType::cpu;
  static constexpr DeviceType gpu = DeviceType::gpu;

  DeviceType type;
  int index;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
};
bool operator==(const Device& a, const Device& b);
bool operator!=(const Device& a, const Device& b);

const Device& default_device();
void set_default_device(const Device& d);
bool is_available(const Device& d);  // a gpu exists only when the CUDA backend finds one
int device_count(Device::DeviceType t);

struct Stream {
  int index;
  Device device;
  Stream(int i, Device d) : index(i), device(d) {}
};
bool operator==(const Stream& a, const Stream& b);
bool operator!=(const Stream& a, const Stream& b);

Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);          // a CPU stream gets its own worker thread
void synchronize();                   // waits for every stream
void synchronize(Stream s);

// Every op takes one of these as its last argument: nothing (the default stream of the
// default device), a device (its default stream) or a stream.
using StreamOrDevice = std::variant<std::monostate, Stream, Device>;
Stream to_stream(StreamOrDevice s);

}  // namespace lazuli
