// Optimizer classes with MLX's API (mlx.optimizers), mirroring the Python package
// lazuli.optimizers: same defaults, same state names. The update math is
// lazuli/nn/optimizers.h's, one call per parameter; these classes keep the state.
//
// State. An optimizer's state is a flat `Params` map, as Python's state tree flattened:
// "step" (uint64), the hyper-parameters that may be scheduled ("learning_rate"), and for a
// parameter at dotted path p its slots "p.m", "p.v", ... save_state / load_state write and
// read it as .safetensors; the keys are the same as
// `dict(tree_flatten(optimizer.state))` in Python.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "lazuli/nn/module.h"
#include "lazuli/nn/optimizers.h"

namespace lazuli::optimizers {

using nn::Params;

// A learning-rate schedule: the value at a step (a 0-d uint64 array).
using Schedule = std::function<array(const array& step)>;

// A hyper-parameter: a fixed value or a schedule evaluated at every step.
struct Schedulable {
  Schedulable(double value) : value(value) {}  // NOLINT: implicit, as Python's float
  Schedulable(Schedule schedule) : value(std::move(schedule)) {}  // NOLINT
  std::variant<double, Schedule> value;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Applies the gradients to the model's parameters and updates the model.
  void update(nn::Module& model, const Params& gradients);
  // Creates the state of every parameter that has none yet (the first update does it).
  virtual void init(const Params& parameters);
  // The updated parameters, keyed as `gradients` (`parameters` may hold more). Advances the
  // step and evaluates the schedules first.
  virtual Params apply_gradients(const Params& gradients, const Params& parameters);

  virtual Params state() const { return state_; }
  // Replaces the whole state; a parameter's missing slots are created at the next update.
  virtual void set_state(const Params& state);
  void save_state(const std::string& file) const;  // .safetensors
  void load_state(const std::string& file);

  virtual array step() const { return state_.at("step"); }
  virtual array learning_rate() const;
  virtual void set_learning_rate(double learning_rate);

 protected:
  Optimizer();
  // Stores hyper-parameter `name` in the state: a value, or a schedule's value at the step.
  void schedule(const std::string& name, const Schedulable& value);
  // The names of a parameter's state slots, and their initial values (default: zeros).
  virtual std::vector<std::string> slots(const array& parameter) const = 0;
  virtual std::vector<array> initial_state(const array& parameter) const;
  // One parameter's update with its slots' current values (in slots' order).
  virtual Update compute(const array& gradient, const array& parameter, const std::vector<array>& state) = 0;

  Params state_;

 private:
  bool has_state(const std::string& name, const array& parameter) const;
  std::map<std::string, Schedule> schedules_;
};

class SGD : public Optimizer {
 public:
  explicit SGD(Schedulable learning_rate, double momentum = 0.0, double weight_decay = 0.0, double dampening = 0.0,
               bool nesterov = false);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"v"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double momentum_, weight_decay_, dampening_;
  bool nesterov_;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(Schedulable learning_rate, double alpha = 0.99, double eps = 1e-8);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"v"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double alpha_, eps_;
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(Schedulable learning_rate, double eps = 1e-8);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"v"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double eps_;
};

class AdaDelta : public Optimizer {
 public:
  explicit AdaDelta(Schedulable learning_rate, double rho = 0.9, double eps = 1e-6);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"v", "u"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double rho_, eps_;
};

// bias_correction defaults to false, as in MLX.
class Adam : public Optimizer {
 public:
  explicit Adam(Schedulable learning_rate, std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8,
                bool bias_correction = false);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"m", "v"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

  std::pair<double, double> betas_;
  double eps_;
  bool bias_correction_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(Schedulable learning_rate, std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8,
                 double weight_decay = 0.01, bool bias_correction = false);

 protected:
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double weight_decay_;
};

class Adamax : public Adam {
 public:
  explicit Adamax(Schedulable learning_rate, std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8);

 protected:
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;
};

class Lion : public Optimizer {
 public:
  explicit Lion(Schedulable learning_rate, std::pair<double, double> betas = {0.9, 0.99},
                double weight_decay = 0.0);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"m"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  std::pair<double, double> betas_;
  double weight_decay_;
};

// Without a learning rate the step size is relative (options.relative_step must be set).
class Adafactor : public Optimizer {
 public:
  explicit Adafactor(std::optional<Schedulable> learning_rate = std::nullopt, AdafactorOptions options = {});

 protected:
  std::vector<std::string> slots(const array& parameter) const override;
  std::vector<array> initial_state(const array& parameter) const override;
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  AdafactorOptions options_;
};

class Muon : public Optimizer {
 public:
  explicit Muon(Schedulable learning_rate, double momentum = 0.95, double weight_decay = 0.01, bool nesterov = true,
                int ns_steps = 5);

 protected:
  std::vector<std::string> slots(const array&) const override { return {"v"}; }
  Update compute(const array& g, const array& p, const std::vector<array>& state) override;

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
  int ns_steps_;
};

// Several optimizers over one model: the parameter at dotted path k goes to the first
// optimizer i whose filters[i](k, gradient) is true, else to the last one. Its state is
// the optimizers' states under "states.0.", "states.1.", ...
class MultiOptimizer : public Optimizer {
 public:
  using Filter = std::function<bool(const std::string& path, const array& gradient)>;
  MultiOptimizer(std::vector<std::shared_ptr<Optimizer>> optimizers, std::vector<Filter> filters = {});

  void init(const Params& parameters) override;
  Params apply_gradients(const Params& gradients, const Params& parameters) override;
  Params state() const override;
  void set_state(const Params& state) override;
  // The first optimizer's (they advance together).
  array step() const override { return optimizers_.at(0)->step(); }
  array learning_rate() const override { return optimizers_.at(0)->learning_rate(); }
  void set_learning_rate(double learning_rate) override;

 protected:
  std::vector<std::string> slots(const array&) const override { return {}; }
  Update compute(const array&, const array& p, const std::vector<array>&) override { return {p, {}}; }

 private:
  std::vector<Params> split(const Params& gradients) const;
  std::vector<std::shared_ptr<Optimizer>> optimizers_;
  std::vector<Filter> filters_;
};

// Scales the gradients so that their total L2 norm is at most max_norm; returns them and
// the norm before clipping. (A template only so that a braced list of arrays still picks
// the overload of std::vector<array> in optimizers.h.)
std::pair<Params, array> clip_grad_norm_params(const Params& gradients, double max_norm);
template <typename P, typename = std::enable_if_t<std::is_same_v<P, Params>>>
std::pair<Params, array> clip_grad_norm(const P& gradients, double max_norm) {
  return clip_grad_norm_params(gradients, max_norm);
}

// ---- schedules (functions of the step, as MLX's) ----
Schedule exponential_decay(double init, double decay_rate);                   // init decay_rate^step
Schedule step_decay(double init, double decay_rate, int step_size);            // init decay_rate^(step // step_size)
Schedule cosine_decay(double init, int decay_steps, double end = 0.0);         // half a cosine, then end
Schedule linear_schedule(double init, double end, int steps);                  // linear, then end
// schedules[i + 1] from step boundaries[i] on, called with the step counted from there.
Schedule join_schedules(const std::vector<Schedule>& schedules, const std::vector<int>& boundaries);

}  // namespace lazuli::optimizers
