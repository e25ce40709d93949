#include "server/retention.hpp"

#include <spdlog/spdlog.h>

#include "server/services.hpp"

namespace closeloop::server {

std::int64_t retention_purge::run_if_due(services& svc) {
  const privacy_config& pc = svc.cfg().privacy;
  if (pc.events_days <= 0 && pc.texts_days <= 0 && pc.survey_answers_days <= 0) return 0;
  std::unique_lock lk(mu_, std::try_to_lock);
  if (!lk.owns_lock()) return 0;
  const timestamp now = svc.clk().now();
  if (now < next_) return 0;
  next_ = now + std::chrono::duration_cast<std::chrono::milliseconds>(pc.purge_interval);
  if (!ps_) {
    auto ps = privacy_store::open(svc.cfg().store.path);
    if (!ps) {
      spdlog::error("retention purge: {}", ps.err().message);
      return 0;
    }
    ps_ = std::move(*ps);
  }
  retention_policy p{pc.events_days, pc.texts_days, pc.survey_answers_days, pc.purge_batch, 20};
  auto r = ps_->purge(p, now);
  if (!r) {
    spdlog::error("retention purge: {}", r.err().message);
    return 0;
  }
  // Work left over (a large backlog) is picked up at the next loop rather than the next interval.
  if (r->more) next_ = now;
  if (r->total() > 0)
    spdlog::info("retention purge: {} event(s), {} action(s), {} timer(s) deleted; texts removed from {} event(s) "
                 "and {} ticket(s); {} survey answer(s) removed{}",
                 r->events_deleted, r->outbox_deleted, r->timers_deleted, r->event_texts_removed,
                 r->state_texts_removed, r->survey_answers_removed, r->more ? " (more to do)" : "");
  return r->total();
}

}  // namespace closeloop::server
