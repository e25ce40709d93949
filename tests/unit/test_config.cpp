// The configuration loader: defaults, mapping, messages naming key and pointer, paths, cross-field
// checks and file errors.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "closeloop/config.hpp"

using namespace closeloop;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir{CLOSELOOP_SOURCE_DIR};

const char* host_json =
    R"({"id":"generic","vendor":"generic","webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})";

std::string minimal_with(const std::string& extra_top_level) {
  std::string s = "{";
  if (!extra_top_level.empty()) s += extra_top_level + ",";
  s += R"("tenants":[{"id":"acme","hosts":[)" + std::string(host_json) + "]}]}";
  return s;
}

std::string error_of(const std::string& text, const std::string& base_dir = ".") {
  auto r = parse_config(text, base_dir);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_config);
  return r.err().message;
}

// A scratch directory removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() /
           ("closeloop-test-config-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

}  // namespace

TEST_CASE("config: absent keys keep the defaults of config.hpp", "[unit]") {
  auto c = parse_config(minimal_with(""));
  REQUIRE(c);
  const config defaults;
  const server_config server;
  const store_config store;
  const worker_config worker;
  const policy pol;
  CHECK(c->log_level == defaults.log_level);
  CHECK(c->server.listen == server.listen);
  CHECK(c->server.port == server.port);
  CHECK(c->server.port_file.empty());
  CHECK_FALSE(c->server.tls);
  CHECK(c->server.body_limit_bytes == server.body_limit_bytes);
  CHECK(c->server.read_timeout == server.read_timeout);
  CHECK(c->server.idle_timeout == server.idle_timeout);
  CHECK(c->server.signature_tolerance == server.signature_tolerance);
  CHECK(c->server.threads == server.threads);
  CHECK(c->store.path == store.path);  // relative to "." stays as written
  CHECK(c->store.max_batch == store.max_batch);
  CHECK(c->store.synchronous == store.synchronous);
  CHECK(c->worker.enabled == worker.enabled);
  CHECK(c->worker.poll_interval == worker.poll_interval);
  CHECK(c->worker.backoff_max == worker.backoff_max);
  CHECK(c->worker.lease == worker.lease);
  REQUIRE(c->tenants.size() == 1);
  const auto& t = c->tenants[0];
  CHECK(t.pol.survey.enabled == pol.survey.enabled);
  CHECK(t.pol.survey.kind == pol.survey.kind);
  CHECK(t.pol.survey.delay == pol.survey.delay);
  CHECK(t.pol.survey.max_age == pol.survey.max_age);
  CHECK(t.pol.write_fields == pol.write_fields);
  CHECK(t.pol.explain_in_note == pol.explain_in_note);
  CHECK(t.pol.routing.empty());
  CHECK(t.classifier.categories.empty());
}

TEST_CASE("config: values are mapped with their units", "[unit]") {
  auto c = parse_config(R"({
    "log_level": "debug",
    "server": {"listen": "0.0.0.0", "port": 0, "read_timeout_ms": 1500, "idle_timeout_ms": 2500,
               "signature_tolerance_s": 120, "threads": 8, "body_limit_bytes": 4096,
               "public_base_url": "https://help.acme.example"},
    "store": {"path": "/var/lib/closeloop/x.db", "max_batch": 64, "synchronous": "normal"},
    "worker": {"enabled": false, "poll_interval_ms": 50, "batch": 4, "max_attempts": 3,
               "backoff_base_ms": 10, "backoff_max_ms": 20, "lease_ms": 30, "http_timeout_ms": 40},
    "tenants": [{
      "id": "acme",
      "hosts": [{"id": "generic", "vendor": "generic", "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                 "endpoint": {"url": "http://127.0.0.1:8089/actions"}}],
      "policy": {"survey": {"enabled": false, "kind": "nps", "delay_s": 60, "max_age_s": 3600, "skip_tags": ["spam"]},
                 "write_fields": false, "explain_in_note": false, "routing": {"billing": "Billing"}},
      "categories": {"billing": ["Invoice", "REFUND", "退款"]}
    }]})");
  REQUIRE(c);
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  CHECK(c->log_level == "debug");
  CHECK(c->server.listen == "0.0.0.0");
  CHECK(c->server.port == 0);
  CHECK(c->server.read_timeout == milliseconds{1500});
  CHECK(c->server.idle_timeout == milliseconds{2500});
  CHECK(c->server.signature_tolerance == seconds{120});
  CHECK(c->server.threads == 8);
  CHECK(c->server.body_limit_bytes == 4096);
  CHECK(c->server.public_base_url == "https://help.acme.example");
  CHECK(c->store.path == "/var/lib/closeloop/x.db");
  CHECK(c->store.max_batch == 64);
  CHECK(c->store.synchronous == "normal");
  CHECK_FALSE(c->worker.enabled);
  CHECK(c->worker.poll_interval == milliseconds{50});
  CHECK(c->worker.batch == 4);
  CHECK(c->worker.max_attempts == 3);
  CHECK(c->worker.backoff_base == milliseconds{10});
  CHECK(c->worker.backoff_max == milliseconds{20});
  CHECK(c->worker.lease == milliseconds{30});
  CHECK(c->worker.http_timeout == milliseconds{40});
  const tenant_config* t = c->find_tenant("acme");
  REQUIRE(t);
  CHECK(c->find_tenant("globex") == nullptr);
  CHECK_FALSE(t->pol.survey.enabled);
  CHECK(t->pol.survey.kind == "nps");
  CHECK(t->pol.survey.delay == seconds{60});
  CHECK(t->pol.survey.max_age == seconds{3600});
  CHECK(t->pol.survey.skip_tags == std::vector<std::string>{"spam"});
  CHECK_FALSE(t->pol.write_fields);
  CHECK_FALSE(t->pol.explain_in_note);
  CHECK(t->pol.routing.at("billing") == "Billing");
  CHECK(t->classifier.categories.at("billing") == std::vector<std::string>{"invoice", "refund", "退款"});
  const host_config* h = t->find_host("generic");
  REQUIRE(h);
  CHECK(t->find_host("zendesk") == nullptr);
  CHECK(h->vendor == "generic");
  CHECK(h->settings["endpoint"]["url"] == "http://127.0.0.1:8089/actions");
  CHECK(h->settings["webhook_secret"] == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  CHECK(h->settings["id"] == "generic");
}

TEST_CASE("config: unknown keys are named with their JSON pointer", "[unit]") {
  CHECK(error_of(minimal_with(R"("server":{"prot":8080})")) == R"(config: /server: unknown key "prot")");
  CHECK(error_of(minimal_with(R"("tenant":[])")) == R"(config: unknown key "tenant")");
  CHECK(error_of(minimal_with(R"("server":{"tls":{"cert_file":"a","key_file":"b","ca":"c"}})")) ==
        R"(config: /server/tls: unknown key "ca")");
  CHECK(error_of(R"({"tenants":[{"id":"acme","policy":{"survey":{"delay":5}}}]})") ==
        R"(config: /tenants/0/policy/survey: unknown key "delay")");
  CHECK(error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":"g","vendor":"generic",
        "webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","endpoint":{"url":"http://x/","token":"t"}}]}]})") ==
        R"(config: /tenants/0/hosts/0/endpoint: unknown key "token")");
  CHECK(error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":"g","vendor":"generic","secret":"x",
        "webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}]})") ==
        R"(config: /tenants/0/hosts/0: unknown key "secret")");
}

TEST_CASE("config: wrong types, ranges and enums say what was expected", "[unit]") {
  CHECK(error_of(minimal_with(R"("server":{"port":"8080"})")) ==
        R"(config: /server/port: expected an integer, got "8080")");
  CHECK(error_of(minimal_with(R"("server":{"port":70000})")) ==
        "config: /server/port: expected an integer between 0 and 65535, got 70000");
  CHECK(error_of(minimal_with(R"("server":{"threads":0})")) ==
        "config: /server/threads: expected an integer between 1 and 64, got 0");
  CHECK(error_of(minimal_with(R"("log_level":"verbose")")) ==
        R"(config: /log_level: expected one of "trace", "debug", "info", "warn", "error", got "verbose")");
  {
    // The vendor list grows with each adapter; the message names the key, the choices and the value.
    const std::string e = error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":"z","vendor":"helpscout"}]}]})");
    CHECK(e.rfind(R"(config: /tenants/0/hosts/0/vendor: expected one of )", 0) == 0);
    CHECK(e.find(R"("generic")") != std::string::npos);
    CHECK(e.find(R"("zendesk")") != std::string::npos);
    CHECK(e.find(R"(got "helpscout")") != std::string::npos);
  }
  CHECK(error_of(R"({"server":{}})") == R"(config: missing required key "tenants")");
  CHECK(error_of(R"({"tenants":[]})") == "config: /tenants: expected at least 1 item, got an empty array");
  CHECK(error_of(R"({"tenants":[{"id":"Acme Corp"}]})").find("config: /tenants/0/id: expected an identifier") == 0);
  CHECK(error_of(R"({"tenants":[{"id":"acme","categories":{"Billing":["x"]}}]})") ==
        R"(config: /tenants/0/categories: invalid key "Billing": keys must match ^[a-z0-9][a-z0-9_-]{0,62}$)");
  CHECK(error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":"g","vendor":"generic","webhook_secret":"short"}]}]})")
            .find("config: /tenants/0/hosts/0/webhook_secret: expected a secret") == 0);
  CHECK(error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":"g","vendor":"generic"}]}]})") ==
        R"(config: /tenants/0/hosts/0: missing required key "webhook_secret")");
  CHECK(error_of("{\"tenants\": [").rfind("config: not valid JSON: ", 0) == 0);
  // Ids of the wrong type are read before the schema check (the secret-reference scan): an
  // error naming the key, never an exception (found by tests/fuzz, target config).
  CHECK(error_of(R"({"tenants":[{"id":2}]})").rfind("config: /tenants/0/id: expected a string", 0) == 0);
  CHECK(error_of(R"({"tenants":[{"id":"acme","hosts":[{"id":{},"vendor":"generic","webhook_secret":{"ref":"k"}}]}]})")
            .rfind("config: /tenants/0/hosts/0/id: expected a string", 0) == 0);
}

TEST_CASE("config: cross-field checks", "[unit]") {
  CHECK(error_of(R"({"tenants":[{"id":"acme"},{"id":"beta"},{"id":"acme"}]})") ==
        R"(config: /tenants/2/id: duplicate tenant id "acme")");
  CHECK(error_of(std::string(R"({"tenants":[{"id":"acme","hosts":[)") + host_json + "," + host_json + "]}]}") ==
        R"(config: /tenants/0/hosts/1/id: duplicate host id "generic" in tenant "acme")");
  CHECK(error_of(R"({"tenants":[{"id":"acme","policy":{"routing":{"billng":"Billing"}},
                     "categories":{"billing":["invoice"]}}]})")
            .find(R"(config: /tenants/0/policy/routing: category "billng")") == 0);
  CHECK(parse_config(R"({"tenants":[{"id":"acme","policy":{"routing":{"other":"Triage"}}}]})"));
  CHECK(error_of(minimal_with(R"("worker":{"backoff_base_ms":5000,"backoff_max_ms":100})"))
            .find("config: /worker/backoff_max_ms:") == 0);
  // The same host id in two tenants is fine.
  CHECK(parse_config(std::string(R"({"tenants":[{"id":"a","hosts":[)") + host_json + R"(]},{"id":"b","hosts":[)" +
                     host_json + "]}]}"));
}

TEST_CASE("config: relative paths resolve against the base directory", "[unit]") {
  temp_dir dir;
  dir.write("tls/cert.pem", "-----BEGIN CERTIFICATE-----\n");
  dir.write("tls/key.pem", "-----BEGIN PRIVATE KEY-----\n");
  const std::string text = minimal_with(
      R"("server":{"port_file":"run/port","tls":{"cert_file":"tls/cert.pem","key_file":"tls/key.pem"}},)"
      R"("store":{"path":"data/closeloop.db"})");
  const fs::path file = dir.write("etc/closeloop.json", text);

  // parse_config: against base_dir.
  auto c = parse_config(text, dir.path.string());
  REQUIRE(c);
  CHECK(c->store.path == (dir.path / "data/closeloop.db").string());
  CHECK(c->server.port_file == (dir.path / "run/port").string());
  REQUIRE(c->server.tls);
  CHECK(c->server.tls->cert_file == (dir.path / "tls/cert.pem").string());
  CHECK(c->server.tls->key_file == (dir.path / "tls/key.pem").string());

  // load_config_file: against the file's own directory (where the TLS files are not).
  auto from_file = load_config_file(file.string());
  REQUIRE_FALSE(from_file);
  CHECK(from_file.err().message.find("config: /server/tls/cert_file: cannot read") == 0);
  CHECK(from_file.err().message.find(file.string()) != std::string::npos);

  const fs::path file2 = dir.write("closeloop.json", text);
  auto loaded = load_config_file(file2.string());
  REQUIRE(loaded);
  CHECK(loaded->store.path == (dir.path / "data/closeloop.db").string());
  CHECK(fs::path(loaded->store.path).is_absolute());

  // A host's endpoint.ca_file too.
  auto with_ca = parse_config(R"({"tenants":[{"id":"acme","hosts":[{"id":"g","vendor":"generic",
      "webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "endpoint":{"url":"https://hooks.example/a","ca_file":"certs/ca.pem"}}]}]})",
                              dir.path.string());
  REQUIRE(with_ca);
  CHECK(with_ca->tenants[0].hosts[0].settings["endpoint"]["ca_file"] == (dir.path / "certs/ca.pem").string());

  // Absolute paths and SQLite's in-memory name are left alone.
  auto abs = parse_config(minimal_with(R"("store":{"path":"/srv/x.db"})"), dir.path.string());
  REQUIRE(abs);
  CHECK(abs->store.path == "/srv/x.db");
  auto mem = parse_config(minimal_with(R"("store":{"path":":memory:"})"), dir.path.string());
  REQUIRE(mem);
  CHECK(mem->store.path == ":memory:");
}

TEST_CASE("config: TLS files must be readable", "[unit]") {
  temp_dir dir;
  dir.write("cert.pem", "x");
  CHECK(error_of(minimal_with(R"("server":{"tls":{"cert_file":"cert.pem","key_file":"missing.pem"}})"),
                 dir.path.string()) ==
        "config: /server/tls/key_file: cannot read \"" + (dir.path / "missing.pem").string() + "\"");
}

TEST_CASE("config: file errors name the file", "[unit]") {
  temp_dir dir;
  const std::string missing = (dir.path / "nope.json").string();
  auto r = load_config_file(missing);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_config);
  CHECK(r.err().message.find(missing) != std::string::npos);

  const fs::path broken = dir.write("broken.json", "{\"tenants\": [ }");
  auto b = load_config_file(broken.string());
  REQUIRE_FALSE(b);
  CHECK(b.err().message.find(broken.string()) != std::string::npos);
  CHECK(b.err().message.find("not valid JSON") != std::string::npos);

  auto d = load_config_file(dir.path.string());
  REQUIRE_FALSE(d);
  CHECK(d.err().message.find(dir.path.string()) != std::string::npos);

  const fs::path bad = dir.write("bad.json", minimal_with(R"("server":{"prot":1})"));
  auto s = load_config_file(bad.string());
  REQUIRE_FALSE(s);
  CHECK(s.err().message.find(R"(config: /server: unknown key "prot")") == 0);
  CHECK(s.err().message.find(bad.string()) != std::string::npos);
}

TEST_CASE("config: the example configuration loads", "[unit]") {
  const fs::path file = source_dir / "examples/config/closeloop.json";
  auto c = load_config_file(file.string());
  INFO((c ? std::string() : c.err().message));
  REQUIRE(c);
  CHECK(c->server.listen == "127.0.0.1");
  CHECK(c->server.port == 8080);
  CHECK(c->store.path == (fs::absolute(file).parent_path() / "closeloop-demo.db").lexically_normal().string());
  const tenant_config* acme = c->find_tenant("acme");
  REQUIRE(acme);
  CHECK(acme->pol.survey.delay == std::chrono::seconds{86400});
  CHECK(acme->pol.routing.at("billing") == "Billing");
  CHECK(acme->pol.routing.at("outage") == "Operations");
  for (const char* category : {"billing", "outage", "account", "howto"}) {
    CHECK(acme->classifier.categories.contains(category));
  }
  const host_config* g = acme->find_host("generic");
  REQUIRE(g);
  CHECK(g->vendor == "generic");
  CHECK(g->settings["endpoint"]["url"] == "http://127.0.0.1:8089/actions");
}

TEST_CASE("config: schema validation is safe from several threads", "[unit]") {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) {
        if (parse_config(minimal_with(""))) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 80);
}
