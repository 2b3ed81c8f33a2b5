#include "cmd/kvctl/completion.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kv::kvctl {
namespace {

// The options of one CLI::App, as the script needs them.
struct Options {
  std::vector<std::string> offered;     // "--name" of each long option (help included)
  std::vector<std::string> with_value;  // "--name" and "-n" of those that take a value
  // The values an option accepts, for those checked by CLI::IsMember: the
  // "{a,b}" CLI11 puts in its type name ("TEXT:{text,json}"), which --help
  // prints too. Keyed by "-n|--name", a bash case pattern.
  std::map<std::string, std::vector<std::string>> choices;
};

std::vector<std::string> Choices(const CLI::Option& o) {
  const std::string type = o.get_type_name();
  const size_t open = type.rfind('{');
  if (open == std::string::npos || type.back() != '}') return {};
  return absl::StrSplit(type.substr(open + 1, type.size() - open - 2), ',', absl::SkipEmpty());
}

void AddOptions(const CLI::App& app, Options* out) {
  for (const CLI::Option* o : app.get_options()) {
    std::vector<std::string> words;
    for (const std::string& name : o->get_snames()) words.push_back("-" + name);
    for (const std::string& name : o->get_lnames()) {
      words.push_back("--" + name);
      out->offered.push_back("--" + name);
    }
    if (words.empty() || o->get_expected_min() == 0) continue;
    out->with_value.insert(out->with_value.end(), words.begin(), words.end());
    if (std::vector<std::string> values = Choices(*o); !values.empty()) {
      out->choices[absl::StrJoin(words, "|")] = std::move(values);
    }
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::vector<std::string> commands;
  Options global;
  AddOptions(app, &global);
  // with_value and choices gather every command's options; offered only the global ones.
  Options all = global;
  std::string cases;
  for (const CLI::App* c : app.get_subcommands({})) {
    commands.push_back(c->get_name());
    Options own;
    AddOptions(*c, &own);
    std::erase(own.offered, "--help");  // a global option already
    all.with_value.insert(all.with_value.end(), own.with_value.begin(), own.with_value.end());
    all.choices.insert(own.choices.begin(), own.choices.end());
    absl::StrAppend(&cases, "    ", c->get_name(), ") opts=\"$opts ",
                    absl::StrJoin(own.offered, " "), "\" ;;\n");
  }
  std::string value_cases;
  for (const auto& [pattern, values] : all.choices) {
    absl::StrAppend(&value_cases, "      ", pattern, ") COMPREPLY=($(compgen -W \"",
                    absl::StrJoin(values, " "), "\" -- \"$cur\")) ;;\n");
  }
  return absl::StrCat(
      "# bash completion for kvctl: source <(kvctl completion bash)\n"
      "_kvctl() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} cmd= skip= w i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${COMP_WORDS[i]}\n"
      "    if [[ -n $skip ]]; then skip=; continue; fi\n"
      "    case \" ",
      absl::StrJoin(all.with_value, " "),
      " \" in *\" $w \"*) skip=$w; continue ;; esac\n"
      "    [[ $w != -* && -z $cmd ]] && cmd=$w\n"
      "  done\n"
      "  if [[ -n $skip ]]; then  # the value of an option: its choices, if it has any\n"
      "    case $skip in\n",
      value_cases,
      "    esac\n"
      "    return 0\n"
      "  fi\n"
      "  local opts=\"",
      absl::StrJoin(global.offered, " "),
      "\"\n"
      "  case $cmd in\n",
      cases,
      "  esac\n"
      "  if [[ -z $cmd && $cur != -* ]]; then\n"
      "    COMPREPLY=($(compgen -W \"",
      absl::StrJoin(commands, " "),
      "\" -- \"$cur\"))\n"
      "  else\n"
      "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "  fi\n"
      "}\n"
      "complete -F _kvctl kvctl\n");
}

}  // namespace kv::kvctl
