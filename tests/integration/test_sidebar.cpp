// The agent sidebar and customer health through the real `closeloop serve`: signed host contexts
// (forged, expired, too long-lived, another tenant's), agent tokens (role, tenant), a correction
// posted from the page recorded once and exported by `closeloop export`, the health API, and a
// band change written to the host once (generic adapter -> loopback receiver).
#include <catch2/catch.hpp>

#include <regex>

#include "../adapters/loopback_server.hpp"
#include "closeloop/store.hpp"
#include "closeloop/token_store.hpp"
#include "harness.hpp"
#include "server/sidebar_context.hpp"

using namespace closeloop;
using namespace closeloop::itest;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view sidebar_secret = "sidebar secret of acme, test only";
constexpr std::string_view beta_secret = "sidebar secret of beta, test only";

json two_tenant_config(const std::string& endpoint) {
  config_options co;
  co.endpoint_url = endpoint;
  co.extra_tenant = {{"sidebar", {{"secret", sidebar_secret}, {"context_ttl_s", 600}}},
                     {"health", {{"first_response_s", 3600}}}};
  json cfg = make_config(co);
  json beta = cfg["tenants"][0];
  beta["id"] = "beta";
  beta["sidebar"] = {{"secret", beta_secret}};
  cfg["tenants"].push_back(beta);
  return cfg;
}

std::string ctx_for(std::string_view tenant, std::string_view host, std::string_view ticket, std::string_view secret,
                    std::int64_t iat, std::int64_t exp, std::string_view lang = "en") {
  server::sidebar::context c;
  c.tenant = tenant;
  c.host = host;
  c.ticket = ticket;
  c.agent = "alice";
  c.lang = lang;
  c.iat = iat;
  c.exp = exp;
  return server::sidebar::sign_context(c, secret);
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += std::string{'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

result<adapters::http::response> send(const std::string& method, const std::string& url, adapters::header_list headers,
                                      std::string body = {}) {
  adapters::http::request req;
  req.method = method;
  req.url = url;
  req.headers = std::move(headers);
  req.body = std::move(body);
  return make_client(5s).send(req);
}

// The hidden fields of the correction form for `field` in a rendered sidebar page.
std::map<std::string, std::string> form_of(const std::string& html, const std::string& field) {
  static const std::regex form_re("<form method=\"post\" action=\"/sidebar\">(.*?)</form>");
  static const std::regex input_re("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), form_re); it != std::sregex_iterator(); ++it) {
    const std::string body = (*it)[1];
    std::map<std::string, std::string> fields;
    for (auto in = std::sregex_iterator(body.begin(), body.end(), input_re); in != std::sregex_iterator(); ++in)
      fields[(*in)[1]] = (*in)[2];
    if (fields["field"] == field) return fields;
  }
  return {};
}

std::string form_body(const std::map<std::string, std::string>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : "&") + k + "=" + url_encode(v);
  return out;
}

json event_for(std::string_view type, std::string_view ticket, std::string_view email, std::string_view text = {}) {
  json j = event_json(type, ticket, text);
  j["requester"]["email"] = email;
  return j;
}

void post_event(const server_process& srv, const std::string& id, const json& ev, std::string_view tenant = tenant_id) {
  const std::string body = ev.dump();
  auto r = http_post(srv.webhook_url(tenant), sign_headers(id, body), body);
  REQUIRE(r);
  REQUIRE(r->status == 202);
}

std::string make_token(const fs::path& db, const std::string& tenant, api_role role) {
  {
    auto s = store::open(store_options{db.string()});  // migrated before serve starts
    REQUIRE(s);
  }
  auto ts = token_store::open(db.string());
  REQUIRE(ts);
  auto t = (*ts)->create(tenant, role, "test " + std::string(to_string(role)), std::nullopt, "test",
                         std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  REQUIRE(t);
  return t->secret;
}

}  // namespace

TEST_CASE("sidebar: signed contexts, tokens, tenants, a correction recorded once and exported", "[integration][sidebar]") {
  temp_dir dir("sidebar");
  test::loopback_server sink;
  const fs::path db = dir.path() / "closeloop.db";
  const std::string agent_token = make_token(db, "acme", api_role::agent);
  const std::string viewer_token = make_token(db, "acme", api_role::viewer);
  const std::string beta_token = make_token(db, "beta", api_role::agent);
  server_process srv(dir, two_tenant_config(sink.url("/actions")), db);
  srv.start();

  post_event(srv, "c-100", event_for("ticket.created", "100", "Ann@Example.com",
                                      "I was charged twice on my invoice, please refund. This is terrible."));
  post_event(srv, "c-200", event_for("ticket.created", "200", "zed@example.com", "password reset"), "beta");
  const std::int64_t now = unix_now();
  const std::string ctx = ctx_for("acme", "generic", "100", sidebar_secret, now, now + 300);
  const std::string page_url = srv.base_url() + "/sidebar?ctx=" + url_encode(ctx);

  auto page = http_get(page_url);
  REQUIRE(page);
  REQUIRE(page->status == 200);
  CHECK(page->body.find("Ticket #100") != std::string::npos);
  CHECK(page->body.find("billing") != std::string::npos);
  CHECK(page->body.find("ann@example.com") != std::string::npos);
  CHECK(page->body.find("<script") == std::string::npos);
  CHECK(adapters::find_header(page->headers, "content-security-policy")->find("frame-ancestors 'self'") !=
        std::string::npos);
  CHECK(*adapters::find_header(page->headers, "referrer-policy") == "same-origin");

  SECTION("forged, expired, over-long and unknown-tenant contexts are refused with 401") {
    std::string forged = ctx;
    forged.back() = forged.back() == '0' ? '1' : '0';
    for (const auto& [what, bad] : std::vector<std::pair<std::string, std::string>>{
             {"forged", forged},
             {"wrong key", ctx_for("acme", "generic", "100", "some other secret, 16+", now, now + 300)},
             {"expired", ctx_for("acme", "generic", "100", sidebar_secret, now - 700, now - 100)},
             {"lifetime over ttl", ctx_for("acme", "generic", "100", sidebar_secret, now, now + 3600)},
             {"unknown tenant", ctx_for("nobody", "generic", "100", sidebar_secret, now, now + 300)},
             {"garbage", "v1.!!!.00"}}) {
      INFO(what);
      auto r = http_get(srv.base_url() + "/sidebar?ctx=" + url_encode(bad));
      REQUIRE(r);
      CHECK(r->status == 401);
      CHECK(r->body.find("Ticket #100") == std::string::npos);
    }
    auto none = http_get(srv.base_url() + "/sidebar");
    REQUIRE(none);
    CHECK(none->status == 401);
  }

  SECTION("a context or token of one tenant never shows another tenant's ticket") {
    // A context signed with acme's key claiming tenant beta: beta's key does not verify it.
    auto r = http_get(srv.base_url() + "/sidebar?ctx=" + url_encode(ctx_for("beta", "generic", "200", sidebar_secret, now, now + 300)));
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->body.find("#200") == std::string::npos);
    // beta's own context shows beta's ticket only.
    auto own = http_get(srv.base_url() + "/sidebar?ctx=" + url_encode(ctx_for("beta", "generic", "200", beta_secret, now, now + 300)));
    REQUIRE(own);
    CHECK(own->status == 200);
    CHECK(own->body.find("Ticket #200") != std::string::npos);
    // acme's agent token asking for beta: 403; beta's token for acme's ticket: 403.
    auto cross = send("GET", srv.base_url() + "/sidebar?tenant=beta&host=generic&ticket=200",
                      {{"authorization", "Bearer " + agent_token}});
    REQUIRE(cross);
    CHECK(cross->status == 403);
    auto cross2 = send("GET", srv.base_url() + "/sidebar?tenant=acme&host=generic&ticket=100",
                       {{"authorization", "Bearer " + beta_token}});
    REQUIRE(cross2);
    CHECK(cross2->status == 403);
    // A viewer token is below the agent role the sidebar needs.
    auto viewer = send("GET", srv.base_url() + "/sidebar?tenant=acme&host=generic&ticket=100",
                       {{"authorization", "Bearer " + viewer_token}});
    REQUIRE(viewer);
    CHECK(viewer->status == 403);
    auto agent = send("GET", srv.base_url() + "/sidebar?tenant=acme&host=generic&ticket=100",
                      {{"authorization", "Bearer " + agent_token}});
    REQUIRE(agent);
    CHECK(agent->status == 200);
    CHECK(agent->body.find("Ticket #100") != std::string::npos);
    // The mint route (what the Zendesk/Freshdesk apps call with their secure token).
    auto minted = send("POST", srv.base_url() + "/api/v1/tenants/acme/hosts/generic/tickets/100/sidebar-context",
                       {{"authorization", "Bearer " + agent_token}});
    REQUIRE(minted);
    REQUIRE(minted->status == 200);
    const json m = parse_body(*minted);
    auto via_mint = http_get(srv.base_url() + "/sidebar?ctx=" + url_encode(m["ctx"].get<std::string>()));
    REQUIRE(via_mint);
    CHECK(via_mint->status == 200);
    auto mint_cross = send("POST", srv.base_url() + "/api/v1/tenants/beta/hosts/generic/tickets/200/sidebar-context",
                           {{"authorization", "Bearer " + agent_token}});
    REQUIRE(mint_cross);
    CHECK(mint_cross->status == 403);
    auto mint_anon = send("POST", srv.base_url() + "/api/v1/tenants/acme/hosts/generic/tickets/100/sidebar-context", {});
    REQUIRE(mint_anon);
    CHECK(mint_anon->status == 401);
  }

  SECTION("a correction is CSRF-checked, recorded once and exported as a labelled example") {
    auto form = form_of(page->body, "category");
    REQUIRE(form.count("_sid"));
    REQUIRE(form.count("_csrf"));
    form["value"] = "account";
    const adapters::header_list hdr{{"content-type", "application/x-www-form-urlencoded"}, {"origin", srv.base_url()}};

    auto no_csrf = form;
    no_csrf["_csrf"] = std::string(64, '0');
    auto r403 = send("POST", srv.base_url() + "/sidebar", hdr, form_body(no_csrf));
    REQUIRE(r403);
    CHECK(r403->status == 403);
    auto other_site = send("POST", srv.base_url() + "/sidebar",
                           {{"content-type", "application/x-www-form-urlencoded"}, {"origin", "https://evil.example"}},
                           form_body(form));
    REQUIRE(other_site);
    CHECK(other_site->status == 403);
    auto bad_value = form;
    bad_value["value"] = "no-such-category";
    auto r400 = send("POST", srv.base_url() + "/sidebar", hdr, form_body(bad_value));
    REQUIRE(r400);
    CHECK(r400->status == 400);
    CHECK(r400->body.find("no-such-category") != std::string::npos);

    for (int i = 0; i < 2; ++i) {  // a double submit of the same form
      auto r = send("POST", srv.base_url() + "/sidebar", hdr, form_body(form));
      REQUIRE(r);
      CHECK(r->status == 303);
      CHECK(adapters::find_header(r->headers, "location")->find("done=category") != std::string::npos);
    }
    auto after = http_get(page_url);
    REQUIRE(after);
    CHECK(after->body.find("corrected by an agent to") != std::string::npos);

    auto ex = run_command({CLOSELOOP_BINARY, "export", "--config", srv.config_path().string(), "--db", db.string(),
                           "--tenant", "acme", "--task", "category", "--corrected-only"},
                          dir.path());
    REQUIRE(ex.exit_code() == 0);
    std::size_t lines = 0;
    std::istringstream in(ex.out);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      ++lines;
      const json j = json::parse(line);
      CHECK(j["label"] == "account");
      CHECK(j["source"] == "agent");
    }
    CHECK(lines == 1);
  }
}

TEST_CASE("sidebar: the ticket's service level — due times, overdue, met — in the agent's language",
          "[integration][sidebar]") {
  temp_dir dir("sidebar-sla");
  test::loopback_server sink;
  json cfg = two_tenant_config(sink.url("/actions"));
  cfg["tenants"][0]["policy"]["sla"] = {{"first_reply_h", {{"normal", 1}, {"urgent", 1}, {"critical", 1}}},
                                         {"resolution_h", {{"normal", 2}, {"urgent", 2}, {"critical", 2}}}};
  server_process srv(dir, cfg);
  srv.start();
  const std::int64_t now = unix_now();
  auto page = [&](const std::string& ticket, std::string_view lang) {
    auto r = http_get(srv.base_url() + "/sidebar?ctx=" +
                      url_encode(ctx_for("acme", "generic", ticket, sidebar_secret, now, now + 300, lang)));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return r->body;
  };

  // Created three hours ago, nobody answered: both targets (1 h, 2 h) are past.
  json old = event_for("ticket.created", "300", "ann@example.com", "How do I export my invoices?");
  old["occurred_at"] = rfc3339(now - 3 * 3600);
  post_event(srv, "sla-300", old);
  std::string html = page("300", "en");
  INFO(html);
  CHECK_THAT(html, Catch::Contains("First reply due") && Catch::Contains("overdue by 2 h") &&
                       Catch::Contains("Resolution due") && Catch::Contains("overdue by 1 h"));
  CHECK_THAT(page("300", "zh-CN"), Catch::Contains("首次回复期限") && Catch::Contains("已逾期 2 小时"));
  CHECK_THAT(page("300", "zh-TW"), Catch::Contains("解決期限") && Catch::Contains("已逾期 1 小時"));

  // Created now: due later; a public agent reply within the hour meets the first target.
  post_event(srv, "sla-301", event_for("ticket.created", "301", "bo@example.com", "How do I export my invoices?"));
  html = page("301", "en");
  CHECK_THAT(html, Catch::Contains("First reply due") && Catch::Contains("due in "));
  CHECK_THAT(html, !Catch::Contains("overdue by"));
  json reply = event_json("ticket.commented", "301", "Settings, Billing, Export: there you are.");
  reply["author"] = {{"id", "agent-1"}, {"role", "agent"}};
  post_event(srv, "sla-301-reply", reply);
  html = page("301", "en");
  CHECK_THAT(html, Catch::Contains("First reply due") && Catch::Contains(" · met"));

  // A tenant without policy.sla shows no due times.
  post_event(srv, "sla-b", event_for("ticket.created", "302", "cy@example.com", "password reset"), "beta");
  auto beta = http_get(srv.base_url() + "/sidebar?ctx=" +
                       url_encode(ctx_for("beta", "generic", "302", beta_secret, now, now + 300)));
  REQUIRE(beta);
  REQUIRE(beta->status == 200);
  CHECK_THAT(beta->body, !Catch::Contains("First reply due"));
}

TEST_CASE("health: the API and a band change written to the host once", "[integration][health]") {
  temp_dir dir("health");
  test::loopback_server sink;
  const fs::path db = dir.path() / "closeloop.db";
  const std::string viewer_token = make_token(db, "acme", api_role::viewer);
  const std::string beta_token = make_token(db, "beta", api_role::viewer);
  server_process srv(dir, two_tenant_config(sink.url("/actions")), db);
  srv.start();

  post_event(srv, "h-1", event_for("ticket.created", "h1", "bo@example.com", "where is my parcel"));
  const std::string api = srv.base_url() + "/api/v1/tenants/acme/customers/bo%40example.com/health";
  auto healthy = send("GET", api, {{"authorization", "Bearer " + viewer_token}});
  REQUIRE(healthy);
  REQUIRE(healthy->status == 200);
  CHECK(parse_body(*healthy)["band"] == "healthy");
  // Three reopens: 30 points, at risk.
  for (int i = 1; i <= 3; ++i) post_event(srv, "h-r" + std::to_string(i), event_for("ticket.reopened", "h1", "bo@example.com"));
  REQUIRE(eventually([&] { return !actions_received(sink, "set_fields", "h1").empty() &&
                                  actions_received(sink, "set_fields", "h1").back()["params"]["fields"].contains("customer_health"); },
                     10s));
  const auto writes = [&] {
    int n = 0;
    for (const auto& a : actions_received(sink, "set_fields", "h1")) n += a["params"]["fields"].contains("customer_health");
    return n;
  };
  const json w = actions_received(sink, "set_fields", "h1").back();
  CHECK(w["params"]["fields"]["customer_health"] == "at_risk");
  CHECK(w["params"]["fields"]["tags"] == json::array({"health-at_risk"}));
  // Another event that leaves the band where it is writes nothing more.
  post_event(srv, "h-c", event_for("ticket.commented", "h1", "bo@example.com", "thanks"));
  std::this_thread::sleep_for(1s);
  CHECK(writes() == 1);

  auto r = send("GET", api, {{"authorization", "Bearer " + viewer_token}});
  REQUIRE(r);
  const json j = parse_body(*r);
  CHECK(j["band"] == "at_risk");
  CHECK(j["score"] == 30);
  CHECK(j["reasons"][0]["text"] == "3 reopens: #h1, #h1, #h1");
  auto cross = send("GET", api, {{"authorization", "Bearer " + beta_token}});
  REQUIRE(cross);
  CHECK(cross->status == 403);
  auto anon = send("GET", api, {});
  REQUIRE(anon);
  CHECK(anon->status == 401);

  auto cli = run_command({CLOSELOOP_BINARY, "health", "--config", srv.config_path().string(), "--db", db.string(),
                          "--tenant", "acme", "--customer", "BO@example.com", "--json"},
                         dir.path());
  REQUIRE(cli.exit_code() == 0);
  CHECK(json::parse(cli.out)["band"] == "at_risk");
  auto unknown = run_command({CLOSELOOP_BINARY, "health", "--config", srv.config_path().string(), "--db", db.string(),
                              "--tenant", "acme", "--customer", "nobody@example.com"},
                             dir.path());
  CHECK(unknown.exit_code() == 1);
  CHECK(unknown.err.find("no ticket of \"nobody@example.com\"") != std::string::npos);
}
