# shellcheck shell=bash
# The pass/fail bookkeeping of the check scripts (check-deploy.sh, check-observability.sh):
# source it after setting OUT (the directory negative tests log into).
PASSED=0
FAILED=0
FAILURES=()
section() { printf '\n== %s\n' "$*"; }
# check DESCRIPTION COMMAND...: runs it, records the outcome, never stops the script.
check() {
  local what=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "  ok   $what"
  else
    FAILED=$((FAILED + 1))
    FAILURES+=("$what")
    echo "  FAIL $what"
  fi
}
# check_fails DESCRIPTION COMMAND...: the command must fail (negative tests).
check_fails() {
  local what=$1
  shift
  if "$@" >"$OUT/negative.log" 2>&1; then
    FAILED=$((FAILED + 1))
    FAILURES+=("$what")
    echo "  FAIL $what (accepted)"
  else
    PASSED=$((PASSED + 1))
    echo "  ok   $what (rejected: $(grep -m1 -iE 'error|fail' "$OUT/negative.log" | cut -c1-110))"
  fi
}
# checks_result NAME STARTED: the failures by name and the totals; fails when any check did.
checks_result() {
  local f
  for f in "${FAILURES[@]}"; do echo "  failed: $f"; done
  echo "$1: $PASSED passed, $FAILED failed ($((SECONDS - $2)) s)"
  [[ $FAILED == 0 ]]
}
