// Internal: what the CUDA backend can tell the rest of Lazuli about the machine's GPUs.
#pragma once

namespace lazuli::cuda {
// GPUs the driver reports; 0 when there is no driver or no device (never throws).
int device_count();
}  // namespace lazuli::cuda
