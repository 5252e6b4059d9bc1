// Channel whitening (src/longtail/whitening.ts, docs/method.md) in one call: centring, the grouped batch
// covariance S + eps I, its whitening matrix W (ZCA or Newton-Schulz) in the decomposition dtype, the
// output (x - mean) W, and the running statistics' update. The training forward is one autograd node whose
// backward is written out: ZCA's is the Daleckii-Krein closed form the TypeScript layer uses, Newton-Schulz's
// runs back through the saved iterates, so the layer costs one crossing from JavaScript instead of dozens.
// Same operators, same order, as the TypeScript layer: the two agree to rounding.
//
// A captured training step (train.capture) cannot run linalg.eigh inside a CUDA graph (its CUDA kernel checks
// the result on the host), so ZCA also comes in two halves: channelWhiteningCovariance (the batch's S + eps I,
// captured in the first graph), eigh run between the graphs, and channelWhitening given that decomposition
// (captured in the second): the same node, the same arithmetic, only eigh's call moved out.
#include <torch/csrc/autograd/custom_function.h>

#include <string>
#include <tuple>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "handles.h"
#include "modules.h"

namespace scatter {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct Spec {
  int64_t groups = 1;
  double eps = 0.1;
  bool newtonSchulz = false;
  int64_t iterations = 5;
  at::ScalarType decompositionDtype = at::kDouble;
};

// The eigendecomposition of S + eps I made outside the node, in the decomposition dtype (a captured step's, between
// its graphs); undefined tensors: the node decomposes S + eps I itself.
struct Decomposition {
  at::Tensor eigenvalues;   // [G, g]
  at::Tensor eigenvectors;  // [G, g, g]
};

at::Tensor transposed(const at::Tensor& blocks) { return blocks.transpose(-2, -1); }

// W = S^-1/2 by eigendecomposition (`given`'s, when defined); `saved` (when given) receives the eigenvectors and
// the roots. A given decomposition's tensors are saved as they are: the next one must not be written into them
// before this node's backward has run (a captured step's order: backward, then the next pass).
at::Tensor zcaForward(const at::Tensor& cov, double minEigenvalue, const Decomposition& given,
                      std::vector<at::Tensor>* saved) {
  auto [eigenvalues, basis] =
      given.eigenvalues.defined() ? std::make_tuple(given.eigenvalues, given.eigenvectors) : at::linalg_eigh(cov);
  // Every eigenvalue of S + eps I is at least eps; rounding may put a computed one below it (or below 0).
  at::Tensor roots = eigenvalues.clamp(minEigenvalue).sqrt();
  at::Tensor whitening = basis.mul(roots.reciprocal().unsqueeze(-2)).matmul(transposed(basis));
  if (saved != nullptr) *saved = {basis, roots};
  return whitening;
}

// Daleckii-Krein: dS = U (K o U^T dW U) U^T, K_ij = -1 / (r_i r_j (r_i + r_j)) the divided differences of
// x^-1/2. No division by eigenvalue gaps, so tied eigenvalues (dead channels, a batch smaller than the
// group) keep finite gradients. The map is self-adjoint, so the same formula sends gradients back.
at::Tensor zcaBackward(const at::Tensor& gradWhitening, const std::vector<at::Tensor>& saved) {
  const at::Tensor& basis = saved[0];
  const at::Tensor& roots = saved[1];
  at::Tensor rootsI = roots.unsqueeze(-1);
  at::Tensor rootsJ = roots.unsqueeze(-2);
  at::Tensor dividedDifferences = rootsI.mul(rootsJ).mul(rootsI.add(rootsJ)).reciprocal().neg();
  at::Tensor basisT = transposed(basis);
  return basis.matmul(dividedDifferences.mul(basisT.matmul(gradWhitening).matmul(basis))).matmul(basisT);
}

// IterNorm's coupled iteration (Higham 1997), as newtonSchulzWhitening in whitening.ts: Y_0 = S / tr(S),
// Z_0 = I, T_k = 1.5 I - 0.5 Z_k Y_k, Y_{k+1} = Y_k T_k, Z_{k+1} = T_k Z_k, W = Z_T / sqrt(tr(S)).
// `saved` receives S, tr(S), then Y_k, Z_k, T_k for every k, then Z_T.
at::Tensor newtonSchulzForward(const at::Tensor& cov, int64_t iterations, std::vector<at::Tensor>* saved) {
  int64_t size = cov.size(-1);
  at::Tensor identity = at::eye(size, cov.options());
  at::Tensor trace = cov.diagonal(0, -2, -1).sum(-1, true).unsqueeze(-1);
  at::Tensor y = cov.div(trace);
  at::Tensor z = identity.expand(cov.sizes());
  if (saved != nullptr) *saved = {cov, trace};
  for (int64_t k = 0; k < iterations; ++k) {
    at::Tensor step = identity.mul(1.5).sub(z.matmul(y).mul(0.5));
    if (saved != nullptr) saved->insert(saved->end(), {y, z, step});
    y = y.matmul(step);
    z = step.matmul(z);
  }
  if (saved != nullptr) saved->push_back(z);
  return z.div(trace.sqrt());
}

// Reverse mode through the iterations above: each product A B sends back (g B^T, A^T g).
at::Tensor newtonSchulzBackward(const at::Tensor& gradWhitening, const std::vector<at::Tensor>& saved) {
  const at::Tensor& cov = saved[0];
  const at::Tensor& trace = saved[1];
  const at::Tensor& last = saved.back();
  at::Tensor rootTrace = trace.sqrt();
  // W = Z_T / sqrt(t): dZ_T = dW / sqrt(t), dt = -<dW, Z_T> / (2 t^1.5).
  at::Tensor gradZ = gradWhitening.div(rootTrace);
  at::Tensor gradTrace = gradWhitening.mul(last).sum({-2, -1}, true).div(trace.mul(rootTrace)).mul(-0.5);
  // Y_T does not reach W: its gradient starts undefined, which skips the last iteration's two products with it.
  at::Tensor gradY;
  for (auto index = static_cast<int64_t>(saved.size()) - 4; index >= 2; index -= 3) {
    const at::Tensor& y = saved[static_cast<size_t>(index)];
    const at::Tensor& z = saved[static_cast<size_t>(index) + 1];
    const at::Tensor& step = saved[static_cast<size_t>(index) + 2];
    at::Tensor gradStep = gradZ.matmul(transposed(z));
    if (gradY.defined()) gradStep = gradStep.add(transposed(y).matmul(gradY));
    at::Tensor fromStep = transposed(z).matmul(gradStep).mul(-0.5);
    gradY = gradY.defined() ? gradY.matmul(transposed(step)).add(fromStep) : fromStep;
    // Z_0 = I is constant: no gradient to send it.
    if (index > 2) gradZ = transposed(step).matmul(gradZ).sub(gradStep.matmul(transposed(y)).mul(0.5));
  }
  // Y_0 = S / t with t = tr(S).
  gradTrace = gradTrace.sub(gradY.mul(cov).sum({-2, -1}, true).div(trace.square()));
  at::Tensor identity = at::eye(cov.size(-1), cov.options());
  return gradY.div(trace).add(identity.mul(gradTrace));
}

// The whitening matrices of covariance blocks [G, g, g], computed in the decomposition dtype and returned
// in the covariance's.
at::Tensor whiteningMatrix(const at::Tensor& covariance, const Spec& spec, std::vector<at::Tensor>* saved,
                           const Decomposition& given = {}) {
  at::Tensor cov = covariance.to(spec.decompositionDtype);
  at::Tensor whitening =
      spec.newtonSchulz ? newtonSchulzForward(cov, spec.iterations, saved) : zcaForward(cov, spec.eps, given, saved);
  return whitening.to(covariance.scalar_type());
}

// A training batch [N, C]: its mean, the centred features in groups [N, G, g], and S + eps I [G, g, g].
struct BatchStatistics {
  at::Tensor mean;
  at::Tensor grouped;
  at::Tensor covariance;
};

BatchStatistics batchStatistics(const at::Tensor& input, const Spec& spec) {
  int64_t count = input.size(0);
  int64_t groupSize = input.size(1) / spec.groups;
  at::Tensor mean = input.mean(0);
  at::Tensor grouped = input.sub(mean).view({count, spec.groups, groupSize});
  at::Tensor identity = at::eye(groupSize, input.options());
  at::Tensor covariance = at::einsum("bgi,bgj->gij", {grouped, grouped}).div(count).add(identity.mul(spec.eps));
  return {mean, grouped, covariance};
}

// The training forward as one autograd node. Outputs: the whitened features (differentiable), and the batch
// mean, S + eps I and W, for the running statistics (not differentiable).
// A given decomposition is not an input autograd sees (it is not differentiated: the backward is closed-form).
struct TrainingWhitening : public torch::autograd::Function<TrainingWhitening> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, const Spec& spec,
                               const Decomposition& given) {
    int64_t count = input.size(0);
    auto [mean, grouped, covariance] = batchStatistics(input, spec);
    std::vector<at::Tensor> saved;
    at::Tensor whitening = whiteningMatrix(covariance, spec, &saved, given);
    at::Tensor output = at::einsum("bgi,gij->bgj", {grouped, whitening}).reshape({count, input.size(1)});
    ctx->saved_data["grouped"] = grouped;
    ctx->saved_data["whitening"] = whitening;
    ctx->saved_data["matrixFunction"] = saved;
    ctx->saved_data["newtonSchulz"] = spec.newtonSchulz;
    ctx->mark_non_differentiable({mean, covariance, whitening});
    return {output, mean, covariance, whitening};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // Backward's own operators are not recorded as a graph: a second derivative would silently miss terms.
    TORCH_CHECK(!c10::GradMode::is_enabled(),
                "channel whitening (native): the layer is differentiable once; for higher derivatives use "
                "implementation 'typescript'");
    at::Tensor grouped = ctx->saved_data["grouped"].toTensor();
    at::Tensor whitening = ctx->saved_data["whitening"].toTensor();
    std::vector<at::Tensor> saved = ctx->saved_data["matrixFunction"].toTensorVector();
    bool newtonSchulz = ctx->saved_data["newtonSchulz"].toBool();
    int64_t count = grouped.size(0);
    at::Tensor gradGrouped = grads[0].reshape(grouped.sizes());
    // output = X W per group: dW = X^T dY, dX = dY W^T.
    at::Tensor gradWhitening = at::einsum("bgi,bgj->gij", {grouped, gradGrouped});
    at::Tensor gradCentred = at::einsum("bgj,gij->bgi", {gradGrouped, whitening});
    // Through the casts to the decomposition dtype and back, as autograd does.
    at::Tensor gradInDecomposition = gradWhitening.to(saved[0].scalar_type());
    at::Tensor gradCovariance =
        (newtonSchulz ? newtonSchulzBackward(gradInDecomposition, saved) : zcaBackward(gradInDecomposition, saved))
            .to(grouped.scalar_type());
    // S = X^T X / n + eps I: dX = X (dS + dS^T) / n.
    at::Tensor symmetric = gradCovariance.add(transposed(gradCovariance));
    gradCentred = gradCentred.add(at::einsum("bgi,gij->bgj", {grouped, symmetric}).div(count));
    // centred = x - mean(x): the mean of the gradient over the batch comes off.
    at::Tensor gradInput = gradCentred.reshape({count, -1});
    return {gradInput.sub(gradInput.mean(0)), at::Tensor(), at::Tensor()};
  }
};

// What channelWhitening's options object holds.
struct Call {
  Spec spec;
  bool training = true;
  double momentum = 0.1;
  at::Tensor runningMean;
  at::Tensor runningWhitening;
  at::Tensor runningCovariance;  // undefined unless runningStats is 'covariance'
  at::Tensor numBatchesTracked;
  Decomposition given;  // from options.eigenvalues / eigenvectors, when given
};

// An optional tensor option: undefined when the key is absent or null.
at::Tensor optionalTensor(const Napi::Object& options, const char* key, const char* what) {
  Napi::Value value = options.Get(key);
  if (value.IsNull() || value.IsUndefined()) return at::Tensor();
  return unwrapTensor(value, what);
}

Call parseCall(const Napi::Object& options) {
  Napi::Env env = options.Env();
  auto number = [&](const char* key) -> double {
    Napi::Value value = options.Get(key);
    if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("channelWhitening: ") + key + " must be a number");
    return value.As<Napi::Number>().DoubleValue();
  };
  Call call;
  call.spec.groups = toInt(options.Get("groups"), "channelWhitening groups");
  call.spec.eps = number("eps");
  call.spec.iterations = toInt(options.Get("iterations"), "channelWhitening iterations");
  call.spec.decompositionDtype = parseDtype(options.Get("decompositionDtype"));
  std::string method = options.Get("method").ToString().Utf8Value();
  if (method != "zca" && method != "newton-schulz") {
    throw Napi::TypeError::New(env, "channelWhitening: method must be zca or newton-schulz, got '" + method + "'");
  }
  call.spec.newtonSchulz = method == "newton-schulz";
  call.training = options.Get("training").ToBoolean().Value();
  call.momentum = number("momentum");
  call.runningMean = unwrapTensor(options.Get("runningMean"), "channelWhitening runningMean");
  call.runningWhitening = unwrapTensor(options.Get("runningWhitening"), "channelWhitening runningWhitening");
  call.runningCovariance = optionalTensor(options, "runningCovariance", "channelWhitening runningCovariance");
  call.numBatchesTracked = unwrapTensor(options.Get("numBatchesTracked"), "channelWhitening numBatchesTracked");
  call.given.eigenvalues = optionalTensor(options, "eigenvalues", "channelWhitening eigenvalues");
  call.given.eigenvectors = optionalTensor(options, "eigenvectors", "channelWhitening eigenvectors");
  return call;
}

// A given decomposition must be one this call would have made: ZCA's, in training, of [G, g] / [G, g, g] in the
// decomposition dtype, and nothing else may need eigh (the running covariance's whitening would).
void checkGiven(const Call& call, const at::Tensor& input) {
  const Decomposition& given = call.given;
  if (!given.eigenvalues.defined() && !given.eigenvectors.defined()) return;
  TORCH_CHECK(given.eigenvalues.defined() && given.eigenvectors.defined(),
              "channelWhitening: eigenvalues and eigenvectors come together");
  TORCH_CHECK(call.training && !call.spec.newtonSchulz, "channelWhitening: a given decomposition is for ZCA in training");
  TORCH_CHECK(!call.runningCovariance.defined(),
              "channelWhitening: a given decomposition cannot serve runningStats 'covariance' (its running whitening "
              "needs an eigendecomposition of its own)");
  int64_t groupSize = input.size(1) / call.spec.groups;
  TORCH_CHECK(given.eigenvalues.sizes() == at::IntArrayRef({call.spec.groups, groupSize}) &&
                  given.eigenvectors.sizes() == at::IntArrayRef({call.spec.groups, groupSize, groupSize}),
              "channelWhitening: a given decomposition of ", call.spec.groups, " groups of ", groupSize,
              " channels is [", call.spec.groups, ", ", groupSize, "] eigenvalues and [", call.spec.groups, ", ",
              groupSize, ", ", groupSize, "] eigenvectors, got ", given.eigenvalues.sizes(), " and ",
              given.eigenvectors.sizes());
  TORCH_CHECK(given.eigenvalues.scalar_type() == call.spec.decompositionDtype &&
                  given.eigenvectors.scalar_type() == call.spec.decompositionDtype,
              "channelWhitening: a given decomposition is in the decomposition dtype ", call.spec.decompositionDtype);
}

// Exponential moving averages (weight momentum on the new batch) of the mean and of W or S + eps I.
void updateRunningStatistics(const Call& call, const at::Tensor& mean, const at::Tensor& covariance,
                             const at::Tensor& whitening) {
  at::NoGradGuard noGrad;
  at::Tensor runningMean = call.runningMean;
  at::Tensor runningWhitening = call.runningWhitening;
  at::Tensor numBatchesTracked = call.numBatchesTracked;
  runningMean.lerp_(mean, call.momentum);
  if (!call.runningCovariance.defined()) {
    runningWhitening.lerp_(whitening, call.momentum);
  } else {
    at::Tensor runningCovariance = call.runningCovariance;
    runningCovariance.lerp_(covariance, call.momentum);
    runningWhitening.copy_(whiteningMatrix(runningCovariance, call.spec, nullptr));
  }
  numBatchesTracked.add_(1);
}

// Features [N, C] in groups that divide C; N >= 2 where batch statistics are taken.
void checkInput(const at::Tensor& input, int64_t groups, bool batchStatistics, const char* what) {
  TORCH_CHECK(input.dim() == 2, what, ": expected input (N, C), got ", input.sizes());
  TORCH_CHECK(groups >= 1 && input.size(1) % groups == 0, what, ": ", groups, " groups do not divide ", input.size(1),
              " channels");
  TORCH_CHECK(!batchStatistics || input.size(0) >= 2, what,
              ": batch statistics need more than 1 value per channel, got input ", input.sizes());
}

// channelWhitening(input [N, C], options): training: whitens by the batch's statistics and updates the
// running ones in place; evaluation: (x - running_mean) times the blocks of running_whitening. ZCA in training
// may be given the eigendecomposition of the batch's S + eps I (options.eigenvalues, options.eigenvectors: what
// linalg.eigh makes of channelWhiteningCovariance's result, in the decomposition dtype) instead of making it.
SCATTER_FN(channelWhitening) {
  const at::Tensor& input = unwrapTensor(info[0], "channelWhitening input");
  if (!info[1].IsObject()) throw Napi::TypeError::New(info.Env(), "channelWhitening: expected an options object");
  Call call = parseCall(info[1].As<Napi::Object>());
  checkInput(input, call.spec.groups, call.training, "channelWhitening");
  checkGiven(call, input);
  int64_t count = input.size(0);
  int64_t groupSize = input.size(1) / call.spec.groups;
  if (!call.training) {
    at::Tensor grouped = input.sub(call.runningMean).view({count, call.spec.groups, groupSize});
    return wrapTensor(info.Env(), at::einsum("bgi,gij->bgj", {grouped, call.runningWhitening}).reshape({count, -1}));
  }
  variable_list outputs = TrainingWhitening::apply(input, call.spec, call.given);
  updateRunningStatistics(call, outputs[1], outputs[2], outputs[3]);
  return wrapTensor(info.Env(), outputs[0]);
}

// channelWhiteningCovariance(input [N, C], {groups, eps}): the training batch's S + eps I [G, g, g], as
// channelWhitening computes it, not differentiated: what a captured step decomposes between its graphs.
SCATTER_FN(channelWhiteningCovariance) {
  const at::Tensor& input = unwrapTensor(info[0], "channelWhiteningCovariance input");
  if (!info[1].IsObject()) {
    throw Napi::TypeError::New(info.Env(), "channelWhiteningCovariance: expected an options object");
  }
  Napi::Object options = info[1].As<Napi::Object>();
  Napi::Value eps = options.Get("eps");
  if (!eps.IsNumber()) throw Napi::TypeError::New(info.Env(), "channelWhiteningCovariance: eps must be a number");
  Spec spec;
  spec.groups = toInt(options.Get("groups"), "channelWhiteningCovariance groups");
  spec.eps = eps.As<Napi::Number>().DoubleValue();
  checkInput(input, spec.groups, true, "channelWhiteningCovariance");
  at::NoGradGuard noGrad;
  return wrapTensor(info.Env(), batchStatistics(input, spec).covariance);
}

}  // namespace

void registerWhitening(Napi::Env env, Napi::Object exports) {
  exports.Set("channelWhitening", Napi::Function::New(env, channelWhitening));
  exports.Set("channelWhiteningCovariance", Napi::Function::New(env, channelWhiteningCovariance));
}

}  // namespace scatter
