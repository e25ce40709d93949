// closeloop::store, the outbox queue and timers: claiming due actions (per-ticket FIFO), the
// outcome transitions, the deferral of an open circuit's actions, listings, and due timers.
#include "store_impl.hpp"

namespace closeloop {

using namespace store_detail;

result<void> store::impl::transition_result(statement_cache& sc, int changed, std::int64_t id) {
  if (changed > 0) return {};
  auto q = sc.get("SELECT status FROM outbox WHERE id = ?");
  q->bind(1, id);
  if (!q->executeStep()) {
    return make_error(errc::not_found, "store: outbox row " + std::to_string(id) + " not found");
  }
  return make_error(errc::conflict, "store: outbox row " + std::to_string(id) + " is " + q->getColumn(0).getString() +
                                        ", not running");
}

result<std::vector<outbox_item>> store::impl::do_claim(statement_cache& sc, timestamp now, int limit,
                                          std::chrono::milliseconds lease) {
  std::vector<outbox_item> out;
  if (limit <= 0) return out;
  struct row {
    std::int64_t id;
    std::string body;
    int attempts;
    std::string last_error;
  };
  std::vector<row> rows;
  {
    // Per-ticket FIFO: a row waits while an older row of its ticket is running, being retried,
    // or due. An older row that is merely deferred (never attempted, not_before in the future,
    // e.g. a reminder due tomorrow) does not hold back the ticket's later work.
    auto q = sc.get(
        "SELECT o.id, o.body, o.attempts, o.last_error FROM outbox o"
        " WHERE ((o.status = 'pending' AND o.next_attempt_at_ms <= ?1)"
        "     OR (o.status = 'running' AND o.lease_until_ms <= ?1))"
        " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.tenant = o.tenant AND p.host = o.host"
        "     AND p.ticket_id = o.ticket_id AND p.id < o.id"
        "     AND (p.status = 'running' OR (p.status = 'pending'"
        "          AND (p.attempts > 0 OR p.next_attempt_at_ms <= ?1))))"
        " ORDER BY o.next_attempt_at_ms, o.id LIMIT ?2");
    q->bind(1, to_ms(now));
    q->bind(2, limit);
    while (q->executeStep()) {
      rows.push_back(row{q->getColumn(0).getInt64(), q->getColumn(1).getString(), q->getColumn(2).getInt(),
                         q->getColumn(3).getString()});
    }
  }
  for (row& r : rows) {
    result<action> act = make_error(errc::internal, "unparsed");
    try {
      act = action_from_json(json::parse(r.body));
    } catch (const json::exception& e) {
      act = make_error(errc::invalid_argument, e.what());
    }
    if (!act) {
      // A body that no longer parses can never be executed: fail it instead of looping on it.
      auto up = sc.get(
          "UPDATE outbox SET status = 'failed', attempts = attempts + 1, lease_until_ms = NULL,"
          " last_error = ?, updated_at_ms = ? WHERE id = ?");
      up->bind(1, "unreadable action body: " + act.err().message);
      up->bind(2, to_ms(now));
      up->bind(3, r.id);
      up->exec();
      continue;
    }
    auto up = sc.get(
        "UPDATE outbox SET status = 'running', attempts = attempts + 1, lease_until_ms = ?,"
        " updated_at_ms = ? WHERE id = ?");
    up->bind(1, to_ms(now + lease));
    up->bind(2, to_ms(now));
    up->bind(3, r.id);
    up->exec();
    outbox_item item;
    item.id = r.id;
    item.act = std::move(*act);
    item.status = outbox_status::running;
    item.attempts = r.attempts + 1;
    item.next_attempt_at = now;
    item.last_error = std::move(r.last_error);
    out.push_back(std::move(item));
  }
  return out;
}

result<std::vector<outbox_item>> store::claim_due(timestamp now, int limit, std::chrono::milliseconds lease) {
  impl* p = p_.get();
  return p->write_sync<std::vector<outbox_item>>(
      [p, now, limit, lease](statement_cache& sc) { return p->do_claim(sc, now, limit, lease); });
}

result<void> store::mark_done(std::int64_t id, timestamp now) {
  return p_->write_sync<void>([id, now](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'done', lease_until_ms = NULL, updated_at_ms = ?"
        " WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(now));
    up->bind(2, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_retry(std::int64_t id, timestamp next_attempt_at, const std::string& err) {
  return p_->write_sync<void>([id, next_attempt_at, err](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'pending', next_attempt_at_ms = ?, lease_until_ms = NULL,"
        " last_error = ?, updated_at_ms = ? WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(next_attempt_at));
    up->bind(2, err);
    up->bind(3, to_ms(wall_now()));
    up->bind(4, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_failed(std::int64_t id, const std::string& err) {
  return finish_running(id, outbox_status::failed, err);
}

result<void> store::mark_cancelled(std::int64_t id, const std::string& why) {
  return finish_running(id, outbox_status::cancelled, why);
}

result<void> store::finish_running(std::int64_t id, outbox_status to, const std::string& why) {
  return p_->write_sync<void>([id, to, why](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = ?, lease_until_ms = NULL, last_error = ?, updated_at_ms = ?"
        " WHERE id = ? AND status = 'running'");
    up->bind(1, std::string(to_string(to)));
    up->bind(2, why);
    up->bind(3, to_ms(wall_now()));
    up->bind(4, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<void> store::mark_deferred(std::int64_t id, timestamp next_attempt_at) {
  return p_->write_sync<void>([id, next_attempt_at](statement_cache& sc) -> result<void> {
    auto up = sc.get(
        "UPDATE outbox SET status = 'pending', next_attempt_at_ms = ?, lease_until_ms = NULL,"
        " attempts = max(attempts - 1, 0), updated_at_ms = ? WHERE id = ? AND status = 'running'");
    up->bind(1, to_ms(next_attempt_at));
    up->bind(2, to_ms(wall_now()));
    up->bind(3, id);
    return impl::transition_result(sc, up->exec(), id);
  });
}

result<std::vector<outbox_item>> store::outbox(std::optional<outbox_status> filter, int limit) {
  return p_->read<std::vector<outbox_item>>("outbox", [&](statement_cache& sc) -> result<std::vector<outbox_item>> {
    std::vector<outbox_item> out;
    auto q = sc.get(
        "SELECT id, body, status, attempts, next_attempt_at_ms, last_error FROM outbox"
        " WHERE (?1 IS NULL OR status = ?1) ORDER BY id LIMIT ?2");
    if (filter) q->bind(1, std::string(to_string(*filter)));
    q->bind(2, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      const std::int64_t id = q->getColumn(0).getInt64();
      auto act = action_from_json(json::parse(q->getColumn(1).getString()));
      if (!act) {
        return make_error(errc::storage,
                          "store: outbox row " + std::to_string(id) + " unreadable: " + act.err().message);
      }
      outbox_item item;
      item.id = id;
      item.act = std::move(*act);
      item.status = outbox_status_from_string(q->getColumn(2).getString()).value_or(outbox_status::failed);
      item.attempts = q->getColumn(3).getInt();
      item.next_attempt_at = from_ms(q->getColumn(4).getInt64());
      item.last_error = q->getColumn(5).getString();
      out.push_back(std::move(item));
    }
    return out;
  });
}

result<std::vector<timer_item>> store::due_timers(timestamp now, int limit) {
  return p_->read<std::vector<timer_item>>("due_timers", [&](statement_cache& sc) -> result<std::vector<timer_item>> {
    std::vector<timer_item> out;
    auto q = sc.get(
        "SELECT id, tenant, host, ticket_id, kind, due_at_ms, payload FROM timers"
        " WHERE status = 'pending' AND due_at_ms <= ? ORDER BY due_at_ms, id LIMIT ?");
    q->bind(1, to_ms(now));
    q->bind(2, limit <= 0 ? -1 : limit);
    while (q->executeStep()) {
      timer_item t;
      t.id = q->getColumn(0).getInt64();
      t.tenant = q->getColumn(1).getString();
      t.host = q->getColumn(2).getString();
      t.ticket_id = q->getColumn(3).getString();
      t.kind = q->getColumn(4).getString();
      t.due_at = from_ms(q->getColumn(5).getInt64());
      t.payload = json::parse(q->getColumn(6).getString());
      out.push_back(std::move(t));
    }
    return out;
  });
}

}  // namespace closeloop
