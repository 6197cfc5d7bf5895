#!/usr/bin/env bash
# A plain clone has no ../shared beside it: a test that needs a seed from
# there must say so and exit 77 (ctest: skipped), never fail; with the
# shared documents present (as in CI) the same test runs the seed's part.
# test_serverkeygen.sh is the test that reads a seed.
. "$(dirname "$0")/lib.sh"

TEST="$ESTKIT_SRC/tests/integration/test_serverkeygen.sh"

rc=0
ESTKIT_SHARED="$T/no-such-dir" bash "$TEST" > bare.out 2>&1 || rc=$?
[ $rc = 77 ] || { cat bare.out; fail "without the shared documents: exit $rc, want 77 (skipped)"; }
grep_all "^skip - seed 004 not found at $T/no-such-dir/seeds/" bare.out || fail "the skip does not name the missing seed"
grep_all "^ok - the response's parts: openssl rsa accepts the key" bare.out || fail "the rest of the test did not run"
ok "ESTKIT_SHARED at a missing directory: test_serverkeygen runs the rest, names the seed and exits 77"

if SEED=$(shared_doc seeds/004_35a03f48eaeb8a78.txt); then
	rc=0
	bash "$TEST" > shared.out 2>&1 || rc=$?
	[ $rc = 0 ] || { cat shared.out; fail "with the shared documents: exit $rc, want 0"; }
	grep_all "^ok - seed's parse_server_keygen_response: " shared.out || fail "the seed's script did not run"
	! grep_all '^skip - ' shared.out || fail "a part was skipped although $SEED is there"
	ok "with the shared documents (ESTKIT_SHARED or ../shared): the seed's script runs, nothing skipped"
else
	skip_part "shared documents not found at $SEED: the other half of this test"
fi
finish
