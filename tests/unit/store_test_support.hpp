#pragma once
// Helpers shared by the store tests: a temporary directory that removes itself, and builders for
// canonical events and actions that satisfy schemas/event.schema.json and action.schema.json.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "closeloop/engine.hpp"
#include "closeloop/model.hpp"
#include "closeloop/store.hpp"

namespace store_test {

using namespace closeloop;

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "closeloop-store-XXXXXX").string();
    if (char* p = ::mkdtemp(tmpl.data())) path_ = p;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<store> open_store(const std::string& path) {
  auto s = store::open(store_options{path});
  if (!s) FAIL("open failed: " << s.err().message);
  return std::move(*s);
}

inline timestamp at(std::int64_t seconds_after_epoch) {
  // 2026-11-22T00:00:00Z plus an offset: a fixed, readable base for every test.
  return timestamp{std::chrono::milliseconds{1795305600000LL + seconds_after_epoch * 1000}};
}

inline event make_event(const std::string& ticket, const std::string& host_event_id,
                        event_type type = event_type::ticket_commented) {
  event ev;
  ev.type = type;
  ev.tenant = "acme";
  ev.host = "zendesk";
  ev.ticket_id = ticket;
  ev.host_event_id = host_event_id;
  ev.occurred_at = at(0);
  ev.text = "text of " + host_event_id;
  if (type == event_type::ticket_commented) ev.visibility = "public";
  return ev;
}

inline action make_action(const event& ev, action_type type, const std::string& key, json params) {
  action a;
  a.type = type;
  a.idempotency_key = key;
  a.tenant = ev.tenant;
  a.host = ev.host;
  a.ticket_id = ev.ticket_id;
  a.caused_by = ev.host_event_id;
  a.params = std::move(params);
  return a;
}

// What the worker does with due timers: each becomes a timer.fired event "timer:<id>".
inline std::vector<event> due_timer_events(store& db, timestamp now) {
  std::vector<event> out;
  auto due = db.due_timers(now, 1000);
  REQUIRE(due);
  for (const auto& t : *due) {
    event ev;
    ev.type = event_type::timer_fired;
    ev.tenant = t.tenant;
    ev.host = t.host;
    ev.ticket_id = t.ticket_id;
    ev.host_event_id = "timer:" + std::to_string(t.id);
    ev.occurred_at = t.due_at;
    ev.data = {{"kind", t.kind}, {"timer_id", t.id}};
    out.push_back(std::move(ev));
  }
  return out;
}

// An internal note due at at(0), so outbox tests do not depend on the wall clock.
inline action note(const event& ev, const std::string& key) {
  action a = make_action(ev, action_type::add_internal_note, key, {{"body", "note for " + ev.host_event_id}});
  a.not_before = at(0);
  return a;
}

// A decide that counts its calls, bumps a per-ticket counter (solve_count) and emits one note
// keyed by the event: enough to check that state and outbox move together with the event.
struct counting_decide {
  std::atomic<int>* calls;
  decision operator()(const event& ev, const ticket_state& s) const {
    calls->fetch_add(1);
    decision d;
    d.next = s;
    d.next.known = true;
    d.next.solve_count = s.solve_count + 1;
    d.actions.push_back(note(ev, ev.host_event_id + "/note"));
    d.log.push_back("counted " + ev.host_event_id);
    return d;
  }
};

}  // namespace store_test
