// Zendesk end to end through the bridge: the real `closeloop serve` with a zendesk host whose
// base_url is a Zendesk stand-in on loopback. The stand-in enforces the documented Zendesk
// request contract of tests/adapters/conformance/zendesk/vendor.json (auth, routes, required
// fields, Zendesk's error shapes); webhooks are signed here as Zendesk signs them.
#include <catch2/catch.hpp>

#include <regex>

#include "../adapters/conformance.hpp"
#include "common/crypto.hpp"
#include "harness.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

const std::string zd_secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";

json zendesk_contract() {
  return json::parse(read_text(fs::path(CLOSELOOP_SOURCE_DIR) / "tests/adapters/conformance/zendesk/vendor.json"));
}

json zendesk_config(const std::string& base_url) {
  config_options co;
  co.survey_delay_s = 1;
  json cfg = make_config(co);
  json host = zendesk_contract().at("host");
  host["id"] = "zendesk";
  host["base_url"] = base_url;
  host["groups"] = {{"Escalations", 360000222}, {"Operations", 360000444}, {"Billing", 360000555}};
  host["custom_fields"]["csat"] = 360000666;  // the survey score is written back to a ticket field
  json& t = cfg["tenants"][0];
  t["hosts"] = json::array({host});
  t["policy"]["survey"]["escalation"]["owner"] = "lead@acme.example";
  t["policy"]["kb"] = {{"enabled", true}, {"min_resolution_chars", 20}};
  cfg["worker"]["max_attempts"] = 20;
  return cfg;
}

// X-Zendesk-Webhook-Signature(-Timestamp) as Zendesk computes them.
adapters::header_list zendesk_headers(const std::string& body, std::int64_t ts = unix_now(),
                                      const std::string& secret = zd_secret) {
  const std::string stamp = rfc3339(ts);
  return {{"X-Zendesk-Webhook-Signature-Timestamp", stamp},
          {"X-Zendesk-Webhook-Signature",
           adapters::crypto::base64_encode(adapters::crypto::hmac_sha256(secret, stamp + body))}};
}

json trigger(const std::string& event, const std::string& ticket, const std::string& updated_at) {
  return {{"event", event},
          {"tenant", "acme"},
          {"host", "zendesk"},
          {"ticket",
           {{"id", ticket},
            {"subject", "Production is down: every login returns error 500"},
            {"description", "Production is down since 08:00, every login returns an error 500. Please help!"},
            {"status", event == "ticket.solved" ? "Solved" : "Open"},
            {"priority", "Normal"},
            {"tags", "enterprise"},
            {"group", "Support"},
            {"via", "Mail"},
            {"created_at", "2026-11-20T10:00:00Z"},
            {"updated_at", updated_at},
            {"requester", {{"id", "381626101"}, {"email", "alice@northwind.example"}, {"name", "Alice Chen"}}},
            {"latest_comment", {{"id", ""}, {"body", ""}, {"public", "true"}, {"author", json::object()}}},
            {"latest_public_comment",
             {{"body",
               "To fix it:\n1. Restart the login service.\n2. Clear the session cache.\n3. Log in again."}}}}},
          {"current_user",
           {{"id", event == "ticket.created" ? "381626101" : "12"},
            {"email", event == "ticket.created" ? "alice@northwind.example" : "bob@acme.example"},
            {"name", event == "ticket.created" ? "Alice Chen" : "Bob"},
            {"role", event == "ticket.created" ? "end-user" : "agent"}}}};
}

result<adapters::http::response> post_zendesk(const server_process& srv, const std::string& body,
                                              adapters::header_list headers) {
  return http_post(srv.webhook_url("acme", "zendesk"), headers, body);
}

std::vector<json> ticket_puts(const test::conformance::contract_server& zd, const std::string& ticket) {
  std::vector<json> out;
  for (const auto& r : zd.requests()) {
    if (r.method == "PUT" && r.target == "/api/v2/tickets/" + ticket) out.push_back(json::parse(r.body));
  }
  return out;
}

std::size_t article_posts(const test::conformance::contract_server& zd) {
  std::size_t n = 0;
  for (const auto& r : zd.requests()) n += r.method == "POST" && r.target.find("/articles") != std::string::npos;
  return n;
}

// The survey link in a public comment.
std::string survey_link(const std::vector<json>& puts, const std::string& base) {
  const std::regex link(std::regex_replace(base, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + "/s/[A-Za-z0-9._~-]+");
  for (const auto& p : puts) {
    const json c = p["ticket"].value("comment", json::object());
    if (!c.value("public", false)) continue;
    std::smatch m;
    const std::string body = c.value("body", "");
    if (std::regex_search(body, m, link)) return m.str();
  }
  return {};
}

// GET the page, POST the answer with the page's hidden fields (whatever the form carries).
void answer(const std::string& link, const std::string& answers) {
  auto page = http_get(link);
  REQUIRE(page);
  REQUIRE(page->status == 200);
  std::string fields;
  const std::regex hidden(R"re(<input type="hidden" name="([^"]+)" value="([^"]*)")re");
  for (auto it = std::sregex_iterator(page->body.begin(), page->body.end(), hidden); it != std::sregex_iterator(); ++it) {
    fields += (*it)[1].str() + "=" + (*it)[2].str() + "&";
  }
  for (int step = 0; step < 2; ++step) {  // a low score may ask a follow-up question first
    adapters::http::request req;
    req.method = "POST";
    req.url = link;
    req.headers = {{"content-type", "application/x-www-form-urlencoded"}};
    req.body = fields + answers + (step == 1 ? "&_why=1&reasons=slow" : "");
    auto r = make_client(5s).send(req);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    if (r->body.find("What went wrong?") == std::string::npos) break;
  }
}

}  // namespace

TEST_CASE("zendesk bridge: created is classified and written back, solved gets the survey, a bad answer reopens, "
          "the KB article is drafted once",
          "[integration][zendesk]") {
  temp_dir dir("zendesk");
  test::conformance::contract_server zd(zendesk_contract().at("contract"));
  server_process srv(dir, zendesk_config(zd.url()));
  srv.start();

  const std::string created = trigger("ticket.created", "35436", "2026-11-20T10:00:00Z").dump();
  auto r = post_zendesk(srv, created, zendesk_headers(created));
  REQUIRE(r);
  INFO(r->body << "\n" << srv.stderr_text());
  REQUIRE(r->status == 202);
  // Priority, fields (tags) and the note are written back through Zendesk's Tickets API.
  REQUIRE(eventually(
      [&] {
        bool priority = false, tags = false, note = false;
        for (const auto& p : ticket_puts(zd, "35436")) {
          const json& t = p["ticket"];
          priority = priority || t.contains("priority");
          tags = tags || (t.contains("additional_tags") &&
                          t["additional_tags"].dump().find("closeloop_category_outage") != std::string::npos);
          note = note || (t.contains("comment") && t["comment"]["public"] == false);
        }
        return priority && tags && note;
      },
      20s));
  // A redelivery of the same trigger is recognised.
  auto again = post_zendesk(srv, created, zendesk_headers(created));
  REQUIRE(again);
  CHECK(again->status == 200);

  const std::string solved = trigger("ticket.solved", "35436", "2026-11-20T11:00:00Z").dump();
  r = post_zendesk(srv, solved, zendesk_headers(solved));
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string link;
  REQUIRE(eventually(
      [&] {
        link = survey_link(ticket_puts(zd, "35436"), srv.base_url());
        return !link.empty();
      },
      20s));
  REQUIRE(eventually([&] { return article_posts(zd) == 1; }, 20s));

  answer(link, "score=1&comment=Still+broken");
  REQUIRE(eventually(
      [&] {
        for (const auto& p : ticket_puts(zd, "35436")) {
          for (const auto& f : p["ticket"].value("custom_fields", json::array())) {
            if (f.value("id", 0) == 360000666 && f.value("value", json()) == 1) return true;
          }
        }
        return false;
      },
      20s));
  REQUIRE(eventually(
      [&] {
        for (const auto& p : ticket_puts(zd, "35436")) {
          if (p["ticket"].value("status", "") == "open") {
            CHECK(p["ticket"].value("assignee_email", "") == "lead@acme.example");
            CHECK(p["ticket"].value("group_id", 0) == 360000222);
            return true;
          }
        }
        return false;
      },
      20s));

  // Another ticket with the same problem, solved: no second article.
  const std::string created2 = trigger("ticket.created", "35437", "2026-11-21T10:00:00Z").dump();
  REQUIRE(post_zendesk(srv, created2, zendesk_headers(created2))->status == 202);
  const std::string solved2 = trigger("ticket.solved", "35437", "2026-11-21T11:00:00Z").dump();
  REQUIRE(post_zendesk(srv, solved2, zendesk_headers(solved2))->status == 202);
  db_view db(srv.db_path());
  REQUIRE(eventually([&] { return db.outbox("pending") == 0; }, 20s));
  std::this_thread::sleep_for(1500ms);  // a survey timer (1 s) may add work: let it run
  REQUIRE(eventually([&] { return db.outbox("pending") == 0; }, 20s));
  CHECK(article_posts(zd) == 1);
  CHECK(db.outbox("failed") == 0);
}

TEST_CASE("zendesk bridge: bad signatures, stale timestamps, other vendors' payloads and missing fields are "
          "refused with a reason and nothing is stored",
          "[integration][zendesk]") {
  temp_dir dir("zendesk-bad");
  test::conformance::contract_server zd(zendesk_contract().at("contract"));
  server_process srv(dir, zendesk_config(zd.url()));
  srv.start();
  const std::string good = trigger("ticket.created", "1", "2026-11-20T10:00:00Z").dump();

  auto wrong = post_zendesk(srv, good, zendesk_headers(good, unix_now(), "not the signing secret"));
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK_THAT(wrong->body, Catch::Contains("X-Zendesk-Webhook-Signature does not match"));

  auto stale = post_zendesk(srv, good, zendesk_headers(good, unix_now() - 600));
  REQUIRE(stale);
  CHECK(stale->status == 401);
  CHECK_THAT(stale->body, Catch::Contains("older than 300 s"));

  auto unsigned_req = post_zendesk(srv, good, {});
  REQUIRE(unsigned_req);
  CHECK(unsigned_req->status == 401);
  CHECK_THAT(unsigned_req->body, Catch::Contains("missing X-Zendesk-Webhook-Signature"));

  const std::string rt = read_text(fs::path(CLOSELOOP_SOURCE_DIR) / "tests/fixtures/request_tracker/create.json");
  auto other = post_zendesk(srv, rt, zendesk_headers(rt));
  REQUIRE(other);
  CHECK(other->status == 400);
  CHECK_THAT(other->body, Catch::Contains("ticket"));

  json missing = trigger("ticket.created", "2", "2026-11-20T10:00:00Z");
  missing["ticket"].erase("id");
  const std::string m = missing.dump();
  auto no_id = post_zendesk(srv, m, zendesk_headers(m));
  REQUIRE(no_id);
  CHECK(no_id->status == 400);
  CHECK_THAT(no_id->body, Catch::Contains("ticket.id"));

  db_view db(srv.db_path());
  CHECK(db.events() == 0);
  std::this_thread::sleep_for(300ms);
  CHECK(zd.requests().empty());
}

TEST_CASE("zendesk bridge: a Zendesk answering 429 for a few seconds delays the write-back but loses nothing",
          "[integration][zendesk]") {
  temp_dir dir("zendesk-429");
  test::conformance::contract_server zd(zendesk_contract().at("contract"));
  for (int i = 0; i < 3; ++i) {
    auto limited = zd.error("rate_limited", "Rate limit exceeded");
    limited.status = 429;
    limited.headers.emplace_back("retry-after", "1");
    zd.raw().push(limited);
  }
  server_process srv(dir, zendesk_config(zd.url()));
  srv.start();
  const auto t0 = steady::now();
  const std::string created = trigger("ticket.created", "500", "2026-11-20T10:00:00Z").dump();
  auto r = post_zendesk(srv, created, zendesk_headers(created));
  REQUIRE(r);
  REQUIRE(r->status == 202);
  db_view db(srv.db_path());
  REQUIRE(eventually([&] { return db.outbox("pending") == 0 && !ticket_puts(zd, "500").empty(); }, 30s));
  CHECK(steady::now() - t0 >= 1s);  // Retry-After was honoured
  CHECK(db.outbox("failed") == 0);
  // Nothing lost: priority, tags and the note all reached Zendesk after the 429s.
  REQUIRE(eventually(
      [&] {
        bool priority = false, tags = false, note = false;
        for (const auto& p : ticket_puts(zd, "500")) {
          const json& t = p["ticket"];
          priority = priority || t.contains("priority");
          tags = tags || t.contains("additional_tags");
          note = note || (t.contains("comment") && t["comment"]["public"] == false);
        }
        return priority && tags && note;
      },
      20s));
  const std::string log = srv.stdout_text() + srv.stderr_text();
  INFO(log);
  CHECK(log.find("action retry") != std::string::npos);
}
