// Survey definitions: built-in templates, the JSON form and its schema, language choice, logic
// jumps and answer checks, and custom definitions in the configuration.
#include <catch2/catch.hpp>

#include <string>

#include "closeloop/config.hpp"
#include "closeloop/survey_def.hpp"

using namespace closeloop;
using survey::definition;

namespace {

std::string config_with_survey(const std::string& survey_json) {
  return R"({"tenants":[{"id":"acme","hosts":[{"id":"generic","vendor":"generic",)"
         R"("webhook_secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}],"policy":{"survey":)" +
         survey_json + "}}]}";
}

std::string config_error(const std::string& survey_json) {
  auto r = parse_config(config_with_survey(survey_json));
  REQUIRE_FALSE(r);
  return r.err().message;
}

const char* k_onboarding = R"({
  "id": "onboarding", "kind": "custom", "score_question": "stars", "fallback_language": "en",
  "title": {"en": "Your first week", "zh-CN": "您的第一周"},
  "questions": [
    {"id": "stars", "type": "scale", "min": 1, "max": 10, "required": true,
     "prompt": {"en": "How was it?", "zh-CN": "怎么样？"}},
    {"id": "channel", "type": "single", "prompt": {"en": "How did you reach us?", "zh-CN": "您如何联系我们？"},
     "choices": [{"id": "mail", "label": {"en": "E-mail", "zh-CN": "邮件"}},
                 {"id": "phone", "label": {"en": "Phone", "zh-CN": "电话"}}]},
    {"id": "why", "type": "multiple", "prompt": {"en": "What went wrong?", "zh-CN": "哪里不好？"},
     "show_if": {"question": "stars", "at_most": 4},
     "choices": [{"id": "slow", "label": {"en": "Slow", "zh-CN": "慢"}},
                 {"id": "rude", "label": {"en": "Rude", "zh-CN": "不礼貌"}}]},
    {"id": "words", "type": "text", "max_length": 5, "prompt": {"en": "Anything else?", "zh-CN": "还有吗？"}}
  ]})";

}  // namespace

TEST_CASE("built-in templates: csat 1-5, nps 0-10, ces 1-7 in en, zh-CN, zh-TW", "[unit][survey]") {
  struct expect {
    const char* id;
    int lo, hi, bad;
  };
  for (const expect& e : {expect{"csat", 1, 5, 2}, expect{"nps", 0, 10, 6}, expect{"ces", 1, 7, 3}}) {
    INFO(e.id);
    const definition* d = survey::builtin(e.id);
    REQUIRE(d);
    REQUIRE(d->score());
    CHECK(d->score()->min == e.lo);
    CHECK(d->score()->max == e.hi);
    CHECK(d->negative_at_or_below() == e.bad);
    CHECK(d->languages() == std::vector<std::string>{"en", "zh-CN", "zh-TW"});
    // The reasons question is a logic jump on a low score.
    const survey::question* why = d->find("reasons");
    REQUIRE(why);
    REQUIRE(why->show_if);
    CHECK(why->show_if->at_most == e.bad);
    // Its JSON form passes the schema and reads back the same.
    const json j = survey::to_json(*d);
    CHECK(validate_against_schema("survey", j));
    auto again = survey::definition_from_json(j);
    REQUIRE(again);
    CHECK(survey::to_json(*again) == j);
  }
  CHECK_FALSE(survey::builtin("stars"));
}

TEST_CASE("language: detected zh-Hans/zh-Hant map to zh-CN/zh-TW, else the configured fallback", "[unit][survey]") {
  CHECK(survey::normalize_language("zh-Hans") == "zh-CN");
  CHECK(survey::normalize_language("zh-Hant") == "zh-TW");
  CHECK(survey::normalize_language("zh_HK") == "zh-TW");
  CHECK(survey::normalize_language("zh-Hant-TW") == "zh-TW");
  CHECK(survey::normalize_language("zh") == "zh-CN");
  CHECK(survey::normalize_language("en-GB") == "en");
  CHECK(survey::normalize_language("") == "");
  const definition& csat = *survey::builtin("csat");
  CHECK(survey::choose_language(csat, "zh-Hant", "en") == "zh-TW");
  CHECK(survey::choose_language(csat, "zh-Hans", "en") == "zh-CN");
  CHECK(survey::choose_language(csat, "und", "en") == "en");
  CHECK(survey::choose_language(csat, "fr", "zh-TW") == "zh-TW");  // the tenant's fallback
  auto own = survey::definition_from_json(json::parse(k_onboarding));
  REQUIRE(own);
  CHECK(own->languages() == std::vector<std::string>{"en", "zh-CN"});
  CHECK(survey::choose_language(*own, "zh-Hant", "zh-TW") == "en");  // no zh-TW texts: its own fallback
  CHECK(survey::text_in(own->title, "zh-TW", "en") == "Your first week");
  CHECK(survey::text_in(own->title, "zh-CN", "en") == "您的第一周");
}

TEST_CASE("logic jumps: a low score asks why; hidden answers are dropped", "[unit][survey]") {
  const definition& csat = *survey::builtin("csat");
  auto low = survey::validate_answers(csat, {{"score", 2}, {"reasons", {"slow", "not_solved", "slow"}}});
  REQUIRE(low);
  CHECK(low->score == 2);
  CHECK(low->answers["reasons"] == json({"not_solved", "slow"}));  // choice order, each once
  auto high = survey::validate_answers(csat, {{"score", 5}, {"reasons", {"slow"}}, {"comment", "great"}});
  REQUIRE(high);
  CHECK_FALSE(high->answers.contains("reasons"));
  CHECK(high->answers["comment"] == "great");
  CHECK(survey::visible(*csat.find("reasons"), {{"score", 1}}));
  CHECK_FALSE(survey::visible(*csat.find("reasons"), {{"score", 3}}));
  CHECK_FALSE(survey::visible(*csat.find("reasons"), json::object()));
}

TEST_CASE("answers: every kind of bad input is named", "[unit][survey]") {
  const definition& csat = *survey::builtin("csat");
  auto message = [&](const json& answers) {
    auto r = survey::validate_answers(csat, answers);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    return r.err().message;
  };
  CHECK(message(json::object()) == "answer \"score\": is required");
  CHECK(message({{"score", 6}}) == "answer \"score\": 6 is outside 1..5");
  CHECK(message({{"score", "5"}}) == "answer \"score\": must be an integer 1..5");
  CHECK(message({{"score", 1}, {"reasons", {"bored"}}}) == "answer \"reasons\": \"bored\" is not one of its choices");
  CHECK(message({{"score", 1}, {"mood", "x"}}) == "answer \"mood\": survey \"csat\" has no such question");
  CHECK(message(json::array()) == "answers must be an object");

  auto own = survey::definition_from_json(json::parse(k_onboarding));
  REQUIRE(own);
  CHECK(survey::validate_answers(*own, {{"stars", 9}, {"words", "五个字符呀"}}));  // 5 code points
  auto too_long = survey::validate_answers(*own, {{"stars", 9}, {"words", "六个字符呀呀"}});
  REQUIRE_FALSE(too_long);
  CHECK(too_long.err().message == "answer \"words\": is 6 characters long, at most 5 are accepted");
  auto single = survey::validate_answers(*own, {{"stars", 9}, {"channel", {"mail", "phone"}}});
  REQUIRE_FALSE(single);
  CHECK(single.err().message == "answer \"channel\": must be one choice id");
  CHECK(own->negative_at_or_below() == 4);  // custom: the lower 40 % of 1..10
}

TEST_CASE("definitions: what the schema cannot say is checked with a pointer", "[unit][survey]") {
  auto error_of = [](json j) {
    auto r = survey::definition_from_json(j, "/d");
    REQUIRE_FALSE(r);
    return r.err().message;
  };
  json base = json::parse(k_onboarding);
  {
    json j = base;
    j["questions"][3]["show_if"] = {{"question", "words"}, {"at_most", 3}};
    CHECK(error_of(j) == R"(survey definition /d/questions/3/show_if/question: "words" is not an earlier scale question)");
  }
  {
    json j = base;
    j["questions"][2]["show_if"] = {{"question", "stars"}, {"at_least", 11}};
    CHECK(error_of(j) == "survey definition /d/questions/2/show_if: the range 11..10 is outside stars's scale 1..10");
  }
  {
    json j = base;
    j["questions"][1]["id"] = "stars";
    CHECK(error_of(j) == R"(survey definition /d/questions/1/id: duplicate question id "stars")");
  }
  {
    json j = base;
    j["questions"][1]["prompt"] = {{"zh-CN", "只有中文"}};
    CHECK(error_of(j) == R"(survey definition /d/questions/1/prompt: has no text in the fallback language "en")");
  }
  {
    json j = base;
    j["kind"] = "csat";
    CHECK(error_of(j) == "survey definition /d/score_question: a csat score is 1..5, the question asks 1..10");
  }
  {
    json j = base;
    j["questions"][1]["choices"] = json::array();
    j["questions"][1].erase("choices");
    CHECK(error_of(j) == "survey definition /d/questions/1/choices: a single question needs choices");
  }
}

TEST_CASE("config: custom definitions are schema-checked, unknown keys rejected, the sent one must exist",
          "[unit][survey][config]") {
  auto ok = parse_config(config_with_survey(R"({"definition":"onboarding","fallback_language":"zh-TW","definitions":[)" +
                                            std::string(k_onboarding) + "]}"));
  REQUIRE(ok);
  const survey_policy& sp = ok->tenants[0].pol.survey;
  CHECK(sp.sent_definition().id == "onboarding");
  CHECK(sp.find_definition("nps"));
  CHECK(sp.fallback_language == "zh-TW");

  json bad_key = json::parse(k_onboarding);
  bad_key["questions"][0]["colour"] = "red";
  CHECK(config_error(R"({"definitions":[)" + bad_key.dump() + "]}") ==
        R"(config: /tenants/0/policy/survey/definitions/0/questions/0: unknown key "colour")");
  json bad_jump = json::parse(k_onboarding);
  bad_jump["questions"][2]["show_if"]["question"] = "nope";
  CHECK(config_error(R"({"definitions":[)" + bad_jump.dump() + "]}") ==
        R"(config: /tenants/0/policy/survey/definitions/0/questions/2/show_if/question: "nope" is not an earlier scale question)");
  json twin = json::parse(k_onboarding);
  twin["id"] = "csat";
  CHECK(config_error(R"({"definitions":[)" + twin.dump() + "]}") ==
        R"(config: /tenants/0/policy/survey/definitions/0/id: survey "csat" is already defined (built-ins: csat, nps, ces))");
  CHECK(config_error(R"({"definition":"stars"})") ==
        R"(config: /tenants/0/policy/survey/definition: no survey "stars" (built-ins: csat, nps, ces))");
  CHECK(config_error(R"({"business_hours":{"time_zone":"Mars/Olympus"}})") ==
        R"(config: /tenants/0/policy/survey/business_hours/time_zone: "Mars/Olympus" is not a known IANA time zone)");
  CHECK(config_error(R"({"business_hours":{"time_zone":"Asia/Shanghai","start":"18:00","end":"09:00"}})") ==
        "config: /tenants/0/policy/survey/business_hours/end: must be later than start");
}
