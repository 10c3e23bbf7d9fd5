// Recurrent layers (RNN, GRU, LSTM) in functional form: one matmul projects the whole input
// sequence, then each step adds the projected previous state and applies the gates.
#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {

// Checks x (..., L, D) against Wx (gates * H, D) and Wh (gates * H, H); returns H.
int hidden_size(const char* op, const array& x, const array& Wx, const array& Wh, int gates) {
  if (x.ndim() < 2) fail(op, "input must have shape (..., L, D), got shape " + shape_str(x.shape()) + ".");
  if (Wx.ndim() != 2 || Wx.shape(0) % gates != 0 || Wx.shape(1) != x.shape(-1))
    fail(op, "input weight must have shape (" + std::to_string(gates) + " * H, " + std::to_string(x.shape(-1)) +
                 ") for an input of shape " + shape_str(x.shape()) + ", got shape " + shape_str(Wx.shape()) + ".");
  int H = Wx.shape(0) / gates;
  if (Wh.ndim() != 2 || Wh.shape(0) != gates * H || Wh.shape(1) != H)
    fail(op,
         "hidden weight must have shape " + shape_str({gates * H, H}) + ", got shape " + shape_str(Wh.shape()) + ".");
  return H;
}

void check_vector(const char* op, const char* name, const OptArray& v, int size) {
  if (v && (v->ndim() != 1 || v->shape(0) != size))
    fail(op, std::string(name) + " must have shape (" + std::to_string(size) + ",), got shape " +
                 shape_str(v->shape()) + ".");
}

// The batch shape of the outputs: x's batch axes broadcast with those of the initial states.
Shape batch_shape(const char* op, const array& x, int H,
                  std::initializer_list<std::pair<const char*, OptArray>> states) {
  Shape batch(x.shape().begin(), x.shape().end() - 2);
  for (const auto& [name, state] : states) {
    if (!state) continue;
    Shape sb(state->shape().begin(), state->shape().end() - (state->ndim() > 0 ? 1 : 0));
    bool ok = state->ndim() >= 1 && state->shape(-1) == H;
    if (ok) {
      try {
        batch = broadcast_shapes(batch, sb);
      } catch (const std::invalid_argument&) {
        ok = false;
      }
    }
    if (!ok)
      fail(op, std::string("initial ") + name + " state of shape " + shape_str(state->shape()) +
                   " does not match the input of shape " + shape_str(x.shape()) + " and hidden size " +
                   std::to_string(H) + ": it must have shape (..., " + std::to_string(H) + ").");
  }
  return batch;
}

// The L steps of the projected input xw (..., L, G) as arrays (..., G).
std::vector<array> steps(const array& xw, S s) {
  std::vector<array> out;
  if (xw.shape(-2) == 0) return out;
  for (const array& t : split(xw, xw.shape(-2), -2, s)) out.push_back(squeeze(t, -2, s));
  return out;
}

// The per-step outputs stacked along the sequence axis; an empty (..., 0, H) for L = 0.
array stack_steps(const std::vector<array>& outputs, Shape batch, int H, Dtype dtype, S s) {
  if (outputs.empty()) {
    batch.insert(batch.end(), {0, H});
    return zeros(batch, dtype, s);
  }
  return stack(outputs, -2, s);
}

// x_t + h W^T, fused into one addmm when h already has x_t's (batch) shape.
array plus_recurrent(const array& xt, const array& h, const array& WT, S s) {
  if (h.shape() == xt.shape()) return addmm(xt, h, WT, 1.f, 1.f, s);
  return add(xt, matmul(h, WT, s), s);
}

}  // namespace

array rnn(const array& x, const array& Wxh, const array& Whh, const OptArray& bias, const OptArray& hidden,
          const Nonlinearity& nonlinearity, S s) {
  const char* op = "rnn";
  int H = hidden_size(op, x, Wxh, Whh, 1);
  check_vector(op, "bias", bias, H);
  Shape batch = batch_shape(op, x, H, {{"hidden", hidden}});
  array xw = linear(x, Wxh, bias, s);
  array WhhT = transpose(Whh, s);
  OptArray h = hidden;
  std::vector<array> outputs;
  for (const array& xt : steps(xw, s)) {
    array pre = h ? plus_recurrent(xt, *h, WhhT, s) : xt;
    h = nonlinearity ? nonlinearity(pre) : lazuli::tanh(pre, s);
    outputs.push_back(*h);
  }
  return stack_steps(outputs, batch, H, xw.dtype(), s);
}

array gru(const array& x, const array& Wx, const array& Wh, const OptArray& b, const OptArray& bhn,
          const OptArray& hidden, S s) {
  const char* op = "gru";
  int H = hidden_size(op, x, Wx, Wh, 3);
  check_vector(op, "b", b, 3 * H);
  check_vector(op, "bhn", bhn, H);
  Shape batch = batch_shape(op, x, H, {{"hidden", hidden}});
  array xw = linear(x, Wx, b, s);
  array WhT = transpose(Wh, s);
  OptArray h = hidden;
  std::vector<array> outputs;
  for (const array& xt : steps(xw, s)) {
    auto x_rzn = split(xt, Shape{2 * H}, -1, s);  // (r, z) and n rows of the input projection
    array rz = x_rzn[0], n = x_rzn[1];
    OptArray h_n;  // h Whn^T + bhn
    if (h) {
      auto h_rzn = split(matmul(*h, WhT, s), Shape{2 * H}, -1, s);
      rz = add(rz, h_rzn[0], s);
      h_n = bhn ? add(h_rzn[1], *bhn, s) : h_rzn[1];
    }
    auto r_z = split(lazuli::sigmoid(rz, s), 2, -1, s);
    if (h_n) n = add(n, multiply(r_z[0], *h_n, s), s);
    n = lazuli::tanh(n, s);
    const array& z = r_z[1];
    // (1 - z) n + z h, written as n + z (h - n).
    h = h ? add(n, multiply(z, subtract(*h, n, s), s), s) : multiply(subtract(weak_scalar(1, z), z, s), n, s);
    outputs.push_back(*h);
  }
  return stack_steps(outputs, batch, H, xw.dtype(), s);
}

std::pair<array, array> lstm(const array& x, const array& Wx, const array& Wh, const OptArray& bias,
                             const OptArray& hidden, const OptArray& cell, S s) {
  const char* op = "lstm";
  int H = hidden_size(op, x, Wx, Wh, 4);
  check_vector(op, "bias", bias, 4 * H);
  Shape batch = batch_shape(op, x, H, {{"hidden", hidden}, {"cell", cell}});
  array xw = linear(x, Wx, bias, s);
  array WhT = transpose(Wh, s);
  OptArray h = hidden, c = cell;
  std::vector<array> hs, cs;
  for (const array& xt : steps(xw, s)) {
    array gates = h ? plus_recurrent(xt, *h, WhT, s) : xt;
    auto ifgo = split(gates, 4, -1, s);
    array i = lazuli::sigmoid(ifgo[0], s), f = lazuli::sigmoid(ifgo[1], s), g = lazuli::tanh(ifgo[2], s),
          o = lazuli::sigmoid(ifgo[3], s);
    array ig = multiply(i, g, s);
    c = c ? add(multiply(f, *c, s), ig, s) : ig;
    h = multiply(o, lazuli::tanh(*c, s), s);
    hs.push_back(*h);
    cs.push_back(*c);
  }
  return {stack_steps(hs, batch, H, xw.dtype(), s), stack_steps(cs, batch, H, xw.dtype(), s)};
}

}  // namespace lazuli::nn
