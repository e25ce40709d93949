#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "server/audit_events.hpp"
#include "server/http_server.hpp"
#include "server/services.hpp"
#include "server/worker.hpp"

namespace closeloop::cli {

std::optional<config> load_or_report(const std::string& path) {
  auto cfg = load_config_file(path);
  if (!cfg) {
    std::cerr << "closeloop: " << cfg.err().message << "\n";
    return std::nullopt;
  }
  return std::move(*cfg);
}

namespace {
bool write_port_file(const std::string& path, std::uint16_t port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!(f << port << "\n")) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}
}  // namespace

int run_serve(const serve_options& o) {
  auto cfg = load_or_report(o.config_path);
  if (!cfg) return 2;
  if (o.port) {
    if (*o.port < 0 || *o.port > 65535) {
      std::cerr << "closeloop: --port: expected 0..65535, got " << *o.port << "\n";
      return 2;
    }
    cfg->server.port = static_cast<std::uint16_t>(*o.port);
  }
  if (!o.port_file.empty()) cfg->server.port_file = o.port_file;
  if (!o.db_path.empty()) cfg->store.path = o.db_path;
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));

  auto svc = server::services::create(*cfg);
  if (!svc) {
    std::cerr << "closeloop: " << svc.err().message << "\n";
    return 1;
  }
  server::audit_events::config_loaded(**svc, o.config_path);
  server::http_server http(**svc);
  auto port = http.start();
  if (!port) {
    std::cerr << "closeloop: " << port.err().message << "\n";
    return 1;
  }
  const auto& sc = (*svc)->cfg().server;
  std::string scheme = sc.tls ? "https" : "http";
  if (!sc.port_file.empty() && !write_port_file(sc.port_file, *port)) {
    std::cerr << "closeloop: cannot write port file " << sc.port_file << "\n";
    return 1;
  }
  (*svc)->set_bound_base_url(scheme + "://" + sc.listen + ":" + std::to_string(*port));
  std::cout << "closeloop " << CLOSELOOP_VERSION_STRING << " listening on " << scheme << "://" << sc.listen << ":"
            << *port << " (store " << (*svc)->cfg().store.path << ")" << std::endl;
  server::worker w(**svc);
  if (!o.no_worker && (*svc)->cfg().worker.enabled) w.start();
  http.run(true);
  w.stop();
  svc->reset();  // drains and closes the store
  std::cout << "closeloop stopped cleanly" << std::endl;
  return 0;
}

}  // namespace closeloop::cli
