#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS: build the fuzz targets and run each for SECONDS
# (default 60): the row scanner on a seed corpus made here (plus
# tests/fuzz/corpus/ when present), then the command line and connection
# strings (fuzz_cli.c) on seeds of its own.  Exits non-zero on a finding; the
# crashing input is left in build/fuzz/ (see the fuzzer's output).  Run from
# anywhere.
set -euo pipefail
secs="${1:-60}"
cd "$(dirname "$0")/../.."
make -s -f tests/fuzz/Makefile
out=build/fuzz
work="$(mktemp -d "${TMPDIR:-/tmp}/pgcm-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/cli"

# Seeds: 4 bytes of options (format kind in byte 0 % 3, header in bit 2, CSV
# quote in bits 3-5; byte 1: escape and row cap; bytes 2-3: piece seed), then data.
seed() { printf "$2" >"$work/corpus/$1"; }
seed text1      '\000\000\001\002a\tb\n1\t\\N\nx\\\ny\n\\.\n'
seed text2      '\000\000\003\004a\\\\b\r\nc\td\r\n\\.\r\n'
seed text3      '\000\000\005\006cr\rrows\r\\.\r'
seed text4      '\004\000\007\010h1\th2\nv1\tv2\n'
seed text5      '\000\000\011\012abc\\.\n'
seed text6      '\000\000\013\014last line without newline'
seed csv1       '\001\000\001\002a,"b\nc",d\n"x""y",z\n\\.\n'
seed csv2       '\005\000\003\004h1,h2\r\n"q\r\nq",2\r\n\\.\r\n'
seed csv3       '\001\001\005\006"a\\"b",c\n"\\\\",d\n'
seed csv4       '\011\002\007\010'"'"'it'"''"'s'"'"',x\n\\.x\n'
seed csv5       '\001\000\011\012"unterminated\n'
seed csv6       '\001\000\013\014\\.\r\n'
seed csvcap     '\001\140\015\016aaaa,bbbb\ncc\n'
seed bin1       '\002\000\001\002PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\000\002\000\000\000\004\000\000\000\001\377\377\377\377\377\377'
seed bin2       '\002\000\003\004PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\003abc\000\001\000\000\000\002hi\000\001\000\000\000\000'
seed bin3       '\002\000\005\006PGCOPY\n\377\r\n\000\000\001\000\000\000\000\000\000'
seed bincap     '\002\140\007\010PGCOPY\n\377\r\n\000\000\000\000\000\000\000\000\000\001\000\000\000\050x'
if [ -d tests/fuzz/corpus ]; then cp tests/fuzz/corpus/* "$work/corpus/" 2>/dev/null || true; fi

"$out/fuzz_rowscan" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$out/" "$work/corpus"

# Seeds for the command line: byte 0 even builds an argument vector (byte 1:
# the command; then tokens: option, stray text, "--", stray connection
# string), odd masks a raw string with the sentinel in it.
cseed() { printf "$2" >"$work/cli/$1"; }
cseed copy-opts   '\000\000\003\000\001\003\003\001\002\003\003\001\003\007\002\003\004\003\005\003\006\003'
cseed listen      '\000\001\003\000\003\003\003\004\004\001\002\007\003\001\002\003\010\000'
cseed notify      '\000\002\003\000\004\003\000\003\001\006\002\011\003'
cseed unknown     '\000\003\002\007\000\002\010\000\000\005abc'
cseed raw-kv      '\001\006host=x\007 port=1'
cseed raw-uri     '\001\031postgresql://u:p@h/db?pass\003=xx'
cseed raw-nested  '\001\030dbname=\047password=\002\047 x'
"$out/fuzz_cli" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=1024 \
	-print_final_stats=1 -artifact_prefix="$out/" "$work/cli"
