// The knowledge loop's pure parts: ICU segmentation, BM25, extractive drafting (en, zh, bad
// input), and the engine's candidate policy (steps, reopen window, survey gate, suggestions).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include <unistd.h>

#include "closeloop/engine.hpp"
#include "closeloop/kb.hpp"
#include "closeloop/kb_store.hpp"
#include "closeloop/store.hpp"

using namespace closeloop;
using namespace std::chrono_literals;

namespace {

timestamp at(const char* s) { return *parse_rfc3339(s); }

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const action* find(const decision& d, action_type t) {
  auto it = std::find_if(d.actions.begin(), d.actions.end(), [&](const action& a) { return a.type == t; });
  return it == d.actions.end() ? nullptr : &*it;
}

event ev_of(event_type t, std::string id, const char* when, std::string text = {}) {
  event e;
  e.type = t;
  e.tenant = "acme";
  e.host = "generic";
  e.ticket_id = "7";
  e.host_event_id = std::move(id);
  e.occurred_at = at(when);
  e.text = std::move(text);
  e.requester = {"c1", "ann.lee@example.com", "Ann Lee", "customer"};
  return e;
}

event agent_reply(std::string id, const char* when, std::string text) {
  auto e = ev_of(event_type::ticket_commented, std::move(id), when, std::move(text));
  e.visibility = "public";
  e.author = {"a1", "bob@support.example", "Bob Stone", "agent"};
  return e;
}

const char* en_problem =
    "Hello, my printer on floor 3 jams every morning since Monday. I am Ann Lee, call me at +1 415 555 0100 or "
    "ann.lee@example.com. Thanks!";
const char* en_answer =
    "Hi Ann,\n\nthanks for the details. Please do this:\n1. Open tray 2 and remove the torn sheet behind the roller.\n"
    "2. Run the cleaning cycle from the printer menu (Settings > Maintenance).\n3. Load paper with the arrow facing "
    "up.\n\nIf it happens again, call me on 010-8765 4321.\nBest,\nBob Stone";

}  // namespace

TEST_CASE("kb tokens: ICU word segmentation, case folding, stop words, Chinese words", "[unit][kb]") {
  auto t = kb::tokens("The Printer JAMS; printers jammed!");
  CHECK(std::count(t.begin(), t.end(), "printer") == 2);
  CHECK(std::count(t.begin(), t.end(), "jam") == 2);
  CHECK(std::find(t.begin(), t.end(), "the") == t.end());
  auto zh = kb::tokens("打印机每天早上卡纸，怎么办？");
  CHECK(std::find(zh.begin(), zh.end(), "打印") != zh.end());  // Debian's ICU dictionary: 打印|机
  CHECK(std::find(zh.begin(), zh.end(), "早上") != zh.end());
  CHECK(std::find(zh.begin(), zh.end(), "，") == zh.end());
  CHECK(kb::tokens("").empty());
  auto s = kb::sentences("第一句。第二句！Third one.", "zh-Hans");
  CHECK(s.size() == 3);
}

TEST_CASE("kb bm25: ranks the matching article first, similarity 0..1, Chinese too", "[unit][kb]") {
  kb::bm25_index idx;
  idx.add("1", "Printer jams every morning. Open tray 2 and remove the torn sheet, run the cleaning cycle.");
  idx.add("2", "Reset your password: click Forgot password on the login page and follow the mail.");
  idx.add("3", "打印机卡纸：打开纸盒，取出卡住的纸，运行清洁程序。");
  idx.add("4", "发票开错了怎么办：在订单页面申请重开发票。");
  auto hits = idx.search("my printer jams in the morning", 3);
  REQUIRE_FALSE(hits.empty());
  CHECK(hits[0].id == "1");
  CHECK(hits[0].similarity > 0.3);
  CHECK(hits[0].similarity <= 1.0);
  auto zh = idx.search("打印机总是卡纸", 3);
  REQUIRE_FALSE(zh.empty());
  CHECK(zh[0].id == "3");
  CHECK(idx.search("完全无关的问题 unrelated words", 3, 0.5).empty());
  CHECK(idx.search("", 3).empty());
}

TEST_CASE("kb draft: an English ticket gives title, problem and numbered steps, PII scrubbed", "[unit][kb]") {
  kb::draft_input in;
  in.subject = "Re: Printer on floor 3 jams";
  in.language = "en";
  in.names = {"Ann Lee", "Bob Stone"};
  in.messages = {{"customer", en_problem}, {"agent", en_answer}};
  auto d = kb::make_draft(in);
  REQUIRE(d.ok);
  CHECK(d.title == "Printer on floor 3 jams");
  CHECK(has(d.problem, "jams every morning"));
  CHECK_FALSE(has(d.problem, "Hello"));
  REQUIRE(d.steps.size() == 3);
  CHECK(d.numbered);
  CHECK(has(d.steps[0], "torn sheet"));
  CHECK((has(d.body, "Problem") && has(d.body, "Resolution") && has(d.body, "1. Open tray 2")));
  CHECK(has(d.body_html, "<ol>"));
  for (const char* pii : {"Ann", "Lee", "Bob", "Stone", "415", "ann.lee@example.com", "8765"}) {
    INFO(pii);
    CHECK_FALSE(has(d.body, pii));
    CHECK_FALSE(has(d.body_html, pii));
    CHECK_FALSE(has(d.title, pii));
  }
}

TEST_CASE("kb draft: a Chinese ticket gives a Chinese draft, PII scrubbed", "[unit][kb]") {
  kb::draft_input in;
  in.subject = "打印机每天早上卡纸";
  in.language = "zh-Hans";
  in.names = {"王小明", "李娜"};
  in.messages = {
      {"customer", "您好！我是王小明，三楼的打印机每天早上都卡纸。我的手机号是13812345678，身份证11010519491231002X。"},
      {"agent", "王先生您好，请按以下步骤处理：\n1. 打开二号纸盒，取出滚轮后面撕破的纸。\n2. 在打印机菜单里运行清洁程序。\n3. "
                "放纸时箭头朝上。\n如有问题请联系李娜。"}};
  auto d = kb::make_draft(in);
  REQUIRE(d.ok);
  CHECK(d.title == "打印机每天早上卡纸");
  CHECK(has(d.problem, "卡纸"));
  CHECK(d.steps.size() == 3);
  CHECK((has(d.body, "问题") && has(d.body, "解决步骤")));
  for (const char* pii : {"王小明", "小明", "王先生", "李娜", "13812345678", "11010519491231002X"}) {
    INFO(pii);
    CHECK_FALSE(has(d.body, pii));
  }
}

TEST_CASE("kb draft: steps from instruction sentences when the agent wrote no list", "[unit][kb]") {
  kb::draft_input in;
  in.subject = "Cannot log in after password change";
  in.messages = {{"customer", "I changed my password and now the app says invalid credentials."},
                 {"agent", "Sorry about that. Please sign out on every device first. Then clear the app cache in "
                           "Settings. Log in again with the new password."}};
  auto d = kb::make_draft(in);
  REQUIRE(d.ok);
  CHECK_FALSE(d.numbered);
  CHECK(d.steps.size() == 3);
}

TEST_CASE("kb draft: bad input gives no draft and a clear reason, never a crash", "[unit][kb]") {
  kb::draft_input base;
  base.subject = "Printer jams";
  base.messages = {{"customer", "The printer jams."}};
  SECTION("no agent reply") {
    auto d = kb::make_draft(base);
    CHECK_FALSE(d.ok);
    CHECK(has(d.reason, "no agent reply"));
  }
  SECTION("attachments only: the customer's message has no text") {
    auto in = base;
    in.messages = {{"customer", "<img src=\"cid:scan1.png\"><br>"}, {"agent", "1. Open tray 2.\n2. Remove the sheet."}};
    auto d = kb::make_draft(in);
    CHECK_FALSE(d.ok);
    CHECK(has(d.reason, "no problem statement"));
  }
  SECTION("HTML-only bodies are read as text") {
    auto in = base;
    in.messages = {{"customer", "<html><body><p>The printer <b>jams</b> every day.</p></body></html>"},
                   {"agent", "<ol><li>Open tray 2.</li><li>Remove the torn sheet.</li></ol><p>Regards</p>"}};
    auto d = kb::make_draft(in);
    REQUIRE(d.ok);
    CHECK(d.steps.size() == 2);
    CHECK_FALSE(has(d.body, "<li>"));
  }
  SECTION("an answer without any step") {
    auto in = base;
    in.messages.push_back({"agent", "We fixed it on our side."});
    auto d = kb::make_draft(in);
    CHECK_FALSE(d.ok);
    CHECK(has(d.reason, "no resolution steps"));
  }
  SECTION("huge messages are cut, not choked on") {
    auto in = base;
    std::string huge(5 * 1024 * 1024, 'x');
    in.messages = {{"customer", "The printer jams. " + huge}, {"agent", "1. Open tray 2.\n2. Remove it. " + huge}};
    kb::draft d;
    CHECK_NOTHROW(d = kb::make_draft(in));
    CHECK(d.body.size() < 20000);
  }
  SECTION("invalid UTF-8 and empty everything") {
    kb::draft_input in;
    in.messages = {{"customer", "\xff\xfe\x80 broken"}, {"agent", "\xc3"}};
    CHECK_NOTHROW(kb::make_draft(in));
    CHECK_FALSE(kb::make_draft(kb::draft_input{}).ok);
  }
}

TEST_CASE("engine kb: messages kept bounded and scrubbed; solve drafts; suggestions on create", "[unit][kb][engine]") {
  rule_classifier clf{rule_classifier_config{{{"hardware", {"printer"}}}}};
  policy pol;
  pol.survey.enabled = false;
  engine eng{pol, clf};
  fixed_clock clk{at("2026-11-20T09:00:00Z")};
  auto created = ev_of(event_type::ticket_created, "e1", "2026-11-20T09:00:00Z", en_problem);
  created.subject = "Printer on floor 3 jams";
  auto d1 = eng.decide(created, ticket_state{}, clk);
  const action* sug = find(d1, action_type::suggest_kb_articles);
  REQUIRE(sug);
  CHECK(has(sug->params["query"].get<std::string>(), "Printer"));
  CHECK(sug->params["limit"] == 3);
  REQUIRE(sug->not_before);
  CHECK(*sug->not_before == at("2026-11-20T09:00:05Z"));  // after the host has committed the ticket
  REQUIRE(d1.next.kb["messages"].size() == 1);
  CHECK_FALSE(has(d1.next.kb["messages"][0]["text"].get<std::string>(), "ann.lee@example.com"));

  auto d2 = eng.decide(agent_reply("e2", "2026-11-20T10:00:00Z", en_answer), d1.next, clk);
  CHECK(d2.next.kb["agents"][0] == "Bob Stone");
  auto solved = ev_of(event_type::ticket_solved, "e3", "2026-11-20T10:00:01Z");
  solved.data = {{"resolution", en_answer}};
  auto d3 = eng.decide(solved, d2.next, clk);
  const action* art = find(d3, action_type::create_kb_article);
  REQUIRE(art);
  CHECK_FALSE(art->not_before);
  CHECK(art->params["steps"].size() == 3);
  CHECK(art->params["draft"] == true);
  CHECK(art->params["tags"][0] == "closeloop-draft");
  CHECK(art->idempotency_key == "acme/generic/kb/" + art->params["fingerprint"].get<std::string>());
  for (const char* pii : {"Ann", "Bob Stone", "415", "ann.lee@example.com"}) CHECK_FALSE(has(art->params.dump(), pii));
  CHECK(d3.next.kb["status"] == "pending");
  CHECK(d3.next.kb["messages"].size() == 2);  // the resolution repeats the reply: kept once

  SECTION("many messages stay bounded") {
    ticket_state s = d1.next;
    for (int i = 0; i < 40; ++i)
      s = eng.decide(agent_reply("r" + std::to_string(i), "2026-11-20T11:00:00Z", "Reply number " + std::to_string(i)),
                     s, clk)
              .next;
    CHECK(s.kb["messages"].size() <= pol.kb.max_messages);
    CHECK(s.kb["messages"][0]["role"] == "customer");
  }
  SECTION("a candidate policy can refuse: steps required, category confidence") {
    policy p2 = pol;
    p2.kb.min_category_confidence = 1.01;
    engine e2{p2, clf};
    auto r = e2.decide(solved, d2.next, clk);
    CHECK_FALSE(find(r, action_type::create_kb_article));
    CHECK(r.next.kb["status"] == "rejected");
    CHECK(has(r.next.kb["reason"].get<std::string>(), "confidence"));
    policy p3 = pol;
    p3.kb.require_steps = true;
    engine e3{p3, clf};
    ticket_state no_list = d1.next;
    no_list = e3.decide(agent_reply("x", "2026-11-20T10:00:00Z", "Please restart the printer and try again."), no_list, clk).next;
    auto solved2 = solved;
    solved2.data = json::object();
    CHECK_FALSE(find(e3.decide(solved2, no_list, clk), action_type::create_kb_article));
  }
  SECTION("reopen window: the draft waits N days; a reopen calls it off") {
    policy pw = pol;
    pw.kb.reopen_window_days = 3;
    engine ew{pw, clf};
    auto r = ew.decide(solved, d2.next, clk);
    const action* late = find(r, action_type::create_kb_article);
    REQUIRE(late);
    REQUIRE(late->not_before);
    CHECK(*late->not_before == at("2026-11-23T10:00:01Z"));
    std::string why;
    CHECK(kb_draft_still_wanted(r.next, *late, why));
    auto reopened = ev_of(event_type::ticket_reopened, "e4", "2026-11-21T10:00:00Z");
    auto r2 = ew.decide(reopened, r.next, clk);
    CHECK(r2.next.kb["status"] == "cancelled");
    CHECK_FALSE(kb_draft_still_wanted(r2.next, *late, why));
    CHECK(has(why, "reopened"));
  }
  SECTION("survey gate: drafted only after a good answer") {
    policy ps = pol;
    ps.kb.require_good_survey = true;
    engine es{ps, clf};
    auto r = es.decide(solved, d2.next, clk);
    CHECK_FALSE(find(r, action_type::create_kb_article));
    CHECK(r.next.kb["status"] == "awaiting_survey");
    auto answer = ev_of(event_type::survey_answered, "s1", "2026-11-21T10:00:00Z");
    answer.data = {{"survey", "csat"}, {"score", 5}};
    r.next.survey = "sent";
    auto good = es.decide(answer, r.next, clk);
    CHECK(find(good, action_type::create_kb_article));
    answer.data["score"] = 1;
    auto bad = es.decide(answer, r.next, clk);
    CHECK_FALSE(find(bad, action_type::create_kb_article));
    CHECK(bad.next.kb["status"] == "rejected");
  }
}

TEST_CASE("kb_store: articles, links and the outcome report flag weak articles", "[unit][kb]") {
  auto dir = std::filesystem::temp_directory_path() / ("closeloop-kb-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "store.db").string();
  std::filesystem::remove(path);
  auto st = store::open({path});
  REQUIRE(st);
  auto kb = kb_store::open(path);
  REQUIRE(kb);
  const auto now = at("2026-11-20T09:00:00Z");
  REQUIRE((*kb)->replace_host_articles("acme", "rt", {{"rt", "1", "Printer jams", "1. Open tray", "", "", "host", "", "", false},
                                                      {"rt", "2", "VPN drops", "1. Reconnect", "", "", "host", "", "", false}},
                                      now));
  REQUIRE((*kb)->put_article("acme", {"rt", "9", "Draft", "x", "", "", "closeloop", "fp", "5", true}, now));
  // A later sync without article 2 forgets it; closeloop's draft stays.
  REQUIRE((*kb)->replace_host_articles("acme", "rt", {{"rt", "1", "Printer jams", "1. Open tray", "", "", "host", "", "", false}},
                                      now + 1s));
  auto arts = (*kb)->articles("acme", "rt");
  REQUIRE(arts);
  REQUIRE(arts->size() == 2);
  CHECK((*arts)[0].article_id == "1");
  CHECK((*arts)[1].origin == "closeloop");

  // Tickets 1..4 were suggested article 1: two answered 1/5 and two reopened.
  rule_classifier clf{rule_classifier_config{}};
  policy pol;
  engine eng{pol, clf};
  fixed_clock clk{now};
  for (int t = 1; t <= 4; ++t) {
    auto e = ev_of(event_type::ticket_created, "c" + std::to_string(t), "2026-11-20T09:00:00Z", "printer jams");
    e.host = "rt";
    e.ticket_id = std::to_string(t);
    REQUIRE(st.value()->ingest(e, [&](const event& ev, const ticket_state& s) { return eng.decide(ev, s, clk); }));
    auto solved = e;
    solved.type = event_type::ticket_solved;
    solved.host_event_id = "s" + std::to_string(t);
    REQUIRE(st.value()->ingest(solved, [&](const event& ev, const ticket_state& s) { return eng.decide(ev, s, clk); }));
    if (t <= 2) {
      auto ans = solved;
      ans.type = event_type::survey_answered;
      ans.host_event_id = "a" + std::to_string(t);
      ans.data = {{"survey", "csat"}, {"score", 1}};
      REQUIRE(st.value()->ingest(ans, [&](const event& ev, const ticket_state& s) {
        ticket_state sent = s;
        sent.survey = "sent";
        return eng.decide(ev, sent, clk);
      }));
    } else {
      auto re = solved;
      re.type = event_type::ticket_reopened;
      re.host_event_id = "r" + std::to_string(t);
      REQUIRE(st.value()->ingest(re, [&](const event& ev, const ticket_state& s) { return eng.decide(ev, s, clk); }));
    }
    REQUIRE((*kb)->add_link("acme", {"rt", std::to_string(t), "1", "suggested", 0.6, now}));
  }
  REQUIRE((*kb)->add_link("acme", {"rt", "1", "1", "suggested", 0.6, now}));  // twice: kept once
  auto links = (*kb)->links("acme", "rt", "1");
  REQUIRE(links);
  CHECK(links->size() == 1);
  auto rep = (*kb)->report("acme");
  REQUIRE(rep);
  REQUIRE(rep->size() == 1);
  const auto& r = (*rep)[0];
  CHECK(r.article_id == "1");
  CHECK(r.tickets == 4);
  CHECK(r.answered == 2);
  CHECK(r.avg_score == Approx(1.0));
  CHECK(r.reopened == 4);  // two by the customer, two by the escalation of their 1/5 answer
  CHECK(r.weak);
  CHECK(has(r.why, "mean survey answer"));
  std::filesystem::remove_all(dir);
}
