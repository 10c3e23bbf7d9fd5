// Convolution: the Convolution primitive's shapes and transform rules, and the ops built on
// it (conv_general, conv1d/2d/3d, conv_transpose1d/2d/3d, convolve). The kernel lives in
// backend/cpu/conv.cpp.
#include "lazuli/conv.h"

#include <algorithm>

#include "lazuli/ops/ops_util.h"
#include "lazuli/primitives/conv.h"

namespace lazuli {
using namespace detail;

namespace {

using Params = Convolution::Params;

std::string ints_str(const std::vector<int>& v) {
  std::string r = "(";
  for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
  return r + (v.size() == 1 ? ",)" : ")");
}

// Length of one spatial dimension after input dilation (an empty one stays empty).
int64_t dilated_length(int64_t in, int input_dilation) { return in == 0 ? 0 : (in - 1) * input_dilation + 1; }

array conv_node(const array& x, const array& w, Params p, S s) {
  return make_node<Convolution>({x, w}, x.dtype(), s, std::move(p));
}

// The spatial axes 1..d of an array shaped (N, *spatial, C).
std::vector<int> spatial_axes(int d) {
  std::vector<int> ax(d);
  for (int i = 0; i < d; ++i) ax[i] = 1 + i;
  return ax;
}

}  // namespace

// ---- primitive: shapes and equivalence ------------------------------------------------

int Convolution::output_length(int in, int kernel, int stride, int lo, int hi, int kernel_dilation,
                               int input_dilation) {
  int64_t padded = dilated_length(in, input_dilation) + lo + hi;
  int64_t span = int64_t(kernel - 1) * kernel_dilation + 1;
  return padded < span ? 0 : static_cast<int>((padded - span) / stride + 1);
}

std::vector<Shape> Convolution::output_shapes(const std::vector<array>& inputs) const {
  const array &x = inputs[0], &w = inputs[1];
  int d = static_cast<int>(x.ndim()) - 2;
  Shape out{x.shape()[0]};
  for (int i = 0; i < d; ++i)
    out.push_back(output_length(x.shape()[1 + i], w.shape()[1 + i], p_.stride[i], p_.padding_lo[i], p_.padding_hi[i],
                                p_.kernel_dilation[i], p_.input_dilation[i]));
  out.push_back(w.shape()[0]);
  return {out};
}

bool Convolution::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Convolution*>(&o);
  return p && p->p_ == p_;
}

// ---- transform rules --------------------------------------------------------------------
// Both gradients are convolutions again (so they transform again):
// - input: the cotangent, dilated by the stride, correlated with the weight flipped the
//   other way and with its channel axes swapped per group, stepping by the input dilation.
// - weight: the input correlated with the cotangent, with the batch as the channel axis and
//   the input channels as the batch (groups stay groups), stepping by the kernel dilation.

namespace {

// (C_out, *K, C_in_g) -> (C_in, *K, C_out_g): each group's channel axes swapped.
array swap_weight_channels(const array& w, int groups, S s) {
  int d = static_cast<int>(w.ndim()) - 2;
  int32_t co = w.shape()[0], ci_g = w.shape().back(), co_g = co / groups;
  Shape split{groups, co_g};
  for (int i = 0; i < d; ++i) split.push_back(w.shape()[1 + i]);
  split.push_back(ci_g);
  std::vector<int> perm{0, d + 2};
  for (int i = 0; i < d; ++i) perm.push_back(2 + i);
  perm.push_back(1);
  Shape out{groups * ci_g};
  for (int i = 0; i < d; ++i) out.push_back(w.shape()[1 + i]);
  out.push_back(co_g);
  return reshape(transpose(reshape(w, split, s), perm, s), out, s);
}

array input_cotangent(const array& x, const array& w, const array& ct, const Params& p, S s) {
  int d = static_cast<int>(x.ndim()) - 2;
  if (x.size() == 0 || ct.size() == 0 || w.size() == 0) return zeros_like(x, s);
  Params q;
  q.groups = p.groups;
  q.flip = !p.flip;
  q.stride = p.input_dilation;
  q.input_dilation = p.stride;
  q.kernel_dilation = p.kernel_dilation;
  for (int i = 0; i < d; ++i) {
    int64_t L = x.shape()[1 + i], O = ct.shape()[1 + i];
    int64_t span = int64_t(w.shape()[1 + i] - 1) * p.kernel_dilation[i] + 1;
    int64_t lo = span - 1 - p.padding_lo[i];
    int64_t hi = (L - 1) * p.input_dilation[i] + span - dilated_length(O, p.stride[i]) - lo;
    q.padding_lo.push_back(static_cast<int>(lo));
    q.padding_hi.push_back(static_cast<int>(hi));
  }
  return conv_node(ct, swap_weight_channels(w, p.groups, s), std::move(q), s);
}

array weight_cotangent(const array& x, const array& w, const array& ct, const Params& p, S s) {
  int d = static_cast<int>(x.ndim()) - 2;
  if (x.size() == 0 || ct.size() == 0 || w.size() == 0) return zeros_like(w, s);
  int g = p.groups;
  int32_t n = x.shape()[0], ci_g = w.shape().back(), co = w.shape()[0], co_g = co / g;
  // x (N, *S, C_in) -> (C_in_g, *S, g * N)
  Shape xs{n};
  for (int i = 0; i < d; ++i) xs.push_back(x.shape()[1 + i]);
  Shape xsplit = xs;
  xsplit.push_back(g), xsplit.push_back(ci_g);
  std::vector<int> xperm{d + 2};
  for (int i = 0; i < d; ++i) xperm.push_back(1 + i);
  xperm.push_back(d + 1), xperm.push_back(0);
  Shape xshape{ci_g};
  for (int i = 0; i < d; ++i) xshape.push_back(x.shape()[1 + i]);
  xshape.push_back(g * n);
  array xt = reshape(transpose(reshape(x, xsplit, s), xperm, s), xshape, s);
  // ct (N, *O, C_out) -> (C_out, *O, N), grouped channels staying together
  Shape csplit{n};
  for (int i = 0; i < d; ++i) csplit.push_back(ct.shape()[1 + i]);
  csplit.push_back(g), csplit.push_back(co_g);
  std::vector<int> cperm{d + 1, d + 2};
  for (int i = 0; i < d; ++i) cperm.push_back(1 + i);
  cperm.push_back(0);
  Shape cshape{co};
  for (int i = 0; i < d; ++i) cshape.push_back(ct.shape()[1 + i]);
  cshape.push_back(n);
  array ctt = reshape(transpose(reshape(ct, csplit, s), cperm, s), cshape, s);

  Params q;
  q.groups = g;
  q.flip = false;
  q.stride = p.kernel_dilation;
  q.kernel_dilation = p.stride;
  q.input_dilation = p.input_dilation;
  q.padding_lo = p.padding_lo;
  for (int i = 0; i < d; ++i) {
    int64_t K = w.shape()[1 + i], O = ct.shape()[1 + i];
    int64_t needed = (K - 1) * p.kernel_dilation[i] + (O - 1) * p.stride[i] + 1;
    int64_t hi = needed - dilated_length(x.shape()[1 + i], p.input_dilation[i]) - p.padding_lo[i];
    q.padding_hi.push_back(static_cast<int>(hi));
  }
  // (C_in_g, *K, C_out) -> (C_out, *K, C_in_g)
  array dw = conv_node(xt, ctt, std::move(q), s);
  std::vector<int> perm{d + 1};
  for (int i = 0; i < d; ++i) perm.push_back(1 + i);
  perm.push_back(0);
  dw = transpose(dw, perm, s);
  if (p.flip) dw = flip(dw, spatial_axes(d), s);
  return dw;
}

}  // namespace

std::vector<array> Convolution::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) r.push_back(input_cotangent(primals[0], primals[1], cts[0], p_, stream()));
    else r.push_back(weight_cotangent(primals[0], primals[1], cts[0], p_, stream()));
  }
  return r;
}

std::vector<array> Convolution::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  // Bilinear: the tangent is conv(dx, w) + conv(x, dw).
  std::optional<array> t;
  for (size_t i = 0; i < argnums.size(); ++i) {
    array term = argnums[i] == 0 ? conv_node(tangents[i], primals[1], p_, stream())
                                 : conv_node(primals[0], tangents[i], p_, stream());
    t = t ? add(*t, term, stream()) : term;
  }
  return {*t};
}

std::pair<std::vector<array>, std::vector<int>> Convolution::vmap(const std::vector<array>& inputs,
                                                                  const std::vector<int>& axes) {
  S s = stream();
  const array &x = inputs[0], &w = inputs[1];
  int d = static_cast<int>(w.ndim()) - 2 - (axes[1] >= 0);  // spatial dimensions
  if (axes[1] < 0) {
    // Only the input is batched: the batch joins N.
    array xb = to_front(x, axes[0], s);
    int32_t b = xb.shape()[0], n = xb.shape()[1];
    Shape merged(xb.shape().begin() + 1, xb.shape().end());
    merged[0] *= b;
    array out = conv_node(reshape(xb, merged, s), w, p_, s);
    Shape split{b, n};
    split.insert(split.end(), out.shape().begin() + 1, out.shape().end());
    return {{reshape(out, split, s)}, {0}};
  }
  // The weight is batched: each batch element becomes its own set of groups, and the input
  // channels repeat once per batch element (or come from the batched input).
  array wb = to_front(w, axes[1], s);
  int32_t b = wb.shape()[0], co = wb.shape()[1];
  Shape wshape(wb.shape().begin() + 1, wb.shape().end());
  wshape[0] *= b;
  wb = reshape(wb, wshape, s);
  array xb = x;
  if (axes[0] >= 0) {
    xb = moveaxis(x, axes[0], d + 1, s);  // (N, *S, B, C_in)
  } else {
    Shape bshape = x.shape();
    bshape.insert(bshape.end() - 1, b);
    xb = broadcast_to(expand_dims(x, d + 1, s), bshape, s);
  }
  Shape xshape(xb.shape().begin(), xb.shape().end() - 1);
  xshape.back() *= xb.shape().back();
  xb = reshape(xb, xshape, s);
  Params q = p_;
  q.groups *= b;
  array out = conv_node(xb, wb, q, s);
  Shape split(out.shape().begin(), out.shape().end() - 1);
  split.push_back(b), split.push_back(co);
  return {{reshape(out, split, s)}, {d + 1}};
}

// ---- ops -------------------------------------------------------------------------------

namespace {

// One value per spatial dimension: empty -> fill, one value -> repeated.
std::vector<int> per_dim(std::vector<int> v, int d, int fill, const char* op, const char* what) {
  if (v.empty()) return std::vector<int>(d, fill);
  if (v.size() == 1 && d != 1) return std::vector<int>(d, v[0]);
  if (static_cast<int>(v.size()) != d)
    fail(op, std::string("Expected ") + std::to_string(d) + " " + what + " values for a " + std::to_string(d) +
                 "-D convolution, got " + ints_str(v) + ".");
  return v;
}

array conv_checked(const char* op, array x, array w, std::vector<int> stride, std::vector<int> lo,
                   std::vector<int> hi, std::vector<int> kdil, std::vector<int> idil, int groups, bool flip, S s) {
  if (x.ndim() < 3)
    fail(op, "Expected an input of shape (N, *spatial, C_in) with at least one spatial dimension, got shape " +
                 shape_str(x.shape()) + ".");
  if (w.ndim() != x.ndim())
    fail(op, "Expected a weight of shape (C_out, *kernel, C_in / groups) with rank " + std::to_string(x.ndim()) +
                 " like the input " + shape_str(x.shape()) + ", got weight shape " + shape_str(w.shape()) + ".");
  for (const array* a : {&x, &w})
    if (!is_floating_point(a->dtype()))
      fail(op, "Convolution supports floating-point inputs only, got " + dtype_name(a->dtype()) + ".");
  int d = static_cast<int>(x.ndim()) - 2;
  stride = per_dim(std::move(stride), d, 1, op, "stride");
  lo = per_dim(std::move(lo), d, 0, op, "padding");
  hi = per_dim(std::move(hi), d, 0, op, "padding");
  kdil = per_dim(std::move(kdil), d, 1, op, "kernel dilation");
  idil = per_dim(std::move(idil), d, 1, op, "input dilation");
  for (auto [v, what] : {std::pair{&stride, "Strides"}, std::pair{&kdil, "Kernel dilations"},
                         std::pair{&idil, "Input dilations"}})
    for (int e : *v)
      if (e < 1) fail(op, std::string(what) + " must be positive, got " + ints_str(*v) + ".");
  int32_t ci = x.shape().back(), co = w.shape()[0], ci_g = w.shape().back();
  if (groups < 1) fail(op, "groups must be positive, got " + std::to_string(groups) + ".");
  if (ci % groups != 0)
    fail(op, "The input channels (" + std::to_string(ci) + ") must be divisible by groups (" +
                 std::to_string(groups) + ").");
  if (co % groups != 0)
    fail(op, "The output channels (" + std::to_string(co) + ") must be divisible by groups (" +
                 std::to_string(groups) + ").");
  if (ci_g * groups != ci)
    fail(op, "The weight's input channels (" + std::to_string(ci_g) + ", shape " + shape_str(w.shape()) +
                 ") times groups (" + std::to_string(groups) + ") must equal the input channels (" +
                 std::to_string(ci) + ", shape " + shape_str(x.shape()) + ").");
  for (int i = 0; i < d; ++i) {
    int32_t k = w.shape()[1 + i];
    if (k < 1) fail(op, "Kernel sizes must be positive, got weight shape " + shape_str(w.shape()) + ".");
    int64_t len = dilated_length(x.shape()[1 + i], idil[i]);
    if ((lo[i] < 0 && -int64_t(lo[i]) >= len) || (hi[i] < 0 && -int64_t(hi[i]) >= len))
      fail(op, "Negative padding must crop less than the input: padding " + ints_str(lo) + " / " + ints_str(hi) +
                   " for input shape " + shape_str(x.shape()) + ".");
    int64_t span = int64_t(k - 1) * kdil[i] + 1;
    if (len + lo[i] + hi[i] < span)
      fail(op, "The kernel (size " + std::to_string(k) + ", dilation " + std::to_string(kdil[i]) +
                   ") is larger than the padded input along spatial axis " + std::to_string(i) + " (input shape " +
                   shape_str(x.shape()) + ", padding " + ints_str(lo) + " / " + ints_str(hi) + ").");
  }
  Dtype t = promote_types(x.dtype(), w.dtype());
  Params p{std::move(stride), std::move(lo), std::move(hi), std::move(kdil), std::move(idil), groups, flip};
  return conv_node(astype(x, t, s), astype(w, t, s), std::move(p), s);
}

}  // namespace

// A file's Convolution passes the same checks as conv_general's arguments (the kernel
// trusts them), with one value per spatial dimension.
LAZULI_PRIMITIVE_READER(Convolution) {
  r.arity(2);
  Params p;
  for (auto* v : {&p.stride, &p.padding_lo, &p.padding_hi, &p.kernel_dilation, &p.input_dilation}) *v = r.ints();
  p.groups = r.i32();
  p.flip = r.boolean();
  r.same_input_dtypes();
  size_t d = static_cast<size_t>(std::max(r.rank(0), 2) - 2);
  for (auto* v : {&p.stride, &p.padding_lo, &p.padding_hi, &p.kernel_dilation, &p.input_dilation})
    if (v->size() != d) r.fail("Convolution with " + std::to_string(v->size()) + " values for " + std::to_string(d) + " spatial dimensions");
  try {
    conv_checked("Convolution", r.placeholder(0), r.placeholder(1), p.stride, p.padding_lo, p.padding_hi,
                 p.kernel_dilation, p.input_dilation, p.groups, p.flip, s);
  } catch (const std::invalid_argument& e) {
    r.fail(e.what());
  }
  r.outputs_like(0);
  return std::make_shared<Convolution>(s, std::move(p));
}

namespace {

array conv_nd(const char* op, size_t d, const array& x, const array& w, std::vector<int> stride,
              std::vector<int> padding, std::vector<int> dilation, int groups, S s) {
  if (x.ndim() != d + 2)
    fail(op, "Expected an input of rank " + std::to_string(d + 2) + " (N, *spatial, C_in), got shape " +
                 shape_str(x.shape()) + ".");
  return conv_checked(op, x, w, std::move(stride), padding, padding, std::move(dilation), {}, groups, false, s);
}

// A transposed convolution is the gradient of a convolution with respect to its input: the
// input dilated by the stride, padded so that the kernel reaches every output, and the
// flipped kernel.
array conv_transpose_nd(const char* op, size_t d, const array& x, const array& w, std::vector<int> stride,
                        std::vector<int> padding, std::vector<int> dilation, std::vector<int> output_padding,
                        int groups, S s) {
  if (x.ndim() != d + 2)
    fail(op, "Expected an input of rank " + std::to_string(d + 2) + " (N, *spatial, C_in), got shape " +
                 shape_str(x.shape()) + ".");
  if (w.ndim() != x.ndim())
    fail(op, "Expected a weight of rank " + std::to_string(d + 2) + " (C_out, *kernel, C_in / groups), got shape " +
                 shape_str(w.shape()) + ".");
  for (int v : padding)
    if (v < 0) fail(op, "Padding must be non-negative, got " + ints_str(padding) + ".");
  for (int v : output_padding)
    if (v < 0) fail(op, "Output padding must be non-negative, got " + ints_str(output_padding) + ".");
  for (auto [v, what] : {std::pair{&stride, "Strides"}, std::pair{&dilation, "Dilations"}})
    for (int e : *v)
      if (e < 1) fail(op, std::string(what) + " must be positive, got " + ints_str(*v) + ".");
  std::vector<int> lo(d), hi(d);
  for (size_t i = 0; i < d; ++i) {
    int span = (w.shape()[1 + i] - 1) * dilation[i] + 1;
    lo[i] = span - 1 - padding[i];
    hi[i] = lo[i] + output_padding[i];
  }
  return conv_checked(op, x, w, {}, lo, hi, dilation, stride, groups, true, s);
}

}  // namespace

array conv_general(const array& input, const array& weight, std::vector<int> stride, std::vector<int> padding_lo,
                   std::vector<int> padding_hi, std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups, bool flip, S s) {
  if (padding_hi.empty()) padding_hi = padding_lo;
  return conv_checked("conv_general", input, weight, std::move(stride), std::move(padding_lo), std::move(padding_hi),
                      std::move(kernel_dilation), std::move(input_dilation), groups, flip, s);
}
array conv1d(const array& input, const array& weight, int stride, int padding, int dilation, int groups, S s) {
  return conv_nd("conv1d", 1, input, weight, {stride}, {padding}, {dilation}, groups, s);
}
array conv2d(const array& input, const array& weight, const std::pair<int, int>& stride,
             const std::pair<int, int>& padding, const std::pair<int, int>& dilation, int groups, S s) {
  return conv_nd("conv2d", 2, input, weight, {stride.first, stride.second}, {padding.first, padding.second},
                 {dilation.first, dilation.second}, groups, s);
}
array conv3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
             const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation, int groups, S s) {
  auto v = [](const std::tuple<int, int, int>& t) {
    return std::vector<int>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  };
  return conv_nd("conv3d", 3, input, weight, v(stride), v(padding), v(dilation), groups, s);
}

array conv_transpose1d(const array& input, const array& weight, int stride, int padding, int dilation,
                       int output_padding, int groups, S s) {
  return conv_transpose_nd("conv_transpose1d", 1, input, weight, {stride}, {padding}, {dilation}, {output_padding},
                           groups, s);
}
array conv_transpose2d(const array& input, const array& weight, const std::pair<int, int>& stride,
                       const std::pair<int, int>& padding, const std::pair<int, int>& dilation,
                       const std::pair<int, int>& output_padding, int groups, S s) {
  auto v = [](const std::pair<int, int>& p) { return std::vector<int>{p.first, p.second}; };
  return conv_transpose_nd("conv_transpose2d", 2, input, weight, v(stride), v(padding), v(dilation),
                           v(output_padding), groups, s);
}
array conv_transpose3d(const array& input, const array& weight, const std::tuple<int, int, int>& stride,
                       const std::tuple<int, int, int>& padding, const std::tuple<int, int, int>& dilation,
                       const std::tuple<int, int, int>& output_padding, int groups, S s) {
  auto v = [](const std::tuple<int, int, int>& t) {
    return std::vector<int>{std::get<0>(t), std::get<1>(t), std::get<2>(t)};
  };
  return conv_transpose_nd("conv_transpose3d", 3, input, weight, v(stride), v(padding), v(dilation),
                           v(output_padding), groups, s);
}

array convolve(const array& a, const array& v, const std::string& mode, S s) {
  if (a.ndim() != 1 || v.ndim() != 1)
    fail("convolve", "Inputs must be 1-D, got shapes " + shape_str(a.shape()) + " and " + shape_str(v.shape()) + ".");
  if (mode != "full" && mode != "same" && mode != "valid")
    fail("convolve", "mode must be 'full', 'same' or 'valid', got '" + mode + "'.");
  if (a.size() == 0 || v.size() == 0) fail("convolve", "Inputs cannot be empty.");
  // Convolution is symmetric in its arguments: the longer one is the signal.
  const array& sig = a.size() >= v.size() ? a : v;
  const array& ker = a.size() >= v.size() ? v : a;
  int m = static_cast<int>(ker.size());
  int lo = 0, hi = 0;
  if (mode == "full") lo = hi = m - 1;
  else if (mode == "same") hi = (m - 1) / 2, lo = m - 1 - hi;
  array out = conv_checked("convolve", reshape(sig, {1, -1, 1}, s), reshape(ker, {1, -1, 1}, s), {}, {lo}, {hi}, {},
                           {}, 1, true, s);
  return reshape(out, {-1}, s);
}

}  // namespace lazuli
