// The knowledge loop in engine::decide: what a ticket's state remembers for drafting (state.kb),
// when a solved ticket is a candidate, and when its draft is released. Pure, like the engine.
//
// state.kb = {"messages": [{"role": "customer"|"agent", "text": scrubbed plain text}],
//             "agents": [names], "category_confidence": 0.9, "status": "", "reason": ""}
// status: "" | "pending" (draft decided, create_kb_article in the outbox, maybe deferred)
//         | "awaiting_survey" | "cancelled" (reopened) | "rejected" (reason says why)
#include "kb_decide.hpp"

#include <algorithm>
#include <string>

#include "closeloop/kb.hpp"
#include "closeloop/text.hpp"
#include "engine/actions.hpp"

namespace closeloop::kb_decide {
namespace {

constexpr std::size_t max_message_bytes = 4000;
constexpr std::size_t max_customer_messages = 4;
// A host that calls closeloop inside its own create request (RT's scrips) commits the ticket
// afterwards: a note posted at once can find no ticket yet. The suggestion waits this long.
constexpr auto suggest_delay = std::chrono::seconds(5);

action make(const event& ev, action_type t, std::string key, json params, std::optional<timestamp> not_before = {}) {
  action a = engine_detail::make_action(ev, t, std::move(key), std::move(params), false);
  a.not_before = not_before;
  return a;
}

std::vector<std::string> names_of(const ticket_state& s) {
  std::vector<std::string> names;
  if (!s.requester_name.empty()) names.push_back(s.requester_name);
  if (auto it = s.kb.find("agents"); it != s.kb.end() && it->is_array())
    for (const auto& n : *it)
      if (n.is_string()) names.push_back(n.get<std::string>());
  return names;
}

json& kb_of(decision& d) {
  if (!d.next.kb.is_object()) d.next.kb = json::object();
  return d.next.kb;
}

void reject(decision& d, const std::string& why) {
  kb_of(d)["status"] = "rejected";
  kb_of(d)["reason"] = why;
  d.log.push_back("no KB article: " + why);
}

// The draft from what state remembers; title falls back to the event's subject.
kb::draft draft_from_state(const ticket_state& s, const std::string& subject) {
  kb::draft_input in;
  in.subject = subject;
  in.language = s.language;
  in.names = names_of(s);
  if (auto it = s.kb.find("messages"); it != s.kb.end() && it->is_array()) {
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      in.messages.push_back({m.value("role", ""), m.value("text", "")});
    }
  }
  return kb::make_draft(in);
}

void emit(const policy& pol, const event& ev, const kb::draft& dr, std::optional<timestamp> not_before,
          bool gated, decision& d) {
  const std::string fp = problem_fingerprint(dr.title);
  json params = {{"title", dr.title},
                 {"body", dr.body},
                 {"body_html", dr.body_html},
                 {"summary", dr.summary},
                 {"problem", dr.problem},
                 {"steps", dr.steps},
                 {"tags", pol.kb.tags},
                 {"draft", pol.kb.draft},
                 {"fingerprint", fp},
                 {"source_ticket", ev.ticket_id},
                 {"solve_count", d.next.solve_count},
                 {"dedupe_threshold", pol.kb.dedupe_threshold}};
  if (!d.next.category.empty()) params["category"] = d.next.category;
  params["language"] = d.next.language.empty() ? "en" : d.next.language;
  // Released at solve: one article per problem, keyed by its fingerprint. Released later (window,
  // survey): per ticket and solve, since an earlier ticket's draft may have been called off; the
  // worker's index dedupe then keeps the problem to one article.
  std::string key = ev.tenant + "/" + ev.host + "/kb/" + fp;
  if (gated) key += "/" + ev.ticket_id + "/" + std::to_string(d.next.solve_count);
  d.actions.push_back(make(ev, action_type::create_kb_article, std::move(key), std::move(params), not_before));
  kb_of(d)["status"] = "pending";
  kb_of(d).erase("reason");
  d.log.push_back("KB article drafted (fingerprint " + fp + ", " + std::to_string(dr.steps.size()) + " steps" +
                  (not_before ? ", due " + format_rfc3339(*not_before) : std::string()) + ")");
}

}  // namespace

void record(const policy& pol, const event& ev, decision& d) {
  if (!pol.kb.enabled) return;
  std::string role;
  if (ev.type == event_type::ticket_created) {
    role = "customer";
  } else if (ev.type == event_type::ticket_commented && ev.visibility == "public") {
    role = ev.author.role == "agent" ? "agent" : ev.author.role == "system" ? "" : "customer";
  } else if (ev.type == event_type::ticket_solved && ev.data.is_object()) {
    role = "agent";  // data.resolution: the agent's last reply
  }
  if (role.empty()) return;
  json& kb = kb_of(d);
  if (role == "agent" && !ev.author.name.empty() && ev.author.role == "agent") {
    json& agents = kb["agents"];
    if (!agents.is_array()) agents = json::array();
    if (std::find(agents.begin(), agents.end(), ev.author.name) == agents.end() && agents.size() < 8)
      agents.push_back(ev.author.name);
  }
  std::string raw = ev.type == event_type::ticket_solved ? ev.data.value("resolution", "") : ev.text;
  if (raw.empty()) return;
  // Plain text first (HTML bodies), then scrubbed with every name known so far, then cut.
  std::string text = truncate_utf8(scrub_pii(kb::plain_text(raw), names_of(d.next)), max_message_bytes);
  if (text.empty()) return;
  json& msgs = kb["messages"];
  if (!msgs.is_array()) msgs = json::array();
  std::size_t customers = 0, agents = 0;
  for (const auto& m : msgs) (m.value("role", "") == "customer" ? customers : agents)++;
  if (role == "customer" && customers >= max_customer_messages) return;  // the first ones state the problem
  if (role == "agent") {
    // The resolution usually repeats the last reply.
    for (const auto& m : msgs)
      if (m.value("role", "") == "agent" && m.value("text", "") == text) return;
    if (agents + customers >= pol.kb.max_messages) {
      // Drop the oldest agent reply: the latest ones hold the answer.
      for (auto it = msgs.begin(); it != msgs.end(); ++it)
        if (it->value("role", "") == "agent") {
          msgs.erase(it);
          break;
        }
    }
  }
  if (msgs.size() >= pol.kb.max_messages) return;
  msgs.push_back({{"role", role}, {"text", std::move(text)}});
}

void on_created(const policy& pol, const event& ev, decision& d) {
  if (!pol.kb.enabled || !pol.kb.suggest.enabled) return;
  std::string query = d.next.subject;
  if (auto it = d.next.kb.find("messages"); it != d.next.kb.end() && it->is_array() && !it->empty())
    query += "\n" + (*it)[0].value("text", "");
  if (query.find_first_not_of(" \n") == std::string::npos) return;
  d.actions.push_back(make(ev, action_type::suggest_kb_articles, engine_detail::ticket_key(ev, "kb/suggest"),
                           {{"query", truncate_utf8(query, 2000)},
                            {"limit", pol.kb.suggest.limit},
                            {"min_similarity", pol.kb.suggest.min_similarity},
                            {"note", pol.kb.suggest.note},
                            {"language", d.next.language.empty() ? "en" : d.next.language}},
                           ev.occurred_at + suggest_delay));
  d.log.push_back("KB suggestions requested");
}

void on_solved(const policy& pol, const event& ev, decision& d) {
  if (!pol.kb.enabled || ev.type != event_type::ticket_solved) return;
  const ticket_state& s = d.next;
  const std::string subject = !s.subject.empty() ? s.subject : ev.subject;
  const kb::draft dr = draft_from_state(s, subject);
  if (!dr.ok) return reject(d, dr.reason);
  if (dr.answer_chars < pol.kb.min_resolution_chars)
    return reject(d, "the answer is shorter than " + std::to_string(pol.kb.min_resolution_chars) + " characters");
  const double conf = s.kb.value("category_confidence", 1.0);
  if (conf < pol.kb.min_category_confidence)
    return reject(d, "category confidence " + std::to_string(conf).substr(0, 4) + " is below " +
                         std::to_string(pol.kb.min_category_confidence).substr(0, 4));
  if (pol.kb.require_steps && !dr.numbered)
    return reject(d, "the agent's answer has no list of steps (policy.kb.require_steps)");
  if (pol.kb.require_good_survey) {
    kb_of(d)["status"] = "awaiting_survey";
    d.log.push_back("KB candidate: waiting for a good survey answer");
    return;
  }
  const auto window = std::chrono::milliseconds(static_cast<std::int64_t>(pol.kb.reopen_window_days * 86400000.0));
  if (window.count() > 0) return emit(pol, ev, dr, ev.occurred_at + window, true, d);
  emit(pol, ev, dr, std::nullopt, false, d);
}

void on_reopened(const event& ev, decision& d) {
  json& kb = kb_of(d);
  const std::string st = kb.value("status", "");
  if (st == "pending" || st == "awaiting_survey") {
    kb["status"] = "cancelled";
    kb["reason"] = "reopened";
    d.log.push_back("KB draft called off: the ticket was reopened");
  }
}

void on_answer(const policy& pol, const event& ev, decision& d) {
  if (!pol.kb.enabled || kb_of(d).value("status", "") != "awaiting_survey") return;
  if (!d.next.survey_score.is_number_integer()) return;  // the answer was not recorded
  const std::string survey = ev.data.value("survey", pol.survey.kind);
  if (d.next.survey_score.get<int>() <= pol.survey.bad_at_or_below(survey))
    return reject(d, "the survey answer was not good");
  const kb::draft dr = draft_from_state(d.next, d.next.subject);
  if (!dr.ok) return reject(d, dr.reason);
  std::optional<timestamp> due;
  const auto window = std::chrono::milliseconds(static_cast<std::int64_t>(pol.kb.reopen_window_days * 86400000.0));
  if (window.count() > 0 && d.next.solved_at && *d.next.solved_at + window > ev.occurred_at)
    due = *d.next.solved_at + window;
  emit(pol, ev, dr, due, true, d);
}

}  // namespace closeloop::kb_decide

namespace closeloop {

bool kb_draft_still_wanted(const ticket_state& s, const action& a, std::string& why) {
  const int solve = a.params.value("solve_count", 0);
  if (s.kb.is_object() && s.kb.value("status", "") == "cancelled") {
    why = "the ticket was reopened after the draft was decided";
    return false;
  }
  if (solve > 0 && s.solve_count != solve) {
    why = "the ticket was reopened and solved again since";
    return false;
  }
  if (s.status != "solved" && s.status != "closed" && !s.status.empty()) {
    why = "the ticket is " + s.status + " again";
    return false;
  }
  return true;
}

}  // namespace closeloop
