#include "closeloop/engine.hpp"

#include <algorithm>
#include <string>

#include "closeloop/text.hpp"

namespace closeloop {
namespace {

std::string key_for(const event& ev, std::string_view what) {
  // Idempotency keys are derived from the cause so that a redelivered or replayed event can
  // never produce a second copy of an action.
  return ev.tenant + "/" + ev.host + "/" + ev.ticket_id + "/" + ev.host_event_id + "/" + std::string(what);
}

std::string ticket_key(const event& ev, std::string_view what) {
  // Per-ticket keys for things that may happen at most once per ticket (a survey invitation).
  return ev.tenant + "/" + ev.host + "/" + ev.ticket_id + "/" + std::string(what);
}

action make_action(const event& ev, action_type t, std::string key, json params, bool immediate) {
  action a;
  a.type = t;
  a.idempotency_key = std::move(key);
  a.tenant = ev.tenant;
  a.host = ev.host;
  a.ticket_id = ev.ticket_id;
  a.caused_by = ev.host_event_id;
  a.immediate = immediate;
  a.params = std::move(params);
  return a;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string fmt_confidence(double c) {
  int pct = static_cast<int>(c * 100 + 0.5);
  return std::to_string(pct) + "%";
}

bool has_any_tag(const std::vector<std::string>& tags, const std::vector<std::string>& wanted) {
  return std::any_of(tags.begin(), tags.end(), [&](const std::string& t) {
    return std::find(wanted.begin(), wanted.end(), t) != wanted.end();
  });
}

void classify_into(const engine& eng, const classifier& clf, const event& ev, bool first_contact,
                   const ticket_state& state, decision& d) {
  const policy& pol = eng.get_policy();
  classification c = clf.classify(ev);
  if (first_contact) {
    if (d.next.subject.empty()) d.next.subject = truncate_utf8(ev.subject, 300);
    if (d.next.problem.empty()) d.next.problem = truncate_utf8(scrub_pii(ev.text), 4000);
  }
  d.next.language = c.language;
  d.next.sentiment = c.sentiment;
  if (first_contact) d.next.category = c.category;

  if (first_contact) {
    d.next.prio = c.prio;
    if (pol.write_fields) {
      json fields = {{"language", c.language},
                     {"sentiment", c.sentiment},
                     {"priority_reason", join(c.reasons, "; ")}};
      // A learned model below its gate, or unsure of this ticket, suggests instead of writing.
      if (c.category_write) {
        fields["category"] = c.category;
        fields["category_confidence"] = c.category_confidence;
      }
      d.actions.push_back(make_action(ev, action_type::set_fields, key_for(ev, "set_fields"),
                                      {{"fields", std::move(fields)}}, true));
      d.actions.push_back(make_action(ev, action_type::set_priority, key_for(ev, "set_priority"),
                                      {{"priority", to_string(c.prio)},
                                       {"label", label_zh(c.prio)},
                                       {"reasons", c.reasons}},
                                      true));
    }
    if (auto it = pol.routing.find(c.category); it != pol.routing.end()) {
      d.actions.push_back(make_action(ev, action_type::assign_group, key_for(ev, "assign_group"),
                                      {{"group", it->second}}, true));
      d.log.push_back("route to " + it->second);
    }
    if (pol.explain_in_note) {
      std::string category = "Category " + c.category + " (confidence " + fmt_confidence(c.category_confidence) +
                             (c.category_band.empty() ? "" : ", " + c.category_band) + ")";
      if (!c.category_write)
        category = "Category needs review" +
                   (c.category_suggestion.empty() ? std::string()
                                                  : ": suggested " + c.category_suggestion + " (confidence " +
                                                        fmt_confidence(c.category_confidence) + ", not written)");
      std::string note = "closeloop: priority " + std::string(to_string(c.prio)) + " (" +
                         std::string(label_zh(c.prio)) + ") because " + join(c.reasons, "; ") + ". " + category +
                         ", sentiment " + c.sentiment + ", language " + c.language + ".";
      d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"),
                                      {{"body", std::move(note)}}, true));
    }
    d.log.push_back("classified: priority=" + std::string(to_string(c.prio)) + " category=" + c.category +
                    (c.category_write ? "" : " (suggested " + c.category_suggestion + ", needs review)") +
                    " sentiment=" + c.sentiment + " language=" + c.language);
    return;
  }

  // A later customer message can only raise the priority, never lower it silently.
  if (c.prio > state.prio) {
    d.next.prio = c.prio;
    std::vector<std::string> reasons = c.reasons;
    reasons.insert(reasons.begin(), "raised by a customer reply");
    d.actions.push_back(make_action(ev, action_type::set_priority, key_for(ev, "set_priority"),
                                    {{"priority", to_string(c.prio)}, {"label", label_zh(c.prio)}, {"reasons", reasons}},
                                    true));
    if (pol.explain_in_note)
      d.actions.push_back(make_action(
          ev, action_type::add_internal_note, key_for(ev, "note"),
          {{"body", "closeloop: priority raised to " + std::string(to_string(c.prio)) + " (" +
                        std::string(label_zh(c.prio)) + ") because " + join(c.reasons, "; ") + "."}},
          true));
    d.log.push_back("priority raised to " + std::string(to_string(c.prio)));
  }
}

// A solved ticket whose answer is substantial becomes a KB article draft. The key is the
// problem's fingerprint, so the same problem solved again does not draft a second article.
void draft_article(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  if (!pol.kb.enabled || ev.type != event_type::ticket_solved) return;
  std::string resolution = ev.data.is_object() ? ev.data.value("resolution", "") : "";
  const std::string subject = !state.subject.empty() ? state.subject : ev.subject;
  if (subject.empty()) {
    d.log.push_back("no KB article: the ticket has no subject");
    return;
  }
  if (resolution.size() < pol.kb.min_resolution_chars) {
    d.log.push_back("no KB article: the answer is shorter than " + std::to_string(pol.kb.min_resolution_chars) +
                    " characters");
    return;
  }
  const std::string fp = problem_fingerprint(subject);
  std::string body = "Problem\n\n" + (state.problem.empty() ? scrub_pii(subject) : state.problem) +
                     "\n\nSolution\n\n" + truncate_utf8(scrub_pii(resolution), 8000);
  json params = {{"title", scrub_pii(subject)},
                 {"body", std::move(body)},
                 {"summary", truncate_utf8(scrub_pii(resolution), 200)},
                 {"fingerprint", fp},
                 {"source_ticket", ev.ticket_id}};
  if (!state.category.empty()) params["category"] = state.category;
  if (!state.language.empty()) params["language"] = state.language;
  d.actions.push_back(make_action(ev, action_type::create_kb_article, ev.tenant + "/" + ev.host + "/kb/" + fp,
                                  std::move(params), false));
  d.log.push_back("KB article drafted (fingerprint " + fp + ")");
}

void on_solved(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  d.next.status = ev.type == event_type::ticket_closed ? "closed" : "solved";
  if (ev.type == event_type::ticket_solved || !state.solved_at) {
    d.next.solve_count = state.solve_count + 1;
    d.next.solved_at = ev.occurred_at;
  }
  draft_article(pol, ev, state, d);
  const survey_policy& sp = pol.survey;
  if (!sp.enabled) {
    d.log.push_back("no survey: surveys are disabled");
    return;
  }
  if (state.survey == "scheduled" || state.survey == "sent" || state.survey == "answered") {
    d.log.push_back("no new survey: one is already " + state.survey + " for this ticket");
    return;
  }
  if (has_any_tag(ev.tags, sp.skip_tags)) {
    d.next.survey = "skipped";
    d.log.push_back("no survey: ticket has a skip tag");
    return;
  }
  timestamp due = ev.occurred_at + std::chrono::duration_cast<std::chrono::milliseconds>(sp.delay);
  // One timer per solve (a ticket reopened and solved again gets a fresh schedule); the
  // invitation itself is keyed per ticket, so it can be sent only once.
  d.actions.push_back(make_action(ev, action_type::schedule_survey,
                                  ticket_key(ev, "survey/schedule/" + std::to_string(d.next.solve_count)),
                                  {{"survey", sp.kind},
                                   {"due_at", format_rfc3339(due)},
                                   {"delay_s", sp.delay.count()}},
                                  false));
  d.actions.back().not_before = due;
  d.next.survey = "scheduled";
  d.log.push_back("survey " + sp.kind + " scheduled for " + format_rfc3339(due));
}

void on_reopened(const event& ev, const ticket_state& state, decision& d) {
  d.next.status = "open";
  if (state.survey == "scheduled") {
    d.actions.push_back(make_action(ev, action_type::cancel_survey, key_for(ev, "cancel_survey"),
                                    {{"reason", "ticket reopened before the survey was sent"}}, false));
    d.next.survey = "cancelled";
    d.log.push_back("pending survey cancelled: ticket reopened");
  }
}

void on_timer(const policy& pol, const event& ev, const ticket_state& state, const clock& clk, decision& d) {
  const std::string kind = ev.data.value("kind", "");
  if (kind != "survey") {
    d.log.push_back("timer of kind '" + kind + "' ignored");
    return;
  }
  if (state.survey != "scheduled") {
    d.log.push_back("survey timer ignored: survey is '" + state.survey + "'");
    return;
  }
  if (state.status != "solved" && state.status != "closed") {
    d.next.survey = "cancelled";
    d.log.push_back("survey not sent: ticket is " + state.status);
    return;
  }
  if (state.solved_at && clk.now() - *state.solved_at >
                             std::chrono::duration_cast<std::chrono::milliseconds>(pol.survey.max_age)) {
    d.next.survey = "skipped";
    d.log.push_back("survey not sent: more than max_age since the ticket was solved");
    return;
  }
  std::string kind_name = ev.data.value("survey", pol.survey.kind);
  d.actions.push_back(make_action(ev, action_type::send_survey, ticket_key(ev, "survey/send"),
                                  {{"survey", kind_name},
                                   {"language", state.language.empty() ? "en" : state.language},
                                   {"ticket_subject", state.subject},
                                   {"requester_name", state.requester_name}},
                                  false));
  d.next.survey = "sent";
  d.log.push_back("survey " + kind_name + " sent");
}

void on_answer(const policy& pol, const event& ev, const ticket_state& state, decision& d) {
  json score = ev.data.value("score", json());
  std::string survey = ev.data.value("survey", pol.survey.kind);
  std::string comment = ev.data.value("comment", "");
  auto [lo, hi] = survey_policy::score_range(survey);
  if (!score.is_number_integer() || score.get<int>() < lo || score.get<int>() > hi) {
    d.log.push_back("answer ignored: " + survey + " score must be an integer " + std::to_string(lo) + ".." +
                    std::to_string(hi) + ", got " + score.dump());
    return;
  }
  if (state.survey == "answered") {
    d.log.push_back("answer ignored: the survey was already answered");
    return;
  }
  const int value = score.get<int>();
  d.next.survey = "answered";
  d.next.survey_score = value;
  json fields = {{survey, value}};
  d.actions.push_back(make_action(ev, action_type::set_fields, key_for(ev, "set_fields"), {{"fields", fields}}, false));
  const std::string of = std::to_string(value) + "/" + std::to_string(hi);
  std::string body = "closeloop: the customer answered the " + survey + " survey: " + of;
  if (!comment.empty()) body += "\n\"" + comment + "\"";
  const auto& esc = pol.survey.escalation;
  const bool bad = value <= pol.survey.bad_at_or_below(survey);
  if (bad && esc.enabled) {
    json params = {{"reason", "bad " + survey + " answer " + of}};
    if (!esc.owner.empty()) params["owner"] = esc.owner;
    if (!esc.group.empty()) params["group"] = esc.group;
    body += "\nReopened for follow-up";
    if (!esc.owner.empty()) body += " by " + esc.owner;
    if (!esc.group.empty()) body += " in " + esc.group;
    body += ": a bad answer is a customer to win back.";
    d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"), {{"body", body}}, false));
    d.actions.push_back(make_action(ev, action_type::reopen, key_for(ev, "reopen"), std::move(params), false));
    d.next.status = "open";
    d.log.push_back(survey + " answer " + of + " is bad: ticket reopened for follow-up");
    return;
  }
  d.actions.push_back(make_action(ev, action_type::add_internal_note, key_for(ev, "note"), {{"body", body}}, false));
  d.log.push_back(survey + " answer " + of + " recorded");
}

}  // namespace

decision engine::decide(const event& ev, const ticket_state& state, const clock& clk) const {
  decision d;
  d.next = state;
  d.next.known = true;
  if (!ev.requester.email.empty()) d.next.requester_email = ev.requester.email;
  if (!ev.requester.name.empty()) d.next.requester_name = ev.requester.name;
  if (!state.last_event_at || ev.occurred_at > *state.last_event_at) d.next.last_event_at = ev.occurred_at;

  switch (ev.type) {
    case event_type::ticket_created:
      d.next.status = "new";
      classify_into(*this, classifier_, ev, true, state, d);
      break;
    case event_type::ticket_commented:
      if (ev.visibility == "public" && ev.author.role != "agent" && ev.author.role != "system") {
        if (!state.known) classify_into(*this, classifier_, ev, true, state, d);
        else classify_into(*this, classifier_, ev, false, state, d);
      } else {
        d.log.push_back("comment by " + (ev.author.role.empty() ? std::string("unknown") : ev.author.role) +
                        " (" + ev.visibility + "): nothing to decide");
      }
      break;
    case event_type::ticket_updated:
      // An agent changing what closeloop set is a labelled example for learning.
      for (const auto& [field, change] : ev.changes.items()) {
        if (field == "category" || field == "priority" || field == "sentiment" || field == "language") {
          d.next.corrections.push_back({{"field", field},
                                        {"from", change.value("from", json())},
                                        {"to", change.value("to", json())},
                                        {"at", format_rfc3339(ev.occurred_at)},
                                        {"by", ev.author.id}});
          if (field == "category" && change.contains("to") && change["to"].is_string())
            d.next.category = change["to"].get<std::string>();
          d.log.push_back("correction recorded: " + field);
        }
      }
      if (d.log.empty()) d.log.push_back("update: nothing to decide");
      break;
    case event_type::ticket_solved:
    case event_type::ticket_closed:
      on_solved(policy_, ev, state, d);
      break;
    case event_type::ticket_reopened:
      on_reopened(ev, state, d);
      break;
    case event_type::timer_fired:
      on_timer(policy_, ev, state, clk, d);
      break;
    case event_type::survey_answered:
      on_answer(policy_, ev, state, d);
      break;
    case event_type::survey_expired:
      if (state.survey == "sent") d.next.survey = "expired";
      d.log.push_back("survey expired unanswered");
      break;
  }
  return d;
}

std::pair<int, int> survey_policy::score_range(std::string_view kind) noexcept {
  if (kind == "nps") return {0, 10};
  if (kind == "ces") return {1, 7};
  return {1, 5};
}

int survey_policy::bad_at_or_below(std::string_view kind) const noexcept {
  if (escalation.max_score && kind == this->kind) return *escalation.max_score;
  if (kind == "nps") return 6;
  if (kind == "ces") return 3;
  return 2;
}

json to_json(const ticket_state& s) {
  json j = {{"known", s.known},        {"status", s.status},       {"language", s.language},
            {"category", s.category},  {"sentiment", s.sentiment}, {"priority", to_string(s.prio)},
            {"requester_email", s.requester_email}, {"survey", s.survey}, {"solve_count", s.solve_count},
            {"corrections", s.corrections}, {"subject", s.subject}, {"problem", s.problem},
            {"requester_name", s.requester_name}, {"survey_score", s.survey_score}};
  if (s.solved_at) j["solved_at"] = format_rfc3339(*s.solved_at);
  if (s.last_event_at) j["last_event_at"] = format_rfc3339(*s.last_event_at);
  return j;
}

ticket_state ticket_state_from_json(const json& j) {
  ticket_state s;
  if (!j.is_object()) return s;
  auto str = [&](const char* k, std::string& out) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) out = it->get<std::string>();
  };
  auto ts = [&](const char* k, std::optional<timestamp>& out) {
    if (auto it = j.find(k); it != j.end() && it->is_string())
      if (auto t = parse_rfc3339(it->get<std::string>())) out = *t;
  };
  if (auto it = j.find("known"); it != j.end() && it->is_boolean()) s.known = it->get<bool>();
  str("status", s.status);
  str("language", s.language);
  str("category", s.category);
  str("sentiment", s.sentiment);
  str("requester_email", s.requester_email);
  str("survey", s.survey);
  str("subject", s.subject);
  str("problem", s.problem);
  str("requester_name", s.requester_name);
  if (auto it = j.find("survey_score"); it != j.end()) s.survey_score = *it;
  if (auto it = j.find("priority"); it != j.end() && it->is_string())
    s.prio = priority_from_string(it->get<std::string>()).value_or(priority::normal);
  if (auto it = j.find("solve_count"); it != j.end() && it->is_number_integer()) s.solve_count = it->get<int>();
  if (auto it = j.find("corrections"); it != j.end() && it->is_array()) s.corrections = *it;
  ts("solved_at", s.solved_at);
  ts("last_event_at", s.last_event_at);
  return s;
}

}  // namespace closeloop
