#include "engine/bench/benchmarks.h"

#include "engine/config/run_config.h"
#include "engine/data/dataset.h"
#include "engine/models/model.h"
#include "engine/runtime/batches.h"
#include "engine/runtime/pipeline.h"
#include "engine/session/session.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Samples per second of the engine on `cfg` (pipeline time only: data loading and evaluation excluded).
double engine_rate(RunConfig cfg) {
  cfg.eval_every_epochs = 1000000;
  Session s(cfg);
  s.start();
  s.wait();
  const RunSummary sum = s.summary();
  if (sum.status != RunStatus::Completed) throw std::runtime_error("benchmark run failed: " + sum.error);
  return sum.samples_per_second;
}

// The same training written as a plain LibTorch loop: one module, torch::optim::SGD, same batches.
double plain_rate(const RunConfig& cfg, const DataSplit& data) {
  ModelBuilder builder(cfg.model, data.input);
  torch::manual_seed(cfg.seed);
  torch::nn::Sequential model = builder.build_units(0, builder.num_units());
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(cfg.optimizer.lr)
                                                 .momentum(cfg.optimizer.momentum)
                                                 .nesterov(cfg.optimizer.nesterov)
                                                 .weight_decay(cfg.optimizer.weight_decay));
  BatchSource batches(data.train, cfg.batch_size, cfg.seed);
  set_intra_op_threads(cfg.threads_per_stage);
  const auto t0 = std::chrono::steady_clock::now();
  double sink = 0;
  for (std::int64_t i = 0; i < cfg.steps; ++i) {
    Batch b = batches.get(i, -1, 1);
    opt.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(b.inputs), b.labels);
    loss.backward();
    opt.step();
    sink += loss.item<double>();  // the engine reads the loss every step too
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)sink;
  return cfg.steps * cfg.batch_size / secs;
}

}  // namespace

double run_benchmark(const std::string& name, const BenchOptions& opts, std::FILE* out) {
  std::string path = opts.preset;
#ifdef PIPESCOPE_SOURCE_DIR
  if (path.empty()) path = std::string(PIPESCOPE_SOURCE_DIR) + "/presets/default.json";
#endif
  RunConfig base = load_preset(path);
  base.steps = opts.steps;
  base.threads_per_stage = 1;
  base.strategy.name = "stash";
  base.strategy.params.clear();
  base.schedule = "1f1b-async";
  base.microbatches = 1;
  base.partition.clear();
  std::vector<double> a, b;
  std::string label_a, label_b, line;
  if (name == "overhead") {
    base.stages = 1;
    base.dataset.test_limit = 1;
    const DataSplit data = load_dataset(base.dataset, base.seed);
    label_a = "engine, 1 stage";
    label_b = "plain LibTorch loop";
    for (int r = 0; r < opts.repeats; ++r) {
      a.push_back(engine_rate(base));
      b.push_back(plain_rate(base, data));
    }
  } else if (name == "scaling" || name == "telemetry") {
    base.dataset.test_limit = 1;
    RunConfig one = base, two = base;
    two.stages = 2;
    if (name == "scaling") {
      one.stages = 1;
      label_a = "1f1b-async, 2 stages";
      label_b = "1 stage";
    } else {
      one.stages = 2;
      one.telemetry = false;
      label_a = "telemetry on";
      label_b = "telemetry off";
    }
    for (int r = 0; r < opts.repeats; ++r) {
      a.push_back(engine_rate(two));
      b.push_back(engine_rate(one));
    }
  } else {
    throw InputError("command line", "bench", "unknown benchmark '" + name + "' (known: overhead, scaling, telemetry)");
  }
  const double ma = median(a), mb = median(b), ratio = mb > 0 ? ma / mb : 0;
  std::fprintf(out, "%s: %s %.1f samples/s vs %s %.1f samples/s (median of %d, %d steps of %d, model %s)\n",
               name.c_str(), label_a.c_str(), ma, label_b.c_str(), mb, opts.repeats, opts.steps, base.batch_size,
               base.model.name.c_str());
  if (name == "scaling")
    std::fprintf(out, "scaling: limit %.1f (2 stages on %u cores, one intra-op thread each)\n",
                 std::min(2.0, double(std::thread::hardware_concurrency())), std::thread::hardware_concurrency());
  std::fprintf(out, "%s: ratio=%.3f\n", name.c_str(), ratio);
  return ratio;
}

}  // namespace ps
