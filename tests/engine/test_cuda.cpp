// The device backends (engine/runtime/device_backend.h). The CPU backend is tested everywhere; the
// CUDA tests need a CUDA build and a GPU and say why they skip otherwise. Until the executor uses the
// backends, the pipeline tests here drive them with a small executor of their own over the real
// schedules: one thread per stage (threaded) or one thread for all (sequential), every message sent and
// received through the backends, as the engine's executor will.
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/types.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/runtime/device_backend.h"
#include "engine/schedule/schedule.h"
#include "engine/session/weights_digest.h"

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t since(Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count();
}

// Why a CUDA test cannot run here ("" when it can).
std::string no_cuda_reason(int gpus_needed = 1) {
  if (!cuda_backend_built()) return "this build has no CUDA path (the LibTorch it was built against has no CUDA)";
  if (!torch::cuda::is_available()) return "LibTorch sees no CUDA device on this machine";
  if (static_cast<int>(torch::cuda::device_count()) < gpus_needed)
    return "needs " + std::to_string(gpus_needed) + " GPUs, this machine has " + std::to_string(torch::cuda::device_count());
  return "";
}
#define REQUIRE_GPUS(n)                                           \
  do {                                                            \
    const std::string reason = no_cuda_reason(n);                 \
    if (!reason.empty()) GTEST_SKIP() << reason;                  \
  } while (0)

c10::Device gpu(int i) { return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)); }

// ---------------------------------------------------------------------------------------------------
// A message and a stage's inbox: waits for a state (a message, or closed), bounded so a bug fails the
// test instead of hanging it.
struct Msg {
  int micro = -1;
  std::vector<at::Tensor> tensors;
  std::shared_ptr<DeviceTransfer> transfer;
};

class Inbox {
 public:
  void push(Msg m) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      q_.push_back(std::move(m));
    }
    cv_.notify_all();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  std::optional<Msg> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(120), [&] { return closed_ || !q_.empty(); }))
      throw std::runtime_error("no message within 120 s");
    if (q_.empty()) return std::nullopt;
    Msg m = std::move(q_.front());
    q_.pop_front();
    return m;
  }
  bool empty() {
    std::lock_guard<std::mutex> lock(mu_);
    return q_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Msg> q_;
  bool closed_ = false;
};

// Units of a small regression MLP: Linear layers, each but the last followed by Tanh; the same
// weights on every call.
std::vector<torch::nn::Linear> make_units(int units) {
  torch::manual_seed(5);
  std::vector<torch::nn::Linear> out;
  for (int u = 0; u < units; ++u) out.push_back(torch::nn::Linear(u == 0 ? 8 : 32, u == units - 1 ? 4 : 32));
  return out;
}

torch::nn::Sequential assemble(const std::vector<torch::nn::Linear>& units, int begin, int end) {
  torch::nn::Sequential s;
  for (int u = begin; u < end; ++u) {
    s->push_back(units[u]);
    if (u != static_cast<int>(units.size()) - 1) s->push_back(torch::nn::Tanh());
  }
  return s;
}

struct OpTime {
  int stage;
  Op op;
  DeviceInterval device;
  std::int64_t host_start_ns, host_end_ns;
};

class MiniPipe {
 public:
  // `units` split evenly over `devices.size()` stages; the data: x (rows x 8) and targets (rows x 4).
  MiniPipe(int units, const std::vector<c10::Device>& devices, at::Tensor x, at::Tensor y, double lr)
      : x_(std::move(x)), y_(std::move(y)), lr_(lr) {
    const int S = static_cast<int>(devices.size());
    auto all = make_units(units);
    std::map<int, int> per_device;
    for (const auto& d : devices) ++per_device[d.is_cuda() ? d.index() : -1];
    for (int k = 0; k < S; ++k) {
      Stage s;
      s.backend = make_device_backend(devices[k], per_device[devices[k].is_cuda() ? devices[k].index() : -1]);
      s.module = assemble(all, k * units / S, (k + 1) * units / S);
      s.module->to(devices[k]);
      s.params = s.module->parameters();
      s.grads.assign(s.params.size(), at::Tensor());
      stages_.push_back(std::move(s));
    }
  }

  void run(const std::vector<StageOps>& ops, int microbatches, bool threaded) {
    M_ = microbatches;
    const int S = static_cast<int>(stages_.size());
    origin_ = Clock::now();
    for (auto& s : stages_) s.backend->begin_segment(origin_);
    acts_ = std::vector<Inbox>(S);
    grads_ = std::vector<Inbox>(S);
    if (threaded) {
      std::mutex mu;
      std::string error;
      std::vector<std::thread> workers;
      for (int k = 0; k < S; ++k)
        workers.emplace_back([&, k] {
          try {
            for (const Op& op : ops[k]) {
              std::optional<Msg> in;
              if (needs(op, k, OpKind::Forward)) in = acts_[k].pop();
              if (needs(op, k, OpKind::Backward)) in = grads_[k].pop();
              if ((needs(op, k, OpKind::Forward) || needs(op, k, OpKind::Backward)) && !in) return;  // closed
              run_op(k, op, std::move(in));
            }
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            error = "stage " + std::to_string(k) + ": " + e.what();
            for (auto& q : acts_) q.close();
            for (auto& q : grads_) q.close();
          }
        });
      for (auto& w : workers) w.join();
      if (!error.empty()) throw std::runtime_error(error);
    } else {
      std::vector<std::size_t> pos(S, 0);
      for (;;) {
        bool progressed = false, remaining = false;
        for (int k = 0; k < S; ++k) {
          if (pos[k] >= ops[k].size()) continue;
          remaining = true;
          const Op& op = ops[k][pos[k]];
          Inbox* inbox = needs(op, k, OpKind::Forward) ? &acts_[k] : needs(op, k, OpKind::Backward) ? &grads_[k] : nullptr;
          if (inbox && inbox->empty()) continue;
          run_op(k, op, inbox ? inbox->pop() : std::nullopt);
          ++pos[k];
          progressed = true;
        }
        if (!remaining) break;
        if (!progressed) throw std::logic_error("schedule deadlock");
      }
    }
    for (auto& s : stages_) s.backend->synchronize();
  }

  std::string digest() const {
    std::vector<std::vector<at::Tensor>> w;
    for (const auto& s : stages_) w.push_back(s.params);
    return weights_digest(w);
  }
  std::vector<at::Tensor> weights() const {
    std::vector<at::Tensor> w;
    for (const auto& s : stages_)
      for (const auto& p : s.params) w.push_back(p.detach().to(torch::kCPU).clone());
    return w;
  }
  std::vector<OpTime> times() const {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }
  std::vector<DeviceInterval> transfers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transfers_;
  }
  DeviceBackend& backend(int k) { return *stages_[k].backend; }

 private:
  struct Stage {
    std::unique_ptr<DeviceBackend> backend;
    torch::nn::Sequential module;
    std::vector<at::Tensor> params, grads;
    std::map<int, std::pair<at::Tensor, at::Tensor>> saved;  // micro -> (input, output or loss)
  };

  bool needs(const Op& op, int k, OpKind kind) const {
    const int S = static_cast<int>(stages_.size());
    if (op.kind != kind) return false;
    return kind == OpKind::Forward ? k > 0 : k < S - 1;
  }
  std::pair<std::int64_t, std::int64_t> rows(int micro) const {
    const std::int64_t n = x_.size(0) / M_;
    return {micro * n, (micro + 1) * n};
  }

  // One op of stage k, bracketed by the backend as the stage will be.
  void run_op(int k, const Op& op, std::optional<Msg> in) {
    Stage& s = stages_[k];
    const int S = static_cast<int>(stages_.size());
    const int micro = std::max(op.micro, 0);
    DeviceOpMark mark = s.backend->before_op();
    if (in) {
      const DeviceInterval t = s.backend->receive(in->tensors, in->transfer);
      if (t.start_ns >= 0) {
        std::lock_guard<std::mutex> lock(mu_);
        transfers_.push_back(t);
      }
    }
    std::optional<Msg> out;
    if (op.kind == OpKind::Forward) {
      auto [r0, r1] = rows(micro);
      at::Tensor x = k == 0 ? s.backend->input(x_.slice(0, r0, r1)) : in->tensors.at(0);
      x = x.detach();
      if (k > 0) x.requires_grad_(true);
      at::Tensor y = s.module->forward(x);
      if (k == S - 1) {
        const at::Tensor target = s.backend->input(y_.slice(0, r0, r1));
        // Sum of squares over the whole minibatch's rows: the microbatches' losses add up to it.
        s.saved[micro] = {x, (y - target).pow(2).sum() / double(x_.size(0))};
      } else {
        s.saved[micro] = {x, y};
        out = Msg{micro, {y.detach()}, nullptr};
      }
    } else if (op.kind == OpKind::Backward) {
      auto [x, y] = s.saved.at(micro);
      s.saved.erase(micro);
      std::vector<at::Tensor> inputs = s.params;
      if (k > 0) inputs.push_back(x);
      std::vector<at::Tensor> grad_out;
      if (k < S - 1) grad_out.push_back(in->tensors.at(0));
      auto g = torch::autograd::grad({y}, inputs, grad_out);
      for (std::size_t i = 0; i < s.params.size(); ++i) s.grads[i] = s.grads[i].defined() ? s.grads[i] + g[i] : g[i];
      if (k > 0) out = Msg{micro, {g.back()}, nullptr};
    } else {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < s.params.size(); ++i) {
        s.params[i].sub_(s.grads[i] * lr_);
        s.grads[i] = at::Tensor();
      }
    }
    const DeviceInterval t = s.backend->after_op(mark);
    {
      std::lock_guard<std::mutex> lock(mu_);
      times_.push_back({k, op, t, mark.host_start_ns, since(origin_)});
    }
    if (!out) return;
    const bool fwd = op.kind == OpKind::Forward;
    const int to = fwd ? k + 1 : k - 1;
    out->transfer = s.backend->send(out->tensors, *stages_[to].backend, fwd ? 2 * k : 2 * to + 1);
    (fwd ? acts_[to] : grads_[to]).push(std::move(*out));
  }

  at::Tensor x_, y_;
  double lr_;
  int M_ = 1;
  std::vector<Stage> stages_;
  std::vector<Inbox> acts_, grads_;
  Clock::time_point origin_;
  mutable std::mutex mu_;
  std::vector<OpTime> times_;
  std::vector<DeviceInterval> transfers_;
};

std::pair<at::Tensor, at::Tensor> regression_data(int rows) {
  torch::manual_seed(3);
  at::Tensor x = torch::randn({rows, 8});
  at::Tensor y = torch::tanh(x.matmul(torch::randn({8, 4})));
  return {x, y};
}

// Stage k on GPU k mod n: with one GPU every stage shares it (separate streams), with several the
// messages cross devices.
std::vector<c10::Device> gpu_stages(int S) {
  std::vector<c10::Device> d;
  const int n = std::max<int>(1, static_cast<int>(torch::cuda::device_count()));
  for (int k = 0; k < S; ++k) d.push_back(gpu(k % n));
  return d;
}

class CudaPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = no_cuda_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    set_deterministic(true);  // before any cuBLAS handle of this process
  }
  void TearDown() override {
    if (no_cuda_reason().empty()) set_deterministic(false);
  }
};

// ---------------------------------------------------------------------------------------------------
// Everywhere: the CPU backend, and the factory's answer for CUDA in a build without it.

TEST(DeviceBackendCpu, TimesAreHostTimesAndMessagesStayInPlace) {
  auto a = make_device_backend(c10::Device(c10::kCPU));
  auto b = make_device_backend(c10::Device(c10::kCPU));
  const auto origin = Clock::now();
  a->begin_segment(origin);
  b->begin_segment(origin);
  const std::int64_t before = since(origin);
  DeviceOpMark mark = a->before_op();
  at::Tensor y = torch::randn({64, 64}).matmul(torch::randn({64, 64}));
  const DeviceInterval t = a->after_op(mark);
  const std::int64_t after = since(origin);
  EXPECT_LE(before, t.start_ns);
  EXPECT_LE(t.start_ns, t.end_ns);
  EXPECT_LE(t.end_ns, after);

  std::vector<at::Tensor> msg{y};
  const void* data = y.data_ptr();
  auto transfer = a->send(msg, *b, 0);
  EXPECT_EQ(b->receive(msg, transfer).start_ns, -1);  // no device copy: the host clock says when
  EXPECT_EQ(msg[0].data_ptr(), data);                  // zero-copy between CPU stages
  const at::Tensor host = torch::ones({3});
  EXPECT_EQ(a->input(host).data_ptr(), host.data_ptr());
  EXPECT_FALSE(a->memory().tracked);
  EXPECT_EQ(a->describe(), "cpu");
}

TEST(DeviceBackendCpu, CudaWithoutTheCudaPathIsRefusedWithTheReason) {
  if (cuda_backend_built()) GTEST_SKIP() << "this build has the CUDA path";
  try {
    make_device_backend(gpu(0));
    FAIL() << "a CUDA backend in a build without CUDA";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("this build has no CUDA path"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_nccl_group_in_process({gpu(0)}), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------
// With a GPU.

TEST(DeviceBackendCuda, EventTimesArePositiveAndInsideTheHostInterval) {
  REQUIRE_GPUS(1);
  auto b = make_device_backend(gpu(0));
  const auto origin = Clock::now();
  b->begin_segment(origin);
  const at::Tensor w = b->input(torch::randn({1024, 1024}));
  for (int i = 0; i < 5; ++i) {
    const std::int64_t host_before = since(origin);
    DeviceOpMark mark = b->before_op();
    at::Tensor h = w;
    for (int j = 0; j < 20; ++j) h = torch::tanh(h.matmul(w));
    const DeviceInterval t = b->after_op(mark);
    const std::int64_t host_after = since(origin);
    // The device clock is mapped onto the host's through an anchor known to within this much, plus
    // the events' own resolution (about a microsecond).
    const std::int64_t slack = b->clock_uncertainty_ns() + 2000;
    EXPECT_GT(t.start_ns, 0);
    EXPECT_GT(t.end_ns, t.start_ns) << "op " << i << ": 20 GEMMs of 1024^2 took no device time";
    EXPECT_GE(t.start_ns, host_before - slack) << "op " << i;
    EXPECT_LE(t.end_ns, host_after + slack) << "op " << i;
  }
  EXPECT_NE(b->describe().find("cuda:0 ("), std::string::npos) << b->describe();
}

TEST(DeviceBackendCuda, PinnedInputAndMemoryFromTheCachingAllocator) {
  REQUIRE_GPUS(1);
  auto b = make_device_backend(gpu(0));
  b->begin_segment(Clock::now());
  const DeviceMemory before = b->memory();
  EXPECT_TRUE(before.tracked);
  const at::Tensor host = torch::arange(16 * 1024 * 1024, torch::kFloat);  // 64 MiB
  DeviceOpMark mark = b->before_op();
  const at::Tensor dev = b->input(host);
  b->after_op(mark);
  EXPECT_TRUE(dev.device().is_cuda());
  EXPECT_TRUE(torch::equal(dev.to(torch::kCPU), host));
  const DeviceMemory after = b->memory();
  EXPECT_GE(after.allocated - before.allocated, 64ll << 20);
  EXPECT_GE(after.allocated_peak, after.allocated);
  EXPECT_GE(after.reserved, after.allocated);
}

TEST(DeviceBackendCuda, MessagesArriveIntactWithinAGpuAndAcrossGpus) {
  REQUIRE_GPUS(1);
  const int n = static_cast<int>(torch::cuda::device_count());
  auto a = make_device_backend(gpu(0));
  auto b = make_device_backend(gpu(n > 1 ? 1 : 0));
  const auto origin = Clock::now();
  a->begin_segment(origin);
  b->begin_segment(origin);
  DeviceOpMark ma = a->before_op();
  at::Tensor y = a->input(torch::randn({512, 512})).matmul(a->input(torch::randn({512, 512})));
  const at::Tensor expected = y.to(torch::kCPU);
  a->after_op(ma);
  std::vector<at::Tensor> msg{y};
  auto transfer = a->send(msg, *b, 0);
  y = at::Tensor();  // the sender lets go: the allocator must not reuse the block under the copy
  DeviceOpMark mb = b->before_op();
  const DeviceInterval t = b->receive(msg, transfer);
  const at::Tensor got = msg[0] * 1;
  b->after_op(mb);
  EXPECT_EQ(msg[0].device(), b->device());
  EXPECT_TRUE(torch::equal(got.to(torch::kCPU), expected));
  if (n > 1) {
    EXPECT_GE(t.start_ns, 0);
    EXPECT_GT(t.end_ns, t.start_ns) << "a 1 MiB copy between GPUs took no time";
  } else {
    EXPECT_EQ(t.start_ns, -1) << "stages sharing a GPU exchange messages without a copy";
  }
}

// A copy between two GPUs runs while the receiver computes: their intervals overlap.
TEST(DeviceBackendCuda, CopiesOverlapCompute) {
  REQUIRE_GPUS(2);
  auto a = make_device_backend(gpu(0));
  auto b = make_device_backend(gpu(1));
  const auto origin = Clock::now();
  a->begin_segment(origin);
  b->begin_segment(origin);
  const at::Tensor w = b->input(torch::randn({2048, 2048}));
  DeviceOpMark m = a->before_op();
  const at::Tensor big = a->input(torch::randn({64, 1024, 1024}));  // 256 MiB, on GPU 0 beforehand
  a->after_op(m);
  std::mutex mu;
  std::condition_variable cv;
  bool launched = false;
  DeviceInterval compute;
  std::thread receiver([&] {
    DeviceOpMark mr = b->before_op();
    at::Tensor h = w;
    for (int j = 0; j < 400; ++j) h = torch::tanh(h.matmul(w));  // queued: tens of ms of work
    {
      std::lock_guard<std::mutex> lock(mu);
      launched = true;
    }
    cv.notify_all();
    compute = b->after_op(mr);
  });
  bool ok = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    ok = cv.wait_for(lock, std::chrono::seconds(60), [&] { return launched; });
  }
  if (!ok) {
    receiver.join();
    FAIL() << "the receiver did not queue its work within 60 s";
  }
  std::vector<at::Tensor> msg{big};
  auto transfer = a->send(msg, *b, 0);
  receiver.join();
  DeviceOpMark mb = b->before_op();
  const DeviceInterval copy = b->receive(msg, transfer);
  b->after_op(mb);
  EXPECT_LT(copy.start_ns, compute.end_ns) << "the copy waited for the receiver's compute";
  EXPECT_GT(copy.end_ns, compute.start_ns);
}

// Threaded == sequential, bit for bit, with deterministic algorithms (ARCHITECTURE.md invariant 2).
TEST_F(CudaPipeline, ThreadedEqualsSequentialBitForBit) {
  const auto data = regression_data(64);
  const at::Tensor &x = data.first, &y = data.second;
  for (const char* schedule : {"gpipe", "1f1b-flush"}) {
    const auto ops = make_schedule(schedule, 4, 4, 3);
    MiniPipe threaded(4, gpu_stages(4), x, y, 0.05), sequential(4, gpu_stages(4), x, y, 0.05);
    const std::string start = threaded.digest();
    threaded.run(ops, 4, true);
    sequential.run(ops, 4, false);
    EXPECT_NE(threaded.digest(), start) << schedule << ": training changed nothing";
    EXPECT_EQ(threaded.digest(), sequential.digest()) << schedule;
  }
}

// GPipe and 1F1B-flush on CUDA give one device's gradient on the whole minibatch (invariant 3), and
// every op's device interval lies within its host interval.
TEST_F(CudaPipeline, SynchronousSchedulesAreTransparent) {
  const auto data = regression_data(64);
  const at::Tensor &x = data.first, &y = data.second;
  MiniPipe reference(4, {gpu(0)}, x, y, 1.0);  // lr 1: W1 = W0 - g
  const auto w0 = reference.weights();
  reference.run(make_schedule("sequential", 1, 1, 1), 1, false);
  const auto a = reference.weights();
  for (const char* schedule : {"gpipe", "1f1b-flush"}) {
    MiniPipe pipe(4, gpu_stages(4), x, y, 1.0);
    pipe.run(make_schedule(schedule, 4, 4, 1), 4, true);
    const auto b = pipe.weights();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      const at::Tensor ga = w0[i] - a[i], gb = w0[i] - b[i];
      EXPECT_GT(ga.abs().max().item<double>(), 0) << "no gradient reached parameter " << i;
      EXPECT_TRUE(torch::allclose(ga, gb, 1e-4, 1e-6)) << schedule << ": parameter " << i;
    }
    for (const auto& t : pipe.times()) {
      const std::int64_t slack = pipe.backend(t.stage).clock_uncertainty_ns() + 2000;
      EXPECT_GT(t.device.end_ns, t.device.start_ns) << schedule << " stage " << t.stage << " " << op_name(t.op);
      EXPECT_GE(t.device.start_ns, t.host_start_ns - slack);
      EXPECT_LE(t.device.end_ns, t.host_end_ns + slack);
    }
  }
}

// NCCL: one rank gives back what it has (and zeros for what it lacks); two ranks on two GPUs give the
// gradient of one device on the whole minibatch.
TEST(NcclCuda, OneRankAllReduceIsTheIdentity) {
  REQUIRE_GPUS(1);
  auto ranks = make_nccl_group_in_process({gpu(0)});
  ASSERT_EQ(ranks.size(), 1u);
  auto b = make_device_backend(gpu(0));
  b->begin_segment(Clock::now());
  const at::Tensor p0 = torch::randn({5, 3}), p1 = torch::randn({7});
  std::vector<at::Tensor> like{b->input(p0), b->input(p1)};
  std::vector<at::Tensor> grads{b->input(p0 * 2), at::Tensor()};
  DeviceOpMark m = b->before_op();
  ranks[0]->all_reduce_sum(grads, like);
  b->after_op(m);
  EXPECT_TRUE(torch::equal(grads[0].to(torch::kCPU), p0 * 2));
  ASSERT_TRUE(grads[1].defined());
  EXPECT_EQ(grads[1].sizes(), p1.sizes());
  EXPECT_EQ(grads[1].abs().sum().item<double>(), 0);
}

TEST(NcclCuda, DataParallelEqualsOneDevice) {
  REQUIRE_GPUS(2);
  const auto data = regression_data(64);
  const at::Tensor &x = data.first, &y = data.second;
  auto gradient = [](torch::nn::Sequential net, const at::Tensor& xs, const at::Tensor& ys, double rows) {
    auto params = net->parameters();
    const at::Tensor loss = (net->forward(xs) - ys).pow(2).sum() / rows;
    return torch::autograd::grad({loss}, params);
  };
  auto model_on = [](const c10::Device& d) {
    torch::nn::Sequential net = assemble(make_units(4), 0, 4);
    net->to(d);
    return net;
  };
  const auto whole = gradient(model_on(gpu(0)), x.to(gpu(0)), y.to(gpu(0)), 64);
  auto ranks = make_nccl_group_in_process({gpu(0), gpu(1)});
  std::vector<std::vector<at::Tensor>> reduced(2);
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] {
      try {
        auto b = make_device_backend(gpu(r));
        b->begin_segment(Clock::now());
        DeviceOpMark m = b->before_op();
        auto net = model_on(gpu(r));
        const at::Tensor xs = b->input(x.slice(0, 32 * r, 32 * (r + 1))), ys = b->input(y.slice(0, 32 * r, 32 * (r + 1)));
        auto g = gradient(net, xs, ys, 64);
        ranks[r]->all_reduce_sum(g, net->parameters());
        b->after_op(m);
        for (auto& t : g) reduced[r].push_back(t.to(torch::kCPU));
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  ASSERT_EQ(reduced[0].size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    EXPECT_TRUE(torch::equal(reduced[0][i], reduced[1][i])) << "replicas differ at parameter " << i;
    EXPECT_TRUE(torch::allclose(reduced[0][i], whole[i].to(torch::kCPU), 1e-4, 1e-6)) << "parameter " << i;
  }
}

}  // namespace
}  // namespace ps
