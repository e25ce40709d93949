// manifests/zendesk, checked two ways without a Zendesk account: (a) against
// schemas/zendesk_app.schema.json plus the package rules a schema cannot express (Zendesk's
// zendesk_apps_support validations, listed in manifests/zendesk/README.md), with negative cases;
// (b) served by Zendesk's own zcli apps:server on a free loopback port, asserting on app.json.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "closeloop/model.hpp"
#include "common/http_client.hpp"

using closeloop::json;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir{CLOSELOOP_SOURCE_DIR};
const fs::path app_dir = source_dir / "manifests/zendesk";

json read_json(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return json::parse(in);
}

// Schema violations as "<path>: <what>", empty when valid.
std::vector<std::string> schema_errors(const json& doc) {
  static const json schema_doc = read_json(source_dir / "schemas/zendesk_app.schema.json");
  static const std::unique_ptr<valijson::Schema> schema = [] {
    auto s = std::make_unique<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema_doc);
    parser.populateSchema(adapter, *s);
    return s;
  }();
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  std::vector<std::string> out;
  if (validator.validate(*schema, target, &results)) return out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    std::string path;
    for (const auto& c : e.context) path += c;
    out.push_back(path + ": " + e.description);
  }
  return out;
}

// The rules that need the package's files (manifest.rb, translations.rb): defaultLocale has its
// translations file, every translations file is named by a valid locale and carries app.name
// (and, for a public app, the marketplace texts), an assets/ location URL names a file, parameter
// names are unique, at most one oauth parameter.
std::vector<std::string> package_errors(const json& m, const fs::path& dir) {
  std::vector<std::string> out;
  const std::string locale = m.value("defaultLocale", "");
  if (!locale.empty() && !fs::exists(dir / "translations" / (locale + ".json"))) {
    out.push_back("defaultLocale " + locale + ": translations/" + locale + ".json is missing");
  }
  const std::regex valid_locale("^[a-z]{2}(-\\w{2,3})?$");
  if (fs::exists(dir / "translations")) {
    for (const auto& f : fs::directory_iterator(dir / "translations")) {
      const std::string name = f.path().stem().string();
      if (!std::regex_match(name, valid_locale)) out.push_back("translations/" + name + ".json: invalid locale");
      json t;
      try {
        t = read_json(f.path());
      } catch (const std::exception& e) {
        out.push_back("translations/" + name + ".json: not JSON");
        continue;
      }
      const json app = t.value("app", json::object());
      std::vector<std::string> keys = {"name"};
      if (!m.value("private", true)) keys = {"name", "short_description", "installation_instructions", "long_description"};
      for (const auto& k : keys) {
        if (!app.contains(k)) out.push_back("translations/" + name + ".json: app." + k + " is missing");
      }
    }
  }
  const json location = m.value("location", json::object());
  for (const auto& [product, locations] : location.items()) {
    for (const auto& [where, opts] : locations.items()) {
      const std::string url = opts.is_string() ? opts.get<std::string>() : opts.value("url", "");
      if (url.rfind("assets/", 0) == 0 && !fs::exists(dir / url)) {
        out.push_back("location." + product + "." + where + ": " + url + " does not exist");
      }
    }
  }
  std::set<std::string> names;
  int oauth = 0;
  for (const auto& p : m.value("parameters", json::array())) {
    const std::string n = p.value("name", "");
    if (!names.insert(n).second) out.push_back("parameters: duplicate name " + n);
    if (p.value("type", "text") == "oauth") ++oauth;
  }
  if (oauth > 1) out.push_back("parameters: more than one oauth parameter");
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

}  // namespace

TEST_CASE("zendesk app: manifest.json passes Zendesk's manifest rules", "[manifest][zendesk]") {
  const json m = read_json(app_dir / "manifest.json");
  const auto errors = schema_errors(m);
  INFO(joined(errors));
  CHECK(errors.empty());
  const auto pkg = package_errors(m, app_dir);
  INFO(joined(pkg));
  CHECK(pkg.empty());

  // What closeloop needs from it: the sidebar page (assets/iframe.html) that asks closeloop for a
  // signed context with the secure agent token (a ZAF secure request to a whitelisted domain)
  // and opens {closeloop_url}/sidebar?ctx=..., and the secret parameters kept server-side.
  CHECK(m["location"]["support"]["ticket_sidebar"]["url"] == "assets/iframe.html");
  CHECK_FALSE(m.contains("signedUrls"));
  CHECK(!m["domainWhitelist"].empty());
  {
    std::ifstream js(app_dir / "assets/main.js");
    const std::string text((std::istreambuf_iterator<char>(js)), {});
    CHECK(text.find("secure: true") != std::string::npos);
    CHECK(text.find("'Bearer {{setting.closeloop_api_token}}'") != std::string::npos);
    CHECK(text.find("/sidebar-context") != std::string::npos);
  }
  std::set<std::string> secure;
  for (const auto& p : m["parameters"]) {
    if (p.value("secure", false)) secure.insert(p["name"].get<std::string>());
  }
  CHECK(secure.count("webhook_secret") == 1);
  for (const char* locale : {"en", "zh-cn", "zh-tw"}) {
    INFO(locale);
    const json t = read_json(app_dir / "translations" / (std::string(locale) + ".json"));
    for (const auto& p : m["parameters"]) CHECK(t["app"]["parameters"].contains(p["name"].get<std::string>()));
  }
}

TEST_CASE("zendesk app: requirements.json creates the webhook and one trigger per event", "[manifest][zendesk]") {
  const json r = read_json(app_dir / "requirements.json");
  const std::set<std::string> types = {"automations", "channel_integrations", "custom_objects", "macros", "targets",
                                       "views", "ticket_fields", "triggers", "user_fields", "organization_fields",
                                       "webhooks"};
  for (const auto& [type, items] : r.items()) {
    INFO(type);
    CHECK(types.count(type) == 1);
    for (const auto& [id, item] : items.items()) {
      INFO(id);
      CHECK(item.contains("title"));  // every requirement needs a title (requirements.rb)
    }
  }
  const json& hook = r["webhooks"]["closeloop_webhook"];
  CHECK(hook["endpoint"] == "{{setting.closeloop_url}}/webhooks/{{setting.closeloop_tenant}}/{{setting.closeloop_host}}");
  CHECK(hook["http_method"] == "POST");
  CHECK(hook["request_format"] == "json");
  std::set<std::string> events;
  for (const auto& [id, trigger] : r["triggers"].items()) {
    const json& action = trigger["actions"][0];
    REQUIRE(action["field"] == "notification_webhook");
    CHECK(action["value"][0] == "closeloop_webhook");
    // The body each trigger sends must be the payload the adapter reads (adapters/zendesk/README.md).
    const json body = json::parse(action["value"][1].get<std::string>());
    events.insert(body["event"].get<std::string>());
    CHECK(body["ticket"]["id"] == "{{ticket.id}}");
    CHECK(body["ticket"]["updated_at"] == "{{ticket.updated_at_with_timestamp}}");
    CHECK(body.contains("current_user"));
  }
  CHECK(events == std::set<std::string>{"ticket.created", "ticket.commented", "ticket.updated", "ticket.solved",
                                        "ticket.reopened"});
}

TEST_CASE("zendesk app: the schema and package rules refuse broken manifests", "[manifest][zendesk]") {
  const json good = read_json(app_dir / "manifest.json");
  struct broken {
    const char* what;
    std::function<void(json&)> edit;
    const char* expect;  // where the error is reported
  };
  const std::vector<broken> cases = {
      {"no author", [](json& m) { m.erase("author"); }, "author"},
      {"no defaultLocale", [](json& m) { m.erase("defaultLocale"); }, "defaultLocale"},
      {"bad locale", [](json& m) { m["defaultLocale"] = "english"; }, "defaultLocale"},
      {"no location", [](json& m) { m.erase("location"); }, "location"},
      {"framework 1.0", [](json& m) { m["frameworkVersion"] = "1.0"; }, "frameworkVersion"},
      {"http sidebar", [](json& m) { m["location"]["support"]["ticket_sidebar"]["url"] = "http://example.com/x"; },
       "ticket_sidebar"},
      {"unknown location", [](json& m) { m["location"]["support"]["ticket_footer"] = "assets/x.html"; }, "support"},
      {"flexible not boolean", [](json& m) { m["location"]["support"]["ticket_sidebar"]["flexible"] = "yes"; },
       "ticket_sidebar"},
      {"unknown parameter type", [](json& m) { m["parameters"][0]["type"] = "secret"; }, "parameters"},
      {"required hidden", [](json& m) { m["parameters"].push_back({{"name", "h"}, {"type", "hidden"}, {"required", true}}); },
       "parameters"},
      {"secure oauth", [](json& m) { m["parameters"].push_back({{"name", "o"}, {"type", "oauth"}, {"secure", true}}); },
       "parameters"},
      {"parameter called name", [](json& m) { m["parameters"][0]["name"] = "name"; }, "parameters"},
      {"secure not boolean", [](json& m) { m["parameters"][0]["secure"] = "true"; }, "parameters"},
      {"requirements-only with a location", [](json& m) { m["requirementsOnly"] = true; }, ""},
  };
  for (const auto& c : cases) {
    json m = good;
    c.edit(m);
    const auto errors = schema_errors(m);
    INFO(c.what << ":\n" << joined(errors));
    CHECK_FALSE(errors.empty());
    CHECK(joined(errors).find(c.expect) != std::string::npos);
  }
  // Package rules, on a copy of the app.
  const fs::path tmp = fs::temp_directory_path() / ("closeloop-zd-app-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::copy(app_dir, tmp, fs::copy_options::recursive);
  json m = good;
  m["defaultLocale"] = "fr";
  m["location"]["support"]["ticket_sidebar"]["url"] = "assets/missing.html";
  m["parameters"].push_back(good["parameters"][0]);
  std::ofstream(tmp / "translations/de_DE.json") << "{\"app\": {}}";
  const std::string errors = joined(package_errors(m, tmp));
  fs::remove_all(tmp);
  INFO(errors);
  CHECK(errors.find("translations/fr.json is missing") != std::string::npos);
  CHECK(errors.find("assets/missing.html does not exist") != std::string::npos);
  CHECK(errors.find("duplicate name closeloop_url") != std::string::npos);
  CHECK(errors.find("translations/de_DE.json: invalid locale") != std::string::npos);
  CHECK(errors.find("de_DE.json: app.name is missing") != std::string::npos);
}

namespace {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// zcli apps:server in its own process group (node spawns children); killed with the group.
struct zcli_server {
  pid_t pid = -1;
  zcli_server(const fs::path& zcli, const fs::path& app, std::uint16_t port, const fs::path& log) {
    pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      const std::string out = log.string();
      std::freopen(out.c_str(), "w", stdout);
      std::freopen(out.c_str(), "a", stderr);
      const std::string p = std::to_string(port);
      ::execl(zcli.c_str(), zcli.c_str(), "apps:server", app.c_str(), "--port", p.c_str(), "--bind", "127.0.0.1",
              static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  ~zcli_server() {
    if (pid > 0) {
      ::kill(-pid, SIGTERM);
      for (int i = 0; i < 50 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// `closeloop zendesk-app ARGS`: exit status and what it printed (stdout + stderr).
std::pair<int, std::string> closeloop_cli(const std::string& args) {
  const std::string cmd = std::string(CLOSELOOP_BINARY) + " " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST_CASE("zendesk app: closeloop zendesk-app writes the public host into domainWhitelist; "
          "a missing or non-https URL is refused",
          "[manifest][zendesk]") {
  const fs::path tmp = fs::temp_directory_path() / ("closeloop-zdpkg-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const std::string app = "--app " + app_dir.string();
  // From the config's server.public_base_url.
  json cfg = read_json(source_dir / "examples/config/zendesk.json");
  cfg["server"]["public_base_url"] = "https://loop.acme-support.test:8443";
  std::ofstream(tmp / "config.json") << cfg.dump();
  auto [rc, out] = closeloop_cli("zendesk-app --config " + (tmp / "config.json").string() + " " + app + " --out " +
                                 (tmp / "pkg").string());
  INFO(out);
  REQUIRE(rc == 0);
  const json m = read_json(tmp / "pkg/manifest.json");
  CHECK(m["domainWhitelist"] == json::array({"loop.acme-support.test"}));
  CHECK(m["parameters"][0]["default"] == "https://loop.acme-support.test:8443");
  std::ifstream mf(tmp / "pkg/manifest.json");
  const std::string text((std::istreambuf_iterator<char>(mf)), {});
  CHECK(text.find("closeloop.example.com") == std::string::npos);
  // Still a valid Zendesk app: the schema, the package rules, every file copied.
  CHECK(joined(schema_errors(m)).empty());
  CHECK(joined(package_errors(m, tmp / "pkg")).empty());
  CHECK(fs::exists(tmp / "pkg/assets/iframe.html"));
  CHECK(fs::exists(tmp / "pkg/requirements.json"));
  // The source is untouched.
  CHECK(read_json(app_dir / "manifest.json")["domainWhitelist"] == json::array({"closeloop.example.com"}));

  // --public-url wins; refusals name what is wrong and write nothing.
  auto [rc2, out2] = closeloop_cli("zendesk-app --public-url https://cl.example.org/ " + app + " --out " + (tmp / "pkg2").string());
  CHECK(rc2 == 0);
  CHECK(read_json(tmp / "pkg2/manifest.json")["domainWhitelist"] == json::array({"cl.example.org"}));
  auto [rc3, out3] = closeloop_cli("zendesk-app --public-url http://cl.example.org " + app + " --out " + (tmp / "pkg3").string());
  CHECK(rc3 == 1);
  CHECK(out3.find("public base URL \"http://cl.example.org\" is not https") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "pkg3"));
  cfg["server"].erase("public_base_url");
  std::ofstream(tmp / "bare.json") << cfg.dump();
  auto [rc4, out4] = closeloop_cli("zendesk-app --config " + (tmp / "bare.json").string() + " " + app + " --out " + (tmp / "pkg4").string());
  CHECK(rc4 == 1);
  CHECK(out4.find("no public base URL: set server.public_base_url") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "pkg4"));
  auto [rc5, out5] = closeloop_cli("zendesk-app --public-url https://cl.example.org " + app + " --out " + (tmp / "pkg2").string());
  CHECK(rc5 == 1);
  CHECK(out5.find("already exists") != std::string::npos);
  // Without --app the installed copy is used (<prefix>/share/closeloop/manifests/zendesk, the
  // package test covers it); from a build tree there is none, and the message says what to do.
  auto [rc6, out6] = closeloop_cli("zendesk-app --public-url https://cl.example.org --out " + (tmp / "pkg6").string());
  CHECK(rc6 == 1);
  CHECK(out6.find("share/closeloop/manifests/zendesk/manifest.json not found (not installed from the package? pass "
                  "--app") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp / "pkg6"));
  fs::remove_all(tmp);
}

TEST_CASE("zendesk app: zcli apps:server builds app.json from the manifest", "[manifest][zendesk][zcli]") {
  const fs::path zcli = source_dir / "tests/manifests/node/node_modules/.bin/zcli";
  if (!fs::exists(zcli)) {
    std::fprintf(stderr, "%s missing (run .ci/setup, which runs npm ci in tests/manifests/node): skipped\n",
                 zcli.c_str());
    std::exit(4);
  }
  const fs::path tmp = fs::temp_directory_path() / ("closeloop-zcli-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // The app as an admin uploads it: packaged by closeloop zendesk-app for closeloop.test.
  auto [rc, out] = closeloop_cli("zendesk-app --public-url https://closeloop.test --app " + app_dir.string() +
                                 " --out " + (tmp / "app").string());
  INFO(out);
  REQUIRE(rc == 0);
  const json params = {{"closeloop_url", "https://closeloop.test"}, {"closeloop_tenant", "acme"},
                       {"closeloop_host", "zd"},  {"webhook_secret", "s3cret"}, {"closeloop_api_token", "tok"}};
  std::ofstream(tmp / "app/zcli.apps.config.json") << json{{"parameters", params}}.dump(2);

  const std::uint16_t port = free_port();
  zcli_server server(zcli, tmp / "app", port, tmp / "zcli.log");
  closeloop::adapters::http::client client;
  closeloop::adapters::http::request req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/app.json";
  json app;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = client.send(req, std::chrono::seconds(2));
    if (r && r->status == 200) {
      app = json::parse(r->body);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const json packaged = read_json(tmp / "app/manifest.json");
  CHECK(packaged["domainWhitelist"] == json::array({"closeloop.test"}));
  std::ifstream log(tmp / "zcli.log");
  const std::string log_text((std::istreambuf_iterator<char>(log)), {});
  fs::remove_all(tmp);
  INFO("zcli log:\n" << log_text);
  REQUIRE(app.is_object());
  REQUIRE(app["apps"].size() == 1);
  const json& a = app["apps"][0];
  CHECK(a["name"] == "closeloop");
  CHECK(a["default_locale"] == "en");
  CHECK(a["framework_version"] == "2.0");
  CHECK(a.value("signed_urls", false) == false);
  CHECK(a["locations"]["support"]["ticket_sidebar"]["url"].get<std::string>().find("iframe.html") != std::string::npos);
  CHECK(a["locations"]["support"]["ticket_sidebar"]["flexible"] == true);
  REQUIRE(app["installations"].size() == 1);
  json settings = json::object();
  for (const auto& s : app["installations"][0]["settings"]) settings.update(s);
  for (const auto& [k, v] : params.items()) CHECK(settings[k] == v);
}
