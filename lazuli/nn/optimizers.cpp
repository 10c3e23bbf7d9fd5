// MLX's optimizer update rules written with lazuli ops (see lazuli/nn/optimizers.h).
#include "lazuli/nn/optimizers.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "lazuli/compile.h"
#include "lazuli/linalg.h"

namespace lazuli::optimizers {

namespace {

// The learning rate in the gradient's dtype, as MLX's `learning_rate.astype(gradient.dtype)`.
array rate(const array& learning_rate, const array& gradient, S s) {
  return astype(learning_rate, gradient.dtype(), s);
}

// step (an integer count) as float32, for powers such as beta^step.
array float_step(const array& step, S s) { return astype(step, float32, s); }

}  // namespace

namespace {

// Runs an update's math compiled: one fused pass over the parameter and its state instead
// of an op per term. The math is traced once per optimizer, hyper-parameters, stream and
// parameter rank (shapeless), and replayed for every parameter after that.
Update fused(const std::string& optimizer, std::vector<double> hyper, S s, const std::vector<array>& args,
             const std::function<std::vector<array>(const std::vector<array>&)>& math) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::vector<double>>, Fn> compiled;
  Stream stream = to_stream(s);
  hyper.push_back(static_cast<double>(stream.index));
  hyper.push_back(stream.device == Device::gpu ? 1 : 0);
  Fn fn;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto key = std::make_pair(optimizer, hyper);
    auto it = compiled.find(key);
    if (it == compiled.end()) {
      if (compiled.size() >= 256) compiled.clear();  // bounded: settings rarely change
      it = compiled.emplace(key, compile(math, true)).first;
    }
    fn = it->second;
  }
  auto out = fn(args);
  return {out[0], std::vector<array>(out.begin() + 1, out.end())};
}

}  // namespace

Update sgd(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
           double momentum, double weight_decay, double dampening, bool nesterov, S s) {
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw std::invalid_argument("[SGD] Nesterov momentum requires a momentum and zero dampening.");
  return fused("sgd", {momentum, weight_decay, dampening, double(nesterov)}, s, {parameter, gradient, v, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array &w = x[0], &v = x[2];
                 array g = weight_decay != 0 ? x[1] + weight_decay * w : x[1];
                 array lr = rate(x[3], g, s);
                 if (momentum <= 0) return {w - lr * g, v};
                 array v_new = momentum * v + (dampening > 0 ? (1 - dampening) * g : g);
                 array direction = nesterov ? g + momentum * v_new : v_new;
                 return {w - lr * direction, v_new};
               });
}

Update rmsprop(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
               double alpha, double eps, S s) {
  return fused("rmsprop", {alpha, eps}, s, {parameter, gradient, v, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array &w = x[0], &g = x[1];
                 array v_new = alpha * x[2] + (1 - alpha) * square(g, s);
                 return {w - rate(x[3], g, s) * g / (sqrt(v_new, s) + eps), v_new};
               });
}

Update adagrad(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
               double eps, S s) {
  return fused("adagrad", {eps}, s, {parameter, gradient, v, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array &w = x[0], &g = x[1];
                 array v_new = x[2] + square(g, s);
                 return {w - rate(x[3], g, s) * g / (sqrt(v_new, s) + eps), v_new};
               });
}

Update adadelta(const array& parameter, const array& gradient, const array& v, const array& u,
                const array& learning_rate, double rho, double eps, S s) {
  return fused("adadelta", {rho, eps}, s, {parameter, gradient, v, u, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array &w = x[0], &g = x[1], &u = x[3];
                 array v_new = rho * x[2] + (1 - rho) * square(g, s);
                 array d = sqrt(u + eps, s) / sqrt(v_new + eps, s) * g;
                 array u_new = rho * u + (1 - rho) * square(d, s);
                 return {w - rate(x[4], g, s) * d, v_new, u_new};
               });
}

namespace {
// Adam's update of w (already decayed by AdamW) from x = (w, g, m, v, lr, step).
std::vector<array> adam_math(const array& w, const std::vector<array>& x, double beta1, double beta2, double eps,
                             bool bias_correction, S s) {
  const array &g = x[1], &lr_in = x[4], &step = x[5];
  array lr = rate(lr_in, g, s);
  array m_new = beta1 * x[2] + (1 - beta1) * g;
  array v_new = beta2 * x[3] + (1 - beta2) * square(g, s);
  if (!bias_correction) return {w - lr * m_new / (sqrt(v_new, s) + eps), m_new, v_new};
  array t = float_step(step, s);
  array c1 = astype(lr / (1.0 - power(array(beta1, float32), t, s)), g.dtype(), s);
  array c2 = astype(rsqrt(1.0 - power(array(beta2, float32), t, s), s), g.dtype(), s);
  return {w - c1 * m_new / (sqrt(v_new, s) * c2 + eps), m_new, v_new};
}
}  // namespace

Update adam(const array& parameter, const array& gradient, const array& m, const array& v,
            const array& learning_rate, const array& step, double beta1, double beta2, double eps,
            bool bias_correction, S s) {
  return fused("adam", {beta1, beta2, eps, double(bias_correction)}, s,
               {parameter, gradient, m, v, learning_rate, step}, [=](const std::vector<array>& x) {
                 return adam_math(x[0], x, beta1, beta2, eps, bias_correction, s);
               });
}

Update adamw(const array& parameter, const array& gradient, const array& m, const array& v,
             const array& learning_rate, const array& step, double beta1, double beta2, double eps,
             double weight_decay, bool bias_correction, S s) {
  return fused("adamw", {beta1, beta2, eps, weight_decay, double(bias_correction)}, s,
               {parameter, gradient, m, v, learning_rate, step}, [=](const std::vector<array>& x) {
                 array decayed = x[0] * (1.0 - rate(x[4], x[1], s) * weight_decay);
                 return adam_math(decayed, x, beta1, beta2, eps, bias_correction, s);
               });
}

Update adamax(const array& parameter, const array& gradient, const array& m, const array& v,
              const array& learning_rate, double beta1, double beta2, double eps, S s) {
  return fused("adamax", {beta1, beta2, eps}, s, {parameter, gradient, m, v, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array& g = x[1];
                 array m_new = beta1 * x[2] + (1 - beta1) * g;
                 array v_new = maximum(beta2 * x[3], abs(g, s), s);
                 return {x[0] - rate(x[4], g, s) * m_new / (v_new + eps), m_new, v_new};
               });
}

Update lion(const array& parameter, const array& gradient, const array& m, const array& learning_rate,
            double beta1, double beta2, double weight_decay, S s) {
  return fused("lion", {beta1, beta2, weight_decay}, s, {parameter, gradient, m, learning_rate},
               [=](const std::vector<array>& x) -> std::vector<array> {
                 const array &g = x[1], &m = x[2];
                 array lr = rate(x[3], g, s);
                 array c = beta1 * m + (1 - beta1) * g;
                 array m_new = beta2 * m + (1 - beta2) * g;
                 array w = weight_decay > 0 ? (1.0 - lr * weight_decay) * x[0] : x[0];
                 return {w - lr * sign(c, s), m_new};
               });
}

std::vector<array> adafactor_init(const array& parameter, const AdafactorOptions& options, S s) {
  std::vector<array> state;
  const Shape& shape = parameter.shape();
  if (parameter.ndim() >= 2) {
    Shape col(shape.begin(), shape.end() - 2);
    col.push_back(shape.back());
    state.push_back(zeros(Shape(shape.begin(), shape.end() - 1), parameter.dtype(), s));
    state.push_back(zeros(col, parameter.dtype(), s));
  } else {
    state.push_back(zeros_like(parameter, s));
  }
  if (options.beta1) state.push_back(zeros_like(parameter, s));
  return state;
}

namespace {
array rms(const array& x, S s) { return sqrt(mean(square(x, s), false, s), s); }
}  // namespace

Update adafactor(const array& parameter, const array& gradient, const std::vector<array>& state,
                 const std::optional<array>& learning_rate, const array& step, const AdafactorOptions& o, S s) {
  const bool factored = gradient.ndim() >= 2;
  const size_t expected = (factored ? 2 : 1) + (o.beta1 ? 1 : 0);
  if (state.size() != expected)
    throw std::invalid_argument("[Adafactor] expected " + std::to_string(expected) + " state arrays, got " +
                                std::to_string(state.size()) + ".");
  if (!o.relative_step && !learning_rate)
    throw std::invalid_argument("[Adafactor] a learning_rate is needed when relative_step is False.");
  array t = float_step(step, s);
  array parameter_rms = rms(parameter, s);
  Dtype rms_dtype = parameter_rms.dtype();

  // The step size: relative (min(1e-2 or 1e-6 t, 1/sqrt(t))) or the given learning rate,
  // times the parameter's RMS when scale_parameter.
  array step_size = o.relative_step
                        ? minimum(o.warmup_init ? 1e-6 * t : array(1e-2, float32), rsqrt(t, s), s)
                        : *learning_rate;
  array lr = astype(step_size, rms_dtype, s);
  if (o.scale_parameter) lr = maximum(array(o.eps2, rms_dtype), parameter_rms, s) * lr;

  array beta2 = astype(1.0 - power(t, array(o.decay_rate, float32), s), rms_dtype, s);
  array update = square(gradient, s) + o.eps1;
  std::vector<array> new_state;
  if (factored) {
    array row = beta2 * state[0] + (1.0 - beta2) * mean(update, -1, false, s);
    array col = beta2 * state[1] + (1.0 - beta2) * mean(update, -2, false, s);
    new_state = {row, col};
    // The second moment approximated by the outer product of the row and column averages.
    array r_factor = rsqrt(row / mean(row, -1, true, s), s);
    array c_factor = rsqrt(col, s);
    update = expand_dims(r_factor, -1, s) * expand_dims(c_factor, -2, s) * gradient;
  } else {
    array avg = beta2 * state[0] + (1.0 - beta2) * update;
    new_state = {avg};
    update = rsqrt(avg, s) * gradient;
  }
  update = update / maximum(array(1.0, float32), rms(update, s) / o.clip_threshold, s);
  update = lr * update;
  if (o.beta1) {
    array exp_avg = *o.beta1 * state.back() + (1 - *o.beta1) * update;
    new_state.push_back(exp_avg);
    update = exp_avg;
  }
  array w = o.weight_decay != 0 ? parameter + parameter * (-o.weight_decay * lr) : parameter;
  return {w - update, new_state};
}

array newton_schulz5(const array& x, int steps, S s) {
  if (x.ndim() != 2)
    throw std::invalid_argument("[newton_schulz5] expected a 2-D array, got " + std::to_string(x.ndim()) +
                                " dimensions.");
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  // Iterate on the wide orientation so X X^T is the smaller Gram matrix.
  const bool tall = x.shape(0) > x.shape(1);
  array X = tall ? transpose(x, s) : x;
  X = X / (linalg::norm(X, std::nullopt, true, s) + 1e-7);
  for (int i = 0; i < steps; ++i) {
    array A = matmul(X, transpose(X, s), s);
    array B = addmm(b * A, A, A, static_cast<float>(c), 1.0f, s);
    X = addmm(a * X, B, X, 1.0f, 1.0f, s);
  }
  return tall ? transpose(X, s) : X;
}

Update muon(const array& parameter, const array& gradient, const array& v, const array& learning_rate,
            double momentum, double weight_decay, bool nesterov, int ns_steps, S s) {
  array g = weight_decay != 0 ? gradient + weight_decay * parameter : gradient;
  array v_new = momentum * v + (1 - momentum) * g;
  array update = nesterov ? g * (1 - momentum) + v_new * momentum : v_new;
  array lr = rate(learning_rate, g, s);
  if (update.ndim() >= 2) {
    Shape shape = update.shape();
    update = reshape(newton_schulz5(reshape(update, {shape[0], -1}, s), ns_steps, s), shape, s);
    double rows = static_cast<double>(shape[shape.size() - 2]), cols = static_cast<double>(shape.back());
    lr = lr * std::sqrt(std::max(1.0, rows / cols));
  }
  return {parameter - lr * update, {v_new}};
}

std::pair<std::vector<array>, array> clip_grad_norm(const std::vector<array>& gradients, double max_norm, S s) {
  array norm_squared = array(0.0f);
  for (const array& g : gradients) norm_squared = norm_squared + sum(square(g, s), false, s);
  array total_norm = sqrt(norm_squared, s);
  array scale = minimum(max_norm / (total_norm + 1e-6), array(1.0f), s);
  std::vector<array> clipped;
  clipped.reserve(gradients.size());
  for (const array& g : gradients) clipped.push_back(g * scale);
  return {clipped, total_norm};
}

}  // namespace lazuli::optimizers
