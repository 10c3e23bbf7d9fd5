// The update rules of MLX's optimizers (mlx.optimizers), one function per optimizer: each
// takes a parameter, its gradient, the optimizer's state arrays for it and the
// hyper-parameters, and returns the new parameter and the new state. They are written with
// lazuli ops, so one parameter's update is one lazy graph (evaluated with the parameter).
// The Python package lazuli.optimizers holds the state trees and calls these.
//
// Scalars take the parameter's dtype (as Python scalars do in MLX); `learning_rate` is a
// 0-d array cast to the gradient's dtype; `step` is the (already incremented) step count.
#pragma once
#include <optional>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/ops.h"

namespace lazuli::optimizers {

using S = StreamOrDevice;

// The new parameter and the new state arrays, in the order the function takes them.
struct Update {
  array parameter;
  std::vector<array> state;
};

// v <- momentum v + (1 - dampening) g (g += weight_decay w first); w <- w - lr (nesterov:
// g + momentum v, else v). With momentum <= 0: w <- w - lr g and v is unchanged.
Update sgd(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
           double momentum = 0.0, double weight_decay = 0.0, double dampening = 0.0, bool nesterov = false,
           S s = {});
// v <- alpha v + (1 - alpha) g^2; w <- w - lr g / (sqrt(v) + eps).
Update rmsprop(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
               double alpha = 0.99, double eps = 1e-8, S s = {});
// v <- v + g^2; w <- w - lr g / (sqrt(v) + eps).
Update adagrad(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
               double eps = 1e-8, S s = {});
// v <- rho v + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) g; u <- rho u + (1 - rho) d^2;
// w <- w - lr d. State (v, u).
Update adadelta(const array& parameter, const array& gradient, const array& v, const array& u,
                const array& learning_rate, double rho = 0.9, double eps = 1e-6, S s = {});
// m <- b1 m + (1 - b1) g; v <- b2 v + (1 - b2) g^2; w <- w - lr m / (sqrt(v) + eps), with
// bias correction: w - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps). State (m, v).
Update adam(const array& parameter, const array& gradient, const array& m, const array& v,
            const array& learning_rate, const array& step, double beta1 = 0.9, double beta2 = 0.999,
            double eps = 1e-8, bool bias_correction = false, S s = {});
// Adam applied to w (1 - lr weight_decay) (decoupled weight decay).
Update adamw(const array& parameter, const array& gradient, const array& m, const array& v,
             const array& learning_rate, const array& step, double beta1 = 0.9, double beta2 = 0.999,
             double eps = 1e-8, double weight_decay = 0.01, bool bias_correction = false, S s = {});
// m <- b1 m + (1 - b1) g; v <- max(b2 v, |g|); w <- w - lr m / (v + eps). State (m, v).
Update adamax(const array& parameter, const array& gradient, const array& m, const array& v,
              const array& learning_rate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, S s = {});
// c = b1 m + (1 - b1) g; m <- b2 m + (1 - b2) g; w <- w (1 - lr wd) - lr sign(c).
Update lion(const array& parameter, const array& gradient, const array& m, const array& learning_rate,
            double beta1 = 0.9, double beta2 = 0.99, double weight_decay = 0.0, S s = {});

// Adafactor's settings (MLX's defaults). Without relative_step, learning_rate must be given.
struct AdafactorOptions {
  double eps1 = 1e-30;  // added to g^2
  double eps2 = 1e-3;   // floor of the parameter's RMS when scale_parameter
  double clip_threshold = 1.0;
  double decay_rate = -0.8;
  std::optional<double> beta1;  // first moment (state exp_avg) when given
  double weight_decay = 0.0;
  bool scale_parameter = true;
  bool relative_step = true;
  bool warmup_init = false;
};
// State: (exp_avg_sq_row, exp_avg_sq_col) for ndim >= 2 (factored second moment), else
// (exp_avg_sq); then exp_avg when beta1 is set. adafactor_init makes the zero state.
std::vector<array> adafactor_init(const array& parameter, const AdafactorOptions& options, S s = {});
Update adafactor(const array& parameter, const array& gradient, const std::vector<array>& state,
                 const std::optional<array>& learning_rate, const array& step, const AdafactorOptions& options = {},
                 S s = {});

// Newton-Schulz iteration (quintic, coefficients 3.4445, -4.7750, 2.0315) pushing a 2-D
// matrix's singular values towards 1, as MLX's Muon does.
array newton_schulz5(const array& x, int steps = 5, S s = {});
// g += wd w; v <- momentum v + (1 - momentum) g; update = nesterov ? g (1 - momentum) +
// momentum v : v, orthogonalised (flattened to 2-D) when ndim >= 2 and then scaled by
// sqrt(max(1, rows / cols)); w <- w - lr update.
Update muon(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
            double momentum = 0.95, double weight_decay = 0.01, bool nesterov = true, int ns_steps = 5, S s = {});

// Scales all gradients by min(max_norm / (total_norm + 1e-6), 1); returns them and the total
// L2 norm over all of them.
std::pair<std::vector<array>, array> clip_grad_norm(const std::vector<array>& gradients, double max_norm,
                                                    S s = {});

}  // namespace lazuli::optimizers
