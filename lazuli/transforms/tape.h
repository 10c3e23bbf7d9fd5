// Internal: the pieces vjp, jvp and vmap share.
#pragma once
#include <atomic>
#include <functional>
#include <vector>

#include "lazuli/array.h"

namespace lazuli::detail {

std::atomic<int>& tracing_depth();

// While a transform traces a function, graphs derived from its inputs are kept through
// evaluation: the rules read them afterwards.
struct Tracing {
  Tracing() { tracing_depth().fetch_add(1); }
  ~Tracing() { tracing_depth().fetch_sub(1); }
};

// While compile traces a function its inputs are placeholders with no data: evaluation
// then fails with an error that says why.
std::atomic<int>& compile_tracing_depth();
struct CompileTracing {
  CompileTracing() { compile_tracing_depth().fetch_add(1); }
  ~CompileTracing() { compile_tracing_depth().fetch_sub(1); }
};

// Walks the graph behind `outputs` depth first without recursion (graphs can be millions of
// nodes deep): enter(a) says whether to walk into a's inputs (each node is offered once,
// siblings counting as one); leave(a) gets the entered nodes, inputs before their readers.
void walk_graph(const std::vector<array>& outputs, const std::function<bool(const array&)>& enter,
                const std::function<void(array)>& leave);

// The nodes that depend on `sources`, inputs before the nodes that read them. The search
// stops at the sources.
std::vector<array> tape_between(const std::vector<array>& sources, const std::vector<array>& outputs);

}  // namespace lazuli::detail

namespace lazuli::detail {
// `a`, no longer marked as traced: graphs built from it are released by eval as usual.
inline array untraced(array a) {
  a.set_tracer(false);
  return a;
}
}  // namespace lazuli::detail
