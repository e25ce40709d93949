// Survey invitations and the hosted answer page, end to end over real sockets: serve's worker
// sends the invitation (generic adapter -> a loopback receiver), the signed link is opened and
// answered over HTTP, and the answer's actions reach the receiver.
#include <catch2/catch.hpp>

#include "harness.hpp"
#include "node_peer.hpp"
#include "survey_form.hpp"
#include "../adapters/loopback_server.hpp"
#include "server/survey.hpp"

using namespace closeloop;
using namespace closeloop::itest;

namespace {

std::vector<json> actions_of(const test::loopback_server& sink, std::string_view type, std::string_view ticket) {
  std::vector<json> out;
  for (const auto& r : sink.requests()) {
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) continue;
    const json& a = j.contains("action") ? j["action"] : j;
    if (a.value("type", "") == type && a.value("ticket_id", "") == ticket) out.push_back(a);
  }
  return out;
}

void send(const server_process& srv, const std::string& id, const json& ev) {
  auto r = post_signed(srv, id, ev.dump());
  INFO("POST " << id << ": " << (r ? std::to_string(r->status) + " " + r->body : r.err().message) << "\nserver: "
                << srv.stderr_text());
  REQUIRE(r);
  REQUIRE(r->status == 202);
}

// Creates and solves a ticket, waits for the invitation, returns its params.
json invitation_for(const server_process& srv, const test::loopback_server& sink, const std::string& ticket,
                    const std::string& text) {
  json created = event_json("ticket.created", ticket, text);
  created["requester"]["name"] = "Ann Lee";
  send(srv, "c-" + ticket, created);
  send(srv, "s-" + ticket, event_json("ticket.solved", ticket));
  json params;
  REQUIRE(eventually(
      [&] {
        auto sent = actions_of(sink, "send_survey", ticket);
        if (sent.empty()) return false;
        params = sent.front()["params"];
        return true;
      },
      15s));
  return params;
}

}  // namespace

TEST_CASE("survey: invitation with signed one-click links, answered on the hosted page, bad answer escalated",
          "[integration][survey]") {
  temp_dir dir("survey");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.survey_delay_s = 1;
  server_process srv(dir, make_config(co));
  srv.start();

  json inv = invitation_for(srv, sink, "s1", "I was charged twice on my invoice, please refund.");
  const std::string link = inv.value("link", "");
  INFO("invitation: " << inv.dump());
  REQUIRE(link.rfind(srv.base_url() + "/s/cl1.", 0) == 0);
  const std::string body = inv.value("body", "");
  CHECK(body.find("Hello Ann Lee,") != std::string::npos);
  CHECK(body.find("Ticket s1") != std::string::npos);
  for (int s = 1; s <= 5; ++s) CHECK(body.find(link + "?score=" + std::to_string(s)) != std::string::npos);

  SECTION("the page: GET shows the question, ?score preselects, a bare GET records nothing") {
    auto page = http_get(link);
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->body.find("How satisfied are you") != std::string::npos);
    CHECK(page->body.find("value=\"5\"") != std::string::npos);
    auto chosen = http_get(link + "?score=4");
    REQUIRE(chosen);
    CHECK(chosen->body.find("value=\"4\" checked") != std::string::npos);
    std::this_thread::sleep_for(500ms);
    CHECK(actions_of(sink, "set_fields", "s1").size() == 1);  // only the classification's, from creation
  }

  SECTION("forged, tampered and expired links are refused") {
    std::string tampered = link;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    auto r1 = http_get(tampered);
    REQUIRE(r1);
    CHECK(r1->status == 403);
    CHECK(r1->body.find("not valid") != std::string::npos);

    server::survey::link_claims c{"acme", "generic", "s1", "csat", "en", unix_now() + 3600};
    auto r2 = http_get(srv.base_url() + "/s/" + server::survey::make_token("another secret entirely", c));
    REQUIRE(r2);
    CHECK(r2->status == 403);

    c.expires = unix_now() - 10;
    auto r3 = http_get(srv.base_url() + "/s/" + server::survey::make_token(survey_link_secret, c));
    REQUIRE(r3);
    CHECK(r3->status == 410);
    CHECK(r3->body.find("expired") != std::string::npos);

    auto r4 = http_get(srv.base_url() + "/s/not-a-token");
    REQUIRE(r4);
    CHECK(r4->status == 403);
  }

  SECTION("a score out of range is refused naming it; 1/5 with a comment is recorded and escalated once") {
    auto bad = answer_survey(link, "score=9");
    REQUIRE(bad);
    CHECK(bad->status == 400);
    CHECK(bad->body.find("Please choose a score.") != std::string::npos);

    // A low score without the follow-up on the page gets it as a second step; then it is recorded.
    auto page = http_get(link);
    REQUIRE(page);
    const auto f = form_of(page->body);
    const std::string answer = f.fields() + "&score=1&comment=Nobody+read+my+message+%E2%80%94+twice";
    auto step2 = post_form(link, answer);
    REQUIRE(step2);
    CHECK(step2->status == 200);
    CHECK(step2->body.find("What went wrong?") != std::string::npos);
    auto ok = post_form(link, answer + "&_why=1&reasons=slow");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body.find("someone from the team will get back to you") != std::string::npos);

    REQUIRE(eventually([&] { return !actions_of(sink, "reopen", "s1").empty(); }, 10s));
    auto reopen = actions_of(sink, "reopen", "s1").front();
    CHECK(reopen["params"]["owner"] == "lead");
    CHECK(reopen["params"]["group"] == "Escalations");
    REQUIRE(eventually([&] { return actions_of(sink, "set_fields", "s1").size() == 2; }, 10s));
    CHECK(actions_of(sink, "set_fields", "s1").back()["params"]["fields"]["csat"] == 1);
    bool noted = false;
    for (const auto& n : actions_of(sink, "add_internal_note", "s1"))
      noted = noted || n["params"]["body"].get<std::string>().find("Nobody read my message \u2014 twice") !=
                           std::string::npos;
    CHECK(noted);

    // The page now says the survey was answered; a new answer is a new submission, which the
    // engine applies as an update within the edit window; it never escalates a second time.
    auto shown = http_get(link);
    REQUIRE(shown);
    CHECK(shown->body.find("You have already answered this survey") != std::string::npos);
    auto again = answer_survey(link, "score=5");
    REQUIRE(again);
    CHECK(again->status == 200);
    REQUIRE(eventually([&] { return actions_of(sink, "set_fields", "s1").size() == 3; }, 10s));
    CHECK(actions_of(sink, "set_fields", "s1").back()["params"]["fields"]["csat"] == 5);
    CHECK(actions_of(sink, "reopen", "s1").size() == 1);
  }
}

TEST_CASE("survey: a Chinese ticket gets its invitation and page in Chinese, a good answer is not escalated",
          "[integration][survey]") {
  temp_dir dir("survey-zh");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  server_process srv(dir, make_config(co));
  srv.start();
  json inv = invitation_for(srv, sink, "z1", "我的账单重复扣款了，请退款。");
  INFO("invitation: " << inv.dump());
  CHECK(inv.value("body", "").find("您对获得的帮助满意吗") != std::string::npos);
  auto page = http_get(inv.value("link", ""));
  REQUIRE(page);
  CHECK(page->body.find("lang=\"zh-Hans\"") != std::string::npos);
  auto ok = answer_survey(inv.value("link", ""), "score=5");
  REQUIRE(ok);
  CHECK(ok->body.find("您的回答已记录") != std::string::npos);
  REQUIRE(eventually([&] { return actions_of(sink, "set_fields", "z1").size() == 2; }, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(actions_of(sink, "reopen", "z1").empty());
}

TEST_CASE("survey: each answer goes to the tenant's outbound webhook once, signed (checked by the npm peer), "
          "retried through a 503",
          "[integration][survey][node]") {
  temp_dir dir("survey-hook");
  require_node(dir);
  test::loopback_server sink;
  test::loopback_server crm;
  crm.push({503, {{"retry-after", "0"}}, "busy"});  // the first delivery fails and is retried
  constexpr std::string_view hook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.extra_tenant = {{"webhooks", json::array({{{"id", "crm"},
                                               {"url", crm.url("/closeloop")},
                                               {"secret", hook_secret},
                                               {"events", {"survey.answered"}}}})}};
  server_process srv(dir, make_config(co));
  srv.start();

  json inv = invitation_for(srv, sink, "w1", "The export to CSV times out every time.");
  const std::string link = inv.value("link", "");
  REQUIRE(!link.empty());
  // A low score asks why first (the logic jump); the follow-up is answered in the same post.
  auto ok = answer_survey(link, "score=2&comment=Still+slow&_why=1&reasons=slow");
  REQUIRE(ok);
  REQUIRE(ok->status == 200);

  auto deliveries = [&] {
    std::vector<test::recorded_request> out;
    for (const auto& r : crm.requests())
      if (r.target == "/closeloop") out.push_back(r);
    return out;
  };
  // 503, then the retry: two attempts of one delivery, with the same webhook-id.
  REQUIRE(eventually([&] { return deliveries().size() >= 2; }, 15s));
  std::this_thread::sleep_for(500ms);
  auto got = deliveries();
  INFO("server: " << srv.stderr_text());
  REQUIRE(got.size() == 2);
  REQUIRE(got[0].header("webhook-id"));
  CHECK(*got[0].header("webhook-id") == *got[1].header("webhook-id"));

  const auto& last = got.back();
  json headers = json::object();
  for (const char* h : {"webhook-id", "webhook-timestamp", "webhook-signature"}) {
    REQUIRE(last.header(h));
    headers[h] = *last.header(h);
  }
  std::string why;
  CHECK(node_verify(dir, hook_secret, headers, last.body, &why) == 0);
  INFO(why);
  CHECK(node_verify(dir, "whsec_QW5vdGhlclNlY3JldEVudGlyZWx5MTIzNA==", headers, last.body) == 1);

  json body = json::parse(last.body);
  CHECK(body["type"] == "survey.answered");
  const json& d = body["data"];
  CHECK(d["tenant"] == tenant_id);
  CHECK(d["ticket_id"] == "w1");
  CHECK(d["survey"] == "csat");
  CHECK(d["score"] == 2);
  CHECK(d["scale"]["max"] == 5);
  CHECK(d["negative"] == true);
  CHECK(d["escalated"] == true);
  CHECK(d["comment"] == "Still slow");
  CHECK(d["edit"] == false);
  CHECK(d["customer"]["email"].get<std::string>().find('@') != std::string::npos);

  // A second submission within the edit window is a new delivery (edit = true); the first is
  // never sent again.
  auto again = answer_survey(link, "score=4");
  REQUIRE(again);
  REQUIRE(eventually([&] { return deliveries().size() == 3; }, 10s));
  json edited = json::parse(deliveries().back().body);
  CHECK(edited["data"]["edit"] == true);
  CHECK(edited["data"]["score"] == 4);
  CHECK(*deliveries().back().header("webhook-id") != *got[0].header("webhook-id"));
  std::this_thread::sleep_for(500ms);
  CHECK(deliveries().size() == 3);
}
