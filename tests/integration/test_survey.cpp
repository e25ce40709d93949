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
        auto sent = actions_received(sink, "send_survey", ticket);
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
    CHECK(actions_received(sink, "set_fields", "s1").size() == 1);  // only the classification's, from creation
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

    REQUIRE(eventually([&] { return !actions_received(sink, "reopen", "s1").empty(); }, 10s));
    auto reopen = actions_received(sink, "reopen", "s1").front();
    CHECK(reopen["params"]["owner"] == "lead");
    CHECK(reopen["params"]["group"] == "Escalations");
    REQUIRE(eventually([&] { return actions_received(sink, "set_fields", "s1").size() == 2; }, 10s));
    CHECK(actions_received(sink, "set_fields", "s1").back()["params"]["fields"]["csat"] == 1);
    bool noted = false;
    for (const auto& n : actions_received(sink, "add_internal_note", "s1"))
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
    REQUIRE(eventually([&] { return actions_received(sink, "set_fields", "s1").size() == 3; }, 10s));
    CHECK(actions_received(sink, "set_fields", "s1").back()["params"]["fields"]["csat"] == 5);
    CHECK(actions_received(sink, "reopen", "s1").size() == 1);
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
  REQUIRE(eventually([&] { return actions_received(sink, "set_fields", "z1").size() == 2; }, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(actions_received(sink, "reopen", "z1").empty());
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

TEST_CASE("survey: the invitation asks the tenant's own survey on its own scale, in the ticket's language; "
          "the one reminder says it is one",
          "[integration][survey]") {
  temp_dir dir("survey-own");
  test::loopback_server sink;
  config_options co;
  co.endpoint_url = sink.url("/actions");
  json cfg = make_config(co);
  json& sp = cfg["tenants"][0]["policy"]["survey"];
  sp["definition"] = "effort";
  sp["reminder"] = {{"enabled", true}, {"delay_s", 3600}};
  sp["definitions"] = json::array({json::parse(R"({
    "id": "effort", "kind": "custom", "score_question": "effort", "fallback_language": "en",
    "title": {"en": "Your request", "zh-TW": "您的請求"},
    "questions": [{"id": "effort", "type": "scale", "min": 1, "max": 7, "required": true,
                   "prompt": {"en": "How much effort did it take you?", "zh-TW": "您花了多少力氣？"},
                   "min_label": {"en": "almost none", "zh-TW": "幾乎沒有"},
                   "max_label": {"en": "a great deal", "zh-TW": "非常多"}}]})")});
  server_process srv(dir, cfg);
  srv.start();

  json inv = invitation_for(srv, sink, "e1", "The export to CSV times out every time I try it.");
  INFO("invitation: " << inv.dump());
  const std::string link = inv.value("link", "");
  const std::string body = inv.value("body", "");
  CHECK(body.find("How much effort did it take you?") != std::string::npos);
  CHECK(body.find("How satisfied") == std::string::npos);  // not the CSAT question
  // One link per value of the definition's own scale (1..7), named by its question id.
  for (int v = 1; v <= 7; ++v) CHECK(body.find(link + "?effort=" + std::to_string(v) + "\n") != std::string::npos);
  CHECK(body.find("?score=") == std::string::npos);
  CHECK(body.find("?effort=0") == std::string::npos);
  CHECK(body.find("?effort=8") == std::string::npos);
  CHECK(body.find("7 (a great deal)") != std::string::npos);
  CHECK(body.find("1 (almost none)") != std::string::npos);
  CHECK(inv.value("reminder", false) == false);
  CHECK(inv.value("subject", "").rfind("How did we do?", 0) == 0);
  // The page knows the link's value: 6 is preselected.
  auto page = http_get(link + "?effort=6");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("How much effort did it take you?") != std::string::npos);

  // A traditional-Chinese ticket is asked in zh-TW, the definition's texts.
  json zh = invitation_for(srv, sink, "e2", "您好，我的帳單被重複扣款了兩次，請幫我退款。這個問題已經發生過好幾次，非常困擾。");
  INFO("zh invitation: " << zh.dump());
  CHECK(zh.value("body", "").find("您花了多少力氣？") != std::string::npos);
  CHECK(zh.value("body", "").find("7 (非常多)") != std::string::npos);

  // Nobody answered e1: its reminder (due in an hour, brought forward in the store) is one
  // message that says it is a reminder, with a working link.
  {
    SQLite::Database db((dir.path() / "closeloop.db").string(), SQLite::OPEN_READWRITE, 5000);
    SQLite::Statement up(db, "UPDATE timers SET due_at_ms = 0 WHERE ticket_id = 'e1' AND status = 'pending'"
                             " AND kind LIKE '%reminder%'");
    REQUIRE(up.exec() == 1);
  }
  json reminder;
  REQUIRE(eventually(
      [&] {
        auto sent = actions_received(sink, "send_survey", "e1");
        if (sent.size() < 2) return false;
        reminder = sent.back()["params"];
        return true;
      },
      10s));
  INFO("reminder: " << reminder.dump());
  CHECK(reminder.value("reminder", false) == true);
  CHECK(reminder.value("subject", "").rfind("Reminder: how did we do?", 0) == 0);
  const std::string rbody = reminder.value("body", "");
  CHECK(rbody.find("A short reminder") != std::string::npos);
  CHECK(rbody.find("How much effort did it take you?") != std::string::npos);
  const std::string rlink = reminder.value("link", "");
  CHECK(rbody.find(rlink + "?effort=7") != std::string::npos);
  auto answered = answer_survey(rlink, "effort=2");
  REQUIRE(answered);
  CHECK(answered->status == 200);
  std::this_thread::sleep_for(300ms);
  CHECK(actions_received(sink, "send_survey", "e1").size() == 2);  // one invitation, one reminder
}

TEST_CASE("survey: the answer webhook has a circuit of its own: a helpdesk outage does not hold it back",
          "[integration][survey][resilience]") {
  temp_dir dir("survey-hook-circuit");
  test::loopback_server sink;
  test::loopback_server crm;
  std::atomic<bool> host_down{false};
  sink.set_handler([&](const test::recorded_request&) {
    return host_down ? test::scripted_response{503, {}, "helpdesk down"} : test::scripted_response{};
  });
  config_options co;
  co.endpoint_url = sink.url("/actions");
  co.extra_tenant = {{"webhooks", json::array({{{"id", "crm"},
                                               {"url", crm.url("/closeloop")},
                                               {"secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                                               {"events", {"survey.answered"}}}})}};
  json cfg = make_config(co);
  cfg["worker"]["breaker_failures"] = 1;
  cfg["worker"]["breaker_cooldown_ms"] = 60000;  // stays open for the whole test
  server_process srv(dir, cfg);
  srv.start();
  json first = invitation_for(srv, sink, "c1", "The export to CSV times out every time.");
  json second = invitation_for(srv, sink, "c2", "The dashboard shows yesterday's numbers.");

  // The helpdesk goes down: the first answer's write-back fails and opens the host's circuit.
  host_down = true;
  auto a1 = answer_survey(first.value("link", ""), "score=5");
  REQUIRE(a1);
  REQUIRE(a1->status == 200);
  const std::string open_host = "SELECT count(*) FROM host_circuits WHERE host = '" + std::string(host_id) +
                                "' AND state = 'open'";
  REQUIRE(eventually([&] { return db_view(dir / "closeloop.db").scalar(open_host) == 1; }, 10s));
  std::this_thread::sleep_for(300ms);  // a call already on the wire when it opened may still land
  const auto host_calls = sink.requests().size();

  // The second answer: its write-back waits for the helpdesk (not attempted), its webhook goes out.
  auto a2 = answer_survey(second.value("link", ""), "score=4");
  REQUIRE(a2);
  REQUIRE(a2->status == 200);
  auto delivered_for = [&](std::string_view ticket) {
    for (const auto& r : crm.requests()) {
      json b = json::parse(r.body, nullptr, false);
      if (!b.is_discarded() && b["data"].value("ticket_id", "") == ticket) return true;
    }
    return false;
  };
  INFO("server: " << srv.stderr_text());
  REQUIRE(eventually([&] { return delivered_for("c2"); }, 10s));
  db_view db(dir / "closeloop.db");
  CHECK(db.scalar(open_host) == 1);  // still open: the webhook did not need it
  CHECK(sink.requests().size() == host_calls);  // and nothing more was tried on the helpdesk
  CHECK(db.scalar("SELECT count(*) FROM outbox WHERE ticket_id = 'c2' AND status = 'pending' AND attempts = 0") >= 1);
  CHECK(db.scalar("SELECT count(*) FROM host_circuits WHERE host = 'webhook:crm' AND state <> 'closed'") == 0);
}
