// The real engine (StageRuntime, Pipeline, Session) on CUDA, skipped with the reason where there is no
// GPU: threaded == sequential bit for bit with deterministic algorithms, gpipe and 1f1b-flush
// transparent, op times from CUDA events inside the ops' host intervals, a session's GPU and memory,
// copies that overlap compute in the trace, and NCCL data parallelism equal to one device.
#include "cuda_fixture.h"

namespace ps {
namespace {

using namespace cudatest;

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
    const ToySpec single = one_gpu_reference(4);
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
  const ToySpec single = one_gpu_reference(3);
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
