#pragma once
// `closeloop zendesk-app [--app manifests/zendesk] --out DIR (--config C | --public-url URL)`
// (apps.cpp): the Zendesk app packaged for this installation — the manifest's domainWhitelist is
// closeloop's public host, so an admin never edits the JSON by hand. A missing or non-https URL
// is refused.
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace closeloop::cli {

struct app_commands {
  std::string config_path, public_url, app_dir, out_dir;
  CLI::App* zendesk = nullptr;
};

void add_app_commands(CLI::App& app, app_commands& c);
// The exit status of the chosen command; nullopt when it was not chosen.
std::optional<int> run_app_commands(const app_commands& c);

}  // namespace closeloop::cli
