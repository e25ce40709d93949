#pragma once
// Pure decisions: decide(event, state, clock) -> actions + next state. No I/O, no clock reads.
#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "closeloop/classifier.hpp"
#include "closeloop/clock.hpp"
#include "closeloop/model.hpp"
#include "closeloop/survey_def.hpp"
#include "closeloop/survey_schedule.hpp"

namespace closeloop {

// What closeloop remembers about one ticket between events (stored as JSON by the store).
struct ticket_state {
  bool known = false;
  std::string status;  // "new", "open", "solved", "closed"
  std::string language;
  std::string category;
  std::string sentiment;
  priority prio = priority::normal;
  std::string requester_email;
  std::string survey;  // "", "scheduled", "cancelled", "sent", "answered", "skipped"
  int solve_count = 0;
  std::optional<timestamp> solved_at;
  std::optional<timestamp> last_event_at;
  json corrections = json::array();  // agent changes to what closeloop set (learning input)
  std::string subject;               // as first seen
  std::string problem;               // the customer's first message, PII scrubbed, truncated
  std::string requester_name;
  json survey_score;                 // the answer's score (null until answered)
  json survey_detail = json::object();  // the current survey: seq, definition, times, answers (plugin/src/survey/)
  json kb = json::object();          // the knowledge loop's memory (plugin/src/engine/kb_decide.cpp)
  // Service level (plugin/src/engine/priority.cpp): when the ticket was first seen, the customer's
  // value tier, the first public agent reply, and the due times computed from policy.sla.
  std::optional<timestamp> created_at;
  std::string tier;
  std::optional<timestamp> first_reply_at;
  std::optional<timestamp> sla_first_reply_due;
  std::optional<timestamp> sla_resolution_due;
};
json to_json(const ticket_state& s);
ticket_state ticket_state_from_json(const json& j);  // tolerant: missing keys keep defaults

struct survey_policy {
  bool enabled = true;
  std::string kind = "csat";  // csat | nps | ces
  std::chrono::seconds delay{24 * 3600};
  std::chrono::seconds max_age{7 * 24 * 3600};  // a survey this late after solve is skipped
  std::vector<std::string> skip_tags;           // tickets with any of these tags get no survey
  std::string link_secret;  // HMAC key for the signed answer links (required to send invitations)
  std::chrono::seconds link_ttl{30 * 24 * 3600};  // how long an invitation's link can be answered
  // A bad answer (score <= max_score) reopens the ticket to owner/group with a note.
  struct escalation_policy {
    bool enabled = true;
    std::optional<int> max_score;  // default by kind: csat 2 (of 1-5), nps 6 (of 0-10), ces 3 (of 1-7)
    std::string owner;             // host user name; empty keeps the ticket's owner
    std::string group;             // host queue/group; empty keeps it
  } escalation;
  // Score range by kind: csat 1-5, nps 0-10, ces 1-7 ("how easy was it", 7 = very easy).
  static std::pair<int, int> score_range(std::string_view kind) noexcept;
  int bad_at_or_below(std::string_view kind) const noexcept;

  // Survey definitions (closeloop/survey_def.hpp): the one sent, and the tenant's own.
  std::string definition;  // empty: `kind`
  std::map<std::string, survey::definition, std::less<>> definitions;  // the tenant's (built-ins not listed)
  std::string fallback_language = "en";
  // The definition by id: the tenant's, else a built-in; nullptr when unknown.
  const survey::definition* find_definition(std::string_view id) const noexcept;
  const survey::definition& sent_definition() const noexcept;  // `definition`, else `kind`, else csat

  // When to send (plugin/src/survey/schedule.cpp).
  survey::business_hours hours;                     // empty time zone: any time
  std::vector<std::string> skip_groups;             // queues/groups that get no survey
  std::vector<std::string> internal_domains;        // requesters at these domains get none
  bool skip_spam = true;                            // tag "spam" or data.spam
  bool skip_auto_closed = true;                     // solved/closed by the system (data.auto_closed)
  double sample_rate = 1.0;                         // deterministic per ticket
  survey::throttle_policy throttle;                 // per person, across tickets and hosts
  std::vector<survey::quota> quotas;                // per segment per period
  bool reminder_enabled = false;
  std::chrono::seconds reminder_delay{3 * 24 * 3600};
  std::chrono::seconds edit_window{7 * 24 * 3600};  // a later answer within it updates the first
  std::chrono::seconds recovery{2 * 24 * 3600};     // negative answer: alert if not solved again by then
  std::string review_url;                           // positive answer: ask for a public review
  std::optional<int> review_min_score;              // default: the top of the scale
};

// Knowledge base drafting from solved tickets.
struct kb_policy {
  bool enabled = true;
  std::size_t min_resolution_chars = 40;  // shorter answers are not worth an article
  // Candidates (README "Knowledge base"): all that are set must hold.
  double min_category_confidence = 0;  // the ticket's category was classified at least this surely
  bool require_steps = false;          // the agent's answer holds a list of steps (2+ items)
  double reopen_window_days = 0;       // > 0: draft N days after solve, unless reopened by then
  bool require_good_survey = false;    // draft only after a survey answer above the escalation score
  std::size_t max_messages = 12;       // messages kept per ticket for drafting (state.kb.messages)
  // The article: unpublished where the host can, tagged so agents find closeloop's drafts.
  bool draft = true;
  std::vector<std::string> tags{"closeloop-draft"};
  double dedupe_threshold = 0.5;  // similarity (0..1) to an existing article above which it is linked instead
  struct suggest_policy {
    bool enabled = true;
    bool note = true;             // an internal note on the new ticket listing them
    int limit = 3;
    double min_similarity = 0.15;
  } suggest;
};

// The worker asks before it creates a (deferred) draft: false, with why, when the ticket was
// reopened since the draft was decided.
bool kb_draft_still_wanted(const ticket_state& s, const action& a, std::string& why);

// An outbound webhook of the tenant's: events closeloop emits to other systems (a CRM, a data
// warehouse), signed with Standard Webhooks and delivered by the worker through the outbox.
struct outbound_webhook {
  std::string id;                   // names it in post_webhook actions; unique in the tenant
  std::string url;                  // http(s) URL the worker POSTs to
  std::string secret;               // Standard Webhooks secret "whsec_<base64>"
  std::vector<std::string> events;  // what it receives: "survey.answered"
  std::string ca_file;              // PEM bundle to trust instead of the system store (optional)
  bool include_customer = true;     // the requester's email/name in the payload
  bool wants(std::string_view event) const noexcept;
};

// Service-level targets in hours per priority (index: normal, urgent, critical); unset: no due time.
struct sla_targets {
  std::array<std::optional<double>, 3> first_reply_h, resolution_h;
};

// policy.sla: due times per priority, optionally per customer tier, counted round the clock or in
// business hours (the survey's calendar, closeloop/survey_schedule.hpp). Every default is here.
struct sla_policy {
  bool enabled = false;  // policy.sla is present
  sla_targets targets{{24.0, 4.0, 1.0}, {72.0, 24.0, 8.0}};
  std::map<std::string, sla_targets, std::less<>> tiers;  // per tier; a value not given falls back to targets
  survey::business_hours hours;                           // empty: round the clock
  double near_due_h = 1.0;  // a customer message this close to the first-reply due time raises priority
};

struct policy {
  survey_policy survey;
  sla_policy sla;
  // policy.tier_priority: customer tier -> the least priority its tickets get.
  std::map<std::string, priority, std::less<>> tier_priority;
  bool write_fields = true;     // set_fields / set_priority on create
  bool explain_in_note = true;  // internal note with the reasons
  std::map<std::string, std::string> routing;  // category -> group
  kb_policy kb;
  std::vector<outbound_webhook> webhooks;
  const outbound_webhook* find_webhook(std::string_view id) const noexcept;
};

struct decision {
  std::vector<action> actions;
  ticket_state next;
  std::vector<std::string> log;  // short human-readable lines: what was decided and why
  // Survey lifecycle row and cross-ticket writes, made by the store in the same transaction.
  std::optional<survey::record> survey_row;
  std::optional<survey::ledger_update> ledger_writes;
};

class engine {
 public:
  engine(policy p, const classifier& c) : policy_(std::move(p)), classifier_(c) {}
  // `ledger`: cross-ticket survey state (throttle, quotas, recovery), read inside the store's
  // transaction; without one those rules are not applied.
  // `classified`: this event's classification when the caller already has it (the server
  // classifies on the receiving thread, in parallel, so the store's one serial thread does not);
  // without it decide() asks the classifier.
  decision decide(const event& ev, const ticket_state& state, const clock& clk,
                  const survey::ledger* ledger = nullptr, const classification* classified = nullptr) const;
  // Whether decide() classifies this event: a new ticket, or a public message from the customer.
  static bool classifies(const event& ev) noexcept;
  const classifier& get_classifier() const noexcept { return classifier_; }
  const policy& get_policy() const noexcept { return policy_; }

 private:
  policy policy_;
  const classifier& classifier_;
};

}  // namespace closeloop
