#pragma once
// Building actions inside the engine (engine.cpp and plugin/src/survey/): idempotency keys are
// derived from the cause, so a redelivered or replayed event can never produce a second copy.
#include <string>
#include <string_view>

#include "closeloop/model.hpp"

namespace closeloop::engine_detail {

// Per event: tenant/host/ticket/host_event_id/what.
inline std::string key_for(const event& ev, std::string_view what) {
  return ev.tenant + "/" + ev.host + "/" + ev.ticket_id + "/" + ev.host_event_id + "/" + std::string(what);
}

// Per ticket, for things that may happen at most once per ticket (a survey invitation).
inline std::string ticket_key(const event& ev, std::string_view what) {
  return ev.tenant + "/" + ev.host + "/" + ev.ticket_id + "/" + std::string(what);
}

inline action make_action(const event& ev, action_type t, std::string key, json params, bool immediate) {
  action a;
  a.type = t;
  a.idempotency_key = std::move(key);
  a.tenant = ev.tenant;
  a.host = ev.host;
  a.ticket_id = ev.ticket_id;
  a.caused_by = ev.host_event_id;
  a.immediate = immediate;
  a.params = std::move(params);
  return a;
}

}  // namespace closeloop::engine_detail
