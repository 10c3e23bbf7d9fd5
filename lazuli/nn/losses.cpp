// Loss functions (MLX's nn.losses), written with lazuli ops so they differentiate.
#include <cmath>

#include "lazuli/nn/functional.h"
#include "lazuli/ops/ops_util.h"

namespace lazuli::nn {

using namespace lazuli::detail;

namespace {

template <typename T>
array w(T v, const array& x) { return weak_scalar(v, x); }

array reduce(const array& loss, const std::string& reduction, const char* op, S s) {
  if (reduction == "none") return loss;
  if (reduction == "mean") return mean(loss, false, s);
  if (reduction == "sum") return sum(loss, false, s);
  fail(op, "invalid reduction '" + reduction + "'; expected 'none', 'mean' or 'sum'.");
}

void same_shape(const array& a, const array& b, const char* op, const char* a_name, const char* b_name) {
  if (a.shape() != b.shape())
    fail(op, std::string(a_name) + " shape " + shape_str(a.shape()) + " does not match " + b_name + " shape " +
                 shape_str(b.shape()) + ".");
}

array weighted(const array& loss, const OptArray& weights, const char* op, S s) {
  if (!weights) return loss;
  if (weights->shape() != loss.shape())
    fail(op, "weights shape " + shape_str(weights->shape()) + " does not match the loss shape " +
                 shape_str(loss.shape()) + ".");
  return multiply(loss, *weights, s);
}

}  // namespace

array cross_entropy(const array& logits, const array& targets, const OptArray& weights, int axis,
                    double label_smoothing, const std::string& reduction, S s) {
  const char* op = "cross_entropy";
  if (label_smoothing < 0 || label_smoothing >= 1)
    fail(op, "label_smoothing must be in [0, 1), got " + std::to_string(label_smoothing) + ".");
  int ax = normalize_axis(axis, logits.ndim(), op);
  bool probs = targets.ndim() == logits.ndim();
  Shape expected = logits.shape();
  if (!probs) expected.erase(expected.begin() + ax);
  if (targets.shape() != expected)
    fail(op, "targets shape " + shape_str(targets.shape()) + " does not match logits shape " +
                 shape_str(logits.shape()) + " (class indices need " + shape_str(expected) + ").");
  array score = probs ? sum(multiply(logits, targets, s), ax, false, s)
                      : squeeze(take_along_axis(logits, expand_dims(targets, ax, s), ax, s), ax, s);
  array lse = logsumexp(logits, ax, false, s);
  array loss = subtract(lse, score, s);
  if (label_smoothing > 0) {
    // (1 - ls) * (lse - score) + ls * (lse - mean(logits)): the smoothed target's cross entropy.
    array smooth = multiply(w(label_smoothing, lse), mean(logits, ax, false, s), s);
    loss = subtract(subtract(lse, multiply(w(1.0 - label_smoothing, score), score, s), s), smooth, s);
  }
  return reduce(weighted(loss, weights, op, s), reduction, op, s);
}

array binary_cross_entropy(const array& inputs, const array& targets, const OptArray& weights, bool with_logits,
                           const std::string& reduction, S s) {
  const char* op = "binary_cross_entropy";
  same_shape(inputs, targets, op, "inputs", "targets");
  array loss = inputs;
  if (with_logits) {
    loss = subtract(logaddexp(w(0.0, inputs), inputs, s), multiply(inputs, targets, s), s);
  } else {
    // log clipped at -100 as PyTorch and MLX do, so that p = 0 or 1 gives finite losses.
    array floor = w(-100.0, inputs);
    array log_p = maximum(log(inputs, s), floor, s);
    array log_q = maximum(log(subtract(w(1.0, inputs), inputs, s), s), floor, s);
    loss = negative(add(multiply(targets, log_p, s), multiply(subtract(w(1.0, targets), targets, s), log_q, s), s), s);
  }
  return reduce(weighted(loss, weights, op, s), reduction, op, s);
}

array l1_loss(const array& predictions, const array& targets, const std::string& reduction, S s) {
  same_shape(predictions, targets, "l1_loss", "predictions", "targets");
  return reduce(abs(subtract(predictions, targets, s), s), reduction, "l1_loss", s);
}

array mse_loss(const array& predictions, const array& targets, const std::string& reduction, S s) {
  same_shape(predictions, targets, "mse_loss", "predictions", "targets");
  return reduce(square(subtract(predictions, targets, s), s), reduction, "mse_loss", s);
}

array nll_loss(const array& inputs, const array& targets, int axis, const std::string& reduction, S s) {
  int ax = normalize_axis(axis, inputs.ndim(), "nll_loss");
  array picked = squeeze(take_along_axis(inputs, expand_dims(targets, ax, s), ax, s), ax, s);
  return reduce(negative(picked, s), reduction, "nll_loss", s);
}

array gaussian_nll_loss(const array& inputs, const array& targets, const array& vars, bool full, double eps,
                        const std::string& reduction, S s) {
  const char* op = "gaussian_nll_loss";
  same_shape(inputs, targets, op, "inputs", "targets");
  same_shape(inputs, vars, op, "inputs", "vars");
  array v = maximum(vars, w(eps, vars), s);
  array loss = multiply(w(0.5, v), add(log(v, s), divide(square(subtract(targets, inputs, s), s), v, s), s), s);
  if (full) loss = add(loss, w(0.5 * std::log(2 * M_PI), loss), s);
  return reduce(loss, reduction, op, s);
}

array kl_div_loss(const array& inputs, const array& targets, int axis, const std::string& reduction, S s) {
  // inputs and targets are log-probabilities.
  array loss = sum(multiply(exp(targets, s), subtract(targets, inputs, s), s), axis, false, s);
  return reduce(loss, reduction, "kl_div_loss", s);
}

array smooth_l1_loss(const array& predictions, const array& targets, double beta, const std::string& reduction,
                     S s) {
  same_shape(predictions, targets, "smooth_l1_loss", "predictions", "targets");
  array diff = abs(subtract(predictions, targets, s), s);
  array quad = divide(multiply(w(0.5, diff), square(diff, s), s), w(beta, diff), s);
  array lin = subtract(diff, w(0.5 * beta, diff), s);
  return reduce(where(less(diff, w(beta, diff), s), quad, lin, s), reduction, "smooth_l1_loss", s);
}

array triplet_loss(const array& anchors, const array& positives, const array& negatives, int axis, int p,
                   double margin, double eps, const std::string& reduction, S s) {
  auto dist = [&](const array& other) {
    array d = subtract(anchors, other, s);
    return sqrt(add(sum(power(d, w(p, d), s), axis, false, s), w(eps, d), s), s);
  };
  array gap = add(subtract(dist(positives), dist(negatives), s), w(margin, anchors), s);
  return reduce(maximum(gap, w(0, gap), s), reduction, "triplet_loss", s);
}

array hinge_loss(const array& inputs, const array& targets, const std::string& reduction, S s) {
  array m = subtract(w(1, inputs), multiply(inputs, targets, s), s);
  return reduce(maximum(m, w(0, m), s), reduction, "hinge_loss", s);
}

array huber_loss(const array& inputs, const array& targets, double delta, const std::string& reduction, S s) {
  array err = abs(subtract(inputs, targets, s), s);
  array quad = minimum(err, w(delta, err), s);
  array lin = subtract(err, quad, s);
  array loss = add(multiply(w(0.5, quad), square(quad, s), s), multiply(w(delta, lin), lin, s), s);
  return reduce(loss, reduction, "huber_loss", s);
}

array log_cosh_loss(const array& inputs, const array& targets, const std::string& reduction, S s) {
  // log(cosh(e)) = logaddexp(e, -e) - log 2, which does not overflow for large |e|.
  array e = subtract(inputs, targets, s);
  array loss = subtract(logaddexp(e, negative(e, s), s), w(std::log(2.0), e), s);
  return reduce(loss, reduction, "log_cosh_loss", s);
}

array cosine_similarity_loss(const array& x1, const array& x2, int axis, double eps, const std::string& reduction,
                             S s) {
  array n1 = sqrt(sum(square(x1, s), axis, false, s), s);
  array n2 = sqrt(sum(square(x2, s), axis, false, s), s);
  array denom = maximum(multiply(n1, n2, s), w(eps, n1), s);
  array loss = divide(sum(multiply(x1, x2, s), axis, false, s), denom, s);
  return reduce(loss, reduction, "cosine_similarity_loss", s);
}

array margin_ranking_loss(const array& inputs1, const array& inputs2, const array& targets, double margin,
                          const std::string& reduction, S s) {
  const char* op = "margin_ranking_loss";
  same_shape(inputs1, inputs2, op, "inputs1", "inputs2");
  same_shape(inputs1, targets, op, "inputs1", "targets");
  array m = add(negative(multiply(targets, subtract(inputs1, inputs2, s), s), s), w(margin, inputs1), s);
  return reduce(maximum(m, w(0, m), s), reduction, op, s);
}

}  // namespace lazuli::nn
