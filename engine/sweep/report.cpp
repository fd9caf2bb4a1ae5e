// Sweep results: CSV rows and the Markdown report (see report.h).
#include "engine/sweep/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace ps {
namespace {

std::string fmt(double v, int decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string opt(const std::optional<double>& v, int decimals) { return v ? fmt(*v, decimals) : ""; }

// CSV cell: quote when needed.
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

// Markdown cell: no pipes, no newlines.
std::string md(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

bool finished(const SweepResult& r) { return r.status == "completed" || r.status == "diverged"; }

// Results grouped by (stages, label) in the order the grid lists stage counts and runs.
struct Group {
  int stages = 0;
  std::string label, note, schedule, strategy;
  double lr = 0;
  std::string optimizer;
  std::vector<const SweepResult*> all;   // every planned cell
  std::vector<const SweepResult*> done;  // completed or diverged
  std::vector<const SweepResult*> ok;    // completed with a summary
};

std::vector<Group> group(const std::vector<SweepResult>& results) {
  std::vector<int> stage_order;
  std::vector<std::string> label_order;
  for (const auto& r : results) {
    if (std::find(stage_order.begin(), stage_order.end(), r.stages) == stage_order.end()) stage_order.push_back(r.stages);
    if (std::find(label_order.begin(), label_order.end(), r.label) == label_order.end()) label_order.push_back(r.label);
  }
  std::sort(stage_order.begin(), stage_order.end());
  std::vector<Group> groups;
  for (int S : stage_order)
    for (const auto& label : label_order) {
      Group g;
      g.stages = S;
      g.label = label;
      for (const auto& r : results) {
        if (r.stages != S || r.label != label) continue;
        if (g.all.empty()) g.note = r.note, g.schedule = r.schedule, g.strategy = r.strategy, g.lr = r.lr, g.optimizer = r.optimizer;
        g.all.push_back(&r);
        if (finished(r)) g.done.push_back(&r);
        if (r.status == "completed" && r.summary) g.ok.push_back(&r);
      }
      if (!g.all.empty()) groups.push_back(std::move(g));
    }
  return groups;
}

std::vector<int> stage_counts(const std::vector<Group>& groups) {
  std::vector<int> out;
  for (const auto& g : groups)
    if (std::find(out.begin(), out.end(), g.stages) == out.end()) out.push_back(g.stages);
  return out;
}

// Mean over the group's completed cells of a per-stage figure.
std::optional<double> stage_mean(const Group& g, int k, std::optional<double> (*get)(const StageSummary&)) {
  double sum = 0;
  int n = 0;
  for (const auto* r : g.ok) {
    if (k >= static_cast<int>(r->summary->per_stage.size())) continue;
    const auto v = get(r->summary->per_stage[k]);
    if (v && std::isfinite(*v)) sum += *v, ++n;
  }
  return n ? std::optional<double>(sum / n) : std::nullopt;
}

std::string runs_text(const Group& g) {
  std::string s = std::to_string(g.ok.size()) + "/" + std::to_string(g.all.size());
  int diverged = 0, failed = 0;
  for (const auto* r : g.all) diverged += r->status == "diverged", failed += r->status == "failed";
  if (diverged) s += ", " + std::to_string(diverged) + " diverged";
  if (failed) s += ", " + std::to_string(failed) + " failed";
  const int missing = static_cast<int>(g.all.size() - g.done.size()) - failed;
  if (missing > 0) s += ", " + std::to_string(missing) + " missing";
  return s;
}

std::string lr_text(const Group& g) { return g.optimizer + " " + fmt(g.lr, g.lr < 0.001 ? 5 : g.lr < 0.01 ? 4 : 3); }


bool synchronous_schedule(const std::string& schedule) {
  return schedule == "1f1b-flush" || schedule == "gpipe" || schedule == "sequential" || schedule == "data-parallel";
}
// Which synchronous configuration is the reference when several are there: 1F1B-flush first.
int sync_rank(const std::string& schedule) {
  return schedule == "1f1b-flush" ? 0 : schedule == "gpipe" ? 1 : schedule == "sequential" ? 2 : 3;
}

std::vector<std::pair<std::uint64_t, double>> accuracies(const Group& g) {
  std::vector<std::pair<std::uint64_t, double>> out;
  for (const auto* r : g.ok)
    if (r->summary->test_accuracy && std::isfinite(*r->summary->test_accuracy))
      out.emplace_back(r->seed, *r->summary->test_accuracy);
  return out;
}

// What section (e) and sweep_stats.csv say about one group.
struct GroupStats {
  const Group* g = nullptr;
  const Group* latest = nullptr;  // 1f1b-async + latest, same stages, optimizer and lr
  const Group* sync = nullptr;    // a synchronous schedule, same stages, optimizer and lr
  MeanInterval acc, vs_latest, vs_sync, gap;
  ShareInterval share;
  int diverged = 0;
  int copies0 = 0, claim0 = 0;  // stage 0: peak copies over seeds, the papers' claim
  std::int64_t bytes = 0;       // sum over stages of the peak weight bytes
  double bytes_vs_sync = std::nan("");
  std::optional<double> gain;   // prediction gain, mean over the stages that measured one
};

std::vector<GroupStats> group_stats(const std::vector<Group>& groups) {
  auto same_setting = [](const Group& a, const Group& b) {
    return a.stages == b.stages && a.optimizer == b.optimizer && std::fabs(a.lr - b.lr) <= 1e-12 * std::max(1.0, a.lr);
  };
  auto weight_bytes = [](const Group& g) {
    std::int64_t total = 0;
    for (int k = 0; k < g.stages; ++k) {
      std::int64_t peak = 0;
      for (const auto* r : g.done)
        if (r->summary && k < static_cast<int>(r->summary->per_stage.size()))
          peak = std::max(peak, r->summary->per_stage[k].weight_bytes_max);
      total += peak;
    }
    return total;
  };
  std::vector<GroupStats> out;
  for (const auto& g : groups) {
    GroupStats st;
    st.g = &g;
    for (const auto& other : groups) {
      if (!same_setting(g, other) || other.ok.empty()) continue;
      if (other.schedule == "1f1b-async" && other.strategy == "latest" && !st.latest) st.latest = &other;
      if (synchronous_schedule(other.schedule) &&
          (!st.sync || sync_rank(other.schedule) < sync_rank(st.sync->schedule) ||
           (sync_rank(other.schedule) == sync_rank(st.sync->schedule) && other.ok.size() > st.sync->ok.size())))
        st.sync = &other;
    }
    const auto acc = accuracies(g);
    std::vector<double> values;
    for (const auto& a : acc) values.push_back(a.second);
    st.acc = mean_interval(values);
    for (const auto* r : g.all) st.diverged += r->status == "diverged";
    if (st.latest) st.vs_latest = mean_interval(paired_differences(acc, accuracies(*st.latest)));
    if (st.sync) st.vs_sync = mean_interval(paired_differences(acc, accuracies(*st.sync)));
    if (st.latest && st.sync) {
      // The seeds where the strategy, latest and sync all have an accuracy.
      const auto lat = accuracies(*st.latest), syn = accuracies(*st.sync);
      std::vector<double> x, gap;
      for (const auto& [seed, a] : acc) {
        const auto l = std::find_if(lat.begin(), lat.end(), [&](const auto& p) { return p.first == seed; });
        const auto y = std::find_if(syn.begin(), syn.end(), [&](const auto& p) { return p.first == seed; });
        if (l == lat.end() || y == syn.end()) continue;
        x.push_back(a - l->second);
        gap.push_back(y->second - l->second);
      }
      st.gap = mean_interval(gap);
      st.share = gap_share(x, gap);
    }
    for (const auto* r : g.done)
      if (r->summary && !r->summary->per_stage.empty())
        st.copies0 = std::max(st.copies0, r->summary->per_stage[0].weight_copies_max);
    st.claim0 = claimed_weight_copies(g.schedule, g.strategy, g.stages, 0).copies;
    st.bytes = weight_bytes(g);
    if (st.sync) {
      const std::int64_t ref = weight_bytes(*st.sync);
      if (ref > 0 && st.bytes > 0) st.bytes_vs_sync = static_cast<double>(st.bytes) / static_cast<double>(ref);
    }
    double gain_sum = 0;
    int gain_n = 0;
    for (int k = 0; k < g.stages; ++k)
      if (const auto v = stage_mean(g, k, [](const StageSummary& s) { return s.prediction_gain_mean; }))
        gain_sum += *v, ++gain_n;
    if (gain_n) st.gain = gain_sum / gain_n;
    out.push_back(st);
  }
  return out;
}

std::string signed_fmt(double v, int decimals) { return (v >= 0 ? "+" : "") + fmt(v, decimals); }

// "-0.2170 [-0.2360, -0.1980] **sig.**": a paired difference, its 95% interval and whether it excludes 0.
std::string difference_text(const MeanInterval& d) {
  if (d.n == 0) return "—";
  if (d.n < 2) return signed_fmt(d.mean, 4) + " (1 seed)";
  return signed_fmt(d.mean, 4) + " [" + signed_fmt(d.lo, 4) + ", " + signed_fmt(d.hi, 4) + "] " +
         (d.significant() ? "**sig.**" : "n.s.");
}

std::string share_text(const GroupStats& st) {
  if (!st.latest || !st.sync) return "—";
  if (st.g == st.latest) return "0 (reference)";
  if (st.g == st.sync) return "1 (reference)";
  if (st.share.n < 2) return "—";
  if (!st.share.defined) return "no gap (n.s.)";
  return fmt(100 * st.share.share, 0) + "% [" + fmt(100 * st.share.lo, 0) + ", " + fmt(100 * st.share.hi, 0) + "]";
}

}  // namespace

std::string mean_std_text(const std::vector<double>& values, int decimals) {
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  if (v.empty()) return "—";
  double mean = 0;
  for (double x : v) mean += x;
  mean /= v.size();
  if (v.size() == 1) return fmt(mean, decimals);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return fmt(mean, decimals) + " ± " + fmt(std::sqrt(ss / (v.size() - 1)), decimals);
}

namespace {

// Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz), as in Numerical
// Recipes' betacf: converges fast for x < (a + 1) / (a + b + 2); the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)
// covers the rest.
double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return h;
}

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_cf(a, b, x) / a;
  return 1 - front * beta_cf(b, a, 1 - x) / b;
}

// P(T <= t), T ~ Student t with df degrees of freedom.
double student_t_cdf(double t, int df) {
  const double nu = df;
  const double tail = 0.5 * incomplete_beta(nu / 2, 0.5, nu / (nu + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

}  // namespace

double student_t_quantile(double p, int df) {
  if (df < 1 || !(p > 0 && p < 1)) return std::nan("");
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p && hi < 1e12) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, hi); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

MeanInterval mean_interval(const std::vector<double>& values, double level) {
  MeanInterval m;
  std::vector<double> v;
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  m.n = static_cast<int>(v.size());
  if (v.empty()) {
    m.mean = m.sd = m.lo = m.hi = std::nan("");
    return m;
  }
  for (double x : v) m.mean += x;
  m.mean /= m.n;
  if (m.n < 2) {
    m.sd = m.lo = m.hi = std::nan("");
    return m;
  }
  double ss = 0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.sd = std::sqrt(ss / (m.n - 1));
  const double half = student_t_quantile(0.5 + level / 2, m.n - 1) * m.sd / std::sqrt(static_cast<double>(m.n));
  m.lo = m.mean - half;
  m.hi = m.mean + half;
  return m;
}

std::vector<double> paired_differences(const std::vector<std::pair<std::uint64_t, double>>& a,
                                       const std::vector<std::pair<std::uint64_t, double>>& b) {
  std::vector<double> out;
  for (const auto& [seed, x] : a) {
    if (!std::isfinite(x)) continue;
    for (const auto& [seed_b, y] : b)
      if (seed_b == seed && std::isfinite(y)) {
        out.push_back(x - y);
        break;
      }
  }
  return out;
}

ShareInterval gap_share(const std::vector<double>& x, const std::vector<double>& g, double level) {
  ShareInterval r;
  const std::size_t n = std::min(x.size(), g.size());
  r.n = static_cast<int>(n);
  if (n < 2) return r;
  const std::vector<double> xs(x.begin(), x.begin() + n), gs(g.begin(), g.begin() + n);
  const MeanInterval gap = mean_interval(gs, level);
  const MeanInterval mx = mean_interval(xs, level);
  if (!gap.significant()) return r;
  double cov = 0;
  for (std::size_t i = 0; i < n; ++i) cov += (xs[i] - mx.mean) * (gs[i] - gap.mean);
  cov /= static_cast<double>(n - 1);
  r.share = mx.mean / gap.mean;
  const double var = (mx.sd * mx.sd - 2 * r.share * cov + r.share * r.share * gap.sd * gap.sd) /
                     (static_cast<double>(n) * gap.mean * gap.mean);
  const double half = student_t_quantile(0.5 + level / 2, r.n - 1) * std::sqrt(std::max(0.0, var));
  r.lo = r.share - half;
  r.hi = r.share + half;
  r.defined = true;
  return r;
}

SweepResult sweep_result_for(const SweepCell& cell, const SweepGrid& grid, const std::string& run_dir) {
  SweepResult r;
  r.id = cell.id;
  r.label = cell.label;
  r.note = cell.run_index < grid.runs.size() ? grid.runs[cell.run_index].note : "";
  r.schedule = cell.config.schedule;
  r.strategy = cell.config.strategy.name;
  r.optimizer = cell.config.optimizer.name;
  r.stages = cell.stages;
  r.seed = cell.seed;
  r.lr = cell.config.optimizer.lr;
  r.status = "missing";
  r.run_dir = run_dir;
  return r;
}

std::string sweep_csv_header() {
  return "id,label,schedule,strategy,optimizer,lr,stages,seed,status,test_accuracy,test_loss,final_train_loss,"
         "steps,samples,samples_per_second,wall_seconds,bubble_measured,bubble_ideal,weight_copies_max,"
         "weight_bytes_max,run_dir,error";
}

std::string sweep_csv(const std::vector<SweepResult>& results) {
  std::string out = sweep_csv_header() + "\n";
  for (const auto& r : results) {
    std::ostringstream row;
    row << csv(r.id) << ',' << csv(r.label) << ',' << csv(r.schedule) << ',' << csv(r.strategy) << ','
        << csv(r.optimizer) << ',' << fmt(r.lr, 6) << ',' << r.stages << ',' << r.seed << ',' << r.status << ',';
    if (r.summary) {
      const RunSummary& s = *r.summary;
      int copies = 0;
      std::int64_t bytes = 0;
      for (const auto& st : s.per_stage) copies = std::max(copies, st.weight_copies_max), bytes = std::max(bytes, st.weight_bytes_max);
      row << opt(s.test_accuracy, 5) << ',' << opt(s.test_loss, 5) << ',' << fmt(s.final_train_loss, 5) << ','
          << s.steps << ',' << s.samples << ',' << fmt(s.samples_per_second, 1) << ',' << fmt(s.wall_seconds, 2) << ','
          << fmt(s.bubble_fraction_measured, 4) << ',' << fmt(s.bubble_fraction_ideal, 4) << ',' << copies << ','
          << bytes << ',';
    } else {
      row << ",,,,,,,,,,,";
    }
    row << csv(r.run_dir) << ',' << csv(r.error);
    out += row.str() + "\n";
  }
  return out;
}

std::string sweep_stages_csv_header() {
  return "id,label,schedule,strategy,stages,seed,status,stage,first_layer,last_layer,params,utilization,"
         "staleness_forward,staleness_backward,inconsistency,divergence,prediction_gain,weight_copies_max,"
         "weight_copies_claimed,weight_bytes_max";
}

std::string sweep_stages_csv(const std::vector<SweepResult>& results) {
  std::string out = sweep_stages_csv_header() + "\n";
  for (const auto& r : results) {
    if (!r.summary) continue;
    for (const auto& st : r.summary->per_stage) {
      std::ostringstream row;
      row << csv(r.id) << ',' << csv(r.label) << ',' << csv(r.schedule) << ',' << csv(r.strategy) << ',' << r.stages
          << ',' << r.seed << ',' << r.status << ',' << st.stage << ',' << st.first_layer << ',' << st.last_layer << ','
          << st.params << ',' << fmt(st.utilization, 3) << ',' << opt(st.staleness_forward_mean, 3) << ','
          << opt(st.staleness_backward_mean, 3) << ',' << opt(st.inconsistency_mean, 3) << ','
          << opt(st.divergence_mean, 6) << ',' << opt(st.prediction_gain_mean, 4) << ',' << st.weight_copies_max
          << ',' << claimed_weight_copies(r.schedule, r.strategy, r.stages, st.stage).copies << ','
          << st.weight_bytes_max;
      out += row.str() + "\n";
    }
  }
  return out;
}

// STRATEGIES.md section 2: synchronous schedules hold one version; section 3, "extra memory per stage"
// (copies below count the live weights too), with the strategy catalogue's caveat for vertical sync.
WeightClaim claimed_weight_copies(const std::string& schedule, const std::string& strategy, int S, int k) {
  if (schedule != "1f1b-async" && schedule != "nf1b") return {"1 (synchronous: one version)", 1};
  if (strategy == "latest") return {"1 (live only)", 1};
  if (strategy == "v-timeprest") return {"1 (no stash; V-TiMePReSt)", 1};
  if (strategy == "stash") return {"S-k (PipeDream: stage 0 holds S)", S - k};
  if (strategy == "vertical-sync") return {"S at k=0, S+1 after (catalogue caveat)", k == 0 ? S : S + 1};
  if (strategy == "2bw") return {"2 (PipeDream-2BW: two buffers)", 2};
  if (strategy == "i-timeprest") return {"S-k+1 (stash + 1 temporary)", S - k + 1};
  if (strategy == "pipemare") return {"2 (live + delta buffer)", 2};
  if (strategy == "spectrain" || strategy == "nesterov" || strategy == "adam-predict")
    return {"2 (live + 1 predicted copy)", 2};
  return {"?", 0};
}

std::string sweep_markdown(const SweepGrid& grid, const std::vector<SweepResult>& results, const std::string& command) {
  const auto groups = group(results);
  const auto counts = stage_counts(groups);
  std::ostringstream o;
  o << "# Sweep " << md(grid.name.empty() ? grid.source : grid.name) << "\n\n";
  if (!grid.description.empty()) o << md(grid.description) << "\n\n";
  o << "Command: `" << command << "`  \nGrid: `" << grid.source << "`, base preset `" << grid.base << "`";
  if (!grid.set.empty()) {
    o << ", every cell with";
    for (const auto& s : grid.set) o << " `" << s << "`";
  }
  o << ".\n\n";

  std::vector<const SweepResult*> missing, failed;
  int done = 0;
  for (const auto& r : results) {
    if (finished(r)) ++done;
    else if (r.status == "failed") failed.push_back(&r);
    else missing.push_back(&r);
  }
  o << "Cells: " << results.size() << " planned, " << done << " finished (completed or diverged), " << failed.size()
    << " failed, " << missing.size() << " missing.\n\n";
  if (!missing.empty()) {
    o << "**Missing cells (not run or not finished):**";
    for (const auto* r : missing) o << " `" << r->id << "`";
    o << "\n\n";
  }
  for (const auto* r : failed) o << "- failed: `" << r->id << "`: " << md(r->error) << "\n";
  if (!failed.empty()) o << "\n";

  // Runs with their overrides.
  o << "Configurations (each cell: base preset, grid `set`, stages, seed, then the run's `set`):\n\n"
    << "| label | overrides | note |\n|---|---|---|\n";
  for (const auto& run : grid.runs) {
    std::string sets;
    for (const auto& s : run.set) sets += (sets.empty() ? "" : " ") + ("`" + s + "`");
    if (!run.stages.empty()) {
      sets += " stages:";
      for (int s : run.stages) sets += " " + std::to_string(s);
    }
    o << "| " << md(run.label) << " | " << md(sets) << " | " << md(run.note) << " |\n";
  }
  o << "\n";

  // (a)
  o << "## (a) Test accuracy and final training loss (mean ± std over seeds)\n\n"
       "`runs` = completed/planned cells; a diverged cell counts in neither mean.\n\n";
  for (int S : counts) {
    o << "### " << S << (S == 1 ? " stage" : " stages") << "\n\n"
      << "| configuration | schedule | strategy | optimizer, lr | runs | test accuracy | test loss | final train loss |\n"
      << "|---|---|---|---|---|---|---|---|\n";
    for (const auto& g : groups) {
      if (g.stages != S) continue;
      std::vector<double> acc, tl, fl;
      for (const auto* r : g.ok) {
        if (r->summary->test_accuracy) acc.push_back(*r->summary->test_accuracy);
        if (r->summary->test_loss) tl.push_back(*r->summary->test_loss);
        fl.push_back(r->summary->final_train_loss);
      }
      o << "| " << md(g.label) << " | " << g.schedule << " | " << g.strategy << " | " << lr_text(g) << " | "
        << runs_text(g) << " | " << mean_std_text(acc, 4) << " | " << mean_std_text(tl, 4) << " | "
        << mean_std_text(fl, 4) << " |\n";
    }
    o << "\n";
  }

  // (b)
  o << "## (b) Per stage: staleness, divergence, prediction gain (means over the completed seeds)\n\n"
       "Staleness d = target - basis version, forward/backward (STRATEGIES.md section 1); divergence = "
       "||W_used - W_target|| / ||W_target|| (sampled every few minibatches); gain = ||W_live - W_target|| / "
       "||W_used - W_target|| (> 1: the prediction helped; only for predicting strategies). Synchronous "
       "schedules read the staleness-free weights (0, 0, —).\n\n";
  for (int S : counts) {
    if (S < 2) continue;
    o << "### " << S << " stages\n\n| configuration | figure |";
    for (int k = 0; k < S; ++k) o << " stage " << k << " |";
    o << "\n|---|---|";
    for (int k = 0; k < S; ++k) o << "---|";
    o << "\n";
    for (const auto& g : groups) {
      if (g.stages != S || g.ok.empty()) continue;
      // A gain row only where the engine measured one (the predicting strategies).
      bool predicting = false;
      for (int k = 0; k < S; ++k)
        predicting = predicting || stage_mean(g, k, [](const StageSummary& s) { return s.prediction_gain_mean; });
      struct Row { const char* name; std::optional<double> (*get)(const StageSummary&); int decimals; };
      std::vector<Row> rows = {
          {"staleness F/B", nullptr, 2},
          {"divergence", [](const StageSummary& s) { return s.divergence_mean; }, 5},
      };
      if (predicting) rows.push_back({"prediction gain", [](const StageSummary& s) { return s.prediction_gain_mean; }, 3});
      for (const auto& row : rows) {
        o << "| " << md(g.label) << " | " << row.name << " |";
        for (int k = 0; k < S; ++k) {
          if (!row.get) {
            const auto f = stage_mean(g, k, [](const StageSummary& s) { return s.staleness_forward_mean; });
            const auto b = stage_mean(g, k, [](const StageSummary& s) { return s.staleness_backward_mean; });
            o << " " << (f ? fmt(*f, 2) : "—") << "/" << (b ? fmt(*b, 2) : "—") << " |";
          } else {
            const auto v = stage_mean(g, k, row.get);
            o << " " << (v ? fmt(*v, row.decimals) : "—") << " |";
          }
        }
        o << "\n";
      }
    }
    o << "\n";
  }

  // (c)
  o << "## (c) Peak weight memory per stage beside the papers' claims\n\n"
       "Cells: measured peak weight-sized copies (live included) / claimed copies, then the measured peak "
       "weight bytes. Claims from STRATEGIES.md section 3 (\"extra memory per stage\", plus the live "
       "weights): PipeDream's stash holds S-k copies at stage k; TiMePReSt's V- variant none; the "
       "predicting strategies one temporary copy.\n\n";
  for (int S : counts) {
    if (S < 2) continue;
    o << "### " << S << " stages\n\n| configuration | claim |";
    for (int k = 0; k < S; ++k) o << " stage " << k << " |";
    o << "\n|---|---|";
    for (int k = 0; k < S; ++k) o << "---|";
    o << "\n";
    for (const auto& g : groups) {
      if (g.stages != S || g.done.empty()) continue;
      o << "| " << md(g.label) << " | " << md(claimed_weight_copies(g.schedule, g.strategy, S, 0).formula) << " |";
      for (int k = 0; k < S; ++k) {
        int copies = 0;
        std::int64_t bytes = 0;
        bool any = false;
        for (const auto* r : g.done) {
          if (!r->summary || k >= static_cast<int>(r->summary->per_stage.size())) continue;
          any = true;
          copies = std::max(copies, r->summary->per_stage[k].weight_copies_max);
          bytes = std::max(bytes, r->summary->per_stage[k].weight_bytes_max);
        }
        const int claim = claimed_weight_copies(g.schedule, g.strategy, S, k).copies;
        if (!any) {
          o << " — |";
          continue;
        }
        const std::string kb = bytes >= 1 << 20 ? fmt(bytes / 1048576.0, 2) + " MB"
                               : bytes >= 1024 ? fmt(bytes / 1024.0, 0) + " KB" : std::to_string(bytes) + " B";
        o << " " << copies << "/" << claim << (copies > claim ? " **over**" : "") << " · " << kb << " |";
      }
      o << "\n";
    }
    o << "\n";
  }

  // (d)
  o << "## (d) Throughput and bubble fraction\n\n"
       "Samples per second over the whole run (mean ± std over seeds) and the bubble fraction measured "
       "(idle share of the pipeline's busy span) beside the ideal schedule's (S-1)/(M+S-1) for flushing "
       "schedules, 0 for async 1F1B in steady state.\n\n"
       "| stages | configuration | schedule | samples/s | wall s | bubble measured | bubble ideal |\n"
       "|---|---|---|---|---|---|---|\n";
  for (const auto& g : groups) {
    if (g.done.empty()) continue;
    std::vector<double> sps, wall, bm, bi;
    for (const auto* r : g.done) {
      if (!r->summary) continue;
      sps.push_back(r->summary->samples_per_second);
      wall.push_back(r->summary->wall_seconds);
      bm.push_back(r->summary->bubble_fraction_measured);
      bi.push_back(r->summary->bubble_fraction_ideal);
    }
    o << "| " << g.stages << " | " << md(g.label) << " | " << g.schedule << " | " << mean_std_text(sps, 0) << " | "
      << mean_std_text(wall, 1) << " | " << mean_std_text(bm, 3) << " | " << mean_std_text(bi, 3) << " |\n";
  }
  o << "\n";

  // (e)
  const auto stats = group_stats(groups);
  o << "## (e) Intervals, paired differences and the share of the gap recovered\n\n"
       "Test accuracy over the completed seeds: mean, sample standard deviation and the 95% Student-t interval of "
       "the mean (n-1 degrees of freedom). Differences are paired by seed (same seed, same data order and "
       "initial weights) against the `latest` reference (1f1b-async + latest) and the synchronous reference "
       "(1F1B-flush, else GPipe, sequential, data parallelism) of the same stage count, optimizer and learning "
       "rate: mean [95% t-interval]; **sig.** when the interval excludes 0, n.s. when it does not. The share of "
       "the latest-to-synchronous gap a configuration recovers is mean(x - latest) / mean(sync - latest) over "
       "the seeds where all three completed, with a delta-method 95% interval; \"no gap\" when the gap's own "
       "interval includes 0. Diverged cells have no accuracy and are left out of every figure here (the "
       "`runs` column of (a) counts them). Weight memory: peak copies at stage 0 (measured/claimed) and the "
       "peak weight bytes summed over the stages, as a multiple of the synchronous reference's. Gain: the "
       "prediction gain averaged over the stages that measured one.\n\n";
  for (int S : counts) {
    o << "### " << S << (S == 1 ? " stage" : " stages") << "\n\n"
      << "| configuration | optimizer, lr | n | test accuracy | sd | 95% interval | − latest | − sync | gap recovered "
         "| copies at stage 0 | weight memory | gain |\n"
      << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& st : stats) {
      const Group& g = *st.g;
      if (g.stages != S) continue;
      const bool one = st.acc.n < 2;
      o << "| " << md(g.label) << " | " << lr_text(g) << " | " << st.acc.n << (st.diverged ? " (+" + std::to_string(st.diverged) + " diverged)" : "")
        << " | " << (st.acc.n ? fmt(st.acc.mean, 4) : "—") << " | " << (one ? "—" : fmt(st.acc.sd, 4)) << " | "
        << (one ? "—" : "[" + fmt(st.acc.lo, 4) + ", " + fmt(st.acc.hi, 4) + "]") << " | "
        << (st.g == st.latest ? "reference" : st.latest ? difference_text(st.vs_latest) : "—") << " | "
        << (st.g == st.sync ? "reference" : st.sync ? difference_text(st.vs_sync) : "—") << " | " << share_text(st)
        << " | " << (st.copies0 ? std::to_string(st.copies0) + "/" + std::to_string(st.claim0) : "—") << " | "
        << (std::isfinite(st.bytes_vs_sync) ? fmt(st.bytes_vs_sync, 2) + "x" : "—") << " | "
        << (st.gain ? fmt(*st.gain, 2) : "—") << " |\n";
    }
    o << "\n";
  }
  return o.str();
}

std::string sweep_stats_csv_header() {
  return "stages,label,schedule,strategy,optimizer,lr,n,diverged,acc_mean,acc_sd,acc_lo,acc_hi,latest_ref,"
         "n_latest,d_latest,d_latest_lo,d_latest_hi,sig_latest,sync_ref,n_sync,d_sync,d_sync_lo,d_sync_hi,sig_sync,"
         "n_gap,gap,gap_lo,gap_hi,share,share_lo,share_hi,copies_stage0,claimed_stage0,weight_bytes,"
         "weight_bytes_vs_sync,prediction_gain";
}

std::string sweep_stats_csv(const std::vector<SweepResult>& results) {
  const auto groups = group(results);
  const auto stats = group_stats(groups);
  auto num = [](double v, int decimals) { return std::isfinite(v) ? fmt(v, decimals) : std::string(); };
  auto interval = [&](const MeanInterval& m) {
    return std::to_string(m.n) + "," + (m.n ? num(m.mean, 6) : "") + "," + (m.n > 1 ? num(m.lo, 6) : "") + "," +
           (m.n > 1 ? num(m.hi, 6) : "") + "," + (m.n > 1 ? (m.significant() ? "yes" : "no") : "");
  };
  std::string out = sweep_stats_csv_header() + "\n";
  for (const auto& st : stats) {
    const Group& g = *st.g;
    std::ostringstream row;
    row << g.stages << ',' << csv(g.label) << ',' << csv(g.schedule) << ',' << csv(g.strategy) << ',' << csv(g.optimizer)
        << ',' << fmt(g.lr, 6) << ',' << st.acc.n << ',' << st.diverged << ',' << (st.acc.n ? num(st.acc.mean, 6) : "")
        << ',' << (st.acc.n > 1 ? num(st.acc.sd, 6) : "") << ',' << (st.acc.n > 1 ? num(st.acc.lo, 6) : "") << ','
        << (st.acc.n > 1 ? num(st.acc.hi, 6) : "") << ',';
    row << (st.latest ? csv(st.latest->label) : "") << ',' << (st.latest ? interval(st.vs_latest) : ",,,,") << ',';
    row << (st.sync ? csv(st.sync->label) : "") << ',' << (st.sync ? interval(st.vs_sync) : ",,,,") << ',';
    row << st.gap.n << ',' << (st.gap.n ? num(st.gap.mean, 6) : "") << ',' << (st.gap.n > 1 ? num(st.gap.lo, 6) : "")
        << ',' << (st.gap.n > 1 ? num(st.gap.hi, 6) : "") << ',';
    row << (st.share.defined ? num(st.share.share, 6) : "") << ',' << (st.share.defined ? num(st.share.lo, 6) : "")
        << ',' << (st.share.defined ? num(st.share.hi, 6) : "") << ',';
    row << st.copies0 << ',' << st.claim0 << ',' << st.bytes << ',' << num(st.bytes_vs_sync, 4) << ','
        << (st.gain ? num(*st.gain, 4) : "");
    out += row.str() + "\n";
  }
  return out;
}

}  // namespace ps
