// Exported functions: a function's graph, traced on example inputs, written to a file and
// later run on new inputs without the original code (MLX's export_function /
// import_function). Arrays the function closes over (weights) are saved with the graph.
//
// With shapeless = true the imported function also accepts inputs of other shapes (same
// rank and dtype): each node's output shapes are derived again from its new inputs. Reshape
// and Broadcast carry the changed leading/trailing dimensions through; Slice, SliceUpdate and
// AsStrided bake in their input's shape and refuse a changed one, as does anything whose
// checks fail. Values computed from shapes while tracing (the count that mean divides by)
// stay the traced ones.
#pragma once
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lazuli/array.h"
#include "lazuli/transforms.h"

namespace lazuli {

using Kwargs = std::map<std::string, array>;
using KwFn = std::function<std::vector<array>(const std::vector<array>&, const Kwargs&)>;

// Traces fun once on (args, kwargs) and writes the file (to a temporary name, then renamed).
void export_function(const std::string& file, const Fn& fun, const std::vector<array>& args,
                     bool shapeless = false);
void export_function(const std::string& file, const KwFn& fun, const std::vector<array>& args,
                     const Kwargs& kwargs, bool shapeless = false);

// Several traces of one function in one file (for example one per input shape); the
// imported function runs the first trace its inputs match. The file is written by close()
// (or the destructor, which swallows errors).
class FunctionExporter {
 public:
  FunctionExporter(std::string file, KwFn fun, bool shapeless = false);
  FunctionExporter(std::string file, Fn fun, bool shapeless = false);
  FunctionExporter(FunctionExporter&&) noexcept;
  ~FunctionExporter();
  void operator()(const std::vector<array>& args, const Kwargs& kwargs = {});
  void close();

  struct State;

 private:
  std::unique_ptr<State> state_;
};
FunctionExporter exporter(const std::string& file, const KwFn& fun, bool shapeless = false);
FunctionExporter exporter(const std::string& file, const Fn& fun, bool shapeless = false);

class ImportedFunction {
 public:
  std::vector<array> operator()(const std::vector<array>& args) const { return (*this)(args, {}); }
  std::vector<array> operator()(const std::vector<array>& args, const Kwargs& kwargs) const;
  bool shapeless() const;
  size_t num_traces() const;

  struct Impl;
  explicit ImportedFunction(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};
// Reads and checks the whole file; a truncated or malformed one raises
// std::invalid_argument, a missing one std::runtime_error.
ImportedFunction import_function(const std::string& file);

// The graph behind `outputs` in Graphviz dot syntax.
void export_to_dot(std::ostream& os, const std::vector<array>& outputs);
void export_to_dot(const std::string& file, const std::vector<array>& outputs);

}  // namespace lazuli
