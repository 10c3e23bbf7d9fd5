// Devices, streams, memory and printing options.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "convert.h"

using namespace lazuli;

namespace {
std::string device_repr(const Device& d) {
  return std::string("Device(") + (d.type == Device::cpu ? "cpu" : "gpu") + ", " + std::to_string(d.index) + ")";
}

// `with lazuli.core.stream(s):` makes s (or a device's default stream) the default.
struct StreamContext {
  StreamOrDevice target;
  std::optional<Device> old_device;
  std::optional<Stream> old_stream;
  void enter() {
    old_device = default_device();
    old_stream = default_stream(*old_device);
    Stream s = to_stream(target);
    set_default_device(s.device);
    set_default_stream(s);
  }
  void exit() {
    if (old_stream) set_default_stream(*old_stream);
    if (old_device) set_default_device(*old_device);
  }
};
}  // namespace

void init_devices(nb::module_& m) {
  nb::enum_<Device::DeviceType>(m, "DeviceType").value("cpu", Device::cpu).value("gpu", Device::gpu);
  m.attr("cpu") = Device::cpu;
  m.attr("gpu") = Device::gpu;
  nb::class_<Device>(m, "Device")
      .def(nb::init<Device::DeviceType, int>(), "type"_a, "index"_a = 0)
      .def_ro("type", &Device::type)
      .def_ro("index", &Device::index)
      .def("__repr__", &device_repr)
      .def("__eq__", [](const Device& a, nb::handle b) {
        if (nb::isinstance<Device::DeviceType>(b)) return a == Device(nb::cast<Device::DeviceType>(b));
        return nb::isinstance<Device>(b) && a == nb::cast<Device>(b);
      });
  nb::implicitly_convertible<Device::DeviceType, Device>();
  nb::class_<Stream>(m, "Stream")
      .def_ro("device", &Stream::device)
      .def_ro("index", &Stream::index)
      .def("__repr__", [](const Stream& s) { return "Stream(" + device_repr(s.device) + ", " + std::to_string(s.index) + ")"; })
      .def("__eq__", [](const Stream& a, nb::handle b) { return nb::isinstance<Stream>(b) && a == nb::cast<Stream>(b); });

  m.def("default_device", &default_device);
  m.def("set_default_device", [](const Device& d) { set_default_device(d); }, "device"_a);
  m.def("is_available", [](const Device& d) { return is_available(d); }, "device"_a);
  m.def("device_count", [](Device::DeviceType t) { return device_count(t); }, "device_type"_a = Device::gpu);
  m.def("device_info", [](std::optional<Device> d) {
    nb::dict info;
    Device dev = d.value_or(default_device());
    info["device_name"] = dev.type == Device::cpu ? "cpu" : "gpu";
    info["memory_size"] = get_memory_limit();
    return info;
  }, "device"_a = nb::none());
  m.def("default_stream", [](const Device& d) { return default_stream(d); }, "device"_a);
  m.def("set_default_stream", [](const Stream& s) { set_default_stream(s); }, "stream"_a);
  m.def("new_stream", [](const Device& d) { return new_stream(d); }, "device"_a);
  // Every Lazuli stream is safe to use from any thread, so the thread-local and
  // thread-unsafe variants are plain new streams.
  m.def("new_thread_local_stream", [](const Device& d) { return new_stream(d); }, "device"_a);
  m.def("new_thread_unsafe_stream", [](const Device& d) { return new_stream(d); }, "device"_a);
  m.def("clear_streams", [] {
    // Waits for all work and makes the CPU's first stream its default again.
    nb::gil_scoped_release release;
    synchronize();
    set_default_stream(Stream(0, Device(Device::cpu)));
  });
  m.def(
      "synchronize",
      [](std::optional<Stream> s) {
        nb::gil_scoped_release release;
        if (s) synchronize(*s);
        else synchronize();
      },
      "stream"_a = nb::none());
  nb::class_<StreamContext>(m, "StreamContext")
      .def("__enter__", [](StreamContext& c) { c.enter(); return &c; }, nb::rv_policy::reference)
      .def("__exit__", [](StreamContext& c, nb::args) { c.exit(); });
  m.def("stream", [](nb::handle s) { return StreamContext{py::to_stream_or_device(s)}; }, "s"_a,
        "A context manager that makes a stream (or a device's default stream) the default.");

  m.def("get_active_memory", &get_active_memory);
  m.def("get_peak_memory", &get_peak_memory);
  m.def("reset_peak_memory", &reset_peak_memory);
  m.def("get_cache_memory", &get_cache_memory);
  m.def("set_memory_limit", [](size_t limit) { return set_memory_limit(limit); }, "limit"_a);
  m.def("set_cache_limit", [](size_t limit) { return set_cache_limit(limit); }, "limit"_a);
  m.def("set_wired_limit", [](size_t) { return size_t{0}; }, "limit"_a, "No wired memory on this platform: a no-op.");
  m.def("clear_cache", &clear_cache);

  m.def(
      "set_printoptions",
      [](std::optional<int> precision, std::optional<int> threshold, std::optional<int> edgeitems) {
        PrintOptions o = get_printoptions();
        if (precision) o.precision = *precision;
        if (threshold) o.threshold = *threshold;
        if (edgeitems) o.edgeitems = *edgeitems;
        set_printoptions(o);
      },
      "precision"_a = nb::none(), "threshold"_a = nb::none(), "edgeitems"_a = nb::none());
  nb::class_<PrintOptions>(m, "PrintOptions")
      .def(nb::init<>())
      .def_rw("precision", &PrintOptions::precision)
      .def_rw("threshold", &PrintOptions::threshold)
      .def_rw("edgeitems", &PrintOptions::edgeitems);
  struct PrintOptionsContext {
    PrintOptions wanted, saved;
  };
  nb::class_<PrintOptionsContext>(m, "_PrintOptionsContext")
      .def("__enter__", [](PrintOptionsContext& c) {
        c.saved = get_printoptions();
        set_printoptions(c.wanted);
      })
      .def("__exit__", [](PrintOptionsContext& c, nb::args) { set_printoptions(c.saved); });
  m.def(
      "printoptions",
      [](std::optional<int> precision, std::optional<int> threshold, std::optional<int> edgeitems) {
        PrintOptions o = get_printoptions();
        if (precision) o.precision = *precision;
        if (threshold) o.threshold = *threshold;
        if (edgeitems) o.edgeitems = *edgeitems;
        return PrintOptionsContext{o, o};
      },
      "precision"_a = nb::none(), "threshold"_a = nb::none(), "edgeitems"_a = nb::none(),
      "A context manager that sets print options and restores the old ones on exit.");
  m.def("get_printoptions", [] {
    PrintOptions o = get_printoptions();
    nb::dict d;
    d["precision"] = o.precision;
    d["threshold"] = o.threshold;
    d["edgeitems"] = o.edgeitems;
    return d;
  });

  // mx.metal: no Metal here. Kept so MLX programs that query it run; the memory functions
  // are MLX's deprecated copies of the top-level ones.
  auto metal = m.def_submodule("metal", "Metal queries (never available on Lazuli).");
  metal.def("is_available", [] { return false; });
  metal.def("start_capture", [](nb::handle) { throw nb::value_error("[metal] There is no Metal device to capture."); });
  metal.def("stop_capture", [] {});
  metal.def("device_info", [] { return nb::dict(); });
  for (auto name : {"get_active_memory", "get_peak_memory", "reset_peak_memory", "get_cache_memory",
                    "set_memory_limit", "set_cache_limit", "set_wired_limit", "clear_cache"})
    metal.attr(name) = m.attr(name);

  auto cuda = m.def_submodule("cuda", "CUDA backend queries.");
  cuda.def("is_available", [] { return is_available(Device(Device::gpu)); });
}
