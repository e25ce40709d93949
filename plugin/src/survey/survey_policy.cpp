// survey_policy's definition look-ups (the policy struct itself is in closeloop/engine.hpp).
#include "closeloop/engine.hpp"

namespace closeloop {

const survey::definition* survey_policy::find_definition(std::string_view id) const noexcept {
  if (auto it = definitions.find(id); it != definitions.end()) return &it->second;
  return survey::builtin(id);
}

const survey::definition& survey_policy::sent_definition() const noexcept {
  if (const auto* d = find_definition(definition.empty() ? std::string_view(kind) : std::string_view(definition)))
    return *d;
  return *survey::builtin("csat");
}

}  // namespace closeloop
