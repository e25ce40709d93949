#pragma once
// Pure decisions: decide(event, state, clock) -> actions + next state. No I/O, no clock reads.
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "closeloop/classifier.hpp"
#include "closeloop/clock.hpp"
#include "closeloop/model.hpp"

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
};

// Knowledge base drafting from solved tickets.
struct kb_policy {
  bool enabled = true;
  std::size_t min_resolution_chars = 40;  // shorter answers are not worth an article
};

struct policy {
  survey_policy survey;
  bool write_fields = true;     // set_fields / set_priority on create
  bool explain_in_note = true;  // internal note with the reasons
  std::map<std::string, std::string> routing;  // category -> group
  kb_policy kb;
};

struct decision {
  std::vector<action> actions;
  ticket_state next;
  std::vector<std::string> log;  // short human-readable lines: what was decided and why
};

class engine {
 public:
  engine(policy p, const classifier& c) : policy_(std::move(p)), classifier_(c) {}
  decision decide(const event& ev, const ticket_state& state, const clock& clk) const;
  const policy& get_policy() const noexcept { return policy_; }

 private:
  policy policy_;
  const classifier& classifier_;
};

}  // namespace closeloop
