#include <lazuli/lazuli.h>

int main() {
  lazuli::array x = lazuli::sum(lazuli::ones({3, 4}));
  return x.item<float>() == 12.f ? 0 : 1;
}
