// The device backends (engine/runtime/device_backend.h). What runs everywhere: the CPU backend, the
// engine's wiring of a backend (a recording backend around the CPU one), the replicas' meeting before a
// collective, and the refusals of a build or a machine without CUDA. What needs a GPU (a CUDA build of
// LibTorch and a device; each test says why it skips otherwise): event times, pinned inputs, allocator
// figures, copies within and between GPUs that overlap compute. The engine on CUDA: test_cuda_engine.cpp.
#include "cuda_fixture.h"

namespace ps {
namespace {

using namespace cudatest;

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

}  // namespace
}  // namespace ps
