// The adapter conformance suite: the same checks over every folder in tests/adapters/conformance/
// (one per vendor; see tests/adapters/README.md). Signatures are computed here with the vendor's
// signer, payloads are the vendor's documented shapes, and execute() runs against a stand-in that
// enforces the vendor's documented request contract.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "closeloop/config.hpp"
#include "common/adapter.hpp"
#include "common/http_client.hpp"
#include "conformance.hpp"

using namespace closeloop;
using namespace closeloop::adapters;
using namespace closeloop::test::conformance;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

namespace fs = std::filesystem;
const fs::path suite_dir = fs::path(CLOSELOOP_SOURCE_DIR) / "tests/adapters/conformance";

struct fixture {
  std::string name;
  json doc;
  // "body": the payload (a JSON value, or with "raw": true a string sent as is), or "body_file":
  // a file under the source tree sent byte for byte (fixtures another test already keeps).
  std::string body() const {
    if (doc.contains("body_file")) {
      std::ifstream in(fs::path(CLOSELOOP_SOURCE_DIR) / doc["body_file"].get<std::string>(), std::ios::binary);
      if (!in) throw std::runtime_error("cannot read " + doc["body_file"].get<std::string>());
      return std::string(std::istreambuf_iterator<char>(in), {});
    }
    const json& b = doc.at("body");
    return b.is_string() && doc.value("raw", false) ? b.get<std::string>() : b.dump();
  }
};

struct vendor_case {
  std::string folder;
  json desc;
  std::vector<fixture> fixtures;
};

json read_json(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(p.string() + ": " + e.what());
  }
}

const std::vector<vendor_case>& vendors() {
  static const std::vector<vendor_case> all = [] {
    std::vector<vendor_case> out;
    std::vector<fs::path> dirs;
    for (const auto& d : fs::directory_iterator(suite_dir)) {
      if (d.is_directory() && fs::exists(d.path() / "vendor.json")) dirs.push_back(d.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      vendor_case v;
      v.folder = d.filename().string();
      v.desc = read_json(d / "vendor.json");
      std::vector<fs::path> files;
      if (fs::exists(d / "fixtures")) {
        for (const auto& f : fs::directory_iterator(d / "fixtures")) {
          if (f.path().extension() == ".json") files.push_back(f.path());
        }
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) v.fixtures.push_back({f.filename().string(), read_json(f)});
      out.push_back(std::move(v));
    }
    return out;
  }();
  return all;
}

timestamp now_ms() { return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now()); }

const json& signing(const vendor_case& v) { return v.desc.at("signing"); }

adapter_env env_for(milliseconds timeout = seconds{3}) {
  adapter_env env;
  env.public_base_url = "https://closeloop.example";
  env.http_timeout = timeout;
  env.signature_tolerance = seconds{300};
  return env;
}

std::unique_ptr<adapter> make(const vendor_case& v, const std::string& stand_in, json patch = nullptr,
                              milliseconds timeout = seconds{3}) {
  tenant_config t;
  t.id = v.desc.value("tenant", "acme");
  json settings = substitute(v.desc.at("host"), "{stand_in}", stand_in);
  if (!patch.is_null()) settings.merge_patch(substitute(patch, "{stand_in}", stand_in));
  host_config h;
  h.id = settings.at("id").get<std::string>();
  h.vendor = settings.at("vendor").get<std::string>();
  h.settings = settings;
  auto a = make_adapter(t, h, env_for(timeout));
  if (!a) FAIL(v.folder << ": make_adapter: " << a.err().message);
  return std::move(a).value();
}

inbound_request signed_request(const vendor_case& v, const std::string& body, timestamp at, bool wrong_secret = false) {
  const json& s = signing(v);
  auto it = signers().find(s.at("scheme").get<std::string>());
  if (it == signers().end()) FAIL(v.folder << ": no signer registered for scheme " << s.at("scheme"));
  inbound_request req;
  req.method = "POST";
  req.target = v.desc.value("webhook_path", "/webhooks/acme/" + v.desc.at("host").at("id").get<std::string>());
  req.body = body;
  req.headers = {{"content-type", "application/json"}};
  const std::string secret = s.at(wrong_secret ? "wrong_secret" : "secret").get<std::string>();
  for (auto& h : it->second(sign_input{s, secret, body, at})) req.headers.emplace_back(to_lower(h.first), h.second);
  return req;
}

std::string any_body(const vendor_case& v) {
  REQUIRE_FALSE(v.fixtures.empty());
  return v.fixtures.front().body();
}

bool contains_ci(const std::string& hay, const std::string& needle) {
  return to_lower(hay).find(to_lower(needle)) != std::string::npos;
}

action action_from(const vendor_case& v, const json& j) {
  json a = j;
  if (!a.contains("tenant")) a["tenant"] = v.desc.value("tenant", "acme");
  if (!a.contains("host")) a["host"] = v.desc.at("host").at("id");
  auto parsed = action_from_json(a);
  if (!parsed) FAIL(v.folder << ": bad action in vendor.json: " << parsed.err().message);
  return std::move(parsed).value();
}

const json& probe_case(const vendor_case& v) { return v.desc.at("execute").at(v.desc.value("probe", 0)); }

}  // namespace

TEST_CASE("conformance: every registered vendor has a complete suite folder", "[adapter][conformance]") {
  std::set<std::string> folders;
  for (const auto& v : vendors()) {
    folders.insert(v.folder);
    INFO(v.folder);
    CHECK(v.desc.value("vendor", "") == v.folder);
    CHECK(v.desc.at("host").value("vendor", "") == v.folder);
    CHECK(signers().count(signing(v).value("scheme", "")) == 1);
    CHECK(v.fixtures.size() >= 1);
    CHECK(v.desc.at("execute").size() >= 1);
    CHECK(v.desc.at("contract").at("routes").size() >= 1);
  }
  for (const auto& vendor : known_vendors()) {
    INFO("tests/adapters/conformance/" << vendor << "/ is missing");
    CHECK(folders.count(vendor) == 1);
  }
}

TEST_CASE("conformance: verify accepts the vendor's signature and refuses forgeries", "[adapter][conformance]") {
  for (const auto& v : vendors()) {
    DYNAMIC_SECTION(v.folder) {
      auto ad = make(v, "http://127.0.0.1:9");
      const json& s = signing(v);
      const std::string body = any_body(v);
      const timestamp now = now_ms();

      auto good = signed_request(v, body, now);
      auto ok = ad->verify(good, now);
      INFO((ok ? std::string("ok") : ok.err().message));
      CHECK(ok);

      auto wrong = ad->verify(signed_request(v, body, now, true), now);
      REQUIRE_FALSE(wrong);
      CHECK(wrong.err().code == errc::unauthorized);
      CHECK_FALSE(wrong.err().message.empty());

      if (s.value("body_signed", true)) {
        auto tampered = good;
        tampered.body += " ";
        auto r = ad->verify(tampered, now);
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::unauthorized);
      }
      for (const auto& h : s.at("headers")) {
        const std::string name = h.get<std::string>();
        auto missing = good;
        std::erase_if(missing.headers, [&](const auto& f) { return iequals(f.first, name); });
        auto r = ad->verify(missing, now);
        INFO("without " << name);
        REQUIRE_FALSE(r);
        CHECK(r.err().code == errc::unauthorized);
        CHECK(contains_ci(r.err().message, name));
      }
      if (s.value("timestamped", false)) {
        for (auto off : {seconds{-360}, seconds{360}}) {
          auto r = ad->verify(signed_request(v, body, now + off), now);
          INFO("signed " << off.count() << " s from now");
          REQUIRE_FALSE(r);
          CHECK(r.err().code == errc::unauthorized);
        }
        CHECK(ad->verify(signed_request(v, body, now - seconds{240}), now));
      }
    }
  }
}

TEST_CASE("conformance: documented payloads translate to canonical events", "[adapter][conformance]") {
  for (const auto& v : vendors()) {
    for (const auto& f : v.fixtures) {
      DYNAMIC_SECTION(v.folder << "/fixtures/" << f.name) {
        auto ad = make(v, "http://127.0.0.1:9");
        const timestamp now = now_ms();
        auto req = signed_request(v, f.body(), now);
        auto ok = ad->verify(req, now);
        INFO((ok ? std::string("verified") : ok.err().message));
        REQUIRE(ok);
        auto events = ad->translate(req);
        if (f.doc.contains("error")) {
          REQUIRE_FALSE(events);
          CHECK(events.err().code == errc::invalid_argument);
          INFO(events.err().message);
          CHECK(contains_ci(events.err().message, f.doc["error"].get<std::string>()));
          continue;
        }
        INFO((events ? std::string("translated") : events.err().message));
        REQUIRE(events);
        const json& expected = f.doc.at("events");
        REQUIRE(events->size() == expected.size());
        auto again = ad->translate(req);
        REQUIRE(again);
        for (std::size_t i = 0; i < events->size(); ++i) {
          const event& e = (*events)[i];
          const json j = to_json(e);
          INFO("event " << i << ": " << j.dump());
          std::string where;
          CHECK(json_subset(expected[i], j, where));
          INFO(where);
          CHECK(where.empty());
          CHECK(e.tenant == v.desc.value("tenant", "acme"));
          CHECK(e.host == v.desc.at("host").at("id").get<std::string>());
          CHECK_FALSE(e.host_event_id.empty());
          CHECK_FALSE(e.ticket_id.empty());
          CHECK((*again)[i].host_event_id == e.host_event_id);  // redelivery dedupes
          auto valid = validate_against_schema("event", j);
          INFO((valid ? std::string() : valid.err().message));
          CHECK(valid);
        }
      }
    }
  }
}

TEST_CASE("conformance: the stand-ins enforce their contracts", "[adapter][conformance]") {
  for (const auto& v : vendors()) {
    DYNAMIC_SECTION(v.folder) {
      const json& c = v.desc.at("contract");
      contract_server stand_in(c);
      for (const auto& route : c.at("routes")) {
        std::string path = route.at("path").get<std::string>();
        for (auto b = path.find('{'); b != std::string::npos; b = path.find('{')) path.replace(b, path.find('}', b) - b + 1, "1");
        test::recorded_request r;
        r.method = route.at("method").get<std::string>();
        r.target = path;
        r.headers = {{"content-type", "application/json"}};
        if (auto auth = c.find("auth"); auth != c.end()) {
          const std::string name = auth->value("header", "authorization");
          auto without = r;
          without.body = "{}";
          INFO(r.method << " " << path << " without credentials");
          CHECK(stand_in.answer(without).status == c["errors"]["unauthorized"].value("status", 401));
          r.headers.emplace_back(name, auth->contains("value") ? (*auth)["value"].get<std::string>()
                                                               : (*auth)["values"][0].get<std::string>());
        }
        for (const auto& h : route.value("headers", json::array())) r.headers.emplace_back(h.get<std::string>(), "x");
        json must = route.value("required", json::array());
        for (const auto& p : route.value("present", json::array())) must.push_back(p);
        for (const auto& p : must) {
          json body = json::object();  // every other required field present, this one missing
          std::vector<std::string> others;
          for (const auto& q : must) {
            if (q != p) others.push_back(q.get<std::string>());
          }
          std::sort(others.begin(), others.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
          for (const auto& q : others) {
            if (!body.contains(json::json_pointer(q))) body[json::json_pointer(q)] = "x";
          }
          r.body = body.dump();
          INFO(r.method << " " << path << " without " << p);
          auto ans = stand_in.answer(r);
          CHECK(ans.status >= 400);
          CHECK(ans.status < 500);
          CHECK(contains_ci(ans.body, p.get<std::string>()));
        }
        test::recorded_request unknown = r;
        unknown.target = "/no/such/route";
        CHECK(stand_in.answer(unknown).status == c["errors"]["not_found"].value("status", 404));
      }
    }
  }
}

TEST_CASE("conformance: execute follows the vendor's request contract", "[adapter][conformance]") {
  for (const auto& v : vendors()) {
    for (const auto& ex : v.desc.at("execute")) {
      DYNAMIC_SECTION(v.folder << ": " << ex.at("name").get<std::string>()) {
        contract_server stand_in(v.desc.at("contract"));
        auto ad = make(v, stand_in.url());
        const action a = action_from(v, ex.at("action"));
        auto out = ad->execute(a);
        const auto reqs = stand_in.requests();
        std::string calls;
        for (const auto& r : reqs) calls += r.method + " " + r.target + "\n";
        INFO("outcome " << static_cast<int>(out.k) << " HTTP " << out.http_status << ": " << out.message << "\ncalls:\n"
                        << calls);
        const std::string want = ex.value("outcome", "done");
        CHECK(out.k == (want == "done"    ? action_outcome::kind::done
                        : want == "retry" ? action_outcome::kind::retry
                                          : action_outcome::kind::failed));
        if (ex.contains("message")) CHECK(contains_ci(out.message, ex["message"].get<std::string>()));
        if (ex.contains("calls")) {
          std::vector<std::string> got;
          for (const auto& r : reqs) got.push_back(r.method + " " + r.target.substr(0, r.target.find('?')));
          CHECK(got == ex["calls"].get<std::vector<std::string>>());
        }
        const json bodies = ex.value("bodies", json::object());
        for (const auto& [index, fields] : bodies.items()) {
          const std::size_t i = std::stoul(index);
          REQUIRE(i < reqs.size());
          const json body = json::parse(reqs[i].body);
          for (const auto& [ptr, value] : fields.items()) {
            INFO("request " << i << " " << ptr << " in " << body.dump());
            const json::json_pointer p(ptr);
            REQUIRE(body.contains(p));
            if (value.is_string() && value.get<std::string>().rfind("~contains:", 0) == 0) {
              CHECK(contains_ci(body.at(p).dump(), value.get<std::string>().substr(10)));
            } else {
              CHECK(body.at(p) == value);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("conformance: execute maps 429, 5xx, 4xx, bad credentials and timeouts", "[adapter][conformance]") {
  for (const auto& v : vendors()) {
    DYNAMIC_SECTION(v.folder) {
      const json& c = v.desc.at("contract");
      const action a = action_from(v, probe_case(v).at("action"));
      contract_server stand_in(c);
      auto ad = make(v, stand_in.url());

      auto limited = stand_in.error("rate_limited", "rate limit exceeded");
      limited.status = 429;
      limited.headers.emplace_back("retry-after", "7");
      stand_in.raw().push(limited);
      auto out = ad->execute(a);
      INFO("429: " << out.message);
      CHECK(out.k == action_outcome::kind::retry);
      CHECK(out.http_status == 429);
      REQUIRE(out.retry_after.has_value());
      CHECK(*out.retry_after == milliseconds{7000});

      test::scripted_response unavailable;
      unavailable.status = 503;
      unavailable.body = "upstream unavailable";
      stand_in.raw().push(unavailable);
      out = ad->execute(a);
      INFO("503: " << out.message);
      CHECK(out.k == action_outcome::kind::retry);
      CHECK(out.http_status == 503);

      auto invalid = stand_in.error("invalid", "conformance probe");
      stand_in.raw().push(invalid);
      out = ad->execute(a);
      INFO("4xx: " << out.message);
      CHECK(out.k == action_outcome::kind::failed);
      CHECK(out.http_status == invalid.status);
      CHECK(contains_ci(out.message, c.at("errors").at("invalid").value("expect_message", "conformance probe")));

      if (v.desc.contains("wrong_auth")) {
        auto bad = make(v, stand_in.url(), v.desc["wrong_auth"]);
        out = bad->execute(a);
        INFO("wrong credentials: " << out.message);
        CHECK(out.k == action_outcome::kind::failed);
        CHECK(out.http_status == c.at("errors").at("unauthorized").value("status", 401));
      }

      test::scripted_response silent;
      silent.never_answer = true;
      stand_in.raw().push(silent);
      auto slow = make(v, stand_in.url(), nullptr, milliseconds{500});
      const auto t0 = std::chrono::steady_clock::now();
      out = slow->execute(a);
      INFO("timeout: " << out.message);
      CHECK(out.k == action_outcome::kind::retry);
      CHECK(out.http_status == 0);
      CHECK(std::chrono::steady_clock::now() - t0 < seconds{3});
    }
  }
}
