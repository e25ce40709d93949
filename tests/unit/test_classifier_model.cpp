// The rule classifier with a tenant's learned category model: the model's category replaces the
// keywords, a model unsure of a ticket only suggests (the engine then does not write the field),
// and a retrained model file is picked up without a restart.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "closeloop/category_model.hpp"
#include "closeloop/classifier.hpp"
#include "closeloop/classify_text.hpp"
#include "closeloop/engine.hpp"
#include "model_test_support.hpp"

using namespace closeloop;
namespace fs = std::filesystem;

namespace {

std::vector<labelled_text> examples(const std::vector<std::pair<std::string, std::vector<std::string>>>& words) {
  std::vector<labelled_text> out;
  const std::vector<std::string> filler = {"please", "help", "my", "the", "i", "need", "today"};
  for (int i = 0; i < 40; ++i)
    for (const auto& [label, ws] : words) {
      std::string t;
      for (int k = 0; k < 6; ++k) t += (k % 2 == 0 ? ws[(i + k) % ws.size()] : filler[(i * 3 + k) % filler.size()]) + " ";
      out.push_back({t, label});
    }
  return out;
}

category_train_options tiny() { return model_test::small_options(); }

event ticket(std::string text) {
  event e;
  e.type = event_type::ticket_created;
  e.tenant = "acme";
  e.host = "generic";
  e.ticket_id = "1";
  e.host_event_id = "e1";
  e.occurred_at = *parse_rfc3339("2026-11-22T10:00:00Z");
  e.text = std::move(text);
  return e;
}

struct temp_file {
  fs::path path = fs::temp_directory_path() / ("closeloop-model-" + std::to_string(::getpid()) + ".model");
  ~temp_file() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

}  // namespace

TEST_CASE("classifier: a learned category model replaces the keywords and is reloaded when retrained",
          "[unit][classify]") {
  temp_file file;
  auto first = category_model::train(examples({{"billing", {"invoice", "refund", "charged"}},
                                               {"login", {"password", "login", "locked"}}}),
                                     tiny());
  REQUIRE(first);
  REQUIRE(first->save(file.path.string()));

  rule_classifier_config cfg;
  cfg.categories["keyword_billing"] = {"invoice"};
  cfg.category_model_path = file.path.string();
  cfg.reload_check = std::chrono::milliseconds(0);
  rule_classifier clf(cfg);
  auto c = clf.classify(ticket("I was charged twice on my invoice, please refund"));
  CHECK(c.category_source == "model");
  CHECK(c.category == "billing");
  CHECK(c.category_write == first->gate().active);
  CHECK_FALSE(c.category_band.empty());

  // Retrained with a new taxonomy: the next classification uses it.
  auto second = category_model::train(examples({{"payments", {"invoice", "refund", "charged"}},
                                                {"access", {"password", "login", "locked"}}}),
                                      tiny());
  REQUIRE(second);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a new mtime
  REQUIRE(second->save(file.path.string()));
  CHECK(clf.classify(ticket("refund my invoice, I was charged")).category == "payments");

  // A broken file keeps the last good model and says why.
  {
    std::ofstream f(file.path, std::ios::trunc);
    f << "not a model";
  }
  CHECK(clf.classify(ticket("refund my invoice")).category == "payments");
  CHECK_FALSE(clf.model_error().empty());
}

TEST_CASE("classifier: a model unsure of a ticket suggests, and the engine does not write the field",
          "[unit][classify]") {
  temp_file file;
  auto m = category_model::train(examples({{"billing", {"invoice", "refund", "charged"}},
                                           {"login", {"password", "login", "locked"}}}),
                                 tiny());
  REQUIRE(m);
  auto t = m->thresholds();
  t.reject = 1.01;  // nothing is sure enough
  m->set_thresholds(t);
  REQUIRE(m->save(file.path.string()));
  rule_classifier_config cfg;
  cfg.category_model_path = file.path.string();
  rule_classifier clf(cfg);
  auto c = clf.classify(ticket("refund my invoice"));
  CHECK_FALSE(c.category_write);
  CHECK(c.category == "other");
  CHECK(c.category_suggestion == "billing");

  policy pol;
  engine eng(pol, clf);
  fixed_clock clk{*parse_rfc3339("2026-11-22T10:00:00Z")};
  auto d = eng.decide(ticket("refund my invoice"), ticket_state{}, clk);
  bool wrote_category = false, explained = false;
  for (const auto& a : d.actions) {
    if (a.type == action_type::set_fields) wrote_category = a.params["fields"].contains("category");
    if (a.type == action_type::add_internal_note)
      explained = a.params["body"].get<std::string>().find("suggested billing") != std::string::npos;
  }
  CHECK_FALSE(wrote_category);
  CHECK(explained);
}

TEST_CASE("classifier: no model file means keywords, and the error is kept for doctor", "[unit][classify]") {
  rule_classifier_config cfg;
  cfg.categories["billing"] = {"invoice"};
  cfg.category_model_path = "/nonexistent/closeloop/category.model";
  rule_classifier clf(cfg);
  auto c = clf.classify(ticket("my invoice is wrong"));
  CHECK(c.category == "billing");
  CHECK(c.category_source == "keywords");
  CHECK_THAT(clf.model_error(), Catch::Contains("/nonexistent/closeloop/category.model"));
}

TEST_CASE("classifier: a tenant's learned sentiment model decides where it exists", "[unit][classify][sentiment]") {
  // Survey comments in this tenant's own words: the lexicon knows none of these phrases.
  std::vector<labelled_text> data;
  const std::vector<std::string> pos = {"callback came within the hour", "ticket closed same day",
                                        "escalated to tier two at once", "replacement shipped overnight"};
  const std::vector<std::string> neg = {"still waiting for a callback", "ticket bounced between teams",
                                        "third time i report this", "replacement never shipped"};
  const std::vector<std::string> tails = {"", " thanks", " again", " today", " for my order"};
  for (std::size_t i = 0; i < 60; ++i) {
    data.push_back({pos[i % pos.size()] + tails[i % tails.size()], "positive"});
    data.push_back({neg[i % neg.size()] + tails[(i + 2) % tails.size()], "negative"});
  }
  auto opt = tiny();
  opt.features = text_features::sentiment;
  auto model = category_model::train(data, opt);
  REQUIRE(model);
  CHECK(model->features() == text_features::sentiment);
  temp_file file;
  REQUIRE(model->save(file.path.string()));
  {
    std::ifstream in(file.path, std::ios::binary);
    std::string head(64, '\0');
    in.read(head.data(), 64);
    CHECK(head.rfind("CLOSELOOP-CATEGORY-MODEL 3\n", 0) == 0);  // format 3: older builds refuse it, not misread it
  }
  auto loaded = category_model::load(file.path.string());
  REQUIRE(loaded);
  CHECK(loaded->features() == text_features::sentiment);
  CHECK(loaded->predict("still waiting for a callback").top_label == "negative");

  rule_classifier_config cfg;
  cfg.sentiment_model_path = file.path.string();
  rule_classifier clf(cfg);
  auto c = clf.classify(ticket("the replacement never shipped"));
  CHECK(c.sentiment_source == "model");
  CHECK(c.sentiment == "negative");
  CHECK(c.sentiment_score < 0);
  auto p = clf.classify(ticket("callback came within the hour"));
  CHECK(p.sentiment == "positive");

  // Without the model the lexicon decides, and says so.
  rule_classifier plain{rule_classifier_config{}};
  CHECK(plain.classify(ticket("the replacement never shipped")).sentiment_source == "lexicon");
}

TEST_CASE("classify: the CLI's directly written line is the JSON value's dump, byte for byte", "[unit][classify]") {
  // A category model passed in, a learned urgency model through the rule classifier (its keys
  // urgency_confidence / urgency_source "model"), ids of every JSON kind, truncated or not.
  auto category = category_model::train(examples({{"billing", {"invoice", "refund", "charged", "发票"}},
                                                  {"login", {"password", "login", "locked", "密码"}},
                                                  {"shipping", {"parcel", "courier", "tracking", "快递"}}}),
                                        tiny());
  REQUIRE(category);
  auto urgency = category_model::train(examples({{"normal", {"question", "wondering", "curious", "info"}},
                                                 {"urgent", {"asap", "deadline", "quickly", "soon"}},
                                                 {"critical", {"outage", "down", "everyone", "lawsuit"}}}),
                                       tiny());
  REQUIRE(urgency);
  const fs::path upath = fs::temp_directory_path() / ("closeloop-line-urgency-" + std::to_string(::getpid()) + ".model");
  REQUIRE(urgency->save(upath.string()));
  rule_classifier_config cfg;
  cfg.urgency_model_path = upath.string();
  rule_classifier with_urgency{cfg};
  rule_classifier plain{rule_classifier_config{}};
  REQUIRE(with_urgency.urgency_model());
  const std::vector<std::string> texts = {"refund my invoice please", "outage everyone down lawsuit",
                                          "密码错误，无法登录，紧急！", "", "tab\there \"quoted\" back\\slash",
                                          "I am angry, this is terrible and unacceptable, cancel today",
                                          "wondering about tracking info", "??"};
  const std::vector<nlohmann::json> ids = {nlohmann::json("a\"b\\c\n\x01 é 退款"), nlohmann::json(42),
                                           nlohmann::json(3.5), nlohmann::json(nullptr),
                                           nlohmann::json{{"x", {1, 2}}, {"y", "z"}}};
  std::string line;
  std::size_t compared = 0;
  for (const rule_classifier* rules : {&plain, &with_urgency})
    for (const category_model* model : {static_cast<const category_model*>(nullptr), static_cast<const category_model*>(&*category)})
      for (const auto& t : texts)
        for (std::size_t k = 0; k <= ids.size(); ++k)
          for (bool truncated : {false, true}) {
            const nlohmann::json* id = k < ids.size() ? &ids[k] : nullptr;
            nlohmann::json j = classify_text(*rules, model, t);
            if (id) j["id"] = *id;
            if (truncated) j["truncated"] = true;
            classify_text_line(*rules, model, t, line, id, truncated);
            INFO(t);
            CHECK(line == j.dump());
            ++compared;
          }
  CHECK(compared == 2 * 2 * texts.size() * (ids.size() + 1) * 2);
  std::error_code ec;
  fs::remove(upath, ec);
}
