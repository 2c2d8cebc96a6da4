#!/usr/bin/env bash
# A school office's first day with registrar, run the way a new user would: every command and
# every error, on a temporary SQLite file (or on the database in REGISTRAR_DB, if set). Checks
# each output and exit code, and stops at the first surprise.
#
#   bash crates/registrar/scenario.sh                  # builds the binary first
#   REGISTRAR=path/to/registrar bash crates/registrar/scenario.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -z "${REGISTRAR:-}" ]]; then
    cargo build --quiet --release -p registrar --manifest-path "$root/Cargo.toml"
    REGISTRAR="$root/target/release/registrar"
elif [[ "$REGISTRAR" == */* ]]; then
    REGISTRAR="$(cd "$(dirname "$REGISTRAR")" && pwd)/$(basename "$REGISTRAR")"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export REGISTRAR_DB="${REGISTRAR_DB:-sqlite://$work/school.db}"
steps=0

# run ARGS...: runs registrar, leaving its stdout in $out, stderr in $err and exit code in $code.
run() {
    set +e
    "$REGISTRAR" "$@" >"$work/stdout" 2>"$work/stderr"
    code=$?
    set -e
    out=$(cat "$work/stdout")
    err=$(cat "$work/stderr")
    steps=$((steps + 1))
}

fail() {
    echo "scenario step $steps: registrar $*" >&2
    echo "--- exit code: $code" >&2
    echo "--- stdout:" >&2
    echo "$out" >&2
    echo "--- stderr:" >&2
    echo "$err" >&2
    exit 1
}

# ok EXPECTED ARGS...: exit code 0 and stdout exactly EXPECTED.
ok() {
    local expected=$1
    shift
    run "$@"
    [[ $code == 0 && "$out" == "$expected" ]] || { echo "expected stdout: $expected" >&2; fail "$@"; }
}

# error CODE MESSAGE ARGS...: exit code CODE, nothing on stdout, and stderr containing MESSAGE.
error() {
    local want=$1 message=$2
    shift 2
    run "$@"
    [[ $code == "$want" && -z "$out" && "$err" == *"$message"* ]] || {
        echo "expected exit $want and stderr containing: $message" >&2
        fail "$@"
    }
}

# unchanged ARGS...: the export is the same after the (failing) command as before.
before() { "$REGISTRAR" export >"$work/before.csv"; }
unchanged() {
    "$REGISTRAR" export >"$work/after.csv"
    cmp -s "$work/before.csv" "$work/after.csv" || { echo "the database changed" >&2; fail "$@"; }
}

echo "registrar scenario on $REGISTRAR_DB"

ok "Alice: Math, Science
Bob: Math
Math: Alice, Bob
Science: Alice" demo

ok "id  name
 1  Alice
 2  Bob
 3  Алиса
 4  张伟" student add Alice Bob Алиса 张伟
ok '[{"id":1,"title":"Math"},{"id":2,"title":"Science"},{"id":3,"title":"Art, History"}]' \
    --json course add Math Science "Art, History"
ok "enrolled Alice (#1) in Math (#1), Science (#2)" enroll Alice Math Science
ok '{"ok":true,"changed":1}' --json enroll Bob '#1'
ok "enrolled Алиса (#3) in Art, History (#3)" enroll Алиса "Art, History"
ok "id  name   courses
 1  Alice        2
 2  Bob          1
 3  Алиса        1
 4  张伟         0" student list
ok '[{"id":3,"title":"Art, History","students":1},{"id":1,"title":"Math","students":2},{"id":2,"title":"Science","students":1}]' --json course list
ok "Alice (#1): 2 courses
id  title
 1  Math
 2  Science" student show Alice
ok '{"id":1,"title":"Math","students":[{"id":1,"name":"Alice"},{"id":2,"name":"Bob"}]}' --json course show Math
ok 'dropped Alice (#1) from Science (#2)' drop Alice Science
ok 'student #4 renamed from "张伟" to "张伟 (Zhang Wei)"' student rename 张伟 "张伟 (Zhang Wei)"
ok '{"ok":true,"changed":1}' --json course rename Science Physics

before
error 1 "Alice (#1) is already enrolled in Math (#1)" enroll Alice Physics Math
unchanged enroll
error 1 "Bob (#2) is not enrolled in Physics (#2)" drop Bob Math Physics
unchanged drop
error 1 'no student is named "Carol"' enroll Carol Math
error 1 'no course has id #42' course show '#42'
error 1 "a student name cannot be empty" student add Dave ""
error 1 "a course title cannot be empty" course add "   "
error 1 "has 1001 characters; the limit is 1000" student add "$(printf 'x%.0s' $(seq 1001))"
unchanged add
ok "id  name
 5  Alice" student add Alice
error 1 '2 students are named "Alice" (#1, #5); give one by id, for example #1' student show Alice
ok "removed student Alice (#5) and 0 enrollments" student remove '#5'
ok "id  name
 6  Eve" student add Eve
# (#5 was removed; ids are never given again)

printf 'student,course\nEve,Math\n"Smith, Jo",Physics\nEve,Math\nAlice,Math\nМария,数学\n' >term.csv
ok "imported term.csv: 2 students, 1 course and 3 enrollments added; 2 pairs skipped (repeated or enrolled already)" import term.csv
ok "imported term.csv: 0 students, 0 courses and 0 enrollments added; 5 pairs skipped (repeated or enrolled already)" import term.csv
before
printf 'student,course\nZed,Math\nZed,Math,Physics\n' >bad.csv
error 1 "bad.csv: line 3: expected 2 fields (student,course), found 3" import bad.csv
printf 'name,course\nZed,Math\n' >bad.csv
error 1 "bad.csv: line 1: expected the header \`student,course\`" import bad.csv
printf 'student,course\nZed,\n' >bad.csv
error 1 "bad.csv: line 2: the course field is empty" import bad.csv
printf 'student,course\nZed,Math\nZ\xffd,Math\n' >bad.csv
error 1 "bad.csv: line 3: field 1 is not valid UTF-8" import bad.csv
unchanged import

ok 'student,course
Alice,Math
Bob,Math
Eve,Math
"Smith, Jo",Physics
Алиса,"Art, History"
Мария,数学' export
ok "exported 6 enrollments to out.csv" export out.csv
cmp -s out.csv "$work/before.csv" || { echo "export FILE differs from export to stdout" >&2; exit 1; }
ok '{"ok":true,"changed":1}' --json course remove Physics
ok "removed student Bob (#2) and 1 enrollment" student remove Bob

error 2 "Usage:" frobnicate
error 2 "Usage:" enroll Alice
run --db "postgres://clerk:hunter2@127.0.0.1:1/school" student list
[[ $code == 1 && "$err" == "error: cannot open database \`postgres://clerk:***@127.0.0.1:1/school\`"* && "$err" != *hunter2* ]] ||
    fail "an unreachable server"
run enroll --help
[[ $code == 0 && "$out" == *"Examples:"* ]] || fail "enroll --help"

echo "scenario passed: $steps steps"
