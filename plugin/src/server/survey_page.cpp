#include "server/survey_page.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "common/crypto.hpp"
#include "server/survey.hpp"
#include "server/survey_html.hpp"
#include "server/survey_texts.hpp"

namespace closeloop::server::survey {
namespace {

namespace crypto = adapters::crypto;
using namespace html;

// Reserved form fields (question ids never start with '_').
constexpr std::string_view k_csrf = "_csrf";
constexpr std::string_view k_sid = "_sid";
constexpr std::string_view k_why = "_why";  // the logic-jump questions were on the page


// ---------------------------------------------------------------------------------------------
// link, form token, origin


std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// POST


struct submission {
  answers_map values;
  std::optional<int> score;
  bool why_shown = false;
  std::string sid, csrf;
};

// The ticket's survey number (part of the answer's event id) and whether it was answered before.
struct ticket_survey {
  std::string seq = "0";
  bool answered = false;
  bool edit_window_over = false;
};

ticket_survey survey_of(services& svc, const link_claims& c, const survey_policy& sp) {
  ticket_survey out;
  auto state = svc.db().state(c.tenant, c.host, c.ticket);
  if (!state) return out;
  const json& detail = state->survey_detail;
  if (detail.is_object() && detail.contains("seq") && detail["seq"].is_number_integer())
    out.seq = std::to_string(detail["seq"].get<std::int64_t>());
  out.answered = state->survey == "answered";
  if (out.answered && detail.is_object() && detail.contains("answered_at") && detail["answered_at"].is_string()) {
    if (auto first = parse_rfc3339(detail["answered_at"].get<std::string>()))
      out.edit_window_over = svc.clk().now() - *first > std::chrono::duration_cast<std::chrono::milliseconds>(sp.edit_window);
  }
  return out;
}

void record(const http_request& req, services& svc, respond_fn respond, const verified_link& v, const page_definition& d,
            const submission& s, const texts& tx, const std::string& seq) {
  const link_claims& c = v.claims;
  json answers = json::object();
  for (const auto& q : d.questions) {
    auto it = s.values.find(q.id);
    if (it == s.values.end() || it->second.empty() || !visible(q, s.values)) continue;  // not asked
    if (q.kind == page_question::type::scale) answers[q.id] = std::stoi(it->second[0]);
    else if (q.kind == page_question::type::multiple_choice) answers[q.id] = it->second;
    else if (!it->second[0].empty()) answers[q.id] = it->second[0];
  }
  event ev;
  ev.type = event_type::survey_answered;
  ev.tenant = c.tenant;
  ev.host = c.host;
  ev.ticket_id = c.ticket;
  // Event ids are unique per tenant and host, so the ticket is part of it; the submission id
  // makes a double submit of one form a duplicate and a later answer a new submission.
  ev.host_event_id = "survey:" + c.ticket + ":" + seq + ":" + s.sid;
  ev.occurred_at = svc.clk().now();
  ev.author.role = "customer";
  ev.data = {{"survey", d.id},
             {"kind", d.kind},
             {"score", s.score ? json(*s.score) : json(nullptr)},
             {"answers", answers},
             {"language", d.answer_language},
             {"submission_id", s.sid}};
  if (answers.contains("comment") && answers["comment"].is_string()) ev.data["comment"] = answers["comment"];
  const bool low = s.score && *s.score <= d.negative_at_or_below;
  auto shared_respond = std::make_shared<respond_fn>(std::move(respond));
  auto req_copy = std::make_shared<http_request>(req);
  const texts* t = &tx;
  const std::string lang = d.language;
  svc.db().ingest_async(
      ev, svc.decider(*v.tenant), ingest_options{},
      [&svc, shared_respond, req_copy, c, low, t, lang, ev](result<ingest_result> r) {
        svc.post([&svc, shared_respond, req_copy, c, low, t, lang, ev, r = std::move(r)]() mutable {
          if (!r) {
            spdlog::error("survey answer not stored tenant={} ticket={}: {}", c.tenant, c.ticket, r.err().message);
            auto res = json_error(*req_copy, http::status::service_unavailable, "unavailable",
                                  "the answer could not be stored; please try again");
            res.set(http::field::retry_after, "1");
            (*shared_respond)(std::move(res));
            return;
          }
          svc.stats().inc("closeloop_survey_page_total", r->duplicate ? "result=\"duplicate\"" : "result=\"answered\"");
          if (!r->duplicate)
            spdlog::info("survey answered tenant={} host={} ticket={} survey={} score={} submission={} actions={}",
                         c.tenant, c.host, c.ticket, ev.data["survey"].get<std::string>(), ev.data["score"].dump(),
                         ev.data["submission_id"].get<std::string>(), r->actions.size());
          (*shared_respond)(
              html_response(*req_copy, http::status::ok, message_page(lang, *t, low ? t->thanks_low : t->thanks)));
        });
      });
}

void bad_request_page(const http_request& req, services& svc, respond_fn& respond, http::status status,
                      const page_definition& d, const texts& tx, std::string_view message, std::string_view detail,
                      std::string_view result, std::string_view back) {
  svc.stats().inc("closeloop_survey_page_total", "result=\"" + std::string(result) + "\"");
  spdlog::warn("survey answer refused ({}): {}", result, detail.empty() ? message : detail);
  respond(html_response(req, status, message_page(d.language, tx, message, detail, back)));
}


// Pages are built once per (definition, language): a GET only renders.
std::shared_ptr<const page_definition> cached_page(const closeloop::survey::definition& d, std::string_view language) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const page_definition>, std::less<>> cache;
  std::string key = std::to_string(reinterpret_cast<std::uintptr_t>(&d));
  key.append("|").append(d.id).append("|").append(language);
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto p = std::make_shared<const page_definition>(page_for(d, language));
  std::lock_guard lk(mu);
  return cache.emplace(std::move(key), std::move(p)).first->second;
}

}  // namespace

page_definition page_for(const closeloop::survey::definition& d, std::string_view language) {
  namespace sv = closeloop::survey;
  const std::string lang = sv::normalize_language(language);
  const std::string& fb = d.fallback_language;
  const texts& t = texts_for(lang);
  page_definition p;
  p.id = d.id;
  p.kind = d.kind;
  p.language = supported_language(lang);
  p.answer_language = lang;
  p.title = d.title.empty() ? std::string(t.title) : sv::text_in(d.title, lang, fb);
  p.score_question = d.score_question;
  p.negative_at_or_below = d.negative_at_or_below();
  for (const auto& q : d.questions) {
    page_question pq;
    pq.id = q.id;
    pq.text = sv::text_in(q.prompt, lang, fb);
    pq.required = q.required;
    switch (q.type) {
      case sv::question_type::scale:
        pq.kind = page_question::type::scale;
        pq.lo = q.min;
        pq.hi = q.max;
        pq.low_label = sv::text_in(q.min_label, lang, fb);
        pq.high_label = sv::text_in(q.max_label, lang, fb);
        break;
      case sv::question_type::single:
      case sv::question_type::multiple:
        pq.kind = q.type == sv::question_type::single ? page_question::type::single_choice
                                                      : page_question::type::multiple_choice;
        if (q.type == sv::question_type::multiple) pq.hint = t.multiple_hint;
        for (const auto& ch : q.choices) pq.options.push_back({ch.id, sv::text_in(ch.label, lang, fb)});
        break;
      case sv::question_type::text:
        pq.kind = page_question::type::free_text;
        pq.max_chars = q.max_length;
        pq.hint = replace_all(t.chars_hint, "{max}", std::to_string(q.max_length));
        break;
    }
    if (q.show_if) {
      pq.show_if = q.show_if->question;
      pq.show_if_at_least = q.show_if->at_least;
      pq.show_if_at_most = q.show_if->at_most;
    }
    p.questions.push_back(std::move(pq));
  }
  return p;
}

void handle(const http_request& req, services& svc, respond_fn respond) {
  std::string_view target = req.target();
  std::string_view query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  const std::string token(target.substr(3));  // after "/s/"
  const bool post = req.method() == http::verb::post;
  if (!post && req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = json_error(req, http::status::method_not_allowed, "method_not_allowed", "use GET or POST");
    res.set(http::field::allow, "GET, HEAD, POST");
    respond(std::move(res));
    return;
  }
  auto v = verify_link(svc, token);
  if (!v) {
    auto claims = read_token(token);
    const std::string lang = claims ? supported_language(claims->language) : "en";
    const texts& tx = texts_for(lang);
    const bool expired = v.err().code == errc::not_found;
    svc.stats().inc("closeloop_survey_page_total", expired ? "result=\"expired\"" : "result=\"invalid_link\"");
    spdlog::warn("survey link refused: {}", v.err().message);
    respond(html_response(req, expired ? http::status::gone : http::status::forbidden,
                          message_page(lang, tx, expired ? tx.expired : tx.invalid)));
    return;
  }
  const link_claims& c = v->claims;
  const survey_policy& sp = v->tenant->cfg->pol.survey;
  const closeloop::survey::definition* found = sp.find_definition(c.kind);
  const texts& tx = texts_for(c.language);
  if (!found) {
    svc.stats().inc("closeloop_survey_page_total", "result=\"unknown_survey\"");
    spdlog::warn("survey page: tenant {} has no survey \"{}\" (ticket {})", c.tenant, c.kind, c.ticket);
    respond(html_response(req, http::status::not_found,
                          message_page(supported_language(c.language), tx, tx.unknown_survey)));
    return;
  }
  const auto def = cached_page(*found, c.language);
  const page_question* score_q = def->score_question.empty() ? nullptr : find_question(*def, def->score_question);
  const std::string back = "/s/" + token;
  const ticket_survey ts = survey_of(svc, c, sp);
  if (ts.edit_window_over) {
    svc.stats().inc("closeloop_survey_page_total", "result=\"already_answered\"");
    respond(html_response(req, http::status::ok, message_page(def->language, tx, tx.already_final)));
    return;
  }

  form_view view;
  view.def = &*def;
  view.tx = &tx;
  view.already = ts.answered;

  if (!post) {
    if (score_q)
      for (const auto& [name, value] : parse_form(query))
        if (name == def->score_question)
          if (auto chosen = parse_int_in(value, score_q->lo, score_q->hi)) view.values[name] = {std::to_string(*chosen)};
    view.sid = new_submission_id();
    view.csrf = form_token(sp.link_secret, token, view.sid);
    svc.stats().inc("closeloop_survey_page_total", "result=\"shown\"");
    respond(html_response(req, http::status::ok, form_page(view)));
    return;
  }

  // POST: a form, in UTF-8, from this page.
  auto ct = req.find(http::field::content_type);
  if (ct == req.end() || !lower(ct->value()).starts_with("application/x-www-form-urlencoded")) {
    bad_request_page(req, svc, respond, http::status::unsupported_media_type, *def, tx, tx.bad_form,
                     "expected Content-Type application/x-www-form-urlencoded", "bad_input", back);
    return;
  }
  if (!same_origin(req, svc)) {
    bad_request_page(req, svc, respond, http::status::forbidden, *def, tx, tx.stale_form,
                     "the Origin/Referer of the form is another site", "cross_origin", back);
    return;
  }
  submission s;
  for (auto& [name, value] : parse_form(req.body())) {
    if (!valid_utf8(name) || !valid_utf8(value)) {
      bad_request_page(req, svc, respond, http::status::bad_request, *def, tx, tx.bad_utf8,
                       "field \"" + (valid_utf8(name) ? name : std::string("?")) + "\" is not valid UTF-8", "bad_utf8",
                       back);
      return;
    }
    if (name == k_sid) s.sid = value;
    else if (name == k_csrf) s.csrf = value;
    else if (name == k_why) s.why_shown = value == "1";
    else if (find_question(*def, name)) s.values[name].push_back(std::move(value));
    else {
      bad_request_page(req, svc, respond, http::status::bad_request, *def, tx, tx.bad_form,
                       "unknown question \"" + name.substr(0, 64) + "\"", "bad_input", back);
      return;
    }
  }
  view.values = s.values;
  const bool token_ok = valid_submission_id(s.sid) &&
                        crypto::constant_time_equal(form_token(sp.link_secret, token, s.sid), s.csrf);
  if (!token_ok) {
    // Shown again with the answers kept and a fresh form token; nothing is recorded.
    view.sid = new_submission_id();
    view.csrf = form_token(sp.link_secret, token, view.sid);
    view.errors.push_back({"", score_q ? def->score_question + "-" + std::to_string(score_q->lo) : "", tx.stale_form});
    svc.stats().inc("closeloop_survey_page_total", "result=\"stale_form\"");
    spdlog::warn("survey form refused: missing or bad form token (ticket {})", c.ticket);
    respond(html_response(req, http::status::forbidden, form_page(view)));
    return;
  }
  view.sid = s.sid;
  view.csrf = s.csrf;

  // Validate every question asked; the form comes back with an error summary, nothing recorded or cut.
  for (const auto& q : def->questions) {
    auto it = s.values.find(q.id);
    const std::vector<std::string> none;
    const auto& vals = it == s.values.end() ? none : it->second;
    const bool asked = visible(q, s.values);
    if (!asked) continue;  // behind a logic jump that does not hold: dropped
    const bool shown = !q.conditional() || s.why_shown;
    const std::string first_anchor =
        q.kind == page_question::type::scale       ? q.id + "-" + std::to_string(q.lo)
        : q.kind == page_question::type::free_text ? q.id
        : q.options.empty()                        ? "q-" + q.id
                                                   : q.id + "-" + q.options.front().value;
    switch (q.kind) {
      case page_question::type::scale: {
        std::optional<int> n = vals.size() == 1 ? parse_int_in(vals[0], q.lo, q.hi) : std::nullopt;
        if (q.id == def->score_question) s.score = n;
        if (!n && ((q.required && shown) || !vals.empty())) {
          view.errors.push_back({q.id, first_anchor, tx.pick_score});
          view.values.erase(q.id);
        }
        break;
      }
      case page_question::type::single_choice:
      case page_question::type::multiple_choice: {
        bool ok = q.kind == page_question::type::multiple_choice || vals.size() <= 1;
        for (const auto& val : vals)
          ok = ok && std::any_of(q.options.begin(), q.options.end(), [&](const page_option& o) { return o.value == val; });
        if (!ok || (q.required && shown && vals.empty())) {
          view.errors.push_back({q.id, first_anchor, replace_all(tx.pick_one, "{field}", q.text)});
          view.values.erase(q.id);
        }
        break;
      }
      case page_question::type::free_text: {
        if (vals.size() > 1) {
          bad_request_page(req, svc, respond, http::status::bad_request, *def, tx, tx.bad_form,
                           "question \"" + q.id + "\" sent more than once", "bad_input", back);
          return;
        }
        const std::size_t n = vals.empty() ? 0 : code_points(vals[0]);
        if (n > q.max_chars) {
          view.errors.push_back(
              {q.id, first_anchor,
               replace_all(replace_all(replace_all(tx.too_long, "{field}", q.text), "{n}", std::to_string(n)), "{max}",
                           std::to_string(q.max_chars))});
        } else if (n == 0 && q.required && shown) {
          view.errors.push_back({q.id, first_anchor, replace_all(tx.pick_one, "{field}", q.text)});
        }
        break;
      }
    }
  }
  if (!view.errors.empty()) {
    svc.stats().inc("closeloop_survey_page_total", "result=\"bad_input\"");
    respond(html_response(req, http::status::bad_request, form_page(view)));
    return;
  }
  // The logic jump: questions it opens that were not on the page are asked now, as a second step.
  if (jump_open(*def, s.values) && !s.why_shown) {
    view.second_step = true;
    svc.stats().inc("closeloop_survey_page_total", "result=\"second_step\"");
    respond(html_response(req, http::status::ok, form_page(view)));
    return;
  }
  record(req, svc, std::move(respond), *v, *def, s, tx, ts.seq);
}

}  // namespace closeloop::server::survey
