// Lazuli: lazy NumPy-like arrays for machine learning. Include this one header.
#pragma once
#include "lazuli/array.h"
#include "lazuli/device.h"
#include "lazuli/dtype.h"
#include "lazuli/memory.h"
#include "lazuli/ops.h"
#include "lazuli/print.h"
#include "lazuli/random.h"
#include "lazuli/transforms.h"
