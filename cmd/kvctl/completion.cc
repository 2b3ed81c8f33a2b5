#include "cmd/kvctl/completion.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kv::kvctl {
namespace {

// "--name" of each long option of `app` (help included), and separately
// those that take a value.
void LongOptions(const CLI::App& app, std::vector<std::string>* all,
                 std::vector<std::string>* with_value) {
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& name : o->get_lnames()) {
      all->push_back("--" + name);
      if (o->get_expected_min() > 0) with_value->push_back("--" + name);
    }
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::vector<std::string> commands, global, global_values;
  LongOptions(app, &global, &global_values);
  std::string cases;
  std::vector<std::string> values = global_values;
  for (const CLI::App* c : app.get_subcommands({})) {
    commands.push_back(c->get_name());
    std::vector<std::string> own, own_values;
    LongOptions(*c, &own, &own_values);
    std::erase(own, "--help");  // a global option already
    values.insert(values.end(), own_values.begin(), own_values.end());
    absl::StrAppend(&cases, "    ", c->get_name(), ") opts=\"$opts ", absl::StrJoin(own, " "),
                    "\" ;;\n");
  }
  return absl::StrCat(
      "# bash completion for kvctl: source <(kvctl completion bash)\n"
      "_kvctl() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} cmd= skip= w i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${COMP_WORDS[i]}\n"
      "    if [[ -n $skip ]]; then skip=; continue; fi\n"
      "    case \" ",
      absl::StrJoin(values, " "),
      " \" in *\" $w \"*) skip=1; continue ;; esac\n"
      "    [[ $w != -* && -z $cmd ]] && cmd=$w\n"
      "  done\n"
      "  [[ -n $skip ]] && return 0  # the value of an option\n"
      "  local opts=\"",
      absl::StrJoin(global, " "),
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
