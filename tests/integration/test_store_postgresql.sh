#!/usr/bin/env bash
# The store's unit tests (tests/unit/test_store.c) on the PostgreSQL backend
# (issue 13): every record read back field by field, unique keys,
# revocation and release from hold, listing filters, end entities and the
# one-transaction spend, put_issued's limit and renewal, requests, external
# CAs, CRL state, reconnection and schema versions; and the grouped
# writer's (test_writer.c), against a server of the test's own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_start
ESTKIT_TEST_PG_HOST=$PG_DIR ESTKIT_TEST_PG_PORT=$PG_PORT "$ESTKIT_TOOLS/test_store" > "$T/out.txt" 2>&1 ||
    fail "test_store on PostgreSQL: $(grep -E 'FAILED|ERROR|Failure|fail' "$T/out.txt" | head -20)"
grep_all 'OK \] test_pg_schema_versions' "$T/out.txt" || fail "the PostgreSQL group did not run"
ok "the store's unit tests pass on PostgreSQL ($(grep -c '^\[       OK \]' "$T/out.txt") tests in all)"
ESTKIT_TEST_PG_HOST=$PG_DIR ESTKIT_TEST_PG_PORT=$PG_PORT "$ESTKIT_TOOLS/test_writer" > "$T/out.txt" 2>&1 ||
    fail "test_writer on PostgreSQL: $(grep -E 'FAILED|ERROR|Failure|fail' "$T/out.txt" | head -20)"
[ "$(grep -c '^\[  PASSED  \]' "$T/out.txt")" = 2 ] || fail "the PostgreSQL group of test_writer did not run"
ok "the grouped writer's unit tests pass on PostgreSQL (one transaction per group, a savepoint per write)"
finish
