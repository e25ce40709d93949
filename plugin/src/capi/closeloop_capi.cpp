// The C ABI (closeloop.h) over the engine and the store. No exception crosses this boundary.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "closeloop/closeloop.h"
#include "closeloop/config.hpp"
#include "closeloop/engine.hpp"
#include "closeloop/secret_config.hpp"
#include "closeloop/store.hpp"
#include "closeloop/text.hpp"
#include "common/adapter.hpp"

struct closeloop_handle {
  closeloop::config cfg;
  closeloop::system_clock clk;
  std::map<std::string, std::unique_ptr<closeloop::rule_classifier>, std::less<>> classifiers;
  std::map<std::string, std::unique_ptr<closeloop::engine>, std::less<>> engines;
  std::unique_ptr<closeloop::store> db;
  // "tenant/host" -> adapter (translates host payloads, renders immediate actions)
  std::map<std::string, std::unique_ptr<closeloop::adapters::adapter>, std::less<>> adapters;
};

namespace {

char* dup_string(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// What goes back to the host ends up in its log (RT's, through $RT::Logger): error messages and
// decision log lines are PII-scrubbed first (e-mail addresses, phone numbers, cards, ...), as
// closeloop's own log lines are (server/log_scrub.hpp).
closeloop_status fail(char** error, closeloop_status code, const std::string& message) {
  if (error) *error = dup_string(closeloop::scrub_pii(message));
  return code;
}

closeloop::json scrubbed(const std::vector<std::string>& log) {
  closeloop::json out = closeloop::json::array();
  for (const auto& line : log) out.push_back(closeloop::scrub_pii(line));
  return out;
}

closeloop::result<closeloop::ingest_result> ingest_one(closeloop_handle* h, const closeloop::event& ev) {
  auto eng = h->engines.find(ev.tenant);
  if (eng == h->engines.end())
    return closeloop::make_error(closeloop::errc::invalid_argument, "event.tenant: \"" + ev.tenant + "\" is not configured");
  if (!h->cfg.find_tenant(ev.tenant)->find_host(ev.host))
    return closeloop::make_error(closeloop::errc::invalid_argument,
                                 "event.host: \"" + ev.host + "\" is not a host of tenant \"" + ev.tenant + "\"");
  const closeloop::engine* e = eng->second.get();
  const closeloop::clock* clk = &h->clk;
  closeloop::ingest_options opts;
  opts.immediate_applied_by_host = true;  // the host applies immediate actions in this request
  return h->db->ingest(
      ev,
      [e, clk](const closeloop::event& x, const closeloop::ticket_state& s, const closeloop::survey::ledger& l) {
        return e->decide(x, s, *clk, &l);
      },
      opts);
}

closeloop_status ingest_status(const closeloop::error& e) {
  return e.code == closeloop::errc::invalid_argument ? CLOSELOOP_E_INVALID_ARGUMENT : CLOSELOOP_E_STORE;
}

}  // namespace

extern "C" {

int closeloop_abi_version(void) { return CLOSELOOP_ABI_VERSION; }

const char* closeloop_version(void) { return CLOSELOOP_VERSION_STRING; }

const char* closeloop_status_name(closeloop_status s) {
  switch (s) {
    case CLOSELOOP_OK: return "CLOSELOOP_OK";
    case CLOSELOOP_E_INVALID_ARGUMENT: return "CLOSELOOP_E_INVALID_ARGUMENT";
    case CLOSELOOP_E_CONFIG: return "CLOSELOOP_E_CONFIG";
    case CLOSELOOP_E_STORE: return "CLOSELOOP_E_STORE";
    case CLOSELOOP_E_ABI_MISMATCH: return "CLOSELOOP_E_ABI_MISMATCH";
    case CLOSELOOP_E_INTERNAL: return "CLOSELOOP_E_INTERNAL";
  }
  return "CLOSELOOP_E_UNKNOWN";
}

closeloop_status closeloop_open(int abi_version, const char* config_json, closeloop_handle** out, char** error) {
  if (error) *error = nullptr;
  if (!out) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_open: out is NULL");
  *out = nullptr;
  if (abi_version != CLOSELOOP_ABI_VERSION)
    return fail(error, CLOSELOOP_E_ABI_MISMATCH,
                "closeloop_open: caller uses ABI " + std::to_string(abi_version) + ", library provides " +
                    std::to_string(CLOSELOOP_ABI_VERSION));
  if (!config_json) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_open: config_json is NULL");
  try {
    auto cfg = closeloop::parse_config(config_json);
    if (!cfg) return fail(error, CLOSELOOP_E_CONFIG, cfg.err().message);
    if (!cfg->secret_refs.empty()) {  // {"ref": NAME} secrets live sealed in the (migrated) store
      closeloop::store_options so;
      so.path = cfg->store.path;
      if (auto db = closeloop::store::open(so); !db) return fail(error, CLOSELOOP_E_STORE, db.err().message);
      if (auto r = closeloop::resolve_stored_secrets(*cfg); !r) return fail(error, CLOSELOOP_E_CONFIG, r.err().message);
    }
    auto h = std::make_unique<closeloop_handle>();
    h->cfg = std::move(*cfg);
    for (const auto& t : h->cfg.tenants) {
      auto clf = std::make_unique<closeloop::rule_classifier>(t.classifier);
      h->engines.emplace(t.id, std::make_unique<closeloop::engine>(t.pol, *clf));
      h->classifiers.emplace(t.id, std::move(clf));
    }
    closeloop::adapters::adapter_env env;
    env.public_base_url = h->cfg.server.public_base_url;
    env.http_timeout = h->cfg.worker.http_timeout;
    env.signature_tolerance = h->cfg.server.signature_tolerance;
    for (const auto& t : h->cfg.tenants) {
      for (const auto& host : t.hosts) {
        auto ad = closeloop::adapters::make_adapter(t, host, env);
        if (!ad) return fail(error, CLOSELOOP_E_CONFIG, ad.err().message);
        h->adapters.emplace(t.id + "/" + host.id, std::move(*ad));
      }
    }
    closeloop::store_options so;
    so.path = h->cfg.store.path;
    so.max_batch = h->cfg.store.max_batch;
    so.synchronous_full = h->cfg.store.synchronous != "normal";
    auto db = closeloop::store::open(so);
    if (!db) return fail(error, CLOSELOOP_E_STORE, db.err().message);
    h->db = std::move(*db);
    *out = h.release();
    return CLOSELOOP_OK;
  } catch (const std::exception& e) {
    return fail(error, CLOSELOOP_E_INTERNAL, std::string("closeloop_open: ") + e.what());
  } catch (...) {
    return fail(error, CLOSELOOP_E_INTERNAL, "closeloop_open: unknown error");
  }
}

closeloop_status closeloop_on_event(closeloop_handle* h, const char* event_json, char** actions_json, char** error) {
  if (error) *error = nullptr;
  if (actions_json) *actions_json = nullptr;
  if (!h) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_event: handle is NULL");
  if (!event_json) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_event: event_json is NULL");
  if (!actions_json) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_event: actions_json is NULL");
  try {
    auto ev = closeloop::parse_event(event_json);
    if (!ev) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, ev.err().message);
    auto r = ingest_one(h, *ev);
    if (!r) return fail(error, ingest_status(r.err()), r.err().message);
    closeloop::json out = {{"duplicate", r->duplicate}, {"actions", closeloop::json::array()}, {"log", scrubbed(r->log)}};
    for (const auto& a : r->actions) out["actions"].push_back(closeloop::to_json(a));
    *actions_json = dup_string(out.dump());
    if (!*actions_json) return fail(error, CLOSELOOP_E_INTERNAL, "closeloop_on_event: out of memory");
    return CLOSELOOP_OK;
  } catch (const std::exception& e) {
    return fail(error, CLOSELOOP_E_INTERNAL, std::string("closeloop_on_event: ") + e.what());
  } catch (...) {
    return fail(error, CLOSELOOP_E_INTERNAL, "closeloop_on_event: unknown error");
  }
}

closeloop_status closeloop_on_host_payload(closeloop_handle* h, const char* tenant, const char* host,
                                           const char* payload_json, char** result_json, char** error) {
  if (error) *error = nullptr;
  if (result_json) *result_json = nullptr;
  if (!h) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_host_payload: handle is NULL");
  if (!tenant || !host) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_host_payload: tenant or host is NULL");
  if (!payload_json) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_host_payload: payload_json is NULL");
  if (!result_json) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, "closeloop_on_host_payload: result_json is NULL");
  try {
    auto ad = h->adapters.find(std::string(tenant) + "/" + host);
    if (ad == h->adapters.end())
      return fail(error, CLOSELOOP_E_INVALID_ARGUMENT,
                  "tenant \"" + std::string(tenant) + "\" has no host \"" + host + "\" in the configuration");
    closeloop::adapters::inbound_request in;
    in.method = "POST";
    in.target = "/webhooks/" + std::string(tenant) + "/" + host;
    in.body = payload_json;
    // In-process: the caller is the host itself, so there is no signature to verify.
    auto events = ad->second->translate(in);
    if (!events) return fail(error, CLOSELOOP_E_INVALID_ARGUMENT, events.err().message);
    closeloop::json out = {{"duplicate", true}, {"events", closeloop::json::array()}, {"actions", closeloop::json::array()}};
    for (const auto& ev : *events) {
      auto r = ingest_one(h, ev);
      if (!r) return fail(error, ingest_status(r.err()), ev.host_event_id + ": " + r.err().message);
      closeloop::json names = closeloop::json::array();
      for (const auto& a : r->actions) {
        names.push_back(closeloop::to_string(a.type));
        out["actions"].push_back(closeloop::adapters::action_for_host(*ad->second, a));
      }
      out["events"].push_back({{"host_event_id", ev.host_event_id}, {"ticket_id", ev.ticket_id},
                               {"type", closeloop::to_string(ev.type)}, {"duplicate", r->duplicate},
                               {"actions", std::move(names)}, {"log", scrubbed(r->log)}});
      if (!r->duplicate) out["duplicate"] = false;
    }
    *result_json = dup_string(out.dump(-1, ' ', false, closeloop::json::error_handler_t::replace));
    if (!*result_json) return fail(error, CLOSELOOP_E_INTERNAL, "closeloop_on_host_payload: out of memory");
    return CLOSELOOP_OK;
  } catch (const std::exception& e) {
    return fail(error, CLOSELOOP_E_INTERNAL, std::string("closeloop_on_host_payload: ") + e.what());
  } catch (...) {
    return fail(error, CLOSELOOP_E_INTERNAL, "closeloop_on_host_payload: unknown error");
  }
}

void closeloop_free(char* s) { std::free(s); }

void closeloop_close(closeloop_handle* h) {
  try {
    delete h;
  } catch (...) {
  }
}

}  // extern "C"
