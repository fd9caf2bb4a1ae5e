// The device backends (engine/runtime/device_backend.h) and the engine on CUDA. What runs everywhere:
// the CPU backend, the engine's wiring of a backend (a recording backend around the CPU one), the
// replicas' meeting before a collective, and the refusals of a build or a machine without CUDA. What
// needs a GPU (a CUDA build of LibTorch and a device; each test says why it skips otherwise): event
// times, pinned inputs, allocator figures, copies between GPUs, and the real engine (StageRuntime,
// Pipeline, Session) on cuda: threaded == sequential bit for bit with deterministic algorithms, gpipe
// and 1f1b-flush transparent, op times from CUDA events inside the ops' host intervals, copies that
// overlap compute in the trace, and NCCL data parallelism equal to one device.
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "engine/runtime/device_backend.h"
#include "engine/runtime/gpus.h"
#include "engine/runtime/pipeline.h"
#include "engine/schedule/schedule.h"
#include "engine/session/weights_digest.h"
#include "engine/strategy/strategy.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"
#include "test_support.h"

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
#define REQUIRE_GPUS(n)                             \
  do {                                              \
    const std::string reason = no_cuda_reason(n);   \
    if (!reason.empty()) GTEST_SKIP() << reason;    \
  } while (0)

c10::Device gpu(int i) { return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)); }
const c10::Device kCpu(c10::kCPU);

// Device d of S on GPU d mod n: with one GPU every device shares it (a stream each), with several the
// messages cross GPUs.
std::vector<c10::Device> gpu_devices(int S) {
  std::vector<c10::Device> d;
  const int n = std::max<int>(1, static_cast<int>(torch::cuda::device_count()));
  for (int k = 0; k < S; ++k) d.push_back(gpu(k % n));
  return d;
}

// ---------------------------------------------------------------------------------------------------
// The engine's own StageRuntime and Pipeline over hand-made Linear+Tanh units on a learnable toy task,
// every device with the backend the session would give it (`backend_for` may wrap it).

struct ToySpec {
  std::vector<c10::Device> devices{kCpu, kCpu};  // per device (worker)
  std::string schedule = "gpipe";
  int chunks = 0;
  int microbatches = 4;
  ExecutorKind executor = ExecutorKind::Threaded;
  std::string strategy = "latest";
  double lr = 0.05;
  double momentum = 0.9;
  int batch_size = 16;
  int units = 0;        // 0: one per chunk; data parallel: every replica holds them all
  int width = 8;        // hidden width of the units
  bool nccl = false;    // data parallel: sum through NCCL (one rank per GPU) instead of in process
  std::function<std::shared_ptr<DeviceBackend>(int d, std::shared_ptr<DeviceBackend>)> backend_for;
};

class Toy {
 public:
  explicit Toy(ToySpec spec) : spec_(std::move(spec)) {
    torch::manual_seed(7);
    data_.inputs = torch::randn({512, 6});
    data_.labels = data_.inputs.matmul(torch::randn({6, 3})).argmax(1);
    batches_ = std::make_unique<BatchSource>(data_, spec_.batch_size, 3);
    const int D = static_cast<int>(spec_.devices.size());
    const bool replicas = spec_.schedule == "data-parallel";
    v_ = replicas ? 1 : resolve_chunks(spec_.schedule, spec_.chunks);
    const int C = D * v_;
    const std::vector<int> device_of = replicas ? std::vector<int>() : chunk_devices(spec_.schedule, D, v_);
    std::map<int, int> per_gpu;
    for (const auto& d : spec_.devices)
      if (d.is_cuda()) ++per_gpu[d.index()];
    for (int d = 0; d < D; ++d) {
      const c10::Device& dev = spec_.devices[d];
      std::shared_ptr<DeviceBackend> b = make_device_backend(dev, dev.is_cuda() ? per_gpu[dev.index()] : 1);
      backends_.push_back(spec_.backend_for ? spec_.backend_for(d, std::move(b)) : std::move(b));
    }
    if (replicas) {
      all_reduce_ = std::make_unique<AllReduce>(D);
      if (spec_.nccl) collectives_ = make_nccl_group_in_process(spec_.devices);
    }
    const int units = spec_.units > 0 ? spec_.units : C;
    const int per_chunk = replicas ? units : units / C;
    torch::manual_seed(11);
    std::vector<std::unique_ptr<StageRuntime>> stages;
    for (int k = 0; k < C; ++k) {
      const int d = replicas ? k : device_of[k];
      StageSetup s;
      s.index = k;
      s.num_stages = C;
      s.device_index = v_ > 1 ? d : -1;
      s.device = spec_.devices[d];
      s.backend = backends_[d];
      if (replicas) {
        torch::manual_seed(11);  // every replica starts from the same weights
        s.replica = k;
        s.replicas = D;
        s.all_reduce = all_reduce_.get();
        if (!collectives_.empty()) s.collective = collectives_[k].get();
      }
      const int first = replicas ? 0 : k * per_chunk;
      const int width = spec_.width;
      auto make = [first, per_chunk, units, width] {
        torch::nn::Sequential seq;
        for (int u = first; u < first + per_chunk; ++u) {
          seq->push_back(torch::nn::Linear(u == 0 ? 6 : width, u == units - 1 ? 3 : width));
          if (u != units - 1) seq->push_back(torch::nn::Tanh());
        }
        return seq;
      };
      s.module = make();
      s.make_replica = make;
      s.optimizer.lr = spec_.lr;
      s.optimizer.momentum = spec_.momentum;
      s.total_steps = 1000;
      s.strategy = make_strategy(spec_.strategy, {}, k, C);
      s.batches = batches_.get();
      s.microbatches = spec_.microbatches;
      s.on_op = [this](const OpEvent& ev) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(ev);
      };
      s.on_transfer = [this](const TransferEvent& t) {
        std::lock_guard<std::mutex> lock(mu_);
        transfers_.push_back(t);
      };
      s.on_minibatch = [this](const MinibatchResult& r) {
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back(r);
      };
      stages.push_back(std::make_unique<StageRuntime>(std::move(s)));
    }
    pipeline_ = std::make_unique<Pipeline>(std::move(stages), spec_.executor, 1, spec_.microbatches, replicas, device_of);
  }

  bool run(int minibatches) {
    const auto ops = make_schedule(spec_.schedule, static_cast<int>(spec_.devices.size()), spec_.microbatches,
                                   minibatches, v_);
    return pipeline_->run(ops, 0, control_, Clock::now());
  }
  std::string digest() const {
    std::vector<std::vector<at::Tensor>> w;
    const int holders = spec_.schedule == "data-parallel" ? 1 : pipeline_->num_stages();
    for (int k = 0; k < holders; ++k) w.push_back(pipeline_->stage(k).live_params());
    return weights_digest(w);
  }
  // Every chunk's parameters on the host, in order (one replica's for data parallel, or replica r's).
  std::vector<at::Tensor> weights(int replica = -1) const {
    std::vector<at::Tensor> w;
    for (int k = 0; k < pipeline_->num_stages(); ++k) {
      if (replica >= 0 && k != replica) continue;
      for (const auto& p : pipeline_->stage(k).live_params()) w.push_back(p.detach().to(torch::kCPU).clone());
      if (replica < 0 && spec_.schedule == "data-parallel") break;
    }
    return w;
  }
  std::vector<OpEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<TransferEvent> transfers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transfers_;
  }
  std::vector<MinibatchResult> results() const {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  Pipeline& pipeline() { return *pipeline_; }

 private:
  ToySpec spec_;
  int v_ = 1;
  TensorDataset data_;
  std::unique_ptr<BatchSource> batches_;
  std::vector<std::shared_ptr<DeviceBackend>> backends_;
  std::unique_ptr<AllReduce> all_reduce_;
  std::vector<std::unique_ptr<CollectiveGroup>> collectives_;
  std::unique_ptr<Pipeline> pipeline_;
  RunControl control_;
  mutable std::mutex mu_;
  std::vector<OpEvent> events_;
  std::vector<TransferEvent> transfers_;
  std::vector<MinibatchResult> results_;
};

// Trained one minibatch at lr 1 without momentum from weights w0 (W1 = W0 - g): the same gradients.
void expect_same_gradients(const std::vector<at::Tensor>& w0, const std::vector<at::Tensor>& a,
                           const std::vector<at::Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  ASSERT_EQ(a.size(), w0.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const at::Tensor ga = w0[i] - a[i], gb = w0[i] - b[i];
    EXPECT_GT(ga.abs().max().item<double>(), 0) << what << ": no gradient reached parameter " << i;
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-4, 1e-6)) << what << ": parameter " << i;
  }
}

// ---------------------------------------------------------------------------------------------------
// Everywhere: the CPU backend, the engine's use of a backend, and what a build without CUDA answers.

TEST(DeviceBackendCpu, TimesAreHostTimesAndMessagesStayInPlace) {
  auto a = make_device_backend(kCpu);
  auto b = make_device_backend(kCpu);
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
  const GpuList gpus = visible_gpus();
  EXPECT_TRUE(gpus.gpus.empty());
  EXPECT_NE(gpus.none_reason.find("no CUDA path"), std::string::npos) << gpus.none_reason;
}

TEST(DeviceBackendCpu, TheGpuListNamesEveryDeviceOrSaysWhyThereIsNone) {
  const GpuList gpus = visible_gpus();
  if (gpus.gpus.empty()) {
    EXPECT_FALSE(gpus.none_reason.empty());
    return;
  }
  EXPECT_EQ(gpus.none_reason, "");
  EXPECT_EQ(static_cast<int>(gpus.gpus.size()), static_cast<int>(torch::cuda::device_count()));
  for (std::size_t i = 0; i < gpus.gpus.size(); ++i) {
    EXPECT_EQ(gpus.gpus[i].index, static_cast<int>(i));
    EXPECT_FALSE(gpus.gpus[i].name.empty());
    EXPECT_GT(gpus.gpus[i].memory_bytes, 0);
    EXPECT_EQ(describe_gpu(gpus.gpus[i]).rfind("cuda:" + std::to_string(i) + "  ", 0), 0u) << describe_gpu(gpus.gpus[i]);
  }
}

TEST(DeviceBackendCpu, ASessionOnCudaWithoutOneNamesTheField) {
  if (no_cuda_reason().empty()) GTEST_SKIP() << "this machine has a GPU";
  RunConfig cfg = load_preset(test::source_dir() + "/presets/tiny.json");
  cfg.stage_devices = {"cpu", "cuda:0"};
  try {
    Session s(cfg);
    FAIL() << "a session on cuda:0 without a GPU";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "stage_devices[1]") << e.what();
  }
}

// A CPU backend that records what the engine asks of it: the times it hands out, the copies it is
// asked to make (with a transfer object of its own), and what reaches the receiver.
class RecordingBackend final : public DeviceBackend {
 public:
  struct Tag final : DeviceTransfer {
    explicit Tag(int id) : id(id) {}
    int id;
  };
  struct Log {
    std::mutex mu;
    std::vector<DeviceInterval> times;          // every after_op(), in order (all devices)
    std::map<int, std::vector<int>> sent;       // link -> transfer ids, in order
    std::vector<int> received;                  // transfer ids, in order of arrival
    int inputs = 0, segments = 0, syncs = 0, next_id = 0;
  };
  RecordingBackend(std::shared_ptr<DeviceBackend> inner, std::shared_ptr<Log> log)
      : inner_(std::move(inner)), log_(std::move(log)) {}
  c10::Device device() const override { return inner_->device(); }
  std::string describe() const override { return inner_->describe(); }
  void begin_segment(Clock::time_point origin) override {
    inner_->begin_segment(origin);
    std::lock_guard<std::mutex> lock(log_->mu);
    ++log_->segments;
  }
  DeviceOpMark before_op() override { return inner_->before_op(); }
  DeviceInterval after_op(DeviceOpMark& mark) override {
    DeviceInterval t = inner_->after_op(mark);
    t.end_ns += 1;  // a mark of its own: the events must carry these times, not the stage's clock
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->times.push_back(t);
    return t;
  }
  std::shared_ptr<void> scope() override { return inner_->scope(); }
  at::Tensor input(const at::Tensor& host) override {
    std::lock_guard<std::mutex> lock(log_->mu);
    ++log_->inputs;
    return inner_->input(host);
  }
  std::shared_ptr<DeviceTransfer> send(std::vector<at::Tensor>& tensors, DeviceBackend& to, int link) override {
    EXPECT_NE(dynamic_cast<RecordingBackend*>(&to), nullptr);
    std::lock_guard<std::mutex> lock(log_->mu);
    const int id = log_->next_id++;
    log_->sent[link].push_back(id);
    return std::make_shared<Tag>(id);
  }
  DeviceInterval receive(std::vector<at::Tensor>& tensors, const std::shared_ptr<DeviceTransfer>& transfer) override {
    auto* tag = dynamic_cast<Tag*>(transfer.get());
    std::lock_guard<std::mutex> lock(log_->mu);
    log_->received.push_back(tag ? tag->id : -1);
    return inner_->receive(tensors, transfer);
  }
  DeviceMemory memory() const override { return inner_->memory(); }
  void synchronize() override {
    std::lock_guard<std::mutex> lock(log_->mu);
    ++log_->syncs;
  }

 private:
  std::shared_ptr<DeviceBackend> inner_;
  std::shared_ptr<Log> log_;
};

// The executor and the stages go through the backend for everything the CUDA path needs: op times
// (the events carry the backend's, not the stage's clock), inputs, one copy per message handed from
// the sender's backend to the receiver's on the link's id, a wait at the end of the segment. And
// wrapping the backend changes no number.
TEST(DeviceBackendCpu, TheEngineTimesOpsAndSendsMessagesThroughTheBackend) {
  for (ExecutorKind executor : {ExecutorKind::Threaded, ExecutorKind::Sequential}) {
    const char* name = executor == ExecutorKind::Threaded ? "threaded" : "sequential";
    auto log = std::make_shared<RecordingBackend::Log>();
    ToySpec spec;
    spec.devices = {kCpu, kCpu, kCpu};
    spec.schedule = "1f1b-flush";
    spec.executor = executor;
    spec.backend_for = [log](int, std::shared_ptr<DeviceBackend> b) {
      return std::make_shared<RecordingBackend>(std::move(b), log);
    };
    Toy recorded(spec);
    spec.backend_for = nullptr;
    Toy plain(spec);
    ASSERT_TRUE(recorded.run(3));
    ASSERT_TRUE(plain.run(3));
    EXPECT_EQ(recorded.digest(), plain.digest()) << name;

    const auto events = recorded.events();
    std::lock_guard<std::mutex> lock(log->mu);
    ASSERT_EQ(events.size(), log->times.size()) << name << ": one after_op() per op";
    std::multiset<std::pair<std::int64_t, std::int64_t>> handed;
    for (const auto& t : log->times) handed.insert({t.start_ns, t.end_ns});
    for (const auto& ev : events)
      EXPECT_GE(handed.count({ev.t_start_ns, ev.t_end_ns}), 1u) << name << ": an op's times are not its backend's";
    // 3 minibatches x 4 microbatches: activations 0->1 (link 0), 1->2 (link 2), gradients 1->0 (link 1), 2->1 (link 3).
    for (int link : {0, 1, 2, 3}) EXPECT_EQ(log->sent[link].size(), 12u) << name << " link " << link;
    std::vector<int> all_sent;
    for (const auto& [link, ids] : log->sent) all_sent.insert(all_sent.end(), ids.begin(), ids.end());
    std::vector<int> received = log->received;
    std::sort(all_sent.begin(), all_sent.end());
    std::sort(received.begin(), received.end());
    EXPECT_EQ(received, all_sent) << name << ": every message reaches its receiver with its sender's transfer";
    EXPECT_EQ(log->inputs, 3 * 4 * 2) << name << ": inputs at the first chunk, labels at the last, per microbatch";
    EXPECT_EQ(log->segments, 3) << name;
    EXPECT_EQ(log->syncs, 3) << name << ": every stage waits for its device at the end of the segment";
  }
}

// The replicas meet before a collective: none goes on until all have arrived, and one that gives up
// (the run stopping) withdraws, so that the others cannot go on without it.
TEST(AllReduceMeet, AllGoOnTogetherOrNoneDoes) {
  AllReduce group(2);
  std::atomic<int> checks{0};
  // Alone, replica 0 gives up at the first check of a stopping run.
  EXPECT_FALSE(group.meet(5, 0, [&] { return ++checks > 0; }));
  // Its arrival was withdrawn: replica 1 alone does not go on either.
  EXPECT_FALSE(group.meet(5, 1, [&] { return true; }));
  // Both: both go on (replica 1 waits for replica 0's arrival, a state, not a time).
  std::atomic<bool> ok1{false};
  std::thread other([&] { ok1 = group.meet(5, 1, [] { return false; }); });
  EXPECT_TRUE(group.meet(5, 0, [] { return false; }));
  other.join();
  EXPECT_TRUE(ok1);
  // The meeting is over: the next minibatch's starts afresh.
  EXPECT_FALSE(group.meet(6, 0, [] { return true; }));
}

// ---------------------------------------------------------------------------------------------------
// With a GPU: the backend.

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

// ---------------------------------------------------------------------------------------------------
// With a GPU: the engine (StageRuntime, Pipeline, Session) on cuda.

class CudaEngine : public ::testing::Test {
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

// Threaded == sequential, bit for bit, with deterministic algorithms (ARCHITECTURE.md invariant 2):
// synchronous, asynchronous with stashing, and interleaved schedules (two chunks sharing a stream).
TEST_F(CudaEngine, ThreadedEqualsSequentialBitForBit) {
  struct Case {
    const char* schedule;
    const char* strategy;
    int devices, microbatches;
  };
  for (const Case& c : {Case{"gpipe", "latest", 4, 4}, Case{"1f1b-flush", "latest", 4, 4}, Case{"1f1b-async", "stash", 3, 1},
                        Case{"interleaved-1f1b", "latest", 2, 4}}) {
    ToySpec spec;
    spec.devices = gpu_devices(c.devices);
    spec.schedule = c.schedule;
    spec.strategy = c.strategy;
    spec.microbatches = c.microbatches;
    spec.width = 64;
    spec.executor = ExecutorKind::Threaded;
    Toy threaded(spec);
    spec.executor = ExecutorKind::Sequential;
    Toy sequential(spec);
    const std::string start = threaded.digest();
    ASSERT_TRUE(threaded.run(6)) << c.schedule;
    ASSERT_TRUE(sequential.run(6)) << c.schedule;
    EXPECT_NE(threaded.digest(), start) << c.schedule << ": training changed nothing";
    EXPECT_EQ(threaded.digest(), sequential.digest()) << c.schedule;
    EXPECT_EQ(threaded.results().size(), 6u) << c.schedule;
    EXPECT_EQ(threaded.pipeline().stage(0).live_params()[0].device().type(), c10::kCUDA);
  }
}

// GPipe and 1F1B-flush on CUDA give one device's gradient on the whole minibatch (invariant 3).
TEST_F(CudaEngine, SynchronousSchedulesAreTransparent) {
  for (const char* schedule : {"gpipe", "1f1b-flush"}) {
    ToySpec single;
    single.devices = {gpu(0)};
    single.schedule = "sequential";
    single.microbatches = 1;
    single.units = 4;
    single.lr = 1.0;
    single.momentum = 0;
    Toy reference(single);
    const auto w0 = reference.weights();
    ASSERT_TRUE(reference.run(1));
    ToySpec piped = single;
    piped.devices = gpu_devices(4);
    piped.schedule = schedule;
    piped.microbatches = 4;
    Toy pipeline(piped);
    ASSERT_TRUE(pipeline.run(1));
    expect_same_gradients(w0, reference.weights(), pipeline.weights(), schedule);
    ASSERT_EQ(reference.results().size(), 1u);
    ASSERT_EQ(pipeline.results().size(), 1u);
    EXPECT_NEAR(reference.results()[0].loss, pipeline.results()[0].loss, 1e-5);
  }
}

// The stage's op events carry CUDA event times: positive, ordered, and inside the host interval of
// the call that ran the op (within the clock anchor's uncertainty).
TEST_F(CudaEngine, OpTimesAreDeviceTimesInsideTheOpsHostIntervals) {
  ToySpec spec;
  spec.devices = {gpu(0)};
  spec.schedule = "sequential";
  spec.microbatches = 1;
  spec.units = 3;
  spec.width = 512;
  spec.batch_size = 256;
  Toy toy(spec);
  StageRuntime& stage = toy.pipeline().stage(0);
  const auto ops = make_schedule("sequential", 1, 1, 4);
  const auto origin = Clock::now();
  stage.begin_segment(ops[0], 0, origin);
  std::vector<std::pair<std::int64_t, std::int64_t>> host;
  for (const Op& op : ops[0]) {
    const std::int64_t before = since(origin);
    stage.run(op, std::nullopt);
    host.push_back({before, since(origin)});
  }
  stage.finish_segment();
  const auto events = toy.events();
  ASSERT_EQ(events.size(), host.size());
  const std::int64_t slack = stage.backend().clock_uncertainty_ns() + 2000;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const OpEvent& ev = events[i];
    EXPECT_GT(ev.t_start_ns, 0) << i;
    EXPECT_GT(ev.t_end_ns, ev.t_start_ns) << i << ": the op took no device time";
    EXPECT_GE(ev.t_start_ns, host[i].first - slack) << i;
    EXPECT_LE(ev.t_end_ns, host[i].second + slack) << i;
  }
  EXPECT_TRUE(stage.device_memory().tracked);
  EXPECT_GT(stage.device_memory().allocated_peak, 0);
}

// A session on cuda: every chunk on the GPU named in its row, the allocator's figures per stage, the
// ledger's times the device's, and threaded == sequential through the session as well.
TEST_F(CudaEngine, ASessionRunsOnTheGpuAndReportsItsMemory) {
  RunConfig cfg = load_preset(test::source_dir() + "/presets/tiny.json");
  cfg.device = "cuda";
  cfg.stages = 2;
  cfg.steps = 12;
  cfg.microbatches = 2;
  cfg.schedule = "1f1b-flush";
  cfg.deterministic = true;
  const auto dir = test::fresh_dir("cuda", "session");
  SessionOptions opts;
  opts.out_dir = dir.string();
  opts.trace_path = (dir / "trace.json").string();
  Session threaded(cfg, opts);
  cfg.executor = "sequential";
  Session sequential(cfg);
  threaded.start();
  threaded.wait();
  sequential.start();
  sequential.wait();
  const RunSummary s = threaded.summary();
  ASSERT_EQ(s.status, RunStatus::Completed) << s.error;
  EXPECT_EQ(s.weights_digest, sequential.summary().weights_digest);
  ASSERT_EQ(s.per_stage.size(), 2u);
  for (const StageSummary& st : s.per_stage) {
    EXPECT_EQ(st.device.rfind("cuda:", 0), 0u) << st.device;
    EXPECT_NE(st.device.find(" ("), std::string::npos) << st.device << ": the GPU's name";
    EXPECT_GT(st.gpu_allocated_max, 0);
    EXPECT_GE(st.gpu_reserved_max, st.gpu_allocated_max);
    EXPECT_GE(st.gpu_shared_by, 1);
  }
  const RunSummary back = read_summary_json((dir / "summary.json").string());
  EXPECT_EQ(back.per_stage[0].gpu_allocated_max, s.per_stage[0].gpu_allocated_max);
  std::filesystem::remove_all(dir);
}

// Between two GPUs the copies run on their own streams while the stages compute: in the trace, a
// transfer's interval overlaps a compute op of another stage.
TEST_F(CudaEngine, CopiesOverlapComputeInTheTrace) {
  REQUIRE_GPUS(2);
  RunConfig cfg = load_preset(test::source_dir() + "/presets/tiny.json");
  cfg.model.hidden = {2048, 2048, 2048, 2048, 2048, 2048};
  cfg.batch_size = 1024;
  cfg.microbatches = 8;
  cfg.stages = 2;
  cfg.stage_devices = {"cuda:0", "cuda:1"};
  cfg.schedule = "gpipe";
  cfg.steps = 4;
  cfg.divergence_every = 0;
  const auto dir = test::fresh_dir("cuda", "overlap");
  SessionOptions opts;
  opts.trace_path = (dir / "trace.json").string();
  Session s(cfg, opts);
  s.start();
  s.wait();
  ASSERT_EQ(s.summary().status, RunStatus::Completed) << s.summary().error;
  std::ifstream in(opts.trace_path);
  const nlohmann::json trace = nlohmann::json::parse(in);
  std::vector<std::tuple<int, double, double>> ops, copies;  // pid, start, end (us)
  for (const auto& e : trace["traceEvents"]) {
    if (e.value("ph", "") != "X") continue;
    const double ts = e["ts"].get<double>(), end = ts + e["dur"].get<double>();
    (e.value("cat", "") == "transfer" ? copies : ops).emplace_back(e["pid"].get<int>(), ts, end);
  }
  ASSERT_FALSE(copies.empty());
  int overlapping = 0;
  for (const auto& [cp, cs, ce] : copies) {
    EXPECT_GT(ce, cs) << "a copy between GPUs took no device time";
    for (const auto& [op, os, oe] : ops)
      if (cs < oe && os < ce) {
        ++overlapping;
        break;
      }
  }
  EXPECT_GT(overlapping, 0) << "no copy overlapped any compute op (" << copies.size() << " copies)";
  std::filesystem::remove_all(dir);
}

// NCCL: one rank gives back what it has (and zeros for what it lacks).
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

// The engine's data parallelism over NCCL (two replicas on two GPUs, threaded) trains like one device
// on the whole minibatch, and the replicas stay bit-identical; so does the in-process sum.
TEST_F(CudaEngine, NcclDataParallelEqualsOneDevice) {
  REQUIRE_GPUS(2);
  ToySpec single;
  single.devices = {gpu(0)};
  single.schedule = "sequential";
  single.microbatches = 1;
  single.units = 3;
  single.lr = 1.0;
  single.momentum = 0;
  Toy reference(single);
  const auto w0 = reference.weights();
  ASSERT_TRUE(reference.run(1));
  for (bool nccl : {true, false}) {
    ToySpec dp = single;
    dp.devices = {gpu(0), gpu(1)};
    dp.schedule = "data-parallel";
    dp.nccl = nccl;
    Toy replicas(dp);
    ASSERT_TRUE(replicas.run(1));
    const char* what = nccl ? "nccl" : "in process";
    expect_same_gradients(w0, reference.weights(), replicas.weights(0), what);
    const auto a = replicas.weights(0), b = replicas.weights(1);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << what << ": replicas differ at " << i;
  }
}

}  // namespace
}  // namespace ps
