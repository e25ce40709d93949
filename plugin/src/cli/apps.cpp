// `closeloop zendesk-app`: the Zendesk app (manifests/zendesk) packaged for one closeloop
// installation — a copy whose manifest names closeloop's public host (apps.hpp).
#include "apps.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "common/http_client.hpp"

namespace closeloop::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_placeholder_url = "https://closeloop.example.com";
constexpr const char* k_placeholder_host = "closeloop.example.com";

// The app as the package installs it: <prefix>/share/closeloop/manifests/zendesk next to
// <prefix>/bin/closeloop, whatever the prefix.
fs::path installed_app() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path() / "share" / "closeloop" / "manifests" / "zendesk";
}

int fail(const std::string& why) {
  std::cerr << "closeloop zendesk-app: " << why << "\n";
  return 1;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

void add_app_commands(CLI::App& app, app_commands& c) {
  c.zendesk = app.add_subcommand("zendesk-app",
                                 "Package the Zendesk app for this installation: a copy of manifests/zendesk whose "
                                 "manifest whitelists closeloop's public https host");
  c.zendesk->add_option("--config", c.config_path, "closeloop's config (its server.public_base_url is used)");
  c.zendesk->add_option("--public-url", c.public_url, "closeloop's public https URL (instead of the config's)");
  c.zendesk->add_option("--app", c.app_dir,
                        "The app's source folder (default: the installed share/closeloop/manifests/zendesk)");
  c.zendesk->add_option("--out", c.out_dir, "Where to write the packaged app (must not exist)")->required();
}

std::optional<int> run_app_commands(const app_commands& c) {
  if (!c.zendesk || !*c.zendesk) return std::nullopt;
  std::string base = c.public_url;
  if (base.empty() && !c.config_path.empty()) {
    auto cfg = load_or_report(c.config_path);
    if (!cfg) return 1;
    base = cfg->server.public_base_url;
  }
  if (base.empty())
    return fail("no public base URL: set server.public_base_url in the config (--config) or pass --public-url");
  auto u = adapters::http::parse_url(base);
  if (!u) return fail("public base URL \"" + base + "\": " + u.err().message);
  if (!u->tls())
    return fail("public base URL \"" + base +
                "\" is not https: Zendesk sends the app's secure requests (the agent token) only over https");
  while (!base.empty() && base.back() == '/') base.pop_back();

  const fs::path app = c.app_dir.empty() ? installed_app() : fs::path(c.app_dir), out = c.out_dir;
  std::error_code ec;
  if (!fs::is_regular_file(app / "manifest.json", ec))
    return fail((app / "manifest.json").string() + " not found" +
                (c.app_dir.empty() ? " (not installed from the package? pass --app manifests/zendesk of a source tree)" : ""));
  if (fs::exists(out, ec)) return fail(out.string() + " already exists; choose a new folder");
  fs::create_directories(out, ec);
  if (!ec) fs::copy(app, out, fs::copy_options::recursive, ec);
  if (ec) return fail("cannot copy " + app.string() + " to " + out.string() + ": " + ec.message());

  json m;
  try {
    std::ifstream in(out / "manifest.json", std::ios::binary);
    m = json::parse(in);
    m["domainWhitelist"] = json::array({u->host});
    for (auto& p : m["parameters"]) {
      if (p.value("name", "") != "closeloop_url") continue;
      p["default"] = base;
      p["helpText"] = replace_all(p.value("helpText", ""), k_placeholder_url, base);
    }
  } catch (const std::exception& e) {
    return fail((out / "manifest.json").string() + ": " + e.what());
  }
  std::string text = replace_all(m.dump(2), k_placeholder_host, u->host) + "\n";
  std::ofstream(out / "manifest.json", std::ios::binary | std::ios::trunc) << text;
  std::cout << "Zendesk app for " << base << " written to " << out.string() << " (domainWhitelist: " << u->host
            << "); upload it with `zcli apps:create " << out.string() << "`\n";
  return 0;
}

}  // namespace closeloop::cli
