#include "engine/telemetry/events.h"

namespace ps {

std::string to_string(RunStatus s) {
  switch (s) {
    case RunStatus::Idle:
      return "idle";
    case RunStatus::Running:
      return "running";
    case RunStatus::Paused:
      return "paused";
    case RunStatus::Completed:
      return "completed";
    case RunStatus::Stopped:
      return "stopped";
    case RunStatus::Diverged:
      return "diverged";
    case RunStatus::Failed:
      return "failed";
  }
  return "unknown";
}

}  // namespace ps
