// Module's parameter tree, freezing, weights files, and value_and_grad / checkpoint for modules.
#include "lazuli/nn/module.h"

#include <stdexcept>

#include "lazuli/io.h"
#include "lazuli/ops.h"
#include "lazuli/transforms.h"

namespace lazuli::nn {

namespace {

[[noreturn]] void fail(const std::string& op, const std::string& msg) {
  throw std::invalid_argument("[" + op + "] " + msg);
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::string shape_text(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + ")";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "a, b, c" of at most 10 names.
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 10) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

Module::Module(std::string type_name) : type_name_(std::move(type_name)) {}

array Module::operator()(const array&) {
  fail(type_name_, "this module has no forward pass with one input.");
}

void Module::set_param(const std::string& name, array value) {
  if (name.empty() || name[0] == '_') fail(type_name_, "invalid parameter name \"" + name + "\".");
  params_.insert_or_assign(name, std::move(value));
}

void Module::remove_param(const std::string& name) {
  params_.erase(name);
  no_grad_.erase(name);
}

void Module::register_module(const std::string& name, ModulePtr module) {
  if (name.empty() || name[0] == '_') fail(type_name_, "invalid sub-module name \"" + name + "\".");
  if (!module) fail(type_name_, "sub-module \"" + name + "\" is null.");
  for (auto& [n, m] : children_)
    if (n == name) {
      m = std::move(module);
      return;
    }
  children_.emplace_back(name, std::move(module));
}

const array& Module::param(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) fail(type_name_, "no parameter named \"" + name + "\".");
  return it->second;
}

Module& Module::child(const std::string& name) const {
  for (auto& [n, m] : children_)
    if (n == name) return *m;
  fail(type_name_, "no sub-module named \"" + name + "\".");
}

// ---- walking the tree ----

void Module::visit_params(const std::function<void(const std::string&, const Module&, const std::string&)>& fn,
                          const std::string& prefix) const {
  for (auto& [name, value] : params_) fn(join(prefix, name), *this, name);
  for (auto& [name, m] : children_) m->visit_params(fn, join(prefix, name));
}

Params Module::parameters() const {
  Params out;
  visit_params([&](const std::string& path, const Module& m, const std::string& name) {
    out.emplace(path, m.params_.at(name));
  });
  return out;
}

Params Module::trainable_parameters() const {
  Params out;
  visit_params([&](const std::string& path, const Module& m, const std::string& name) {
    if (m.is_trainable(name)) out.emplace(path, m.params_.at(name));
  });
  return out;
}

Module& Module::apply_to_modules(const std::function<void(const std::string&, Module&)>& fn) {
  std::function<void(const std::string&, Module&)> walk = [&](const std::string& path, Module& m) {
    fn(path, m);
    for (auto& [name, child] : m.children_) walk(join(path, name), *child);
  };
  walk("", *this);
  return *this;
}

NamedModules Module::named_modules() {
  NamedModules out;
  apply_to_modules([&](const std::string& path, Module& m) { out.emplace_back(path, &m); });
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [path, m] : named_modules()) out.push_back(m);
  return out;
}

std::map<std::string, Module*> Module::leaf_modules() {
  std::map<std::string, Module*> out;
  for (auto& [path, m] : named_modules())
    if (!path.empty() && m->children_.empty()) out.emplace(path, m);
  return out;
}

std::pair<Module*, std::string> Module::owner_of(const std::string& path) {
  // Child names may hold dots themselves ("layers.0"), so match whole child names, not the
  // first component of the path.
  for (auto& [name, child] : children_)
    if (path.size() > name.size() + 1 && path.compare(0, name.size(), name) == 0 && path[name.size()] == '.')
      return child->owner_of(path.substr(name.size() + 1));
  return {this, path};
}

// ---- changing the tree ----

Module& Module::update(const Params& parameters, bool strict) {
  for (auto& [path, value] : parameters) {
    auto [owner, name] = owner_of(path);
    auto it = owner->params_.find(name);
    if (it == owner->params_.end()) {
      if (strict) fail("Module::update", "the module has no parameter named \"" + path + "\".");
      continue;
    }
    it->second = value;
  }
  return *this;
}

Module& Module::update_modules(const std::map<std::string, ModulePtr>& modules, bool strict) {
  for (auto& [path, module] : modules) {
    // The owner of a child path is found as for parameters: its parent and the last name.
    auto [owner, name] = owner_of(path);
    bool replaced = false;
    for (auto& [n, m] : owner->children_)
      if (n == name && module) {
        m = module;
        replaced = true;
      }
    if (!replaced && strict)
      fail("Module::update_modules", module ? "the module has no sub-module named \"" + path + "\"."
                                            : "sub-module \"" + path + "\" is null.");
  }
  return *this;
}

Module& Module::apply(const std::function<array(const array&)>& fn, const ParamFilter& filter) {
  apply_to_modules([&](const std::string&, Module& m) {
    for (auto& [name, value] : m.params_)
      if (!filter || filter(m, name, value)) value = fn(value);
  });
  return *this;
}

// ---- freezing and modes ----

void Module::check_member(const std::string& op, const std::string& key) const {
  if (params_.count(key)) return;
  for (auto& [name, child] : children_)
    if (name == key) return;
  fail(op, type_name_ + " has no member named \"" + key + "\".");
}

Module& Module::freeze(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict) {
  auto freeze_one = [&](const std::string&, Module& m) {
    if (!keys) {
      for (auto& [name, value] : m.params_) m.no_grad_.insert(name);
      return;
    }
    for (auto& key : *keys) {
      if (strict) m.check_member("Module::freeze", key);
      m.no_grad_.insert(key);
    }
  };
  if (recurse) return apply_to_modules(freeze_one);
  freeze_one("", *this);
  return *this;
}

Module& Module::unfreeze(bool recurse, const std::optional<std::vector<std::string>>& keys, bool strict) {
  auto unfreeze_one = [&](const std::string&, Module& m) {
    if (!keys) {
      m.no_grad_.clear();
      return;
    }
    for (auto& key : *keys) {
      if (strict) m.check_member("Module::unfreeze", key);
      m.no_grad_.erase(key);
    }
  };
  if (recurse) return apply_to_modules(unfreeze_one);
  unfreeze_one("", *this);
  return *this;
}

Module& Module::train(bool mode) {
  return apply_to_modules([mode](const std::string&, Module& m) {
    m.training_ = mode;
    m.on_training_mode(mode);
  });
}

Module& Module::set_dtype(Dtype dtype, const std::function<bool(Dtype)>& predicate) {
  return apply([&](const array& p) {
    bool cast = predicate ? predicate(p.dtype()) : issubdtype(p.dtype(), DtypeCategory::floating);
    return cast ? astype(p, dtype) : p;
  });
}

// ---- weights files ----

void Module::save_weights(const std::string& file) const {
  Params params = parameters();
  ArrayMap arrays(params.begin(), params.end());
  if (ends_with(file, ".safetensors"))
    save_safetensors(file, arrays);
  else if (ends_with(file, ".npz"))
    savez(file, arrays);
  else
    fail("Module::save_weights", "unsupported file extension of \"" + file + "\": use .npz or .safetensors.");
}

Module& Module::load_weights(const std::string& file, bool strict) {
  ArrayMap arrays;
  if (ends_with(file, ".safetensors"))
    arrays = load_safetensors(file).first;
  else if (ends_with(file, ".npz"))
    arrays = load_npz(file);
  else
    fail("Module::load_weights", "unsupported file extension of \"" + file + "\": use .npz or .safetensors.");
  return load_weights(Params(arrays.begin(), arrays.end()), strict);
}

Module& Module::load_weights(const Params& weights, bool strict) {
  const char* op = "Module::load_weights";
  if (strict) {
    Params current = parameters();
    std::vector<std::string> extra, missing;
    for (auto& [name, value] : weights)
      if (!current.count(name)) extra.push_back(name);
    for (auto& [name, value] : current)
      if (!weights.count(name)) missing.push_back(name);
    if (!extra.empty())
      fail(op, "received " + std::to_string(extra.size()) + " parameters not in the model: " + name_list(extra) + ".");
    if (!missing.empty())
      fail(op, "missing " + std::to_string(missing.size()) + " parameters: " + name_list(missing) + ".");
    for (auto& [name, value] : current) {
      const array& given = weights.at(name);
      if (given.shape() != value.shape())
        fail(op, "expected shape " + shape_text(value.shape()) + " but received shape " +
                     shape_text(given.shape()) + " for parameter " + name + ".");
    }
  }
  return update(weights, false);
}

// ---- Sequential ----

Sequential::Sequential(const std::vector<ModulePtr>& layers) : Module("Sequential") {
  for (size_t i = 0; i < layers.size(); ++i) register_module("layers." + std::to_string(i), layers[i]);
}

array Sequential::operator()(const array& x) {
  array y = x;
  for (auto& [name, layer] : children()) y = (*layer)(y);
  return y;
}

// ---- transforms ----

namespace {

// Calls fn with the model's parameters `names` set to the first names.size() arguments,
// and puts the previous values back afterwards (also on an exception).
template <typename F>
auto with_parameters(Module& model, const std::vector<std::string>& names, const std::vector<array>& args, F fn) {
  Params saved = model.parameters();
  Params given;
  for (size_t i = 0; i < names.size(); ++i) given.emplace(names[i], args[i]);
  struct Restore {
    Module& model;
    Params values;
    ~Restore() { model.update(values, false); }
  } restore{model, {}};
  for (auto& name : names) restore.values.emplace(name, saved.at(name));
  model.update(given);
  return fn(std::vector<array>(args.begin() + names.size(), args.end()));
}

std::pair<std::vector<std::string>, std::vector<array>> names_and_values(const Params& params) {
  std::pair<std::vector<std::string>, std::vector<array>> out;
  for (auto& [name, value] : params) {
    out.first.push_back(name);
    out.second.push_back(value);
  }
  return out;
}

}  // namespace

ValueAndGradModuleFn value_and_grad(Module& model, LossFn loss) {
  return [&model, loss = std::move(loss)](const std::vector<array>& inputs) {
    auto [names, args] = names_and_values(model.trainable_parameters());
    std::vector<int> argnums;
    for (size_t i = 0; i < names.size(); ++i) argnums.push_back(static_cast<int>(i));
    args.insert(args.end(), inputs.begin(), inputs.end());
    ScalarFn scalar = [&, names = names](const std::vector<array>& a) { return with_parameters(model, names, a, loss); };
    if (names.empty()) return std::pair<array, Params>{scalar(args), Params{}};
    auto [value, grads] = lazuli::value_and_grad(scalar, argnums)(args);
    Params out;
    for (size_t i = 0; i < names.size(); ++i) out.emplace(names[i], grads[i]);
    return std::pair<array, Params>{value, out};
  };
}

std::function<array(const array&)> checkpoint(Module& model) {
  ForwardFn forward = checkpoint(model, [&model](const std::vector<array>& in) { return model(in[0]); });
  return [forward](const array& x) { return forward({x}); };
}

ForwardFn checkpoint(Module& model, ForwardFn forward) {
  return [&model, forward = std::move(forward)](const std::vector<array>& inputs) {
    auto [names, args] = names_and_values(model.trainable_parameters());
    args.insert(args.end(), inputs.begin(), inputs.end());
    Fn recomputed = [&model, forward, names = names](const std::vector<array>& a) {
      return std::vector<array>{with_parameters(model, names, a, forward)};
    };
    return lazuli::checkpoint(recomputed)(args)[0];
  };
}

}  // namespace lazuli::nn
