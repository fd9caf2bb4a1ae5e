// The weight-staleness strategies of STRATEGIES.md section 3, on hand-built stages: the test computes
// the weights each formula must give from known weights, gradients and optimizer state.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/runtime/optimizer.h"
#include "engine/strategy/strategy.h"

namespace ps {
namespace {

std::vector<at::Tensor> tensors(std::vector<double> a, std::vector<double> b) {
  return {torch::tensor(a, torch::kFloat).reshape({2, 2}), torch::tensor(b, torch::kFloat)};
}
std::vector<at::Tensor> live_weights() { return tensors({0.5, -1.0, 2.0, 1.5}, {0.1, -0.2}); }
std::vector<at::Tensor> grad1() { return tensors({0.2, -0.4, 0.1, 0.3}, {-0.5, 0.25}); }
std::vector<at::Tensor> grad2() { return tensors({-0.1, 0.6, 0.2, -0.3}, {0.4, 0.05}); }
std::vector<at::Tensor> doubles(const std::vector<at::Tensor>& t) {
  std::vector<at::Tensor> out;
  for (const auto& x : t) out.push_back(x.to(torch::kDouble));
  return out;
}

// A stage's live weights and optimizer, stepped on a scratch copy with grad1 then grad2.
struct HandStage {
  explicit HandStage(OptimizerConfig cfg, int steps = 2) : opt(cfg) {
    std::vector<at::Tensor> scratch = live_weights();
    if (steps >= 1) opt.step(scratch, grad1(), cfg.lr);
    if (steps >= 2) opt.step(scratch, grad2(), cfg.lr);
  }
  StageView view(std::int64_t live_version, int stage = 0, int num_stages = 4) const {
    StageView v;
    v.stage = stage;
    v.num_stages = num_stages;
    v.live = &live;
    v.live_version = live_version;
    v.optimizer = &opt;
    v.lr = opt.config().lr;
    return v;
  }
  std::vector<at::Tensor> live = live_weights();
  StageOptimizer opt;
};

std::vector<at::Tensor> filled(Strategy& s, const StageView& v, const WeightChoice& c) {
  std::vector<at::Tensor> out;
  for (const auto& p : *v.live) out.push_back(torch::empty_like(p));
  s.fill(v, c, out);
  return out;
}

void expect_weights(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& expected) {
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(torch::allclose(got[i].to(torch::kDouble), expected[i], 1e-6, 1e-6))
        << "parameter " << i << ": got " << got[i] << " expected " << expected[i];
}

OptimizerConfig sgd(double lr, double mu, bool nesterov = false) {
  OptimizerConfig c;
  c.lr = lr;
  c.momentum = mu;
  c.nesterov = nesterov;
  return c;
}

// SGD's momentum buffer after grad1 and grad2: mu*g1 + g2, in double.
std::vector<at::Tensor> momentum_buffer(double mu) {
  const auto g1 = doubles(grad1()), g2 = doubles(grad2());
  return {mu * g1[0] + g2[0], mu * g1[1] + g2[1]};
}

std::vector<at::Tensor> live_minus(double coefficient, const std::vector<at::Tensor>& direction) {
  const auto w = doubles(live_weights());
  return {w[0] - coefficient * direction[0], w[1] - coefficient * direction[1]};
}

TEST(StrategyMath, SpecTrainExactPredictsAlongTheMomentumBuffer) {
  HandStage st(sgd(0.1, 0.9));
  const auto buf = momentum_buffer(0.9);
  for (std::size_t i = 0; i < buf.size(); ++i)
    ASSERT_TRUE(torch::allclose(st.opt.momentum()[i].to(torch::kDouble), buf[i], 1e-6, 1e-7));
  auto s = make_strategy("spectrain", {{"distance", "exact"}}, 0, 4);
  EXPECT_FALSE(s->backward_reuses_forward());

  const StageView v = st.view(2);
  const WeightChoice f = s->forward(v, 5, 5);  // target 5, live 2: s = 3
  EXPECT_EQ(f.source, WeightSource::Computed);
  EXPECT_EQ(f.prediction_distance, 3);
  expect_weights(filled(*s, v, f), live_minus(3 * 0.1, buf));

  const WeightChoice b = s->backward(v, 2, 2);  // s = 0: the live weights themselves
  EXPECT_EQ(b.source, WeightSource::Live);
  EXPECT_EQ(b.prediction_distance, 0);

  HandStage fresh(sgd(0.1, 0.9), 0);  // no momentum buffer yet: nothing to extrapolate
  EXPECT_EQ(s->forward(fresh.view(0), 3, 3).source, WeightSource::Live);
  EXPECT_EQ(s->forward(fresh.view(0), 3, 3).prediction_distance, 3);
}

TEST(StrategyMath, SpecTrainPaperAndV2Distances) {
  HandStage st(sgd(0.1, 0.9));
  const auto buf = momentum_buffer(0.9);
  const int N = 4;
  // paper: forward floor(k/2) + N - k - 1, backward floor(k/2); v2: forward N - k - 1.
  const int paper_forward[N] = {3, 2, 2, 1}, paper_backward[N] = {0, 0, 1, 1}, v2_forward[N] = {3, 2, 1, 0};
  for (int k = 0; k < N; ++k) {
    SCOPED_TRACE("stage " + std::to_string(k));
    auto paper = make_strategy("spectrain", {{"distance", "paper"}}, k, N);
    const StageView v = st.view(7, k, N);
    const WeightChoice f = paper->forward(v, 9, 9), b = paper->backward(v, 7, 7);
    EXPECT_EQ(f.prediction_distance, paper_forward[k]);
    EXPECT_EQ(b.prediction_distance, paper_backward[k]);
    expect_weights(filled(*paper, v, f), live_minus(paper_forward[k] * 0.1, buf));
    if (paper_backward[k] > 0) expect_weights(filled(*paper, v, b), live_minus(paper_backward[k] * 0.1, buf));
    else EXPECT_EQ(b.source, WeightSource::Live);

    auto v2 = make_strategy("spectrain", {{"distance", "v2"}}, k, N);
    EXPECT_TRUE(v2->backward_reuses_forward());
    EXPECT_EQ(v2->forward(v, 9, 9).prediction_distance, v2_forward[k]);
    EXPECT_EQ(v2->backward(v, 7, 7).source, WeightSource::SameAsForward);
  }
}

TEST(StrategyMath, NesterovLooksAheadAlongTheDecayingBuffer) {
  HandStage st(sgd(0.05, 0.8, /*nesterov=*/true));
  const auto buf = momentum_buffer(0.8);  // the buffer is kept the same way with Nesterov's step
  auto s = make_strategy("nesterov", {}, 1, 3);
  for (int distance : {1, 2, 5}) {
    const StageView v = st.view(4);
    const WeightChoice f = s->forward(v, 4 + distance, 4 + distance);
    EXPECT_EQ(f.source, WeightSource::Computed);
    EXPECT_EQ(f.prediction_distance, distance);
    double sum = 0;  // zero future gradients: s steps on buf, mu*buf, mu^2*buf, ... (classic momentum)
    for (int j = 1; j <= distance; ++j) sum += std::pow(0.8, j);
    expect_weights(filled(*s, v, f), live_minus(0.05 * sum, buf));
  }
  EXPECT_EQ(s->backward(st.view(4), 4, 4).source, WeightSource::Live);
}

TEST(StrategyMath, AdamPredictUsesTheBiasCorrectedMoments) {
  OptimizerConfig cfg;
  cfg.name = "adam";
  cfg.lr = 0.01;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.999;
  cfg.eps = 1e-8;
  HandStage st(cfg);
  const auto g1 = doubles(grad1()), g2 = doubles(grad2());
  std::vector<at::Tensor> direction;
  for (std::size_t i = 0; i < g1.size(); ++i) {
    const at::Tensor m = 0.9 * (0.1 * g1[i]) + 0.1 * g2[i];
    const at::Tensor v = 0.999 * (0.001 * g1[i] * g1[i]) + 0.001 * g2[i] * g2[i];
    const at::Tensor m_hat = m / (1 - 0.9 * 0.9), v_hat = v / (1 - 0.999 * 0.999);
    direction.push_back(m_hat / (v_hat.sqrt() + 1e-8));
  }
  auto both = make_strategy("adam-predict", {{"passes", "both"}}, 0, 3);
  const StageView v = st.view(3);
  const WeightChoice f = both->forward(v, 5, 5);
  EXPECT_EQ(f.prediction_distance, 2);
  expect_weights(filled(*both, v, f), live_minus(2 * 0.01, direction));
  const WeightChoice b = both->backward(v, 4, 4);  // a backward with s = 1 is predicted too
  EXPECT_EQ(b.source, WeightSource::Computed);
  expect_weights(filled(*both, v, b), live_minus(0.01, direction));
  EXPECT_FALSE(both->backward_reads_live());

  auto forward_only = make_strategy("adam-predict", {{"passes", "forward"}}, 0, 3);
  EXPECT_EQ(forward_only->forward(v, 5, 5).source, WeightSource::Computed);
  EXPECT_EQ(forward_only->backward(v, 4, 4).source, WeightSource::Live);
  EXPECT_TRUE(forward_only->backward_reads_live());
}

TEST(StrategyMath, PipeMareCorrectsTheBackwardWithTheDeltaAverage) {
  HandStage st(sgd(0.1, 0.9));
  auto s = make_strategy("pipemare", {{"decay", "0.1"}, {"warmup", "10"}}, 0, 3);
  // A stage with delay 2: forwards of minibatches 0, 1, 2 all read version 0.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s->forward(st.view(0), i, i).source, WeightSource::Live);
  EXPECT_DOUBLE_EQ(s->lr_scale(st.view(0)), 1.0 / 2.0);  // lr / tau^(1 - 0/10)
  EXPECT_DOUBLE_EQ(s->lr_scale(st.view(5)), 1.0 / std::pow(2.0, 0.5));
  EXPECT_DOUBLE_EQ(s->lr_scale(st.view(10)), 1.0);
  EXPECT_DOUBLE_EQ(s->lr_scale(st.view(30)), 1.0);
  EXPECT_EQ(s->backward(st.view(0), 0, 0).source, WeightSource::Live);  // no update in between
  EXPECT_EQ(s->extra_bytes(), 0);

  const double gamma = std::pow(0.1, 1.0 / 2);  // D^(1/(tau_f - tau_b)), tau_f = 2, tau_b = 0
  const auto w0 = doubles(live_weights());
  const std::vector<at::Tensor> step1 = {torch::full({2, 2}, 0.25, torch::kDouble), torch::tensor({-0.5, 0.125}, torch::kDouble)};
  const std::vector<at::Tensor> step2 = {torch::full({2, 2}, -0.125, torch::kDouble), torch::tensor({0.25, 0.5}, torch::kDouble)};
  auto update = [&](const std::vector<at::Tensor>& step, std::int64_t new_version) {
    s->before_update(st.view(new_version - 1));
    for (std::size_t i = 0; i < st.live.size(); ++i) st.live[i].add_(step[i].to(torch::kFloat));
    s->after_update(st.view(new_version));
  };
  update(step1, 1);
  std::vector<at::Tensor> delta = {(1 - gamma) * step1[0], (1 - gamma) * step1[1]};
  EXPECT_EQ(s->extra_bytes(), 6 * 4);  // one delta buffer of 6 floats

  WeightChoice b = s->backward(st.view(1), 1, 1);  // forward at version 0, backward at 1: gap 1
  EXPECT_EQ(b.source, WeightSource::Computed);
  EXPECT_EQ(b.prediction_distance, -1);
  std::vector<at::Tensor> w1 = {w0[0] + step1[0], w0[1] + step1[1]};
  auto out = filled(*s, st.view(1), b);
  expect_weights(out, {w1[0] - delta[0], w1[1] - delta[1]});

  update(step2, 2);
  for (std::size_t i = 0; i < delta.size(); ++i) delta[i] = gamma * delta[i] + (1 - gamma) * step2[i];
  b = s->backward(st.view(2), 2, 2);  // gap 2
  EXPECT_EQ(b.prediction_distance, -2);
  const std::vector<at::Tensor> w2 = {w1[0] + step2[0], w1[1] + step2[1]};
  expect_weights(filled(*s, st.view(2), b), {w2[0] - 2 * delta[0], w2[1] - 2 * delta[1]});

  // Both techniques switch off.
  auto plain = make_strategy("pipemare", {{"lr_rescale", "false"}, {"correction", "false"}}, 0, 3);
  for (int i = 0; i < 3; ++i) plain->forward(st.view(0), i, i);
  EXPECT_EQ(plain->lr_scale(st.view(0)), 1.0);
  plain->before_update(st.view(0));
  plain->after_update(st.view(1));
  EXPECT_EQ(plain->backward(st.view(1), 1, 1).source, WeightSource::Live);
  EXPECT_EQ(plain->extra_bytes(), 0);
  // warmup 0: no rescaling either.
  auto no_warmup = make_strategy("pipemare", {{"warmup", "0"}}, 0, 3);
  for (int i = 0; i < 3; ++i) no_warmup->forward(st.view(0), i, i);
  EXPECT_EQ(no_warmup->lr_scale(st.view(0)), 1.0);
}

TEST(StrategyMath, ITimePReStInterpolatesBetweenStashAndLive) {
  HandStage st(sgd(0.1, 0.9));
  const std::vector<at::Tensor> stash = tensors({1.0, 0.0, -1.0, 0.5}, {0.3, 0.3});
  const auto live = doubles(live_weights()), stashed = doubles(stash);
  for (const auto& [significance, sigma] : std::vector<std::pair<std::string, double>>{
           {"exp", std::exp(-0.7 * 2)}, {"inverse", 1.0 / (1 + 2)}}) {
    SCOPED_TRACE(significance);
    auto s = make_strategy("i-timeprest", {{"significance", significance}, {"lambda", "0.7"}}, 0, 3);
    EXPECT_TRUE(s->backward_needs_forward_weights());
    StageView v = st.view(3);
    v.forward_weights = &stash;
    v.forward_basis = 1;  // d = 3 - 1 = 2
    const WeightChoice b = s->backward(v, 3, 3);
    EXPECT_EQ(b.source, WeightSource::Computed);
    expect_weights(filled(*s, v, b),
                   {live[0] + sigma * (stashed[0] - live[0]), live[1] + sigma * (stashed[1] - live[1])});
    v.forward_basis = 3;  // d = 0: stash and live are the same version
    EXPECT_EQ(s->backward(v, 3, 3).source, WeightSource::Live);
  }
}

}  // namespace
}  // namespace ps
