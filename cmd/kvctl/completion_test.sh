#!/bin/bash
# kvctl completion bash: the script it prints completes commands, each
# command's options, and leaves an option's value alone.
#   completion_test.sh KVCTL
set -u
kvctl=$1
source <("$kvctl" completion bash) || { echo "FAIL: the script does not source"; exit 1; }
fails=0
expect() {  # expect "WANTED" WORD...: completes the last word
  local want=$1; shift
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
  _kvctl
  if [ "${COMPREPLY[*]}" != "$want" ]; then
    echo "FAIL: '$*' completed to '${COMPREPLY[*]}', want '$want'"; fails=$((fails + 1))
  fi
}
expect "put ping peers" kvctl p
expect "snapshot status stats" kvctl s
expect "--newline" kvctl --addr 127.0.0.1:1 get --new
expect "--force" kvctl leave --f
expect "" kvctl --addr st                 # the address, not a command
expect "locate" kvctl --timeout 3 loc
expect "--consistency" kvctl put k v --cons
expect "--output" kvctl get k --out
expect "text json" kvctl -o ""             # -o's values
expect "json" kvctl put k v --output j
expect "put ping peers" kvctl -o json p    # json is -o's value, not a command
expect "--newline" kvctl -o json get k --new
expect "quorum" kvctl --consistency q
[ $fails = 0 ] && echo "PASS: kvctl completion bash" || exit 1
