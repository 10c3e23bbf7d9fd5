// einsum / einsum_path, the special matmuls, the Hadamard transform and the window
// functions. einsum is checked against a direct loop over every assignment of its labels;
// the special matmuls against loops over their definitions; hadamard against Sylvester's
// matrix built here; windows against NumPy's values.
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "checker.h"
#include "lazuli/einsum.h"
#include "lazuli/primitives/einsum.h"
#include "test_util.h"

using namespace lazuli;
using lazuli::test::Case;
using lazuli::test::expect_throws_naming;
using lazuli::test::expect_values;
using lazuli::test::filled;
using lazuli::test::to_vector;

namespace {

// einsum by definition: the output element at each assignment of the output labels is the
// sum, over every assignment of the other labels, of the product of the operands' elements.
// Letters only, explicit output.
std::vector<double> einsum_loop(const std::string& eq, const std::vector<array>& ops) {
  size_t arrow = eq.find("->");
  std::string out = eq.substr(arrow + 2);
  std::vector<std::string> terms;
  std::string t;
  for (char c : eq.substr(0, arrow)) {
    if (c == ',') terms.push_back(t), t.clear();
    else t += c;
  }
  terms.push_back(t);
  std::map<char, int> size;
  std::vector<std::vector<double>> data;
  for (size_t i = 0; i < ops.size(); ++i) {
    for (size_t d = 0; d < terms[i].size(); ++d) size[terms[i][d]] = ops[i].shape()[d];
    data.push_back(to_vector<double>(ops[i]));
  }
  std::vector<char> labels;
  for (auto [c, n] : size) labels.push_back(c);
  size_t out_size = 1;
  for (char c : out) out_size *= size[c];
  std::vector<double> result(out_size, 0.0);
  std::map<char, int> at;
  for (char c : labels) at[c] = 0;
  while (true) {
    double prod = 1;
    for (size_t i = 0; i < ops.size(); ++i) {
      size_t flat = 0;
      for (size_t d = 0; d < terms[i].size(); ++d) flat = flat * ops[i].shape()[d] + at[terms[i][d]];
      prod *= data[i][flat];
    }
    size_t o = 0;
    for (char c : out) o = o * size[c] + at[c];
    result[o] += prod;
    size_t k = 0;
    for (; k < labels.size(); ++k) {
      if (++at[labels[k]] < size[labels[k]]) break;
      at[labels[k]] = 0;
    }
    if (k == labels.size()) break;
  }
  return result;
}

// Sylvester's Hadamard matrix entry: (-1)^popcount(i & j).
double sylvester(int i, int j) { return __builtin_popcount(i & j) % 2 ? -1.0 : 1.0; }

}  // namespace

TEST(Einsum, MatchesTheDefinition) {
  array a = filled({3, 4}, -1, 1, 1), b = filled({4, 5}, -1, 1, 2), c = filled({5, 2}, -1, 1, 3);
  array sq = filled({4, 4}, -1, 1, 4), v = filled({4}, -1, 1, 5), t3 = filled({2, 3, 4}, -1, 1, 6);
  array t4 = filled({3, 3, 2, 3}, -1, 1, 7);
  struct Eq {
    std::string eq;
    std::vector<array> ops;
  };
  std::vector<Eq> cases = {
      {"ij,jk->ik", {a, b}},           {"ij,jk,kl->il", {a, b, c}},   {"ij,jk,kl->li", {a, b, c}},
      {"ii->i", {sq}},                 {"ii->", {sq}},                {"ij->ji", {a}},
      {"ij->", {a}},                   {"ij->j", {a}},                {"i,i->", {v, v}},
      {"i,j->ij", {v, v}},             {"ij,ij->ij", {sq, sq}},       {"bij,jk->bik", {t3, b}},
      {"bij,bij->b", {t3, t3}},        {"iijk->jk", {t4}},            {"iiji->ij", {t4}},
      {"ij,j->i", {sq, v}},            {"ij,jk,kl,lm->im", {a, b, c, filled({2, 3}, -1, 1, 8)}},
      {"ij,kj,jl->ikl", {a, filled({2, 4}, -1, 1, 9), b}},
  };
  for (const Eq& e : cases) {
    SCOPED_TRACE(e.eq);
    expect_values(einsum(e.eq, e.ops), einsum_loop(e.eq, e.ops), 1e-12);
  }
}

TEST(Einsum, ImplicitOutputAndEllipsis) {
  array a = filled({3, 4}, -1, 1, 1), b = filled({4, 5}, -1, 1, 2);
  // Implicit: the letters used once, in character-code order ('A' before 'b').
  expect_values(einsum("ij,jk", {a, b}), to_vector<double>(matmul(a, b)), 1e-12);
  expect_values(einsum("ba", {a}), to_vector<double>(transpose(a)));
  EXPECT_EQ(einsum("bA", {a}).shape(), (Shape{4, 3}));
  expect_values(einsum("ii", {eye(3)}), {3});
  // '...' broadcasts like matmul's batch dimensions.
  array x = filled({2, 1, 3, 4}, -1, 1, 3), y = filled({5, 4, 2}, -1, 1, 4);
  expect_values(einsum("...ij,...jk->...ik", {x, y}), to_vector<double>(matmul(x, y)), 1e-12);
  expect_values(einsum("...ij,...jk", {x, y}), to_vector<double>(matmul(x, y)), 1e-12);
  expect_values(einsum("i...->...", {a}), to_vector<double>(sum(a, 0)), 1e-12);
  // A size-1 index broadcasts.
  expect_values(einsum("ij,j->i", {a, ones({1}, float64)}), to_vector<double>(sum(a, 1)), 1e-12);
  // Dtypes promote; a 0-d operand is a scalar factor.
  EXPECT_EQ(einsum("ij,ij", {astype(a, int32), astype(a, float16)}).dtype(), float16);
  expect_values(einsum(",ij->ij", {array(2.0), a}), to_vector<double>(multiply(a, array(2.0))), 1e-12);
  expect_values(einsum("", {array(3.0)}), {3});
}

TEST(Einsum, PathIsCheap) {
  array a = zeros({256, 1024}), b = zeros({1024, 1024}), c = zeros({1024, 32});
  auto [path, info] = einsum_path("ij,jk,kl->il", {a, b, c});
  // Contracting b with c first keeps every step at (.., 1024, 32).
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[0], (std::vector<int>{1, 2}));
  EXPECT_EQ(path[1], (std::vector<int>{0, 1}));
  EXPECT_TRUE(test::contains(info, "Optimized FLOP count:  8.389e+07")) << info;
  EXPECT_TRUE(test::contains(info, "Naive FLOP count:  2.577e+10")) << info;
  auto [one, info1] = einsum_path("ii->i", {zeros({3, 3})});
  EXPECT_EQ(one, (std::vector<std::vector<int>>{{0}}));
}

TEST(Einsum, Errors) {
  array a = zeros({2, 3}), b = zeros({3, 4});
  expect_throws_naming([&] { return einsum("ij,jk", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("ij,jk", {a, zeros({4, 3})}); }, "einsum");
  expect_throws_naming([&] { return einsum("ij->ik", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("ij->ii", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("i1", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("ijk", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("i.j", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("...i...", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("...i->i", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("ii", {a}); }, "einsum");
  expect_throws_naming([&] { return einsum("ij->j->i", {a}); }, "einsum");
  auto msg = test::error_of<std::invalid_argument>([&] { einsum("ij,jk", {a, zeros({4, 3})}); });
  EXPECT_TRUE(test::contains(msg, "'j'")) << msg;
}

TEST(Einsum, Gradients) {
  // d/da sum(einsum('ij,jk->ik', a, b)) = ones @ b^T.
  array a = filled({2, 3}, -1, 1, 1), b = filled({3, 4}, -1, 1, 2);
  auto g = grad(UnaryFn([&](const array& x) { return sum(einsum("ij,jk->ik", {x, b})); }))(a);
  expect_values(g, to_vector<double>(matmul(ones({2, 4}, float64), transpose(b))), 1e-12);
}

TEST(SpecialMatmul, BlockMaskedMatchesLoops) {
  int bs = 2;
  array a = filled({2, 5, 3}, -1, 1, 1), b = filled({3, 4}, -1, 1, 2);
  array ml = array({true, false, true, true, false, true}, Shape{3, 2});  // (ceil(5/2), ceil(3/2))
  array mr = array({1.0, 0.5, 2.0, 0.0}, Shape{2, 2});                    // scales
  array mo = array({true, true, false, true, true, false}, Shape{3, 2});
  array out = block_masked_mm(a, b, bs, mo, ml, mr);
  auto av = to_vector<double>(a), bv = to_vector<double>(b), lv = to_vector<double>(ml),
       rv = to_vector<double>(mr), ov = to_vector<double>(mo);
  std::vector<double> want;
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 4; ++j) {
        double acc = 0;
        for (int k = 0; k < 3; ++k)
          acc += av[(n * 5 + i) * 3 + k] * lv[(i / bs) * 2 + k / bs] * bv[k * 4 + j] * rv[(k / bs) * 2 + j / bs];
        want.push_back(acc * ov[(i / bs) * 2 + j / bs]);
      }
  expect_values(out, want, 1e-12);
  // Without masks it is matmul.
  expect_values(block_masked_mm(a, b, 64), to_vector<double>(matmul(a, b)), 1e-12);
  expect_throws_naming([&] { return block_masked_mm(a, b, 0); }, "block_masked_mm");
  expect_throws_naming([&] { return block_masked_mm(a, b, 2, zeros({2, 2}, bool_)); }, "block_masked_mm");
  expect_throws_naming([&] { return block_masked_mm(a, zeros({4, 4}), 2); }, "block_masked_mm");
  expect_throws_naming([&] { return block_masked_mm(zeros({2, 2}, int32), zeros({2, 2}, int32)); }, "block_masked_mm");
}

TEST(SpecialMatmul, GatherMatchesTakeThenMatmul) {
  array a = filled({3, 2, 4}, -1, 1, 1), b = filled({5, 4, 3}, -1, 1, 2);
  array li = array({2, 0, 1, 1}, Shape{2, 2}), ri = array({4, 1}, Shape{2, 1});
  array out = gather_mm(a, b, li, ri);
  EXPECT_EQ(out.shape(), (Shape{2, 2, 2, 3}));
  auto lv = to_vector<int>(li), rv = to_vector<int>(ri);
  std::vector<double> want;
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 2; ++q) {
      array m = matmul(take(a, array(lv[p * 2 + q]), 0), take(b, array(rv[p]), 0));
      for (double x : to_vector<double>(m)) want.push_back(x);
    }
  expect_values(out, want, 1e-12);
  // No indices: every matrix in order (batch dims must then broadcast).
  expect_values(gather_mm(a, take(b, array({0, 1, 2}), 0)), to_vector<double>(matmul(a, take(b, array({0, 1, 2}), 0))),
                1e-12);
  expect_throws_naming([&] { return gather_mm(a, b, array({0.5})); }, "gather_mm");
  expect_throws_naming([&] { return gather_mm(a, b); }, "gather_mm");
  expect_throws_naming([&] { return gather_mm(a, zeros({5, 3, 3})); }, "gather_mm");
}

TEST(SpecialMatmul, SegmentedMatchesSlices) {
  array a = filled({3, 6}, -1, 1, 1), b = filled({6, 2}, -1, 1, 2);
  array seg = array({0, 2, 2, 6, 1, 1}, Shape{3, 2});
  array out = segmented_mm(a, b, seg);
  EXPECT_EQ(out.shape(), (Shape{3, 3, 2}));
  std::vector<double> want;
  int bounds[3][2] = {{0, 2}, {2, 6}, {1, 1}};
  for (auto& bd : bounds) {
    array m = matmul(slice(a, {0, bd[0]}, {3, bd[1]}), slice(b, {bd[0], 0}, {bd[1], 2}));
    for (double x : to_vector<double>(m)) want.push_back(x);
  }
  expect_values(out, want, 1e-12);
  expect_throws_naming([&] { return segmented_mm(a, b, array({0.0, 1.0})); }, "segmented_mm");
  expect_throws_naming([&] { return segmented_mm(a, b, array({0, 1, 2}, Shape{3})); }, "segmented_mm");
  expect_throws_naming([&] { return segmented_mm(zeros({2, 3, 6}), b, seg); }, "segmented_mm");
}

TEST(Hadamard, PowersOfTwoMatchSylvester) {
  for (int n : {1, 2, 4, 8, 64, 512}) {
    array x = filled({3, n}, -1, 1, n);
    auto xv = to_vector<double>(x);
    std::vector<double> want;
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < n; ++i) {
        double acc = 0;
        for (int j = 0; j < n; ++j) acc += sylvester(i, j) * xv[r * n + j];
        want.push_back(acc / std::sqrt(double(n)));
      }
    expect_values(hadamard_transform(x), want, 1e-10);
    // Non-contiguous input, float32, explicit scale.
    expect_values(hadamard_transform(transpose(transpose(astype(x, float32))), 1.0f),
                  to_vector<double>(multiply(hadamard_transform(x), array(std::sqrt(double(n))))), 1e-4);
  }
}

TEST(Hadamard, ManyShortRows) {
  // Short rows go through the butterflies a group at a time, the last group partial.
  for (Dtype t : {float32, float64}) {
    array x = astype(filled({1500, 4}, -1, 1, 7), t);
    auto xv = to_vector<double>(x);
    std::vector<double> want;
    for (int r = 0; r < 1500; ++r)
      for (int i = 0; i < 4; ++i) {
        double acc = 0;
        for (int j = 0; j < 4; ++j) acc += sylvester(i, j) * xv[r * 4 + j];
        want.push_back(acc * 0.25);
      }
    expect_values(hadamard_transform(x, 0.25f), want, 1e-6);
  }
}

TEST(Hadamard, OtherOrdersAreOrthogonal) {
  for (int m : {12, 20, 28}) {
    for (int p : {1, 4}) {
      int n = m * p;
      // The transform of the identity is the matrix; H H^T = n I and the entries are +-1.
      array H = hadamard_transform(eye(n, float64), 1.0f);
      auto hv = to_vector<double>(H);
      for (double v : hv) ASSERT_EQ(std::abs(v), 1.0);
      expect_values(matmul(H, transpose(H)), to_vector<double>(multiply(eye(n, float64), array(double(n)))), 1e-9);
      // It is H_m kron H_p with the m part most significant.
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          double hm = detail::hadamard_row(m, j / p)[i / p] == '+' ? 1 : -1;
          ASSERT_EQ(hv[i * n + j], hm * sylvester(i % p, j % p)) << m << " " << p << " " << i << " " << j;
        }
    }
  }
}

TEST(Hadamard, DtypesAndErrors) {
  EXPECT_EQ(hadamard_transform(ones({4}, int32)).dtype(), float32);
  EXPECT_EQ(hadamard_transform(ones({4}, float16)).dtype(), float16);
  expect_values(hadamard_transform(ones({4}, bfloat16)), {2, 0, 0, 0});
  expect_values(hadamard_transform(array(2.0)), {2});
  EXPECT_EQ(hadamard_transform(zeros({0, 8})).shape(), (Shape{0, 8}));
  expect_throws_naming([] { return hadamard_transform(ones({6})); }, "hadamard_transform");
  expect_throws_naming([] { return hadamard_transform(ones({3, 36})); }, "hadamard_transform");
  expect_throws_naming([] { return hadamard_transform(ones({0})); }, "hadamard_transform");
}

TEST(Windows, MatchNumPy) {
  // np.bartlett(5), np.hanning(5), np.hamming(5), np.blackman(5)
  expect_values(bartlett(5), {0, 0.5, 1, 0.5, 0}, 1e-7);
  expect_values(hanning(5), {0, 0.5, 1, 0.5, 0}, 1e-7);
  expect_values(hamming(5), {0.08, 0.54, 1, 0.54, 0.08}, 1e-7);
  expect_values(blackman(5), {-1.3877787807814457e-17, 0.34, 1, 0.34, 0}, 1e-7);
  for (auto w : {&bartlett, &hanning, &hamming, &blackman}) {
    EXPECT_EQ(w(0, {}).shape(), (Shape{0}));
    EXPECT_EQ(w(-3, {}).shape(), (Shape{0}));
    expect_values(w(1, {}), {1});
    EXPECT_EQ(w(10, {}).dtype(), float32);
  }
}

LAZULI_CHECKER_CASES(einsum) {
  using lazuli::test::binary_fn;
  using lazuli::test::unary_fn;
  add("Hadamard", Case{{{3, 8}}, -2, 2, unary_fn([](const array& x) { return hadamard_transform(x); })});
  add("Hadamard", Case{{{4, 12}}, -2, 2, unary_fn([](const array& x) { return hadamard_transform(x, 0.5f); })});
  add("Hadamard", Case{{{2, 20}}, -2, 2, unary_fn([](const array& x) { return hadamard_transform(x); })});
  add("Hadamard", Case{{{3, 28}}, -2, 2, unary_fn([](const array& x) { return hadamard_transform(x); }), true, true});
  add("Hadamard", Case{{{2, 56}}, -2, 2, unary_fn([](const array& x) { return hadamard_transform(x); })});
  // The compositions, under every transform, through the rules of the ops they use.
  add("Matmul", Case{{{3, 4}, {4, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                       return einsum("ij,jk->ki", {x, y});
                     })});
  add("Matmul", Case{{{2, 3, 3}, {3}}, -2, 2, binary_fn([](const array& x, const array& y) {
                       return einsum("bii,i->b", {x, y});
                     })});
  add("GatherMM", Case{{{2, 3, 4}, {2, 4, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                         return gather_mm(x, y, array({1, 0, 1}), array({0, 0, -1}));  // repeats: gradients add
                       })});
  add("GatherMM", Case{{{3, 4}, {3, 4, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                         return gather_mm(x, y, std::nullopt, array({2, 2, 0, 1}, Shape{2, 2}));
                       }), true, true});
  add("GatherMM", Case{{{2, 2, 3}, {3, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                         return gather_mm(x, y, array({1, 1, 0}), std::nullopt);
                       }), true, false, {1, -1}});
  add("SegmentedMM", Case{{{3, 5}, {5, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                            return segmented_mm(x, y, array({0, 2, 2, 5, 1, 4, 3, 3}, Shape{2, 2, 2}));  // overlapping, empty
                          })});
  add("SegmentedMM", Case{{{3, 5}, {5, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                            return segmented_mm(x, y, array({0, 2, 2, 5}, Shape{2, 2}));
                          }), true, true, {0, -1}});
  add("SegmentedMM", Case{{{3, 5}, {5, 2}}, -2, 2, binary_fn([](const array& x, const array& y) {
                            return segmented_mm(x, y, array({0, 2, 2, 5}, Shape{2, 2}));
                          }), true, false, {-1, 1}});
  add("Matmul", Case{{{4, 3}, {3, 4}}, -2, 2, binary_fn([](const array& x, const array& y) {
                       return block_masked_mm(x, y, 2, array({true, false, true, true}, Shape{2, 2}),
                                              array({1.0, 2.0, 0.0, 1.0}, Shape{2, 2}));
                     })});
}
