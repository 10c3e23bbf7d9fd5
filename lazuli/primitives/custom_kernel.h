// CustomKernel: the node of fast::cuda_kernel (lazuli/fast.h), a user's CUDA kernel that
// Lazuli compiles at run time (NVRTC) and launches on the GPU. It holds the whole generated
// program, so export can write it and an import recompiles it. Its outputs are whatever the
// user's code writes: there is no CPU kernel and no transform rule to derive, so it raises
// clear errors for those (and, being GPU-only, is outside the transform checker's registry,
// whose cases all run on the CPU).
#pragma once
#include <array>
#include <optional>

#include "lazuli/primitives.h"

namespace lazuli {

class CustomKernel : public Primitive {
 public:
  struct Launch {
    std::array<int, 3> grid;         // in threads, as MLX gives it; blocks = ceil(grid / threadgroup)
    std::array<int, 3> threadgroup;  // threads per block
    int shared_memory = 0;           // dynamic shared memory, bytes
    std::optional<float> init_value;  // every output filled with it before the launch
  };
  // Per input, what the kernel's signature takes besides the data pointer.
  struct InputMeta {
    bool shape = false, strides = false, ndim = false;
  };

  CustomKernel(Stream s, std::string user_name, std::string kernel_name, std::string source,
               std::vector<InputMeta> input_meta, std::vector<Shape> output_shapes, bool ensure_row_contiguous,
               Launch launch)
      : Primitive(s), user_name_(std::move(user_name)), kernel_name_(std::move(kernel_name)),
        source_(std::move(source)), input_meta_(std::move(input_meta)), output_shapes_(std::move(output_shapes)),
        ensure_row_contiguous_(ensure_row_contiguous), launch_(launch) {}
  std::string name() const override { return "CustomKernel"; }
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>&) const override { return output_shapes_; }
  void print(std::ostream& os) const override;
  const char* class_name() const override { return "CustomKernel"; }
  void write(Writer& w) const override;
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                       const std::vector<int>& axes) override;

  const std::string& user_name() const { return user_name_; }
  const std::string& kernel_name() const { return kernel_name_; }  // the extern "C" function
  const std::string& source() const { return source_; }            // the whole program
  const std::vector<InputMeta>& input_meta() const { return input_meta_; }
  bool ensure_row_contiguous() const { return ensure_row_contiguous_; }
  const Launch& launch() const { return launch_; }

 private:
  std::string user_name_;
  std::string kernel_name_;
  std::string source_;
  std::vector<InputMeta> input_meta_;
  std::vector<Shape> output_shapes_;
  bool ensure_row_contiguous_;
  Launch launch_;
};

// The most dimensions an input may have when the kernel reads its shape or strides (they
// are passed by value in fixed-size arrays).
inline constexpr int kCustomKernelMaxDims = 12;

}  // namespace lazuli
