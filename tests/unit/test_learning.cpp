// Learning data from the store: agent corrections and confirmed categories, survey comments
// labelled by their score — what `closeloop export` hands to `closeloop train`.
#include <catch2/catch.hpp>

#include "closeloop/engine.hpp"
#include "server/learning.hpp"
#include "store_test_support.hpp"

using namespace closeloop;
using namespace store_test;

namespace {

struct world {
  temp_dir dir;
  std::unique_ptr<store> db = open_store(dir.file("learn.db"));
  rule_classifier clf{rule_classifier_config{{{"billing", {"invoice", "refund"}}, {"login", {"password"}}}}};
  engine eng{policy{}, clf};
  fixed_clock clk{at(0)};
  int n = 0;

  void send(event ev) {
    ev.host_event_id = "e" + std::to_string(++n);
    auto r = db->ingest(ev, [&](const event& e, const ticket_state& s) { return eng.decide(e, s, clk); });
    REQUIRE(r);
  }
  void created(const std::string& ticket, const std::string& subject, const std::string& text) {
    event ev = make_event(ticket, "", event_type::ticket_created);
    ev.subject = subject;
    ev.text = text;
    send(ev);
  }
  void solved(const std::string& ticket) { send(make_event(ticket, "", event_type::ticket_solved)); }
  void corrected(const std::string& ticket, const std::string& from, const std::string& to) {
    event ev = make_event(ticket, "", event_type::ticket_updated);
    ev.changes = {{"category", {{"from", from}, {"to", to}}}};
    ev.author.role = "agent";
    send(ev);
  }
  void answered(const std::string& ticket, int score, const std::string& comment) {
    event ev = make_event(ticket, "", event_type::survey_answered);
    ev.data = {{"survey", "csat"}, {"score", score}};
    if (!comment.empty()) ev.data["comment"] = comment;
    send(ev);
  }
};

}  // namespace

TEST_CASE("learning: corrections and confirmed categories become category examples", "[unit][learning]") {
  world w;
  w.created("1", "Refund please", "I want a refund of my invoice, mail me at ann@example.com");
  w.solved("1");                                              // confirmed: billing
  w.created("2", "Cannot sign in", "my password does not work");
  w.corrected("2", "login", "account");                       // agent: account
  w.created("3", "Hello", "just a question");                 // other, unsolved: nothing
  w.created("4", "Invoice copy", "send me the invoice again");  // billing, not solved: nothing

  auto all = server::export_learning_data(*w.db, {"acme", "category", false});
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK(all->at(0).label == "billing");
  CHECK(all->at(0).source == "confirmed");
  CHECK(all->at(0).text.find("ann@example.com") == std::string::npos);  // the stored problem is scrubbed
  CHECK(all->at(1).label == "account");
  CHECK(all->at(1).source == "agent");
  CHECK(all->at(1).ticket == "zendesk/2");

  auto agent = server::export_learning_data(*w.db, {"acme", "category", true});
  REQUIRE(agent);
  REQUIRE(agent->size() == 1);
  CHECK(agent->front().label == "account");

  CHECK(server::export_learning_data(*w.db, {"other-tenant", "category", false})->empty());
  CHECK_FALSE(server::export_learning_data(*w.db, {"acme", "urgency", false}));
}

TEST_CASE("learning: survey comments are sentiment examples labelled by the score", "[unit][learning]") {
  world w;
  w.created("1", "Refund", "refund my invoice");
  w.solved("1");
  w.answered("1", 1, "Nobody answered for a week");
  w.created("2", "Login", "password reset");
  w.solved("2");
  w.answered("2", 5, "Fixed in minutes, thank you, call me on +44 20 7946 0958");
  w.created("3", "Login", "password reset");
  w.solved("3");
  w.answered("3", 3, "");  // no comment: not an example
  auto ex = server::export_learning_data(*w.db, {"acme", "sentiment", false});
  REQUIRE(ex);
  REQUIRE(ex->size() == 2);
  CHECK(ex->at(0).label == "negative");
  CHECK(ex->at(0).text == "Nobody answered for a week");
  CHECK(ex->at(1).label == "positive");
  CHECK(ex->at(1).text.rfind("Fixed in minutes, thank you", 0) == 0);
  CHECK(ex->at(1).text.find("7946") == std::string::npos);  // exports carry no personal data
}
