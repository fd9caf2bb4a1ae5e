// A toy pipeline built by hand (no data files, no model zoo): S stages of small Linear+Tanh units on
// random data, so the executor's invariants can be tested in milliseconds.
#pragma once
#include <torch/nn.h>
#include <torch/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "engine/runtime/pipeline.h"
#include "engine/schedule/schedule.h"
#include "engine/session/weights_digest.h"

namespace ps::testing {

struct ToyOptions {
  int stages = 3;  // devices
  int chunks = 0;  // chunks per device (0: the schedule's default)
  int units_per_stage = 1;
  std::string schedule = "1f1b-async";
  std::string strategy = "stash";
  std::map<std::string, std::string> strategy_params;  // empty: the catalogue's defaults
  int microbatches = 1;
  ExecutorKind executor = ExecutorKind::Threaded;
  double lr = 0.1;
  double momentum = 0.9;
  std::string optimizer = "sgd";  // sgd, adam
  bool nesterov = false;
  int batch_size = 8;
  // Inserted after the first unit of this stage: a module that throws on its N-th forward call.
  int fail_stage = -1;
  int fail_call = -1;
  bool fail_out_of_memory = false;  // throw std::bad_alloc (what an allocation that fails throws)
  int divergence_every = 0;
  bool record_versions = false;  // keep a flat copy of every live version of every stage
  bool learnable = false;        // labels from a fixed linear map of the inputs (not random)
};

// Every weight version of the stage holds one of these; they share the call counter.
struct ThrowingImpl : torch::nn::Module {
  ThrowingImpl(int fail_call, std::shared_ptr<std::atomic<int>> calls, bool oom = false)
      : fail_call(fail_call), calls(std::move(calls)), oom(oom) {}
  torch::Tensor forward(torch::Tensor x) {
    if (++*calls == fail_call) {
      if (oom) throw std::bad_alloc();
      throw std::runtime_error("injected failure");
    }
    return x;
  }
  int fail_call;
  bool oom;
  std::shared_ptr<std::atomic<int>> calls;
};
TORCH_MODULE(Throwing);

class ToyPipeline {
 public:
  explicit ToyPipeline(ToyOptions o) : opt_(std::move(o)) {
    torch::manual_seed(7);
    data_.inputs = torch::randn({256, 6});
    data_.labels = torch::randint(0, 3, {256}, torch::kLong);
    if (opt_.learnable) data_.labels = data_.inputs.matmul(torch::randn({6, 3})).argmax(1);
    batches_ = std::make_unique<BatchSource>(data_, opt_.batch_size, 3);
    torch::manual_seed(11);
    std::vector<std::unique_ptr<StageRuntime>> stages;
    // Data parallel: every replica holds all units_per_stage units, from the same initial weights.
    const bool replicas = opt_.schedule == "data-parallel";
    if (replicas) all_reduce_ = std::make_unique<AllReduce>(opt_.stages);
    v_ = replicas ? 1 : resolve_chunks(opt_.schedule, opt_.chunks);
    const int C = opt_.stages * v_;  // chunks
    const std::vector<int> device_of = replicas ? std::vector<int>() : chunk_devices(opt_.schedule, opt_.stages, v_);
    const int units = replicas ? opt_.units_per_stage : C * opt_.units_per_stage;
    for (int k = 0; k < C; ++k) {
      StageSetup s;
      s.index = k;
      s.num_stages = C;
      s.device_index = v_ > 1 ? device_of[k] : -1;
      s.split_backward = schedule_info(opt_.schedule).split_backward;
      if (replicas) {
        torch::manual_seed(11);
        s.replica = k;
        s.replicas = opt_.stages;
        s.all_reduce = all_reduce_.get();
      }
      const int first = replicas ? 0 : k * opt_.units_per_stage;
      auto calls = std::make_shared<std::atomic<int>>(0);
      auto make = [first, units, this, k, calls]() {
        torch::nn::Sequential seq;
        for (int u = first; u < first + opt_.units_per_stage; ++u) {
          const int in = u == 0 ? 6 : 8, out = u == units - 1 ? 3 : 8;
          seq->push_back(torch::nn::Linear(in, out));
          if (u != units - 1) seq->push_back(torch::nn::Tanh());
          if (k == opt_.fail_stage && u == first) seq->push_back(Throwing(opt_.fail_call, calls, opt_.fail_out_of_memory));
        }
        return seq;
      };
      s.module = make();
      s.make_replica = make;
      s.optimizer.lr = opt_.lr;
      s.optimizer.momentum = opt_.momentum;
      s.optimizer.name = opt_.optimizer;
      s.optimizer.nesterov = opt_.nesterov;
      s.total_steps = 1000;
      s.strategy = make_strategy(opt_.strategy, opt_.strategy_params, k, C);
      s.batches = batches_.get();
      s.microbatches = opt_.microbatches;
      s.divergence_every = opt_.divergence_every;
      s.on_op = [this, k](const OpEvent& ev) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(ev);
          if (opt_.record_versions && ev.kind == OpKind::Update)
            versions_[{k, ev.live_version + 1}] = flat(pipeline_->stage(k).live_params());
        }
        events_cv_.notify_all();
      };
      s.on_minibatch = [this](const MinibatchResult& r) {
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back(r);
      };
      stages.push_back(std::make_unique<StageRuntime>(std::move(s)));
    }
    pipeline_ = std::make_unique<Pipeline>(std::move(stages), opt_.executor, 1, opt_.microbatches, replicas, device_of);
    for (int k = 0; k < C; ++k) versions_[{k, 0}] = flat(pipeline_->stage(k).live_params());
  }

  static at::Tensor flat(const std::vector<at::Tensor>& params) {
    std::vector<at::Tensor> parts;
    for (const auto& p : params) parts.push_back(p.detach().reshape(-1).to(torch::kDouble));
    return torch::cat(parts);
  }
  // Live weights of `stage` at `version` (record_versions).
  at::Tensor version(int stage, std::int64_t v) const {
    std::lock_guard<std::mutex> lock(mu_);
    return versions_.at({stage, v});
  }

  bool run(int minibatches, std::int64_t base = 0) {
    auto ops = make_schedule(opt_.schedule, opt_.stages, opt_.microbatches, minibatches, v_);
    return pipeline_->run(ops, base, control_, std::chrono::steady_clock::now());
  }

  std::string digest() const {
    std::vector<std::vector<at::Tensor>> w;
    for (int k = 0; k < pipeline_->num_stages(); ++k) w.push_back(pipeline_->stage(k).live_params());
    return weights_digest(w);
  }
  std::vector<at::Tensor> flat_weights() const {
    std::vector<at::Tensor> w;
    for (int k = 0; k < pipeline_->num_stages(); ++k)
      for (const auto& p : pipeline_->stage(k).live_params()) w.push_back(p.detach().clone());
    return w;
  }
  std::vector<OpEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Waits (up to `timeout`) until at least `n` ops have ended; false on timeout.
  bool wait_events(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return events_cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
  }
  std::vector<MinibatchResult> results() const {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  Pipeline& pipeline() { return *pipeline_; }
  RunControl& control() { return control_; }
  const TensorDataset& data() const { return data_; }

 private:
  ToyOptions opt_;
  int v_ = 1;
  TensorDataset data_;
  std::unique_ptr<BatchSource> batches_;
  std::unique_ptr<AllReduce> all_reduce_;
  std::unique_ptr<Pipeline> pipeline_;
  RunControl control_;
  mutable std::mutex mu_;
  mutable std::condition_variable events_cv_;  // an op ended (wait_events)
  std::vector<OpEvent> events_;
  std::vector<MinibatchResult> results_;
  std::map<std::pair<int, std::int64_t>, at::Tensor> versions_;
};

// Trained one minibatch at lr 1 without momentum from weights w0 (W1 = W0 - g): the pipeline's
// gradients equal the reference's, and every parameter got one.
inline void expect_same_gradients(const std::vector<at::Tensor>& w0, const ToyPipeline& reference,
                                  const ToyPipeline& pipeline, const std::string& what) {
  const auto a = reference.flat_weights(), b = pipeline.flat_weights();
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const at::Tensor ga = w0[i] - a[i], gb = w0[i] - b[i];
    EXPECT_GT(ga.abs().max().item<double>(), 0) << "no gradient reached parameter " << i;
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-5, 1e-7)) << what << ": parameter " << i;
  }
}

}  // namespace ps::testing
