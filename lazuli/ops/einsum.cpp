// einsum and einsum_path. The subscripts are parsed into one label per axis (a letter, or
// one label per broadcast dimension of '...'); each operand first loses its repeated labels
// (diagonal) and the labels no one else needs (sum); operands are then contracted two at a
// time, in the order the path optimiser picks, each contraction being one matmul (or, with
// nothing to sum, one broadcast multiply). Everything is made of existing ops, so einsum
// differentiates and vmaps through their rules.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "lazuli/einsum.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli {
using namespace detail;

namespace {

// A label: a letter's character code, or kEllipsis + i for the i-th broadcast dimension
// of '...' (right-aligned across operands, as broadcasting aligns them).
using Label = int;
using Labels = std::vector<Label>;
constexpr Label kEllipsis = 256;

struct Equation {
  std::vector<std::string> input_terms;  // as written, spaces removed
  std::string output_term;               // as written, or the implicit one
  std::vector<Labels> inputs;            // one label per axis of each operand
  Labels output;
  std::map<Label, int32_t> sizes;        // size-1 dimensions broadcast against the others
};

std::string label_str(Label l) {
  return l >= kEllipsis ? "'...' (dimension " + std::to_string(l - kEllipsis) + ")" : std::string("'") + char(l) + "'";
}

// The letters of a term and whether (and where) it has '...'. Checks the characters.
struct Term {
  std::string letters;
  int ellipsis_at = -1;  // index into letters where '...' stands
};
Term parse_term(const std::string& t, const std::string& where) {
  Term term;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '.') {
      if (t.compare(i, 3, "...") != 0)
        fail("einsum", "Invalid '.' in " + where + " '" + t + "': only '...' is allowed.");
      if (term.ellipsis_at >= 0) fail("einsum", "More than one '...' in " + where + " '" + t + "'.");
      term.ellipsis_at = static_cast<int>(term.letters.size());
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      term.letters += c;
    } else {
      fail("einsum", std::string("Subscripts must be letters, but got '") + c + "' in " + where + " '" + t + "'.");
    }
  }
  return term;
}

Equation parse(const std::string& subscripts, const std::vector<array>& operands) {
  std::string eq;
  for (char c : subscripts)
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  Equation e;
  size_t arrow = eq.find("->");
  bool explicit_out = arrow != std::string::npos;
  std::string lhs = explicit_out ? eq.substr(0, arrow) : eq;
  if (explicit_out) {
    e.output_term = eq.substr(arrow + 2);
    if (e.output_term.find("->") != std::string::npos || e.output_term.find_first_of("->,") != std::string::npos)
      fail("einsum", "Invalid subscripts '" + subscripts + "': one '->' and no ',' after it are allowed.");
  }
  if (lhs.find_first_of("->") != std::string::npos)
    fail("einsum", "Invalid subscripts '" + subscripts + "': a stray '-' or '>'.");
  {
    std::stringstream ss(lhs);
    std::string t;
    while (std::getline(ss, t, ',')) e.input_terms.push_back(t);
    if (lhs.empty() || lhs.back() == ',') e.input_terms.push_back("");  // as Python's split
  }
  if (e.input_terms.size() != operands.size())
    fail("einsum", "Number of operands, " + std::to_string(operands.size()) +
                       ", does not match number of input subscripts, " + std::to_string(e.input_terms.size()) + ".");

  // Labels of each operand; broadcast dimensions are numbered once their count is known.
  std::vector<Term> terms;
  int ellipsis_rank = 0;
  for (size_t i = 0; i < operands.size(); ++i) {
    Term t = parse_term(e.input_terms[i], "operand " + std::to_string(i) + "'s subscripts");
    int nd = static_cast<int>(operands[i].ndim()), nl = static_cast<int>(t.letters.size());
    if (t.ellipsis_at < 0 ? nd != nl : nd < nl)
      fail("einsum", "Invalid number of subscripts " + std::to_string(nl) + " ('" + e.input_terms[i] + "') for input " +
                         std::to_string(i) + " with " + std::to_string(nd) + " dimensions.");
    if (t.ellipsis_at >= 0) ellipsis_rank = std::max(ellipsis_rank, nd - nl);
    terms.push_back(std::move(t));
  }
  std::map<Label, int> count;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Term& t = terms[i];
    const array& x = operands[i];
    Labels labels;
    int extra = static_cast<int>(x.ndim() - t.letters.size());
    for (int j = 0; j <= static_cast<int>(t.letters.size()); ++j) {
      if (j == t.ellipsis_at)
        for (int k = 0; k < extra; ++k) labels.push_back(kEllipsis + ellipsis_rank - extra + k);
      if (j < static_cast<int>(t.letters.size())) labels.push_back(t.letters[j]);
    }
    for (size_t d = 0; d < labels.size(); ++d) {
      Label l = labels[d];
      int32_t n = x.shape()[d];
      count[l] += 1;
      auto [it, fresh] = e.sizes.emplace(l, n);
      if (!fresh && it->second != n) {
        if (it->second != 1 && n != 1)
          fail("einsum", "Size of index " + label_str(l) + " is " + std::to_string(it->second) +
                             " in an earlier operand but " + std::to_string(n) + " in operand " + std::to_string(i) +
                             " with shape " + shape_str(x.shape()) + ".");
        it->second = std::max(it->second, n);
      }
    }
    e.inputs.push_back(std::move(labels));
  }

  if (explicit_out) {
    Term t = parse_term(e.output_term, "the output");
    if (t.ellipsis_at < 0 && ellipsis_rank > 0)
      fail("einsum", "The operands have " + std::to_string(ellipsis_rank) +
                         " dimensions under '...' but the output '" + e.output_term + "' has no '...'.");
    for (int j = 0; j <= static_cast<int>(t.letters.size()); ++j) {
      if (j == t.ellipsis_at)
        for (int k = 0; k < ellipsis_rank; ++k) e.output.push_back(kEllipsis + k);
      if (j == static_cast<int>(t.letters.size())) break;
      Label l = t.letters[j];
      if (!e.sizes.count(l))
        fail("einsum", "Output subscript " + label_str(l) + " does not appear in any input of '" + subscripts + "'.");
      if (std::find(e.output.begin(), e.output.end(), l) != e.output.end())
        fail("einsum", "Output subscript " + label_str(l) + " is repeated in '" + subscripts + "'.");
      e.output.push_back(l);
    }
  } else {
    // NumPy's implicit output: the broadcast dimensions, then the letters used exactly
    // once, in character-code order.
    for (int k = 0; k < ellipsis_rank; ++k) e.output.push_back(kEllipsis + k);
    if (ellipsis_rank > 0) e.output_term = "...";
    for (auto [l, c] : count)
      if (l < kEllipsis && c == 1) e.output.push_back(l), e.output_term += char(l);
  }
  return e;
}

// ---- the path --------------------------------------------------------------------------

using LabelSet = std::set<Label>;

struct Step {
  int i, j;                // positions in the current list (j == -1: a single operand)
  LabelSet result;         // labels the contraction keeps
  double flops;
  int scaling;             // labels involved
};

struct Plan {
  std::vector<Step> steps;
  double flops = 0;
};

double size_of(const LabelSet& s, const std::map<Label, int32_t>& sizes) {
  double n = 1;
  for (Label l : s) n *= sizes.at(l);
  return n;
}

// NumPy's flop model: the product of the sizes of every label involved, times the number
// of terms less one (at least one), plus one when something is summed.
double flop_count(const LabelSet& involved, bool sums, int terms, const std::map<Label, int32_t>& sizes) {
  return size_of(involved, sizes) * (std::max(1, terms - 1) + (sums ? 1 : 0));
}

// Contracting operands i and j of `sets`: the labels kept (needed by the output or by an
// operand not involved) and the cost.
Step contraction(const std::vector<LabelSet>& sets, int i, int j, const LabelSet& output,
                 const std::map<Label, int32_t>& sizes) {
  LabelSet involved = sets[i];
  involved.insert(sets[j].begin(), sets[j].end());
  LabelSet needed = output;
  for (int k = 0; k < static_cast<int>(sets.size()); ++k)
    if (k != i && k != j) needed.insert(sets[k].begin(), sets[k].end());
  Step st{i, j, {}, 0, static_cast<int>(involved.size())};
  for (Label l : involved)
    if (needed.count(l)) st.result.insert(l);
  st.flops = flop_count(involved, st.result.size() < involved.size(), 2, sizes);
  return st;
}

std::vector<LabelSet> after(const std::vector<LabelSet>& sets, const Step& st) {
  std::vector<LabelSet> next;
  for (int k = 0; k < static_cast<int>(sets.size()); ++k)
    if (k != st.i && k != st.j) next.push_back(sets[k]);
  next.push_back(st.result);
  return next;
}

// Every order of pairwise contractions, cut off when already dearer than the best found.
void search(const std::vector<LabelSet>& sets, const LabelSet& output, const std::map<Label, int32_t>& sizes,
            Plan& current, Plan& best) {
  if (sets.size() == 1) {
    if (current.flops < best.flops) best = current;
    return;
  }
  for (int i = 0; i < static_cast<int>(sets.size()); ++i)
    for (int j = i + 1; j < static_cast<int>(sets.size()); ++j) {
      Step st = contraction(sets, i, j, output, sizes);
      if (current.flops + st.flops >= best.flops) continue;
      current.steps.push_back(st);
      current.flops += st.flops;
      search(after(sets, st), output, sizes, current, best);
      current.flops -= st.flops;
      current.steps.pop_back();
    }
}

// NumPy's greedy rule: among pairs that share a label, the one whose result shrinks the
// total size most (ties: fewer flops); when no pair shares one, the pair with the smallest
// (outer-product) result.
Plan greedy(std::vector<LabelSet> sets, const LabelSet& output, const std::map<Label, int32_t>& sizes) {
  Plan plan;
  while (sets.size() > 1) {
    std::optional<Step> pick;
    double pick_key = 0;
    bool pick_shares = false;
    for (int i = 0; i < static_cast<int>(sets.size()); ++i)
      for (int j = i + 1; j < static_cast<int>(sets.size()); ++j) {
        bool shares = std::any_of(sets[i].begin(), sets[i].end(), [&](Label l) { return sets[j].count(l) > 0; });
        Step st = contraction(sets, i, j, output, sizes);
        double key = shares ? size_of(st.result, sizes) - size_of(sets[i], sizes) - size_of(sets[j], sizes)
                            : size_of(st.result, sizes);
        bool better = !pick || (shares && !pick_shares) ||
                      (shares == pick_shares && (key < pick_key || (key == pick_key && st.flops < pick->flops)));
        if (better) pick = st, pick_key = key, pick_shares = shares;
      }
    plan.steps.push_back(*pick);
    plan.flops += pick->flops;
    sets = after(sets, *pick);
  }
  return plan;
}

constexpr size_t kOptimalUpTo = 5;  // operands; beyond, the exhaustive search grows too fast

Plan plan_for(const Equation& e) {
  std::vector<LabelSet> sets;
  for (const Labels& l : e.inputs) sets.emplace_back(l.begin(), l.end());
  LabelSet output(e.output.begin(), e.output.end());
  if (sets.size() == 1) {
    Plan p;
    Step st{0, -1, output, 0, static_cast<int>(sets[0].size())};
    st.flops = flop_count(sets[0], sets[0].size() > output.size(), 1, e.sizes);
    p.steps.push_back(st);
    p.flops = st.flops;
    return p;
  }
  // Greedy's plan, replaced by the exhaustive search's only where that is strictly cheaper.
  Plan best = greedy(sets, output, e.sizes);
  if (sets.size() <= kOptimalUpTo) {
    Plan current;
    search(sets, output, e.sizes, current, best);
  }
  return best;
}

// ---- execution -------------------------------------------------------------------------

struct Operand {
  array value;
  Labels labels;
};

int position(const Labels& ls, Label l) {
  return static_cast<int>(std::find(ls.begin(), ls.end(), l) - ls.begin());
}

// Sums the axes whose labels are not in `keep`.
Operand sum_unneeded(Operand x, const LabelSet& keep, S s) {
  std::vector<int> axes;
  Labels rest;
  for (int d = 0; d < static_cast<int>(x.labels.size()); ++d) {
    if (keep.count(x.labels[d])) rest.push_back(x.labels[d]);
    else axes.push_back(d);
  }
  if (axes.empty()) return x;
  return {sum(x.value, axes, false, s), rest};
}

// One operand as the contraction wants it: repeated labels become one (the diagonal) and
// size-1 dimensions that broadcast against a larger size are dropped (the value does not
// change along them).
Operand prepare(const array& a, Labels labels, const Equation& e, S s) {
  array x = a;
  for (bool again = true; again;) {
    again = false;
    for (int p = 0; p < static_cast<int>(labels.size()) && !again; ++p)
      for (int q = p + 1; q < static_cast<int>(labels.size()) && !again; ++q) {
        if (labels[p] != labels[q]) continue;
        if (x.shape()[p] != x.shape()[q])
          fail("einsum", "Repeated index " + label_str(labels[p]) + " of an operand has sizes " +
                             std::to_string(x.shape()[p]) + " and " + std::to_string(x.shape()[q]) + ".");
        Label l = labels[p];
        x = diagonal(x, 0, p, q, s);  // the diagonal becomes the last axis
        labels.erase(labels.begin() + q);
        labels.erase(labels.begin() + p);
        labels.push_back(l);
        again = true;
      }
  }
  std::vector<int> squeezed;
  Labels kept;
  for (int d = 0; d < static_cast<int>(labels.size()); ++d) {
    if (x.shape()[d] == 1 && e.sizes.at(labels[d]) != 1) squeezed.push_back(d);
    else kept.push_back(labels[d]);
  }
  if (!squeezed.empty()) x = squeeze(x, squeezed, s);
  return {x, kept};
}

std::vector<int> positions(const Labels& of, const Labels& in) {
  std::vector<int> p;
  for (Label l : of) p.push_back(position(in, l));
  return p;
}

Shape sizes_of(const Labels& ls, const Equation& e) {
  Shape sh;
  for (Label l : ls) sh.push_back(e.sizes.at(l));
  return sh;
}

// x and y contracted over the labels they share that `keep` lacks; the others stay.
Operand contract(Operand x, Operand y, const LabelSet& keep, const Equation& e, S s) {
  // A label only one side has and no one needs is summed there first.
  LabelSet keep_x = keep, keep_y = keep;
  keep_x.insert(y.labels.begin(), y.labels.end());
  keep_y.insert(x.labels.begin(), x.labels.end());
  x = sum_unneeded(std::move(x), keep_x, s);
  y = sum_unneeded(std::move(y), keep_y, s);
  Labels batch, summed, x_free, y_free;
  for (Label l : x.labels) {
    bool in_y = std::find(y.labels.begin(), y.labels.end(), l) != y.labels.end();
    (in_y ? (keep.count(l) ? batch : summed) : x_free).push_back(l);
  }
  for (Label l : y.labels)
    if (std::find(x.labels.begin(), x.labels.end(), l) == x.labels.end()) y_free.push_back(l);
  Labels out = batch;
  out.insert(out.end(), x_free.begin(), x_free.end());
  out.insert(out.end(), y_free.begin(), y_free.end());

  auto order = [](std::initializer_list<const Labels*> parts) {
    Labels all;
    for (auto* p : parts) all.insert(all.end(), p->begin(), p->end());
    return all;
  };
  if (summed.empty()) {
    // Nothing to sum: a broadcast multiply, each side laid out as (batch, x_free, y_free)
    // with size-1 axes for the other side's free labels.
    array xv = transpose(x.value, positions(order({&batch, &x_free}), x.labels), s);
    array yv = transpose(y.value, positions(order({&batch, &y_free}), y.labels), s);
    Shape xs = sizes_of(order({&batch, &x_free}), e), ys = sizes_of(batch, e);
    xs.insert(xs.end(), y_free.size(), 1);
    ys.insert(ys.end(), x_free.size(), 1);
    for (Label l : y_free) ys.push_back(e.sizes.at(l));
    return {multiply(reshape(xv, xs, s), reshape(yv, ys, s), s), out};
  }
  // One batched matmul: (B, M, K) @ (B, K, N).
  auto prod = [&](const Labels& ls) {
    int32_t n = 1;
    for (Label l : ls) n *= e.sizes.at(l);
    return n;
  };
  int32_t B = prod(batch), M = prod(x_free), K = prod(summed), N = prod(y_free);
  array xv = transpose(x.value, positions(order({&batch, &x_free, &summed}), x.labels), s);
  array yv = transpose(y.value, positions(order({&batch, &summed, &y_free}), y.labels), s);
  Shape xs{M, K}, ys{K, N};
  if (!batch.empty()) xs.insert(xs.begin(), B), ys.insert(ys.begin(), B);
  array r = matmul(reshape(xv, xs, s), reshape(yv, ys, s), s);
  return {reshape(r, sizes_of(out, e), s), out};
}

std::string term_of(const Labels& ls, const std::map<Label, char>& names) {
  std::string t;
  for (Label l : ls) t += names.at(l);
  return t;
}

}  // namespace

array einsum(const std::string& subscripts, const std::vector<array>& operands, S s) {
  Equation e = parse(subscripts, operands);
  Plan plan = plan_for(e);
  Dtype t = result_type(operands);
  if (t == bool_) {
    // As NumPy: sums of products of bools are "any of the ands", counted in int32.
    std::vector<array> counted;
    for (const array& x : operands) counted.push_back(astype(x, int32, s));
    return not_equal(einsum(subscripts, counted, s), array(0, int32), s);
  }
  std::vector<Operand> ops;
  for (size_t i = 0; i < operands.size(); ++i) ops.push_back(prepare(astype(operands[i], t, s), e.inputs[i], e, s));

  LabelSet output(e.output.begin(), e.output.end());
  for (const Step& st : plan.steps) {
    if (st.j < 0) break;  // a single operand: only the final reduction below
    LabelSet keep = output;
    for (int k = 0; k < static_cast<int>(ops.size()); ++k)
      if (k != st.i && k != st.j) keep.insert(ops[k].labels.begin(), ops[k].labels.end());
    Operand r = contract(ops[st.i], ops[st.j], keep, e, s);
    ops.erase(ops.begin() + st.j);
    ops.erase(ops.begin() + st.i);
    ops.push_back(std::move(r));
  }
  Operand r = sum_unneeded(ops[0], output, s);
  // A label of the output missing here was size 1 everywhere it appeared and was never
  // dropped, so every output label is present; put them in the output's order.
  return transpose(r.value, positions(e.output, r.labels), s);
}

std::pair<std::vector<std::vector<int>>, std::string> einsum_path(const std::string& subscripts,
                                                                  const std::vector<array>& operands) {
  Equation e = parse(subscripts, operands);
  Plan plan = plan_for(e);
  std::vector<std::vector<int>> path;
  for (const Step& st : plan.steps)
    path.push_back(st.j < 0 ? std::vector<int>{st.i} : std::vector<int>{st.i, st.j});

  // Letters for the report: '...' dimensions get letters the subscripts do not use.
  std::map<Label, char> names;
  std::string spare;
  for (char c = 'A'; c <= 'z'; ++c)
    if (std::isalpha(static_cast<unsigned char>(c)) && !e.sizes.count(c)) spare += c;
  size_t next = 0;
  for (auto [l, n] : e.sizes) names[l] = l < kEllipsis ? char(l) : spare[next++];

  LabelSet all;
  for (auto [l, n] : e.sizes) all.insert(l);
  double naive = flop_count(all, all.size() > e.output.size(), static_cast<int>(operands.size()), e.sizes);
  double largest = size_of(LabelSet(e.output.begin(), e.output.end()), e.sizes);
  int scaling = 0;
  for (const Step& st : plan.steps) {
    scaling = std::max(scaling, st.scaling);
    largest = std::max(largest, size_of(st.result, e.sizes));
  }

  std::string equation;
  for (size_t i = 0; i < e.input_terms.size(); ++i) {
    if (i) equation += ',';
    equation += e.input_terms[i];
  }
  equation += "->" + e.output_term;
  char buf[256];
  std::ostringstream os;
  auto line = [&](const char* key, const std::string& value) {
    std::snprintf(buf, sizeof(buf), "%22s:  %s\n", key, value.c_str());
    os << buf;
  };
  auto sci = [&](double v) {
    std::snprintf(buf, sizeof(buf), "%.3e", v);
    return std::string(buf);
  };
  line("Complete contraction", equation);
  line("Naive scaling", std::to_string(all.size()));
  line("Optimized scaling", std::to_string(scaling));
  line("Naive FLOP count", sci(naive));
  line("Optimized FLOP count", sci(plan.flops));
  std::snprintf(buf, sizeof(buf), "%.3f", plan.flops > 0 ? naive / plan.flops : 1.0);
  line("Theoretical speedup", buf);
  line("Largest intermediate", sci(largest) + " elements");
  std::string rule(74, '-');
  std::snprintf(buf, sizeof(buf), "%-25s%-39s%s\n", "scaling", "current", "remaining");
  os << rule << "\n" << buf << rule << "\n";

  // Replay the path over label lists to print each step and what remains after it.
  std::vector<Labels> terms = e.inputs;
  for (Labels& t : terms) {  // repeated labels count once
    Labels u;
    for (Label l : t)
      if (std::find(u.begin(), u.end(), l) == u.end()) u.push_back(l);
    t = u;
  }
  for (const Step& st : plan.steps) {
    std::string current;
    Labels result;
    for (Label l : e.output)
      if (st.result.count(l)) result.push_back(l);
    for (Label l : st.result)
      if (std::find(result.begin(), result.end(), l) == result.end()) result.push_back(l);
    if (st.j < 0) {
      current = term_of(terms[st.i], names) + "->" + term_of(result, names);
      terms.erase(terms.begin() + st.i);
    } else {
      current = term_of(terms[st.i], names) + "," + term_of(terms[st.j], names) + "->" + term_of(result, names);
      terms.erase(terms.begin() + st.j);
      terms.erase(terms.begin() + st.i);
    }
    terms.push_back(result);
    std::string remaining;
    for (size_t k = 0; k < terms.size(); ++k) {
      if (k) remaining += ',';
      remaining += term_of(terms[k], names);
    }
    remaining += "->" + term_of(e.output, names);
    std::snprintf(buf, sizeof(buf), "%4d %27s %40s\n", st.scaling, current.c_str(), remaining.c_str());
    os << buf;
  }
  return {path, os.str()};
}

}  // namespace lazuli
