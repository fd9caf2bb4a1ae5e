// The session's side of the processes executor: joining the ranks, and what a rank other than 0 sends
// rank 0 (its op and transfer events, the last stage's results, its chunks' figures). Rank 0 feeds them
// to the same collector a threaded run uses, so the outputs do not know how the run was executed.
#include "engine/session/session_impl.h"
#include "engine/util/errors.h"

namespace ps {

void Session::Impl::join_ranks() {
  if (replicas)
    throw InputError(cfg.source, "executor", "the data-parallel schedules do not run as processes yet (use threaded)");
  if (!opts.checkpoint_path.empty() || !opts.resume_path.empty())
    throw InputError(cfg.source, "executor", "checkpoints of a multi-process run are not supported yet (use threaded)");
  if (!opts.dist.active())
    throw InputError(cfg.source, "executor",
                     "processes needs its ranks: `pipescope-cli run` starts them on this host, torchrun across hosts "
                     "(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(cfg.processes_timeout_seconds * 1000));
  dist = std::make_unique<dist::RankContext>(opts.dist, cfg, timeout, [this] { control.stop(); });
  if (dist->rank() != 0) {  // rank 0 writes the outputs
    opts.out_dir.clear();
    opts.trace_path.clear();
  }
}

dist::ChunkFigures chunk_figures(const Pipeline& p, int k) {
  const StageRuntime& st = p.stage(k);
  const LinkFigures l = p.link_figures(k);
  return {k, st.weight_copies_max(), st.busy_ns(), st.weight_bytes_max(), st.activation_bytes_max(),
          l.wait_ns, l.bytes_sent, l.messages_sent};
}

static std::vector<dist::ChunkFigures> local_figures(const Pipeline& p, const dist::RankContext& ctx) {
  std::vector<dist::ChunkFigures> out;
  for (int k = 0; k < p.num_stages(); ++k)
    if (ctx.here(k)) out.push_back(chunk_figures(p, k));
  return out;
}

void Session::Impl::forward_telemetry(std::vector<OpEvent>& ops, std::vector<TransferEvent>& transfers) {
  dist::TelemetryPacket p;
  p.origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(origin.time_since_epoch()).count();
  p.ops.swap(ops);
  p.transfers.swap(transfers);
  {
    std::lock_guard<std::mutex> lock(results_mu);
    p.results.swap(results);
  }
  p.figures = local_figures(*pipeline, *dist);
  if (p.ops.empty() && p.transfers.empty() && p.results.empty() && collections % 20 != 0) return;  // figures now and then
  dist->send_telemetry(p);
}

dist::TelemetryPacket Session::Impl::final_packet() {
  dist::TelemetryPacket p;
  p.origin_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(origin.time_since_epoch()).count();
  p.figures = local_figures(*pipeline, *dist);
  std::lock_guard<std::mutex> lock(mu);
  p.status = static_cast<std::int32_t>(status);
  p.error = error;
  return p;
}

}  // namespace ps
