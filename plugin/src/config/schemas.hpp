#pragma once
// Private to closeloop_config: the JSON Schemas of schemas/*.schema.json, compiled into the
// library by plugin/embed_schemas.cmake (the generated schemas_embedded.cpp defines it).
#include <string_view>

namespace closeloop {

// The text of the bundled schema named by its file stem ("config", "event", "action");
// empty when there is no such schema.
std::string_view embedded_schema(std::string_view name) noexcept;

}  // namespace closeloop
