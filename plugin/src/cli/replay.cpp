#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/privacy.hpp"
#include "closeloop/clock.hpp"
#include "common/http_client.hpp"
#include "common/standard_webhooks.hpp"

namespace closeloop::cli {
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> expand(const std::vector<std::string>& inputs, std::string& err) {
  std::vector<fs::path> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.path().extension() == ".json") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (fs::exists(in, ec)) {
      out.emplace_back(in);
    } else {
      err = "no such file or directory: " + in;
      return {};
    }
  }
  return out;
}

std::string describe_action(const json& a) {
  std::string s = a.value("type", "?");
  const json& p = a.value("params", json::object());
  if (s == "set_priority") s += " " + p.value("priority", "") + " (" + p.value("label", "") + ")";
  else if (s == "set_fields") s += " " + p.value("fields", json::object()).dump();
  else if (s == "assign_group") s += " " + p.value("group", "");
  else if (s == "schedule_survey") s += " " + p.value("survey", "") + " at " + p.value("due_at", "");
  else if (s == "add_internal_note" || s == "post_public_reply") s += ": " + p.value("body", "");
  return s;
}

}  // namespace

int run_replay(const replay_options& o) {
  auto cfg = load_resolved_or_report(o.config_path);  // {"ref": NAME} secrets from the store
  if (!cfg) return 2;
  std::string err;
  auto files = expand(o.files, err);
  if (!err.empty()) {
    std::cerr << "closeloop replay: " << err << "\n";
    return 2;
  }
  std::string base = o.url;
  if (base.empty()) {
    std::string scheme = cfg->server.tls ? "https" : "http";
    base = scheme + "://" + cfg->server.listen + ":" + std::to_string(cfg->server.port);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  adapters::http::client client;
  int failures = 0;
  for (const auto& path : files) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string body = ss.str();
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::cerr << path.string() << ": not a JSON object\n";
      ++failures;
      continue;
    }
    if (o.rebase_time) {
      j["occurred_at"] = format_rfc3339(system_clock{}.now());
      body = j.dump();
    }
    std::string tenant = !o.tenant.empty() ? o.tenant : j.value("tenant", cfg->tenants.front().id);
    const tenant_config* t = cfg->find_tenant(tenant);
    if (!t || t->hosts.empty()) {
      std::cerr << path.string() << ": tenant \"" << tenant << "\" is not in the config (or has no host)\n";
      ++failures;
      continue;
    }
    std::string host = !o.host.empty() ? o.host : j.value("host", t->hosts.front().id);
    const host_config* h = t->find_host(host);
    if (!h || !h->settings.contains("webhook_secret")) {
      std::cerr << path.string() << ": host \"" << host << "\" of tenant \"" << tenant
                << "\" is not configured with a webhook_secret\n";
      ++failures;
      continue;
    }
    std::string id = j.value("host_event_id", path.stem().string());
    auto signer = adapters::standard_webhooks::signer::from_secret(h->settings["webhook_secret"].get<std::string>());
    if (!signer) {
      std::cerr << "closeloop replay: " << signer.err().message << "\n";
      return 2;
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    adapters::http::request req;
    req.method = "POST";
    req.url = base + "/webhooks/" + tenant + "/" + host + "?explain=1";
    req.headers = adapters::standard_webhooks::make_headers(*signer, id, now.count(), body);
    req.headers.emplace_back("content-type", "application/json");
    req.body = body;
    auto res = client.send(req);
    if (!res) {
      std::cerr << path.filename().string() << ": " << res.err().message << "\n";
      ++failures;
      continue;
    }
    json rj = json::parse(res->body, nullptr, false);
    std::cout << path.filename().string() << " -> HTTP " << res->status;
    if (res->status >= 300) {
      std::cout << " " << (rj.is_object() ? rj.value("message", res->body) : res->body) << "\n";
      ++failures;
      continue;
    }
    std::cout << " (" << rj.value("status", "") << ")\n";
    for (const auto& ev : rj.value("events", json::array())) {
      std::cout << "  " << ev.value("type", "") << " ticket " << ev.value("ticket_id", "") << "\n";
      for (const auto& a : ev.value("actions", json::array())) std::cout << "    -> " << describe_action(a) << "\n";
      for (const auto& l : ev.value("log", json::array())) std::cout << "    .. " << l.get<std::string>() << "\n";
    }
  }
  std::cout << files.size() - failures << " of " << files.size() << " events accepted\n";
  return failures == 0 ? 0 : 1;
}

}  // namespace closeloop::cli
