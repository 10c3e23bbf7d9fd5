#include <gtest/gtest.h>

#include "lazuli/lazuli.h"

using namespace lazuli;

TEST(Smoke, AddAndSum) {
  array a = arange(6.0);
  array b = sum(a + a);
  EXPECT_FLOAT_EQ(b.item<float>(), 30.f);
}
