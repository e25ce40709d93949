// The host-side manifests of the SaaS vendors this file knows (manifests/freshdesk, manifests/zammad):
// the Freshworks app against schemas/freshworks-*.schema.json (Freshworks' documented platform 3.0
// rules) plus the cross-file rules a schema cannot say, and Zammad's webhook/trigger definitions
// against the adapter that receives them.
#define VALIJSON_USE_EXCEPTIONS 1

#include <filesystem>
#include <map>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "common/adapter.hpp"
#include "common/crypto.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = CLOSELOOP_SOURCE_DIR;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) {
  INFO(p.string());
  json j;
  REQUIRE_NOTHROW(j = json::parse(read_text(p)));
  return j;
}

// Valid against the schema file: "" ; else the first violation (path and description).
std::string schema_violation(const std::string& schema_file, const json& doc) {
  static std::map<std::string, std::pair<json, std::shared_ptr<valijson::Schema>>> cache;
  auto& entry = cache[schema_file];
  if (!entry.second) {
    entry.first = read_json(source_dir / "schemas" / schema_file);
    entry.second = std::make_shared<valijson::Schema>();
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter schema_adapter(entry.first);
    parser.populateSchema(schema_adapter, *entry.second);
  }
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(*entry.second, target, &results)) return {};
  valijson::ValidationResults::Error e;
  std::string out;
  while (results.popError(e)) {
    std::string where;
    for (const auto& c : e.context) where += c;
    out = where + ": " + e.description;  // the last popped is the innermost
  }
  return out.empty() ? "invalid" : out;
}

const fs::path fd_app = source_dir / "manifests/freshdesk";
const fs::path zm_dir = source_dir / "manifests/zammad";

}  // namespace

TEST_CASE("manifests/freshdesk: manifest.json and iparams.json meet Freshworks' documented rules",
          "[adapter][freshdesk][manifest]") {
  const json manifest = read_json(fd_app / "manifest.json");
  const json iparams = read_json(fd_app / "config/iparams.json");
  CHECK(schema_violation("freshworks-manifest.schema.json", manifest).empty());
  CHECK(schema_violation("freshworks-iparams.schema.json", iparams).empty());

  // The sidebar location and its files.
  const json& sidebar = manifest["modules"]["support_ticket"]["location"]["ticket_sidebar"];
  CHECK(fs::is_regular_file(fd_app / "app" / sidebar["url"].get<std::string>()));
  CHECK(fs::is_regular_file(fd_app / "app" / sidebar["icon"].get<std::string>()));
  CHECK(read_text(fd_app / "app" / sidebar["icon"].get<std::string>()).find("<svg") != std::string::npos);

  // The closeloop URL and secret are installation parameters; the secret is secure.
  REQUIRE(iparams.contains("closeloop_url"));
  REQUIRE(iparams.contains("closeloop_secret"));
  CHECK(iparams["closeloop_url"]["required"] == true);
  CHECK(iparams["closeloop_secret"]["secure"] == true);
  CHECK(iparams["closeloop_secret"]["required"] == true);

  // The sidebar opens closeloop's sidebar page with a signed context that the
  // closeloopSidebarContext template mints with the (secure) agent API token.
  const std::string app_js = read_text(fd_app / "app/scripts/app.js");
  CHECK(app_js.find("invokeTemplate('closeloopSidebarContext'") != std::string::npos);
  CHECK(app_js.find("answer.url") != std::string::npos);
  const json mint = read_json(fd_app / "config/requests.json")["closeloopSidebarContext"]["schema"];
  CHECK(mint["method"] == "POST");
  CHECK(mint["path"].get<std::string>().ends_with("/tickets/<%= context.ticket_id %>/sidebar-context"));
  CHECK(mint["headers"]["Authorization"] == "Bearer <%= iparam.closeloop_api_token %>");
  CHECK(iparams["closeloop_api_token"]["secure"] == true);

  // Every declared request template is defined and uses only declared iparams; secure iparams
  // appear in templates only, never in a file the browser loads.
  const json requests = read_json(fd_app / "config/requests.json");
  std::set<std::string> secure;
  for (const auto& [name, p] : iparams.items()) {
    if (p.value("secure", false)) secure.insert(name);
  }
  for (const auto& [name, decl] : manifest["modules"]["common"]["requests"].items()) {
    INFO("request template " << name);
    REQUIRE(requests.contains(name));
    const json& schema = requests[name]["schema"];
    CHECK(schema.contains("method"));
    CHECK(schema.contains("host"));
    CHECK(schema["host"].get<std::string>().find('/') == std::string::npos);  // a host, not a URL
    const std::string text = requests[name].dump();
    std::regex ref(R"(<%= *iparam\.([A-Za-z0-9_]+) *%>)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), ref); it != std::sregex_iterator(); ++it) {
      CHECK(iparams.contains((*it)[1].str()));
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(fd_app / "app")) {
    if (!entry.is_regular_file()) continue;
    const std::string text = read_text(entry.path());
    for (const auto& s : secure) {
      INFO(entry.path().string() << " mentions the secure iparam " << s);
      CHECK(text.find(s) == std::string::npos);
    }
  }
}

TEST_CASE("manifests/freshdesk: the schemas refuse what Freshworks refuses", "[adapter][freshdesk][manifest]") {
  const json manifest = read_json(fd_app / "manifest.json");
  auto refused = [](const char* schema, const json& doc) { CHECK_FALSE(schema_violation(schema, doc).empty()); };

  json m = manifest;
  m.erase("platform-version");
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["platform-version"] = "2.3";
  refused("freshworks-manifest.schema.json", m);
  m = manifest;  // the 2.x form
  m["product"] = {{"freshdesk", {{"location", {{"ticket_sidebar", {{"url", "index.html"}}}}}}}};
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["modules"]["support_ticket"]["location"]["ticket_sidebar"].erase("icon");
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["modules"]["support_ticket"]["location"]["ticket_sidebar"]["icon"] = "icon.png";
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["modules"]["support_ticket"]["location"]["ticket_sidebar"]["url"] = "https://closeloop.example.com/sidebar";
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m.erase("engines");
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["modules"]["freshdesk_ticket"] = json::object();
  refused("freshworks-manifest.schema.json", m);
  m = manifest;
  m["modules"]["support_ticket"]["events"] = {{"onTicketCreate", json::object()}};
  refused("freshworks-manifest.schema.json", m);

  const json iparams = read_json(fd_app / "config/iparams.json");
  json p = iparams;
  p["closeloop_secret"].erase("display_name");
  refused("freshworks-iparams.schema.json", p);
  p = iparams;
  p["closeloop_secret"]["type"] = "password";
  refused("freshworks-iparams.schema.json", p);
  p = iparams;
  p["closeloop_secret"]["secure"] = "yes";
  refused("freshworks-iparams.schema.json", p);
  p = iparams;
  p["mode"] = {{"display_name", "Mode"}, {"type", "dropdown"}};  // a dropdown without options
  refused("freshworks-iparams.schema.json", p);
}

TEST_CASE("manifests/zammad: webhooks and triggers are well formed and reach the adapter",
          "[adapter][zammad][manifest]") {
  const json webhooks = read_json(zm_dir / "webhooks.json");
  const json triggers = read_json(zm_dir / "triggers.json");
  const json attributes = read_json(zm_dir / "object_attributes.json");
  REQUIRE(webhooks.is_array());
  REQUIRE(triggers.is_array());

  // Webhooks: Zammad's create body, our endpoint, signed, default payload.
  std::map<std::string, std::string> kind_of;  // webhook name -> ?event=
  for (const auto& w : webhooks) {
    INFO(w.dump());
    for (const char* k : {"name", "endpoint", "http_method", "signature_token", "ssl_verify", "active"}) CHECK(w.contains(k));
    CHECK(w["http_method"] == "post");
    CHECK(w["ssl_verify"] == true);
    CHECK(w["signature_token"] == "{webhook_secret}");
    CHECK(w["customized_payload"] == false);
    const std::string ep = w["endpoint"];
    const std::string prefix = "{closeloop_url}/webhooks/{tenant}/{host}?event=";
    REQUIRE(ep.starts_with(prefix));
    kind_of[w["name"]] = ep.substr(prefix.size());
  }
  CHECK(kind_of.size() == webhooks.size());

  // Triggers: each performs one of these webhooks, with Zammad's condition shape.
  std::set<std::string> used;
  for (const auto& t : triggers) {
    INFO(t.dump());
    for (const char* k : {"name", "condition", "perform", "activator", "active"}) CHECK(t.contains(k));
    CHECK(t["condition"]["operator"] == "AND");
    REQUIRE(t["condition"]["conditions"].is_array());
    for (const auto& c : t["condition"]["conditions"]) {
      CHECK(c.contains("name"));
      CHECK(c.contains("operator"));
    }
    const std::string id = t["perform"]["notification.webhook"]["webhook_id"];
    REQUIRE(id.starts_with("{webhook_id:"));
    const std::string name = id.substr(12, id.size() - 13);
    CHECK(kind_of.contains(name));
    used.insert(name);
  }
  CHECK(used.size() == kind_of.size());  // no webhook without a trigger

  // The attributes are the adapter's default custom_fields.
  std::set<std::string> names;
  for (const auto& a : attributes) names.insert(a["name"].get<std::string>());
  CHECK(names == std::set<std::string>{"closeloop_category", "closeloop_sentiment", "closeloop_language",
                                       "closeloop_priority_reason", "closeloop_csat"});

  // The default payload through each webhook, signed with its token: verify and translate.
  const std::string secret = "zammad-manifest-token-0123";
  tenant_config tenant;
  tenant.id = "acme";
  host_config host;
  host.id = "zammad";
  host.vendor = "zammad";
  host.settings = {{"id", "zammad"}, {"vendor", "zammad"}, {"base_url", "https://zammad.example.com"},
                   {"auth", {{"token", "t"}}}, {"webhook_secret", secret}};
  auto ad = make_adapter(tenant, host, adapter_env{});
  REQUIRE(ad);
  json payload = read_json(source_dir / "tests/fixtures/zammad/trigger-payload.json");
  const std::map<std::string, event_type> expected = {{"created", event_type::ticket_created},
                                                      {"commented", event_type::ticket_commented},
                                                      {"solved", event_type::ticket_solved},
                                                      {"reopened", event_type::ticket_reopened}};
  for (const auto& [name, kind] : kind_of) {
    INFO("webhook " << name);
    REQUIRE(expected.contains(kind));
    json body = payload;
    if (kind == "solved") body["ticket"]["state"] = "closed";
    const std::string raw = body.dump();
    inbound_request req;
    req.method = "POST";
    req.target = "/webhooks/acme/zammad?event=" + kind;
    req.body = raw;
    req.headers = {{"x-hub-signature", "sha1=" + crypto::hex_encode(crypto::hmac_sha1(secret, raw))},
                   {"x-zammad-trigger", name}};
    REQUIRE((*ad)->verify(req, timestamp{}));
    auto events = (*ad)->translate(req);
    INFO((events ? std::string() : events.err().message));
    REQUIRE(events);
    REQUIRE(events->size() == 1);
    CHECK(events->front().type == expected.at(kind));
    CHECK(events->front().ticket_id == "81");
    CHECK(event_from_json(to_json(events->front())));
  }
}
