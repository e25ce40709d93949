// Standard Webhooks, checked by an independent implementation: the `standardwebhooks` npm package
// (tests/integration/node) signs what closeloop accepts and verifies what closeloop sends.
#include <catch2/catch.hpp>

#include "../adapters/loopback_server.hpp"
#include "harness.hpp"
#include "node_peer.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

// Headers made by the npm package for (secret, id, ts, body).
adapters::header_list node_sign(const temp_dir& dir, std::string_view secret, std::string_view id, std::int64_t ts,
                                const std::string& body) {
  static int n = 0;
  const fs::path body_file = dir / ("sign-body-" + std::to_string(n++) + ".json");
  write_text(body_file, body);
  auto r = run_command({"node", (node_dir / "sign.mjs").string(), std::string(secret), std::string(id),
                        std::to_string(ts), body_file.string()},
                       dir.path(), 20s);
  INFO("sign.mjs: " << r.all());
  REQUIRE(r.exit_code() == 0);
  json j = json::parse(r.out);
  adapters::header_list h;
  for (const char* name : {"webhook-id", "webhook-timestamp", "webhook-signature"})
    h.emplace_back(name, j.at(name).get<std::string>());
  return h;
}

adapters::header_list without(adapters::header_list h, std::string_view name) {
  std::erase_if(h, [&](const auto& f) { return f.first == name; });
  return h;
}

}  // namespace

TEST_CASE("webhooks signed by the standardwebhooks npm package are accepted, bad ones get 401 and store nothing",
          "[integration][signatures][node]") {
  temp_dir dir("sig");
  require_node(dir);
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.separate_outbound_secret = true;  // actions are signed with endpoint.secret, not webhook_secret
  server_process srv(dir, make_config(co));
  srv.start();

  // Accepted: three events signed by the npm package; its signatures equal closeloop's own.
  for (int i = 0; i < 3; ++i) {
    const std::string id = "node-ok-" + std::to_string(i);
    const std::string body = event_json("ticket.created", "sig-" + std::to_string(i)).dump();
    const auto ts = unix_now();
    auto h = node_sign(dir, inbound_secret, id, ts, body);
    CHECK(*adapters::find_header(h, "webhook-signature") ==
          *adapters::find_header(sign_headers(id, body, ts), "webhook-signature"));
    auto r = http_post(srv.webhook_url(), h, body);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 202);
  }
  const std::int64_t stored = db_view(srv.db_path()).events();
  REQUIRE(stored == 3);

  struct bad_case {
    std::string name;
    adapters::header_list headers;
    std::string body;
    std::vector<std::string> reason_words;  // the JSON message names the problem
  };
  std::vector<bad_case> cases;
  const auto now = unix_now();
  auto body_for = [](const std::string& id) { return event_json("ticket.created", "bad-" + id).dump(); };
  {
    std::string body = body_for("tampered");
    auto h = node_sign(dir, inbound_secret, "node-bad-tampered", now, body);
    std::string tampered = body;
    tampered.replace(tampered.find("charged twice"), 13, "charged trice");
    cases.push_back({"tampered body", h, tampered, {"signature", "modified body"}});
  }
  {
    std::string body = body_for("secret");
    cases.push_back(
        {"wrong secret", node_sign(dir, outbound_secret, "node-bad-secret", now, body), body, {"wrong secret"}});
  }
  {
    std::string body = body_for("old");
    cases.push_back({"timestamp 6 minutes old",
                     node_sign(dir, inbound_secret, "node-bad-old", now - 360, body),
                     body,
                     {"webhook-timestamp", "older"}});
  }
  {
    std::string body = body_for("future");
    cases.push_back({"timestamp 6 minutes ahead",
                     node_sign(dir, inbound_secret, "node-bad-future", now + 360, body),
                     body,
                     {"webhook-timestamp", "future"}});
  }
  for (const char* header : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
    std::string id = std::string("node-bad-missing-") + header;
    std::string body = body_for(id);
    cases.push_back({std::string("missing ") + header,
                     without(node_sign(dir, inbound_secret, id, now, body), header),
                     body,
                     {"missing", header}});
  }

  for (const auto& c : cases) {
    INFO(c.name);
    auto r = http_post(srv.webhook_url(), c.headers, c.body);
    REQUIRE(r);
    INFO(r->body);
    CHECK(r->status == 401);
    json j = parse_body(*r);
    REQUIRE(j.is_object());
    CHECK(j.value("error", "") == "unauthorized");
    const std::string message = j.value("message", "");
    for (const auto& w : c.reason_words) CHECK_THAT(message, Catch::Contains(w));
  }
  // Nothing was stored for any rejected request.
  CHECK(db_view(srv.db_path()).events() == stored);
  CHECK(healthz_ok(srv));

  // Outbound: what the receiver got verifies with the npm package and endpoint.secret only.
  REQUIRE(sink.wait_for_requests(3, 20s));
  const auto deliveries = sink.requests();
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& d = deliveries[i];
    json headers = json::object();
    for (const char* name : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
      const std::string* v = d.header(name);
      REQUIRE(v != nullptr);
      headers[name] = *v;
    }
    INFO("delivery " << headers.dump() << " " << d.body);
    std::string out;
    CHECK(node_verify(dir, outbound_secret, headers, d.body, &out) == 0);
    INFO(out);
    CHECK(node_verify(dir, inbound_secret, headers, d.body) == 1);         // not the inbound secret
    CHECK(node_verify(dir, outbound_secret, headers, d.body + " ") == 1);  // body as sent, byte for byte
  }
  CHECK(srv.running());
}
