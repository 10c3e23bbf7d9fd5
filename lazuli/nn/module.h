// lazuli::nn::Module: the base of the C++ layer classes, with MLX's nn.Module API.
//
// The parameter tree. A module holds named arrays (its own parameters) and named child
// modules. A list of children is stored under the names "<list>.0", "<list>.1", ... (as
// Sequential's "layers.0"), so every parameter has one dotted path, such as
// "layers.0.weight". parameters() and its relatives return the tree flattened into a `Params`
// map keyed by those paths; update(), load_weights() and the optimizers take such maps. This
// is exactly Python's `dict(tree_flatten(model.parameters()))`, so weights files are shared
// by the C++ and Python classes.
//
// Layers read their parameters by name (param("weight")) at every call, so update() and
// the optimizers replace them in place; the math is in lazuli/nn/functional.h.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/dtype.h"

namespace lazuli::nn {

// Arrays by dotted path ("layers.0.weight"), ordered by name.
using Params = std::map<std::string, array>;
using ModulePtr = std::shared_ptr<class Module>;
using NamedModules = std::vector<std::pair<std::string, Module*>>;

class Module {
 public:
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  // A copy has its own parameters but shares the children (held by shared_ptr), as Python
  // objects share references.
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  // The forward pass of modules with one input (layers with several inputs, as Bilinear,
  // add their own overloads). The base class throws std::invalid_argument.
  virtual array operator()(const array& x);

  const std::string& type_name() const { return type_name_; }

  // ---- the tree ----
  // All parameters, frozen or not, by dotted path.
  Params parameters() const;
  // The parameters that are not frozen.
  Params trainable_parameters() const;
  // The direct children, in the order they were registered.
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }
  // The descendants that have no children of their own, by dotted path.
  std::map<std::string, Module*> leaf_modules();
  // This module (name "") and every descendant, parents before their children.
  NamedModules named_modules();
  std::vector<Module*> modules();
  // Calls fn(dotted name, module) on this module (name "") and every descendant.
  Module& apply_to_modules(const std::function<void(const std::string&, Module&)>& fn);

  // The own parameter `name` / the child `name`; std::invalid_argument if there is none.
  const array& param(const std::string& name) const;
  bool has_param(const std::string& name) const { return params_.count(name) > 0; }
  Module& child(const std::string& name) const;
  template <typename M>
  M& child_as(const std::string& name) const {
    return dynamic_cast<M&>(child(name));
  }

  // ---- changing it ----
  // Replaces the parameters named in `parameters` (a partial map is fine). With `strict`, a
  // name that is not a parameter of the model throws std::invalid_argument. Shapes and
  // dtypes may change (as in MLX); load_weights checks shapes.
  Module& update(const Params& parameters, bool strict = true);
  // Replaces the sub-modules at the given dotted paths (strict: unknown paths throw).
  Module& update_modules(const std::map<std::string, ModulePtr>& modules, bool strict = true);
  // Replaces each parameter p that `filter` keeps (default: all) by fn(p).
  using ParamFilter = std::function<bool(const Module&, const std::string& name, const array&)>;
  Module& apply(const std::function<array(const array&)>& fn, const ParamFilter& filter = nullptr);

  // ---- freezing and modes ----
  // Marks the own parameters `keys` (default: all of them) as not trainable, in every
  // descendant too when `recurse`. With `strict`, a key that is neither a parameter nor a
  // child of a module throws std::invalid_argument.
  Module& freeze(bool recurse = true, const std::optional<std::vector<std::string>>& keys = std::nullopt,
                 bool strict = false);
  Module& unfreeze(bool recurse = true, const std::optional<std::vector<std::string>>& keys = std::nullopt,
                   bool strict = false);
  // Training mode (dropout active, batch statistics) or evaluation mode, recursively.
  Module& train(bool mode = true);
  Module& eval() { return train(false); }
  bool training() const { return training_; }
  // Casts the parameters whose dtype `predicate` accepts (default: floating point) to dtype.
  Module& set_dtype(Dtype dtype, const std::function<bool(Dtype)>& predicate = nullptr);

  // ---- weights files ----
  // .safetensors or .npz, chosen by the extension, keyed by dotted path.
  void save_weights(const std::string& file) const;
  // From a .safetensors / .npz file or a map. With `strict`, the names must be exactly the
  // model's and the shapes must match (std::invalid_argument listing the differences);
  // otherwise the given names that the model has are replaced.
  Module& load_weights(const std::string& file, bool strict = true);
  Module& load_weights(const Params& weights, bool strict = true);

 protected:
  // Registration, for the constructors of subclasses. A name starting with "_" is not allowed
  // (Python keeps such attributes out of the tree; C++ keeps them as members).
  void set_param(const std::string& name, array value);
  // Drops the own parameter `name` (and its frozen mark), if there is one.
  void remove_param(const std::string& name);
  void register_module(const std::string& name, ModulePtr module);
  // Parameters that stay frozen whatever freeze/unfreeze do, as BatchNorm's running
  // statistics: saved with the weights, never trained.
  void keep_frozen(const std::string& name) { always_frozen_.insert(name); }
  // Called by train()/eval() on every module after its mode is set, for layers whose
  // parameters depend on the mode (QQLinear packs its weight for evaluation).
  virtual void on_training_mode(bool /*training*/) {}

 private:
  // Visits (path, owning module, own name) of every parameter.
  void visit_params(const std::function<void(const std::string&, const Module&, const std::string&)>& fn,
                    const std::string& prefix = "") const;
  bool is_trainable(const std::string& name) const {
    return !no_grad_.count(name) && !always_frozen_.count(name);
  }
  // Throws std::invalid_argument naming op unless key is an own parameter or a child.
  void check_member(const std::string& op, const std::string& key) const;
  // The module owning the dotted path (the deepest child whose name prefixes it, else this
  // module) and the rest of the path.
  std::pair<Module*, std::string> owner_of(const std::string& path);

  std::string type_name_;
  std::map<std::string, array> params_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::set<std::string> no_grad_;
  std::set<std::string> always_frozen_;
  bool training_ = true;
};

// Calls its layers one after another (children "layers.0", "layers.1", ...).
class Sequential : public Module {
 public:
  explicit Sequential(const std::vector<ModulePtr>& layers = {});
  // Sequential(Linear(2, 3), ReLU(), ...): each layer is copied into a shared_ptr.
  template <typename... M, typename = std::enable_if_t<(sizeof...(M) > 0) &&
                                                      ((std::is_base_of_v<Module, std::decay_t<M>> &&
                                                        !std::is_same_v<std::decay_t<M>, Sequential>) && ...)>>
  explicit Sequential(M&&... layers)
      : Sequential(std::vector<ModulePtr>{std::make_shared<std::decay_t<M>>(std::forward<M>(layers))...}) {}
  array operator()(const array& x) override;
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }
};

// A loss of the model's current parameters: takes the inputs, returns a 0-d array.
using LossFn = std::function<array(const std::vector<array>& inputs)>;
using ValueAndGradModuleFn = std::function<std::pair<array, Params>(const std::vector<array>& inputs)>;
// MLX's nn.value_and_grad: the loss and its gradients with respect to the model's trainable
// parameters (keyed as trainable_parameters()). `model` must outlive the returned function.
ValueAndGradModuleFn value_and_grad(Module& model, LossFn loss);

// MLX's nn.utils.checkpoint: the module's forward pass, whose intermediate values are
// recomputed in the backward pass instead of kept. `model` must outlive the function.
std::function<array(const array&)> checkpoint(Module& model);
// The same for forward passes with several inputs: forward(inputs) calls the model on them
// (all of them differentiable, as the model's trainable parameters).
using ForwardFn = std::function<array(const std::vector<array>& inputs)>;
ForwardFn checkpoint(Module& model, ForwardFn forward);

}  // namespace lazuli::nn
