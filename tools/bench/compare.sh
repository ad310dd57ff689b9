#!/usr/bin/env bash
# Compare this checkout's speed with an earlier release's, side by side, in one run on one
# machine: the figures of docs/PERFORMANCE.md (skein bench graph on one generated estate,
# embedded store and a throwaway Neo4j; skein bench api, plain and --overload, on 5,000 CIs)
# and the Go benchmarks behind its other tables.
#
#   tools/bench/compare.sh BASE_REF [--cis N] [--runs K] [--go-bench REGEX] [--go-benchtime D]
#                          [--go-only] [--no-api] [--out DIR]
#
# BASE_REF is any git revision (the previous release's commit or tag). Each of K runs builds
# nothing new: both binaries are built first, then measured alternately (base, head, base,
# head...) so that drift in the machine's load hits both alike (the head is a snapshot of
# this checkout, uncommitted changes included, taken at the start); so are the Go benchmarks
# (--go-bench, one -count=1 pass per run and binary, each benchmark for --go-benchtime, default
# Go's 1s: a longer time lets a fresh Neo4j's JIT warm up before the reported round, which
# otherwise varies by a factor of two on slow operations) and the API runs. --go-only skips
# skein bench graph and api; --no-api skips api. Results go to DIR (default
# a new directory under /tmp): base-N.md / head-N.md (the reports), base.txt / head.txt (Go
# benchmark format) and compare.txt, benchstat's table, which is also printed. benchstat
# marks a difference it finds significant with its percentage; "~" means none. With one run
# (the default for --cis above 100000) it cannot judge significance: use --runs 3 or more.
# Needs: Go, and Java for Neo4j (tools/neo4j/with-neo4j.sh). Not part of CI: 50,000 CIs
# take about 5 minutes per run and binary.
set -euo pipefail

die() { printf 'compare: %s\n' "$*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "usage: tools/bench/compare.sh BASE_REF [--cis N] [--runs K] [--go-bench REGEX] [--go-benchtime D] [--go-only] [--no-api] [--out DIR]"
base_ref=$1; shift
cis=50000 runs=3 gobench="" benchtime=1s out="" graph=1 api=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --cis) cis=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --go-bench) gobench=$2; shift 2 ;;
    --go-benchtime) benchtime=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --go-only) graph=0; api=0; shift ;;
    --no-api) api=0; shift ;;
    *) die "unknown argument $1" ;;
  esac
done
root=$(git rev-parse --show-toplevel)
cd "$root"
base_rev=$(git rev-parse --verify "$base_ref^{commit}") || die "not a revision: $base_ref"
out=${out:-$(mktemp -d /tmp/skein-compare.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/skein-compare-src.XXXXXX)
cleanup() {
  for v in base head; do git worktree remove --force "$work/$v" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The head is a snapshot of this checkout taken now (uncommitted changes to tracked files
# included, through git stash create, which leaves the checkout alone): editing the checkout
# during a run, which takes an hour, changes neither side.
head_rev=$(git stash create)
head_rev=${head_rev:-$(git rev-parse HEAD)}
echo "compare: base $base_ref ($base_rev), head $(git rev-parse --short HEAD)$(git diff --quiet || echo ' with uncommitted changes'); results in $out" >&2
for v in base head; do
  rev=$base_rev; [[ $v == head ]] && rev=$head_rev
  git worktree add --detach "$work/$v" "$rev" >/dev/null
  (cd "$work/$v" && go build -o "$work/skein-$v" ./cmd/skein)
done

: >"$out/base.txt"; : >"$out/head.txt"
# report appends a skein bench report to a benchmark file under a package
# line of its own: benchstat groups results by their configuration lines,
# and a report that followed a Go benchmark's "pkg:" (or machine) lines
# would make every run a group of its own, one sample each. The Go
# benchmarks keep only their "pkg:" lines for the same reason.
report() {
  { echo "pkg: skein-bench-reports"; "$work/skein-head" bench benchfmt "$1"; } >>"$2"
}
for i in $(seq 1 "$runs"); do
  for v in base head; do
    if [[ $graph == 1 ]]; then
      echo "compare: run $i/$runs, $v: skein bench graph" >&2
      # A throwaway Neo4j per run: both binaries get a fresh database.
      tools/neo4j/with-neo4j.sh "$work/skein-$v" bench graph --cis "$cis" --seed 1 --out "$out/$v-$i.md" >/dev/null
      report "$out/$v-$i.md" "$out/$v.txt"
    fi
    if [[ $api == 1 ]]; then
      echo "compare: run $i/$runs, $v: skein bench api (plain, --overload)" >&2
      "$work/skein-$v" bench api --cis 5000 --clients 1,8,32 --duration 5s --out "$out/$v-api-$i.md" >/dev/null
      "$work/skein-$v" bench api --overload --cis 5000 --clients 1,8,32,128,512 --duration 5s --out "$out/$v-overload-$i.md" >/dev/null
      report "$out/$v-api-$i.md" "$out/$v.txt"
      report "$out/$v-overload-$i.md" "$out/$v.txt"
    fi
    if [[ -n $gobench ]]; then
      echo "compare: run $i/$runs, $v: go test -bench '$gobench'" >&2
      # A benchmark that fails is an error, never a comparison with fewer figures.
      (cd "$work/$v" && tools/neo4j/with-neo4j.sh go test -p 1 -run '^$' -bench "$gobench" -benchtime "$benchtime" -count 1 ./internal/...) >"$out/$v-go-$i.log" 2>&1 ||
        die "go test -bench failed for $v (run $i): see $out/$v-go-$i.log"
      grep -E '^(Benchmark|pkg)' "$out/$v-go-$i.log" >>"$out/$v.txt" ||
        die "no benchmark matched '$gobench' for $v: see $out/$v-go-$i.log"
    fi
  done
done
go tool benchstat base="$out/base.txt" head="$out/head.txt" | tee "$out/compare.txt"
