// Survey definitions: the built-in templates, the JSON form, language choice, answer checks.
#include "closeloop/survey_def.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "closeloop/utf8.hpp"

namespace closeloop::survey {
namespace {

json tr(const char* en, const char* zh_cn, const char* zh_tw) {
  return {{"en", en}, {"zh-CN", zh_cn}, {"zh-TW", zh_tw}};
}

json reason(const char* id, const char* en, const char* zh_cn, const char* zh_tw) {
  return {{"id", id}, {"label", tr(en, zh_cn, zh_tw)}};
}

json comment_question() {
  return {{"id", "comment"},
          {"type", "text"},
          {"max_length", 4000},
          {"prompt", tr("Anything you would like to add? (optional)", "还有什么想告诉我们的吗？（可选）",
                        "還有什麼想告訴我們的嗎？（可選）")}};
}

json why_question(int at_most, json reasons) {
  return {{"id", "reasons"},
          {"type", "multiple"},
          {"prompt", tr("We are sorry. What went wrong?", "很抱歉。哪里做得不好？", "很抱歉。哪裡做得不好？")},
          {"choices", std::move(reasons)},
          {"show_if", {{"question", "score"}, {"at_most", at_most}}}};
}

json score_question(int min, int max, json prompt, json min_label, json max_label) {
  return {{"id", "score"},      {"type", "scale"},       {"min", min},
          {"max", max},         {"required", true},      {"prompt", std::move(prompt)},
          {"min_label", std::move(min_label)}, {"max_label", std::move(max_label)}};
}

json template_json(const char* id) {
  const json title = tr("How did we do?", "我们做得怎么样？", "我們做得怎麼樣？");
  const std::string sid = id;
  if (sid == "nps") {
    return {{"id", "nps"},
            {"kind", "nps"},
            {"score_question", "score"},
            {"title", title},
            {"questions",
             {score_question(0, 10,
                             tr("How likely are you to recommend us to a friend or colleague?",
                                "您向朋友或同事推荐我们的可能性有多大？", "您向朋友或同事推薦我們的可能性有多大？"),
                             tr("not at all likely", "完全不可能", "完全不可能"), tr("extremely likely", "极有可能", "極有可能")),
              why_question(6, {reason("support", "The support I received", "获得的支持", "獲得的支援"),
                               reason("product", "The product itself", "产品本身", "產品本身"),
                               reason("price", "The price", "价格", "價格"),
                               reason("other", "Something else", "其他", "其他")}),
              comment_question()}}};
  }
  if (sid == "ces") {
    return {{"id", "ces"},
            {"kind", "ces"},
            {"score_question", "score"},
            {"title", title},
            {"questions",
             {score_question(1, 7,
                             tr("How easy was it to get your request resolved?", "解决您的请求有多容易？",
                                "解決您的請求有多容易？"),
                             tr("very difficult", "非常困难", "非常困難"), tr("very easy", "非常容易", "非常容易")),
              why_question(3, {reason("many_contacts", "I had to contact you several times", "我不得不多次联系你们",
                                      "我不得不多次聯絡你們"),
                               reason("repeat", "I had to repeat myself", "我不得不重复说明", "我不得不重複說明"),
                               reason("slow", "It took too long", "花的时间太长", "花的時間太長"),
                               reason("other", "Something else", "其他", "其他")}),
              comment_question()}}};
  }
  return {{"id", "csat"},
          {"kind", "csat"},
          {"score_question", "score"},
          {"title", title},
          {"questions",
           {score_question(1, 5,
                           tr("How satisfied are you with the help you received?", "您对获得的帮助满意吗？",
                              "您對獲得的協助滿意嗎？"),
                           tr("very dissatisfied", "非常不满意", "非常不滿意"), tr("very satisfied", "非常满意", "非常滿意")),
            why_question(2, {reason("not_solved", "My problem is not solved", "问题没有解决", "問題沒有解決"),
                             reason("slow", "It took too long", "花的时间太长", "花的時間太長"),
                             reason("unfriendly", "The staff were unfriendly", "服务态度不好", "服務態度不好"),
                             reason("hard_to_reach", "It was hard to reach someone", "很难联系到人", "很難聯絡到人"),
                             reason("other", "Something else", "其他", "其他")}),
            comment_question()}}};
}

const std::map<std::string, definition, std::less<>>& builtins() {
  static const auto all = [] {
    std::map<std::string, definition, std::less<>> m;
    for (const char* id : {"csat", "nps", "ces"}) {
      auto d = definition_from_json(template_json(id), std::string("builtin/") + id);
      if (d) m.emplace(id, std::move(*d));  // a broken template is caught by the unit tests
    }
    return m;
  }();
  return all;
}

error bad(const std::string& where, const std::string& what) {
  return make_error(errc::invalid_config, "survey definition " + (where.empty() ? std::string("/") : where) + ": " + what);
}

std::pair<int, int> standard_range(std::string_view kind) {
  if (kind == "nps") return {0, 10};
  if (kind == "ces") return {1, 7};
  if (kind == "csat") return {1, 5};
  return {0, -1};
}

text_map read_texts(const json& j) {
  text_map m;
  if (j.is_object())
    for (const auto& [lang, text] : j.items())
      if (text.is_string()) m.emplace(lang, text.get<std::string>());
  return m;
}

json write_texts(const text_map& m) {
  json j = json::object();
  for (const auto& [lang, text] : m) j[lang] = text;
  return j;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) utf8::next(s, i);
  return n;
}

}  // namespace

std::string_view to_string(question_type t) noexcept {
  switch (t) {
    case question_type::scale: return "scale";
    case question_type::single: return "single";
    case question_type::multiple: return "multiple";
    case question_type::text: return "text";
  }
  return "scale";
}

const question* definition::find(std::string_view question_id) const noexcept {
  if (question_id.empty()) return nullptr;
  for (const auto& q : questions)
    if (q.id == question_id) return &q;
  return nullptr;
}

std::vector<std::string> definition::languages() const {
  std::set<std::string> langs;
  for (const auto& [l, _] : title) langs.insert(l);
  for (const auto& q : questions) {
    for (const auto& [l, _] : q.prompt) langs.insert(l);
  }
  std::vector<std::string> out;
  auto complete = [](const text_map& m, const std::string& l) { return m.empty() || m.contains(l); };
  for (const auto& l : langs) {
    bool ok = complete(title, l);
    for (const auto& q : questions) {
      ok = ok && complete(q.prompt, l) && complete(q.min_label, l) && complete(q.max_label, l);
      for (const auto& c : q.choices) ok = ok && complete(c.label, l);
    }
    if (ok) out.push_back(l);
  }
  return out;
}

int definition::negative_at_or_below() const noexcept {
  if (bad_at_or_below) return *bad_at_or_below;
  if (kind == "nps") return 6;
  if (kind == "ces") return 3;
  if (kind == "csat") return 2;
  const question* s = score();
  if (!s) return -1;
  return s->min + (s->max - s->min) * 2 / 5;
}

const definition* builtin(std::string_view id) noexcept {
  const auto& all = builtins();
  auto it = all.find(id);
  return it == all.end() ? nullptr : &it->second;
}

std::vector<std::string> builtin_ids() { return {"csat", "nps", "ces"}; }

result<definition> definition_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) return bad(where, "must be an object");
  try {
    definition d;
    d.id = j.at("id").get<std::string>();
    d.kind = j.value("kind", "custom");
    d.score_question = j.value("score_question", "");
    d.fallback_language = j.value("fallback_language", "en");
    d.title = read_texts(j.value("title", json::object()));
    if (auto it = j.find("bad_at_or_below"); it != j.end()) d.bad_at_or_below = it->get<int>();
    const json& qs = j.at("questions");
    if (!qs.is_array() || qs.empty()) return bad(where + "/questions", "needs at least one question");
    std::set<std::string> ids;
    for (std::size_t i = 0; i < qs.size(); ++i) {
      const json& qj = qs[i];
      const std::string qp = where + "/questions/" + std::to_string(i);
      question q;
      q.id = qj.at("id").get<std::string>();
      if (!ids.insert(q.id).second) return bad(qp + "/id", "duplicate question id \"" + q.id + "\"");
      const std::string type = qj.at("type").get<std::string>();
      if (type == "scale") q.type = question_type::scale;
      else if (type == "single") q.type = question_type::single;
      else if (type == "multiple") q.type = question_type::multiple;
      else if (type == "text") q.type = question_type::text;
      else return bad(qp + "/type", "unknown question type \"" + type + "\"");
      q.prompt = read_texts(qj.at("prompt"));
      q.required = qj.value("required", false);
      q.min = qj.value("min", 1);
      q.max = qj.value("max", 5);
      q.min_label = read_texts(qj.value("min_label", json::object()));
      q.max_label = read_texts(qj.value("max_label", json::object()));
      q.max_length = qj.value("max_length", std::size_t{2000});
      if (q.type == question_type::scale && q.min >= q.max)
        return bad(qp + "/max", "must be greater than min (" + std::to_string(q.min) + ")");
      if (auto c = qj.find("choices"); c != qj.end()) {
        std::set<std::string> cids;
        for (std::size_t k = 0; k < c->size(); ++k) {
          choice ch{(*c)[k].at("id").get<std::string>(), read_texts((*c)[k].at("label"))};
          if (!cids.insert(ch.id).second)
            return bad(qp + "/choices/" + std::to_string(k) + "/id", "duplicate choice id \"" + ch.id + "\"");
          q.choices.push_back(std::move(ch));
        }
      }
      if ((q.type == question_type::single || q.type == question_type::multiple) && q.choices.empty())
        return bad(qp + "/choices", "a " + type + " question needs choices");
      if (q.type != question_type::single && q.type != question_type::multiple && !q.choices.empty())
        return bad(qp + "/choices", "only single and multiple questions have choices");
      if (auto s = qj.find("show_if"); s != qj.end()) {
        condition cond;
        cond.question = s->at("question").get<std::string>();
        if (auto a = s->find("at_least"); a != s->end()) cond.at_least = a->get<int>();
        if (auto a = s->find("at_most"); a != s->end()) cond.at_most = a->get<int>();
        const question* target = d.find(cond.question);
        if (!target || target->type != question_type::scale)
          return bad(qp + "/show_if/question", "\"" + cond.question + "\" is not an earlier scale question");
        if (!cond.at_least && !cond.at_most) return bad(qp + "/show_if", "needs at_least or at_most");
        const int lo = cond.at_least.value_or(target->min), hi = cond.at_most.value_or(target->max);
        if (lo > hi || hi < target->min || lo > target->max)
          return bad(qp + "/show_if", "the range " + std::to_string(lo) + ".." + std::to_string(hi) +
                                          " is outside " + cond.question + "'s scale " + std::to_string(target->min) +
                                          ".." + std::to_string(target->max));
        q.show_if = std::move(cond);
      }
      // Every text exists in the fallback language, so a page can always be shown.
      auto needs = [&](const text_map& m, const std::string& p) -> std::optional<error> {
        if (!m.empty() && !m.contains(d.fallback_language))
          return bad(p, "has no text in the fallback language \"" + d.fallback_language + "\"");
        return std::nullopt;
      };
      if (q.prompt.empty()) return bad(qp + "/prompt", "needs at least one text");
      if (auto e = needs(q.prompt, qp + "/prompt")) return *e;
      if (auto e = needs(q.min_label, qp + "/min_label")) return *e;
      if (auto e = needs(q.max_label, qp + "/max_label")) return *e;
      for (std::size_t k = 0; k < q.choices.size(); ++k)
        if (auto e = needs(q.choices[k].label, qp + "/choices/" + std::to_string(k) + "/label")) return *e;
      d.questions.push_back(std::move(q));
    }
    if (!d.title.empty() && !d.title.contains(d.fallback_language))
      return bad(where + "/title", "has no text in the fallback language \"" + d.fallback_language + "\"");
    if (d.kind != "custom" && d.kind != "csat" && d.kind != "nps" && d.kind != "ces")
      return bad(where + "/kind", "must be csat, nps, ces or custom");
    if (!d.score_question.empty()) {
      const question* s = d.score();
      if (!s || s->type != question_type::scale)
        return bad(where + "/score_question", "\"" + d.score_question + "\" is not a scale question");
      if (auto [lo, hi] = standard_range(d.kind); hi >= lo && (s->min != lo || s->max != hi))
        return bad(where + "/score_question", "a " + d.kind + " score is " + std::to_string(lo) + ".." +
                                                  std::to_string(hi) + ", the question asks " +
                                                  std::to_string(s->min) + ".." + std::to_string(s->max));
      if (d.bad_at_or_below && (*d.bad_at_or_below < s->min || *d.bad_at_or_below >= s->max))
        return bad(where + "/bad_at_or_below",
                   "must be " + std::to_string(s->min) + ".." + std::to_string(s->max - 1));
    } else if (d.kind != "custom") {
      return bad(where + "/score_question", "a " + d.kind + " survey needs its score question");
    } else if (d.bad_at_or_below) {
      return bad(where + "/bad_at_or_below", "needs a score_question");
    }
    return d;
  } catch (const json::exception& e) {
    return bad(where, e.what());
  }
}

json to_json(const definition& d) {
  json qs = json::array();
  for (const auto& q : d.questions) {
    json qj = {{"id", q.id}, {"type", to_string(q.type)}, {"prompt", write_texts(q.prompt)}};
    if (q.required) qj["required"] = true;
    if (q.type == question_type::scale) {
      qj["min"] = q.min;
      qj["max"] = q.max;
      if (!q.min_label.empty()) qj["min_label"] = write_texts(q.min_label);
      if (!q.max_label.empty()) qj["max_label"] = write_texts(q.max_label);
    }
    if (q.type == question_type::text) qj["max_length"] = q.max_length;
    if (!q.choices.empty()) {
      qj["choices"] = json::array();
      for (const auto& c : q.choices) qj["choices"].push_back({{"id", c.id}, {"label", write_texts(c.label)}});
    }
    if (q.show_if) {
      json s = {{"question", q.show_if->question}};
      if (q.show_if->at_least) s["at_least"] = *q.show_if->at_least;
      if (q.show_if->at_most) s["at_most"] = *q.show_if->at_most;
      qj["show_if"] = std::move(s);
    }
    qs.push_back(std::move(qj));
  }
  json j = {{"id", d.id}, {"kind", d.kind}, {"fallback_language", d.fallback_language}, {"questions", std::move(qs)}};
  if (!d.score_question.empty()) j["score_question"] = d.score_question;
  if (!d.title.empty()) j["title"] = write_texts(d.title);
  if (d.bad_at_or_below) j["bad_at_or_below"] = *d.bad_at_or_below;
  return j;
}

// ---- language ----------------------------------------------------------------------------

std::string normalize_language(std::string_view tag) {
  std::string l(tag);
  for (auto& c : l) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l.empty()) return l;
  const std::string primary = l.substr(0, l.find('-'));
  if (primary == "zh") {
    if (l == "zh-tw" || l == "zh-hk" || l == "zh-mo" || l.starts_with("zh-hant")) return "zh-TW";
    return "zh-CN";
  }
  return primary;
}

std::string choose_language(const definition& d, std::string_view detected, std::string_view fallback) {
  const std::vector<std::string> have = d.languages();
  auto has = [&](const std::string& l) { return std::find(have.begin(), have.end(), l) != have.end(); };
  if (std::string l = normalize_language(detected); !l.empty() && has(l)) return l;
  if (std::string l = normalize_language(fallback); !l.empty() && has(l)) return l;
  return d.fallback_language;
}

const std::string& text_in(const text_map& texts, std::string_view lang, std::string_view fallback) {
  static const std::string empty;
  if (auto it = texts.find(lang); it != texts.end()) return it->second;
  if (auto it = texts.find(fallback); it != texts.end()) return it->second;
  return texts.empty() ? empty : texts.begin()->second;
}

// ---- answers -----------------------------------------------------------------------------

bool visible(const question& q, const json& answers) noexcept {
  if (!q.show_if) return true;
  if (!answers.is_object()) return false;
  auto it = answers.find(q.show_if->question);
  if (it == answers.end() || !it->is_number_integer()) return false;
  return q.show_if->holds(it->get<int>());
}

result<checked_answers> validate_answers(const definition& d, const json& answers) {
  auto bad_answer = [](const std::string& qid, const std::string& what) {
    return make_error(errc::invalid_argument, "answer \"" + qid + "\": " + what);
  };
  if (!answers.is_object()) return make_error(errc::invalid_argument, "answers must be an object");
  for (const auto& [qid, _] : answers.items())
    if (!d.find(qid)) return bad_answer(qid, "survey \"" + d.id + "\" has no such question");
  checked_answers out;
  for (const auto& q : d.questions) {  // in order: a logic jump looks at earlier answers only
    auto it = answers.find(q.id);
    const bool given = it != answers.end() && !it->is_null() && !(it->is_string() && it->get_ref<const std::string&>().empty()) &&
                       !(it->is_array() && it->empty());
    if (!visible(q, out.answers)) continue;  // hidden by a logic jump: dropped
    if (!given) {
      if (q.required) return bad_answer(q.id, "is required");
      continue;
    }
    const json& v = *it;
    switch (q.type) {
      case question_type::scale: {
        if (!v.is_number_integer())
          return bad_answer(q.id, "must be an integer " + std::to_string(q.min) + ".." + std::to_string(q.max));
        const auto n = v.get<std::int64_t>();
        if (n < q.min || n > q.max)
          return bad_answer(q.id, std::to_string(n) + " is outside " + std::to_string(q.min) + ".." +
                                      std::to_string(q.max));
        out.answers[q.id] = static_cast<int>(n);
        if (q.id == d.score_question) out.score = static_cast<int>(n);
        break;
      }
      case question_type::single: {
        if (!v.is_string()) return bad_answer(q.id, "must be one choice id");
        const auto& id = v.get_ref<const std::string&>();
        if (std::none_of(q.choices.begin(), q.choices.end(), [&](const choice& c) { return c.id == id; }))
          return bad_answer(q.id, "\"" + id + "\" is not one of its choices");
        out.answers[q.id] = id;
        break;
      }
      case question_type::multiple: {
        const json list = v.is_string() ? json::array({v}) : v;
        if (!list.is_array()) return bad_answer(q.id, "must be a list of choice ids");
        json picked = json::array();
        for (const auto& c : q.choices) {  // choice order, each once
          if (std::any_of(list.begin(), list.end(), [&](const json& x) { return x.is_string() && x == c.id; }))
            picked.push_back(c.id);
        }
        for (const auto& x : list) {
          if (!x.is_string()) return bad_answer(q.id, "must be a list of choice ids");
          if (std::none_of(q.choices.begin(), q.choices.end(), [&](const choice& c) { return c.id == x; }))
            return bad_answer(q.id, "\"" + x.get<std::string>() + "\" is not one of its choices");
        }
        out.answers[q.id] = std::move(picked);
        break;
      }
      case question_type::text: {
        if (!v.is_string()) return bad_answer(q.id, "must be text");
        const auto& s = v.get_ref<const std::string&>();
        if (const auto n = code_points(s); n > q.max_length)
          return bad_answer(q.id, "is " + std::to_string(n) + " characters long, at most " +
                                      std::to_string(q.max_length) + " are accepted");
        out.answers[q.id] = s;
        break;
      }
    }
  }
  return out;
}

}  // namespace closeloop::survey
