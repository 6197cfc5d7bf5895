/*
 * Unit tests for the certificate store (include/estkit/store.h) on its SQLite
 * backend: schema creation and migration, file mode, records built from real
 * X.509 certificates and read back field by field, unique keys, revocation
 * and release from hold, listing filters, URI dispatch, the CRL reason
 * names, end entities with their one-transaction spend of an enrolment
 * code, external CAs, and the requests held for manual approval.
 *
 * Each test gets a fresh database in its own mkdtemp directory. With
 * ESTKIT_TEST_PG_HOST and ESTKIT_TEST_PG_PORT set (a PostgreSQL server whose
 * superuser "postgres" may connect over that socket directory without a
 * password; tests/integration/test_store_postgresql.sh starts one), the
 * backend-neutral tests run again on the PostgreSQL backend, each on a fresh
 * database, with a few of that backend's own (reconnection).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "codec/namekeys.h"
#include "estkit/codec.h"
#include "estkit/store.h"

#define NOT_BEFORE 1700000000 /* 2023-11-14T22:13:20Z */
#define NOT_AFTER 1900000000  /* 2030-03-17T17:46:40Z */

struct fixture {
	char dir[64];
	char path[128];
	char uri[256];           /* what est_store_open takes: path, or a postgresql:// URI */
	char pgdb[32];           /* the PostgreSQL database of this test, "" for SQLite */
	struct est_store *st;
	EVP_PKEY *key;
};

static EVP_PKEY *shared_key;

static void
path_in(const struct fixture *fx, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", fx->dir, name);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct est_error e = { 0 };

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	path_in(fx, "est.db", fx->path, sizeof(fx->path));
	snprintf(fx->uri, sizeof(fx->uri), "%s", fx->path);
	assert_int_equal(est_store_create(fx->path, &fx->st, &e), EST_OK);
	fx->key = shared_key;
	*state = fx;
	return 0;
}

static void
remove_db(const struct fixture *fx, const char *name)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s%s", fx->dir, name, suffixes[i]);
		unlink(p);
	}
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	est_store_close(fx->st);
	remove_db(fx, "est.db");
	remove_db(fx, "other.db");
	remove_db(fx, "garbage.db");
	remove_db(fx, "backup.db");
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

/* ---- the PostgreSQL fixture ---- */

/* Run sql as the superuser on database db of the test server. */
static void
pg_admin(const char *db, const char *sql)
{
	char conninfo[256];
	PGconn *c;
	PGresult *res;

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=postgres dbname=%s",
	    getenv("ESTKIT_TEST_PG_HOST"), getenv("ESTKIT_TEST_PG_PORT"), db);
	c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
}

static int
setup_pg(void **state)
{
	static int n;
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct est_error e = { 0 };
	char sql[64];

	assert_non_null(fx);
	snprintf(fx->pgdb, sizeof(fx->pgdb), "est_%d_%d", (int)getpid(), n++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", fx->pgdb);
	pg_admin("postgres", sql);
	snprintf(fx->uri, sizeof(fx->uri), "postgresql:///%s?host=%s&port=%s&user=postgres",
	    fx->pgdb, getenv("ESTKIT_TEST_PG_HOST"), getenv("ESTKIT_TEST_PG_PORT"));
	assert_int_equal(est_store_create(fx->uri, &fx->st, &e), EST_OK);
	fx->key = shared_key;
	*state = fx;
	return 0;
}

static int
teardown_pg(void **state)
{
	struct fixture *fx = *state;
	char sql[64];

	est_store_close(fx->st);
	snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", fx->pgdb);
	pg_admin("postgres", sql);
	free(fx);
	return 0;
}

static void
add_cn(X509_NAME *n, const char *field, const char *value)
{
	assert_int_equal(X509_NAME_add_entry_by_txt(n, field, MBSTRING_ASC,
	    (const unsigned char *)value, -1, -1, 0), 1);
}

/* A certificate signed by key; issuer and subject are "CN=<cn>,O=Example". */
static X509 *
make_cert(EVP_PKEY *key, const char *issuer_cn, const char *subject_cn, long serial,
    int64_t nb, int64_t na, const char *san)
{
	X509 *x = X509_new();
	X509_EXTENSION *ext;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	add_cn(X509_get_issuer_name(x), "O", "Example");
	add_cn(X509_get_issuer_name(x), "CN", issuer_cn);
	add_cn(X509_get_subject_name(x), "O", "Example");
	add_cn(X509_get_subject_name(x), "CN", subject_cn);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (san != NULL) {
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static struct est_cert_rec *
make_rec(EVP_PKEY *key, const char *issuer_cn, const char *subject_cn, long serial,
    int64_t nb, int64_t na)
{
	struct est_cert_rec *rec = NULL;
	struct est_error e = { 0 };
	X509 *x = make_cert(key, issuer_cn, subject_cn, serial, nb, na, NULL);

	assert_int_equal(est_cert_rec_from_x509(x, "user:estuser", NULL, &rec, &e), EST_OK);
	X509_free(x);
	return rec;
}

static void
put(struct est_store *st, struct est_cert_rec *rec)
{
	struct est_error e = { 0 };

	assert_int_equal(est_store_put_cert(st, rec, &e), EST_OK);
	assert_true(rec->id > 0);
}

/* SHA-256 of the DER SubjectPublicKeyInfo, computed here independently. */
static void
spki_hex(EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int n = i2d_PUBKEY(key, &der);

	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, 32);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
}

static void
assert_same_der(const struct est_cert_rec *rec, X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	assert_int_equal(rec->der_len, (size_t)n);
	assert_memory_equal(rec->der, der, (size_t)n);
	OPENSSL_free(der);
}

/* The first column of the first row of sql, run on a separate connection. */
static void
raw_query(const char *path, const char *sql, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void
test_fresh_schema_and_mode(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *rec;
	struct stat sb;
	char wal[160], buf[128];
	int version = 0;

	assert_int_equal(est_store_schema_version(fx->st, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	raw_query(fx->path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	raw_query(fx->path, "SELECT group_concat(name, ' ') FROM (SELECT name FROM "
	    "sqlite_master WHERE tbl_name = 'certs' AND sql IS NOT NULL ORDER BY name)",
	    buf, sizeof(buf));
	assert_string_equal(buf, "certs certs_ee certs_inserted_revoked certs_revoked certs_revoked_by_issuer");

	/* The write-ahead log holds committed certificates too: same mode. */
	rec = make_rec(fx->key, "CA", "dev", 1, NOT_BEFORE, NOT_AFTER);
	put(fx->st, rec);
	est_cert_rec_free(rec);
	snprintf(wal, sizeof(wal), "%s-wal", fx->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

/*
 * A read scope (est_store_read_begin): the handle's reads see one snapshot,
 * a commit of another handle meanwhile shows after the scope, a write
 * through the handle in the scope fails and leaves the scope usable, and
 * ending no scope does nothing.
 */
static void
test_read_scope(void **state)
{
	struct fixture *fx = *state;
	struct est_store *reader = NULL;
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev-a", 0xa1, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "dev-b", 0xb2, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "dev-c", 0xc3, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct est_error e = { 0 };

	put(fx->st, a);
	assert_int_equal(est_store_open(fx->uri, &reader, &e), EST_OK);
	assert_int_equal(est_store_read_begin(reader, &e), EST_OK);
	assert_int_equal(est_store_get_cert(reader, NULL, "A1", &got, &e), EST_OK);
	est_cert_rec_free(got);
	got = NULL;
	put(fx->st, b);
	assert_int_equal(est_store_get_cert(reader, NULL, "B2", &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_put_cert(reader, c, &e), EST_ERR_STORE);
	assert_int_equal(est_store_get_cert(reader, NULL, "A1", &got, &e), EST_OK);
	est_cert_rec_free(got);
	got = NULL;
	est_store_read_end(reader);

	assert_int_equal(est_store_get_cert(reader, NULL, "B2", &got, &e), EST_OK);
	est_cert_rec_free(got);
	est_store_read_end(reader);
	put(reader, c);
	est_store_close(reader);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
}

static void
check_fields(const struct est_cert_rec *got, X509 *x, const char *subject,
    const char *serial, const char *san, const char *spki)
{
	assert_string_equal(got->issuer, "CN=Test CA,O=Example");
	assert_string_equal(got->subject, subject);
	assert_string_equal(got->serial, serial);
	assert_string_equal(got->san, san);
	assert_string_equal(got->spki_sha256, spki);
	assert_int_equal(got->not_before, NOT_BEFORE);
	assert_int_equal(got->not_after, NOT_AFTER);
	assert_int_equal(got->status, EST_CERT_VALID);
	assert_int_equal(got->revoked_at, 0);
	assert_int_equal(got->revocation_reason, -1);
	assert_same_der(got, x);
}

static void
test_put_get_every_field(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *r1 = NULL, *r2 = NULL, *got = NULL;
	EVP_PKEY *key2 = EVP_EC_gen("P-256");
	X509 *x1, *x2;
	char spki1[65], spki2[65];
	int64_t before = (int64_t)time(NULL);

	assert_non_null(key2);
	x1 = make_cert(fx->key, "Test CA", "dev1", 42, NOT_BEFORE, NOT_AFTER, NULL);
	x2 = make_cert(key2, "Test CA", "dev2", 0x1234567890ABCDEFL, NOT_BEFORE, NOT_AFTER,
	    "DNS:a.example,IP:127.0.0.1");
	spki_hex(fx->key, spki1);
	spki_hex(key2, spki2);
	assert_int_equal(est_cert_rec_from_x509(x1, "user:estuser", "arbitrary", &r1, &e), EST_OK);
	assert_int_equal(est_cert_rec_from_x509(x2, NULL, NULL, &r2, &e), EST_OK);
	assert_int_equal(r1->id, 0);
	put(fx->st, r1);
	put(fx->st, r2);
	assert_true(r2->id > r1->id);

	assert_int_equal(est_store_get_cert(fx->st, "CN=Test CA,O=Example", "2A", &got, &e), EST_OK);
	check_fields(got, x1, "CN=dev1,O=Example", "2A", "", spki1);
	assert_int_equal(got->id, r1->id);
	assert_true(got->issued_at >= before && got->issued_at <= (int64_t)time(NULL));
	assert_string_equal(got->principal, "user:estuser");
	assert_string_equal(got->alias, "arbitrary");
	est_cert_rec_free(got);
	got = NULL;

	assert_int_equal(est_store_get_cert(fx->st, NULL, "1234567890ABCDEF", &got, &e), EST_OK);
	check_fields(got, x2, "CN=dev2,O=Example", "1234567890ABCDEF",
	    "DNS:a.example, IP:127.0.0.1", spki2);
	assert_int_equal(got->id, r2->id);
	assert_string_equal(got->principal, "");
	assert_string_equal(got->alias, "");
	est_cert_rec_free(got);

	est_cert_rec_free(r1);
	est_cert_rec_free(r2);
	X509_free(x1);
	X509_free(x2);
	EVP_PKEY_free(key2);
}

static void
test_duplicate_is_exists(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev", 7, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "other", 7, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA2", "dev", 7, NOT_BEFORE, NOT_AFTER);

	put(fx->st, a);
	assert_int_equal(est_store_put_cert(fx->st, b, &e), EST_ERR_EXISTS);
	assert_int_equal(e.code, EST_ERR_EXISTS);
	assert_int_equal(b->id, 0);
	/* The same serial from another issuer is a different certificate. */
	put(fx->st, c);
	/* The failed insert left no transaction open: writes still work. */
	est_cert_rec_free(b);
	b = make_rec(fx->key, "CA", "dev", 8, NOT_BEFORE, NOT_AFTER);
	put(fx->st, b);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
}

static void
test_revoke(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *rec = make_rec(fx->key, "CA", "dev", 0x99, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;

	put(fx->st, rec);
	assert_int_equal(est_store_revoke_cert(fx->st, "CN=CA,O=Example", "99",
	    EST_REASON_KEY_COMPROMISE, 1800000000, &e), EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "99", &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_REVOKED);
	assert_int_equal(got->revoked_at, 1800000000);
	assert_int_equal(got->revocation_reason, EST_REASON_KEY_COMPROMISE);
	est_cert_rec_free(got);

	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "99",
	    EST_REASON_SUPERSEDED, 1800000001, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "99 is already revoked"));
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "98", 0, 1, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_revoke_cert(fx->st, "CN=Other,O=Example", "99", 0, 1, &e),
	    EST_ERR_NOTFOUND);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "98", &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "99", 7, 1, &e), EST_ERR_BADREQ);
	/* removeFromCRL would read as "not revoked" on a CRL: no reason to revoke. */
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "98", EST_REASON_REMOVE_FROM_CRL, 1,
	    &e), EST_ERR_BADREQ);

	/* The first revocation's time and reason were kept. */
	got = NULL;
	assert_int_equal(est_store_get_cert(fx->st, NULL, "99", &got, &e), EST_OK);
	assert_int_equal(got->revoked_at, 1800000000);
	assert_int_equal(got->revocation_reason, EST_REASON_KEY_COMPROMISE);
	est_cert_rec_free(got);
	est_cert_rec_free(rec);

	/* A record stored as revoked (an import) keeps its time and reason. */
	rec = make_rec(fx->key, "CA", "old", 0x9A, NOT_BEFORE, NOT_AFTER);
	rec->status = EST_CERT_REVOKED;
	rec->revoked_at = 1750000000;
	rec->revocation_reason = EST_REASON_SUPERSEDED;
	put(fx->st, rec);
	got = NULL;
	assert_int_equal(est_store_get_cert(fx->st, NULL, "9A", &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_REVOKED);
	assert_int_equal(got->revoked_at, 1750000000);
	assert_int_equal(got->revocation_reason, EST_REASON_SUPERSEDED);
	est_cert_rec_free(got);
	est_cert_rec_free(rec);
}

static void
test_ambiguous_serial(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA1", "dev", 5, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA2", "dev", 5, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;

	put(fx->st, a);
	put(fx->st, b);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "5", &got, &e), EST_ERR_EXISTS);
	assert_null(got);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "5", 0, 1, &e), EST_ERR_EXISTS);
	assert_int_equal(est_store_revoke_cert(fx->st, "CN=CA2,O=Example", "5", 0, 1, &e),
	    EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, "CN=CA1,O=Example", "5", &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_VALID);
	est_cert_rec_free(got);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
}

struct seen {
	int n;
	int64_t ids[8];
	int stop_after; /* 0: never */
};

static int
collect(const struct est_cert_rec *rec, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->ids[s->n++] = rec->id;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static struct seen
list(struct est_store *st, const struct est_cert_filter *f, int stop_after)
{
	struct est_error e = { 0 };
	struct seen s = { .stop_after = stop_after };

	assert_int_equal(est_store_list_certs(st, f, collect, &s, &e), EST_OK);
	return s;
}

static void
test_list(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *r[4];
	struct est_cert_filter f = { 0 };
	struct seen s;
	int i;

	r[0] = make_rec(fx->key, "CA", "alpha", 1, NOT_BEFORE, NOT_AFTER);
	r[1] = make_rec(fx->key, "CA", "expired", 2, NOT_BEFORE, NOT_BEFORE + 3600);
	r[2] = make_rec(fx->key, "CA", "revoked", 3, NOT_BEFORE, NOT_AFTER);
	r[3] = make_rec(fx->key, "CA2", "beta", 4, NOT_BEFORE, NOT_AFTER);
	for (i = 0; i < 4; i++)
		put(fx->st, r[i]);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "3", 0, NOT_BEFORE + 60, &e), EST_OK);

	s = list(fx->st, NULL, 0);
	assert_int_equal(s.n, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(s.ids[i], r[i]->id);

	f.only_valid = true;
	s = list(fx->st, &f, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], r[0]->id);
	assert_int_equal(s.ids[1], r[3]->id);

	/* At a time before the second certificate expired it is still valid. */
	f.now = NOT_BEFORE + 1800;
	s = list(fx->st, &f, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[1], r[1]->id);

	/* The /metrics expiry gauges: counted, valid ones only, within (now, until]. */
	{
		int64_t n = -1;

		assert_int_equal(est_store_count_expiring(fx->st, NOT_BEFORE + 1800,
		    NOT_BEFORE + 7200, &n, &e), EST_OK);
		assert_int_equal(n, 1);
		assert_int_equal(est_store_count_expiring(fx->st, NOT_BEFORE + 1800, NOT_AFTER,
		    &n, &e), EST_OK);
		assert_int_equal(n, 3);
		assert_int_equal(est_store_count_expiring(fx->st, NOT_BEFORE + 3600, NOT_AFTER - 1,
		    &n, &e), EST_OK);
		assert_int_equal(n, 0);
	}

	memset(&f, 0, sizeof(f));
	f.issuer = "CN=CA2,O=Example";
	s = list(fx->st, &f, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], r[3]->id);

	memset(&f, 0, sizeof(f));
	f.subject_like = "cn=%ED,%"; /* LIKE ignores ASCII case */
	s = list(fx->st, &f, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[0], r[1]->id);
	assert_int_equal(s.ids[1], r[2]->id);

	f.limit = 1;
	assert_int_equal(list(fx->st, &f, 0).n, 1);
	assert_int_equal(list(fx->st, NULL, 1).n, 1); /* the visitor stops it */

	for (i = 0; i < 4; i++)
		est_cert_rec_free(r[i]);
}

struct writer {
	struct est_store *st;
	struct est_cert_rec *rec;
	enum est_err rc;
};

static int
write_while_reading(const struct est_cert_rec *rec, void *arg)
{
	struct writer *w = arg;
	struct est_error e = { 0 };

	(void)rec;
	w->rc = est_store_put_cert(w->st, w->rec, &e);
	return 1;
}

/* WAL: one connection commits while another is in the middle of reading. */
static void
test_write_during_read_on_other_handle(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 1, NOT_BEFORE, NOT_AFTER);
	struct writer w = { .rc = EST_ERR_INTERNAL };
	struct est_cert_rec *got = NULL;

	put(fx->st, a);
	assert_int_equal(est_store_open(fx->uri, &other, &e), EST_OK);
	w.st = other;
	w.rec = make_rec(fx->key, "CA", "b", 2, NOT_BEFORE, NOT_AFTER);
	assert_int_equal(est_store_list_certs(fx->st, NULL, write_while_reading, &w, &e), EST_OK);
	assert_int_equal(w.rc, EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "2", &got, &e), EST_OK);
	assert_int_equal(got->id, w.rec->id);
	est_cert_rec_free(got);
	est_store_close(other);
	est_cert_rec_free(w.rec);
	est_cert_rec_free(a);
}

static int
list_again(const struct est_cert_rec *rec, void *arg)
{
	struct writer *w = arg;
	struct est_error e = { 0 };
	struct seen s = { 0 };

	(void)rec;
	w->rc = est_store_list_certs(w->st, NULL, collect, &s, &e);
	return 1;
}

/* A nested listing on the same handle would restart the outer one: refused. */
static void
test_nested_list_refused(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 1, NOT_BEFORE, NOT_AFTER);
	struct writer w = { .st = fx->st, .rc = EST_OK };

	put(fx->st, a);
	assert_int_equal(est_store_list_certs(fx->st, NULL, list_again, &w, &e), EST_OK);
	assert_int_equal(w.rc, EST_ERR_INTERNAL);
	est_cert_rec_free(a);
}

static struct est_ee *
make_ee(const char *username, int64_t uses, int64_t valid_until)
{
	static unsigned char dn[] = { 0x30, 0x00 };
	struct est_ee *ee = calloc(1, sizeof(*ee));

	assert_non_null(ee);
	ee->username = strdup(username);
	ee->subject = strdup("CN=x");
	ee->subject_der = malloc(sizeof(dn));
	memcpy(ee->subject_der, dn, sizeof(dn));
	ee->subject_der_len = sizeof(dn);
	ee->san = strdup("");
	ee->alias = strdup("est");
	ee->profile = strdup("");
	ee->code_hash = strdup("H1");
	ee->uses_left = uses;
	ee->valid_until = valid_until;
	return ee;
}

static int
count_ee(const struct est_ee *ee, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* make_ee with a real subject and SAN (NULL: none), as estadm ee add registers them. */
static struct est_ee *
make_named_ee(const char *username, const char *dn_text, const char *san_text)
{
	struct est_ee *ee = make_ee(username, 1, 0);
	struct est_error e = { 0 };
	X509_NAME *dn = NULL;
	GENERAL_NAMES *san = NULL;
	unsigned char *der = NULL;
	int len;

	assert_int_equal(est_name_parse(dn_text, &dn, &e), EST_OK);
	free(ee->subject_der);
	ee->subject_der = NULL;
	assert_true((len = i2d_X509_NAME(dn, &der)) > 0);
	ee->subject_der = malloc((size_t)len);
	memcpy(ee->subject_der, der, (size_t)len);
	ee->subject_der_len = (size_t)len;
	OPENSSL_free(der);
	der = NULL;
	free(ee->subject);
	ee->subject = strdup(dn_text);
	if (san_text != NULL) {
		assert_int_equal(est_san_parse(san_text, &san, &e), EST_OK);
		assert_true((len = i2d_GENERAL_NAMES(san, &der)) > 0);
		ee->san_der = malloc((size_t)len);
		memcpy(ee->san_der, der, (size_t)len);
		ee->san_der_len = (size_t)len;
		OPENSSL_free(der);
		free(ee->san);
		ee->san = strdup(san_text);
	}
	X509_NAME_free(dn);
	GENERAL_NAMES_free(san);
	return ee;
}

/* How many end entities est_store_list_ee_by_key hands over for key, at most max (0: all). */
static int
by_key_max(struct est_store *st, const char *key, unsigned max)
{
	struct est_error e = { 0 };
	int n = 0;

	assert_int_equal(est_store_list_ee_by_key(st, key, max, count_ee, &n, &e), EST_OK);
	return n;
}

static int
by_key(struct est_store *st, const char *key)
{
	return by_key_max(st, key, 0);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *rec = make_rec(fx->key, "CA", "dev", 11, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	int version = 0;

	put(fx->st, rec);
	est_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(est_store_open(fx->path, &fx->st, &e), EST_OK);
	assert_int_equal(est_store_schema_version(fx->st, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "B", &got, &e), EST_OK);
	assert_int_equal(got->id, rec->id);
	assert_int_equal(got->der_len, rec->der_len);
	assert_memory_equal(got->der, rec->der, rec->der_len);
	est_cert_rec_free(got);
	est_cert_rec_free(rec);
}

/* A database made by the first schema moves to the second and keeps its data. */
static void
test_migration_from_2(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *rec = make_rec(fx->key, "CA", "dev", 12, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct est_ee *ee = make_named_ee("old", "CN=old.corp.example,O=Old", "IP:10.0.0.9");
	char buf[64];
	int version = 0;
	sqlite3 *db;

	put(fx->st, rec);
	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	est_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX certs_ee; CREATE INDEX certs_ee ON certs (ee_id); "
	    "CREATE INDEX certs_subject ON certs (subject); "
	    "CREATE INDEX certs_spki ON certs (spki_sha256); "
	    "DROP TABLE requests; DROP TABLE crls; DROP TABLE revocation_counts; "
	    "DROP TRIGGER certs_revoked; DROP TRIGGER certs_inserted_revoked; "
	    "DROP INDEX certs_revoked_by_issuer; DROP TABLE ee_names; PRAGMA user_version = 2",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(est_store_open(fx->path, &fx->st, &e), EST_OK);
	assert_int_equal(est_store_schema_version(fx->st, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	/* Step 6: end entities registered before are indexed by their names' keys. */
	assert_int_equal(by_key(fx->st, "h:old.corp.example"), 1);
	assert_int_equal(by_key(fx->st, "i:10.0.0.9"), 1);
	assert_int_equal(by_key(fx->st, "d:2.5.4.10=old/2.5.4.3=old.corp.example"), 1);
	est_ee_free(ee);
	raw_query(fx->path, "SELECT count(*) FROM requests", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	/* Step 5: certs_ee only for certificates of an end entity, no index nothing reads. */
	raw_query(fx->path, "SELECT group_concat(name || ':' || partial, ' ') FROM (SELECT name, "
	    "partial FROM pragma_index_list('certs') WHERE origin = 'c' ORDER BY name)",
	    buf, sizeof(buf));
	assert_string_equal(buf, "certs_ee:1 certs_revoked_by_issuer:1");
	assert_int_equal(est_store_get_cert(fx->st, NULL, "C", &got, &e), EST_OK);
	est_cert_rec_free(got);
	est_cert_rec_free(rec);
}

/*
 * Step 7 files the end entities again under the keys of today: one indexed
 * at step 6 under "h:10.0.0.5" for its "10.0.0.5." would be missed by the
 * look-up of 10.0.0.5 as an address, and its host name under no wildcard.
 */
static void
test_migration_from_6(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *ee = make_named_ee("old", "CN=old", "DNS:10.0.0.5., DNS:old.corp.example");
	int version = 0;
	sqlite3 *db;

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	est_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM ee_names; INSERT INTO ee_names (key, ee_id) "
	    "SELECT k, id FROM end_entities, (SELECT 'h:10.0.0.5' AS k UNION "
	    "SELECT 'h:old.corp.example' UNION SELECT 'd:2.5.4.3=old'); PRAGMA user_version = 6",
	    NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(est_store_open(fx->path, &fx->st, &e), EST_OK);
	assert_int_equal(est_store_schema_version(fx->st, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	assert_int_equal(by_key(fx->st, "i:10.0.0.5"), 1);
	assert_int_equal(by_key(fx->st, "h:10.0.0.5"), 0);
	assert_int_equal(by_key(fx->st, "w:corp.example"), 1);
	assert_int_equal(by_key(fx->st, "h:old.corp.example"), 1);
	assert_int_equal(by_key(fx->st, "d:2.5.4.3=old"), 1);
	est_ee_free(ee);
}

/*
 * Step 8 makes certs again with one index on serial: a store of schema 7
 * (UNIQUE (issuer, serial) and certs_serial, made here as step 1 and the
 * later steps left it) keeps its certificates, their ids and revocations;
 * revocations are still counted, a taken (issuer, serial) is still refused,
 * and the one index left on serial leads with it (a look-up by serial alone
 * searches it).
 */
static void
test_migration_from_7(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev", 21, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "dev", 22, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *dup = make_rec(fx->key, "CA", "other", 22, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	int64_t before = 0, after = 0;
	char buf[256];
	int version = 0;
	sqlite3 *db;

	put(fx->st, a);
	put(fx->st, b);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "15", 0, 1, &e), EST_OK);
	assert_int_equal(est_store_revocation_revision(fx->st, "CN=CA,O=Example", &before, &e),
	    EST_OK);
	est_store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE certs_7 ("
	    " id INTEGER PRIMARY KEY, issuer TEXT NOT NULL, serial TEXT NOT NULL,"
	    " subject TEXT NOT NULL, san TEXT NOT NULL DEFAULT '', spki_sha256 TEXT NOT NULL,"
	    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, issued_at INTEGER NOT NULL,"
	    " status TEXT NOT NULL CHECK (status IN ('valid','revoked')), revoked_at INTEGER,"
	    " revocation_reason INTEGER, principal TEXT NOT NULL DEFAULT '',"
	    " alias TEXT NOT NULL DEFAULT '', der BLOB NOT NULL,"
	    " ee_id INTEGER REFERENCES end_entities (id) ON DELETE SET NULL,"
	    " UNIQUE (issuer, serial));"
	    "INSERT INTO certs_7 SELECT * FROM certs; DROP TABLE certs;"
	    "ALTER TABLE certs_7 RENAME TO certs;"
	    "CREATE INDEX certs_serial ON certs (serial);"
	    "CREATE TRIGGER certs_revoked AFTER UPDATE OF status ON certs"
	    " WHEN NEW.status = 'revoked' AND OLD.status <> 'revoked' BEGIN"
	    " INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)"
	    " ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;"
	    "CREATE TRIGGER certs_inserted_revoked AFTER INSERT ON certs"
	    " WHEN NEW.status = 'revoked' BEGIN"
	    " INSERT INTO revocation_counts (issuer, revision) VALUES (NEW.issuer, 1)"
	    " ON CONFLICT (issuer) DO UPDATE SET revision = revision + 1; END;"
	    "CREATE INDEX certs_revoked_by_issuer ON certs (issuer) WHERE status = 'revoked';"
	    "CREATE INDEX certs_ee ON certs (ee_id) WHERE ee_id IS NOT NULL;"
	    "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(est_store_open(fx->path, &fx->st, &e), EST_OK);
	assert_int_equal(est_store_schema_version(fx->st, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	raw_query(fx->path, "SELECT group_concat(name || ':' || partial, ' ') FROM (SELECT name, "
	    "partial FROM pragma_index_list('certs') ORDER BY name)", buf, sizeof(buf));
	assert_string_equal(buf, "certs_ee:1 certs_revoked_by_issuer:1 sqlite_autoindex_certs_1:0");
	raw_query(fx->path, "SELECT group_concat(name, ',') FROM pragma_index_info("
	    "'sqlite_autoindex_certs_1')", buf, sizeof(buf));
	assert_string_equal(buf, "serial,issuer");
	assert_int_equal(est_store_get_cert(fx->st, NULL, "16", &got, &e), EST_OK);
	assert_int_equal(got->id, b->id);
	assert_int_equal(got->status, EST_CERT_VALID);
	est_cert_rec_free(got);
	got = NULL;
	assert_int_equal(est_store_get_cert(fx->st, "CN=CA,O=Example", "15", &got, &e), EST_OK);
	assert_int_equal(got->id, a->id);
	assert_int_equal(got->status, EST_CERT_REVOKED);
	est_cert_rec_free(got);
	assert_int_equal(est_store_put_cert(fx->st, dup, &e), EST_ERR_EXISTS);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "16", 0, 1, &e), EST_OK);
	assert_int_equal(est_store_revocation_revision(fx->st, "CN=CA,O=Example", &after, &e),
	    EST_OK);
	assert_int_equal(after, before + 1);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(dup);
}

static struct est_req_rec *
hold(struct est_store *st, const char *spki, const char *principal)
{
	struct est_req_rec key = { .alias = "est", .operation = "simpleenroll",
	    .subject = "CN=dev", .san = "DNS:dev", .principal = (char *)principal };
	struct est_req_rec *got = NULL;
	struct est_error e = { 0 };

	snprintf(key.spki_sha256, sizeof(key.spki_sha256), "%s", spki);
	assert_int_equal(est_store_hold_request(st, &key, &got, &e), EST_OK);
	assert_non_null(got);
	return got;
}

static int
count_open(const struct est_req_rec *rec, void *arg)
{
	(void)rec;
	(*(int *)arg)++;
	return 0;
}

/* Manual approval (EST-S-43, EST-S-44): one open request per key, one-time approval. */
static void
test_requests(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_req_rec *a, *b;
	int64_t first;
	int n = 0;

	a = hold(fx->st, "aa", "user:one");
	assert_int_equal(a->state, EST_REQ_PENDING);
	assert_string_equal(a->principal, "user:one");
	assert_string_equal(a->san, "DNS:dev");
	assert_true(a->created_at > 0);
	assert_int_equal(a->decided_at, 0);
	first = a->id;
	est_req_rec_free(a);
	/* A retry (another connection, another principal string) is the same request. */
	a = hold(fx->st, "aa", "user:two");
	assert_int_equal(a->id, first);
	assert_string_equal(a->principal, "user:one");
	est_req_rec_free(a);
	b = hold(fx->st, "bb", "user:one");
	assert_int_not_equal(b->id, first);

	assert_int_equal(est_store_set_request_state(fx->st, first, EST_REQ_PENDING,
	    EST_REQ_APPROVED, 1234, &e), EST_OK);
	assert_int_equal(est_store_set_request_state(fx->st, first, EST_REQ_PENDING,
	    EST_REQ_REJECTED, 1235, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "is approved, not pending"));
	a = hold(fx->st, "aa", "user:one");
	assert_int_equal(a->state, EST_REQ_APPROVED);
	assert_int_equal(a->decided_at, 1234);
	est_req_rec_free(a);
	/* The approval is claimed once; after that the same key starts over. */
	assert_int_equal(est_store_set_request_state(fx->st, first, EST_REQ_APPROVED,
	    EST_REQ_ISSUED, 1300, &e), EST_OK);
	assert_int_equal(est_store_set_request_state(fx->st, first, EST_REQ_APPROVED,
	    EST_REQ_ISSUED, 1300, &e), EST_ERR_FORBIDDEN);
	a = hold(fx->st, "aa", "user:one");
	assert_int_not_equal(a->id, first);
	assert_int_equal(a->state, EST_REQ_PENDING);
	est_req_rec_free(a);

	assert_int_equal(est_store_set_request_state(fx->st, b->id, EST_REQ_PENDING,
	    EST_REQ_REJECTED, 1400, &e), EST_OK);
	est_req_rec_free(b);
	b = hold(fx->st, "bb", "user:one");
	assert_int_equal(b->state, EST_REQ_REJECTED);
	est_req_rec_free(b);
	assert_int_equal(est_store_set_request_state(fx->st, 999, EST_REQ_PENDING,
	    EST_REQ_APPROVED, 1, &e), EST_ERR_NOTFOUND);

	assert_int_equal(est_store_list_requests(fx->st, true, count_open, &n, &e), EST_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(est_store_list_requests(fx->st, false, count_open, &n, &e), EST_OK);
	assert_int_equal(n, 3);
	assert_string_equal(est_req_state_name(EST_REQ_ISSUED), "issued");
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	char path[160];
	sqlite3 *db;

	path_in(fx, "other.db", path, sizeof(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(est_store_open(path, &other, &e), EST_ERR_STORE);
	assert_null(other);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "version 99 is newer than this estkit (8)"));
}

static void
test_not_a_database(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	char path[160];
	FILE *f;

	path_in(fx, "garbage.db", path, sizeof(path));
	assert_non_null(f = fopen(path, "w"));
	fputs("this is not an SQLite database, it only pretends to be one....\n", f);
	fclose(f);
	assert_int_equal(est_store_open(path, &other, &e), EST_ERR_STORE);
	assert_null(other);
	assert_non_null(strstr(e.msg, path));
}

static void
test_uri_dispatch(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	char uri[160];
	int version = 0;

	assert_int_equal(est_store_open("mysql://db/est", &other, &e), EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "\"mysql\""));
	/* A password in the URI (which is logged) is refused before connecting, unrepeated. */
	assert_int_equal(est_store_open("postgresql://est:s3cret@db/est", &other, &e),
	    EST_ERR_CONFIG);
	assert_non_null(strstr(e.msg, "password"));
	assert_null(strstr(e.msg, "s3cret"));
	assert_int_equal(est_store_open("postgres://db/est?password=s3cret", &other, &e),
	    EST_ERR_CONFIG);
	assert_null(strstr(e.msg, "s3cret"));
	assert_int_equal(est_store_open("postgres://db/est?no_such_parameter=1", &other, &e),
	    EST_ERR_CONFIG);
	assert_int_equal(est_store_open("postgres:dbname=est", &other, &e), EST_ERR_CONFIG);
	assert_int_equal(est_store_open("sqlite:", &other, &e), EST_ERR_CONFIG);
	assert_int_equal(est_store_open("", &other, &e), EST_ERR_CONFIG);
	assert_null(other);

	/* "sqlite:" + the fixture's file opens the same database. */
	snprintf(uri, sizeof(uri), "SQLite:%s", fx->path);
	assert_int_equal(est_store_open(uri, &other, &e), EST_OK);
	assert_int_equal(est_store_schema_version(other, &version, &e), EST_OK);
	assert_int_equal(version, 8);
	est_store_close(other);
	est_store_close(NULL);
}

static void
test_reason_names(void **state)
{
	static const int all[] = { 0, 1, 2, 3, 4, 5, 6, 8, 9, 10 };
	const char *name;
	char num[8];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		name = est_revoke_reason_name(all[i]);
		assert_non_null(name);
		r = -1;
		assert_int_equal(est_revoke_reason_parse(name, &r), 0);
		assert_int_equal(r, all[i]);
		snprintf(num, sizeof(num), "%d", all[i]);
		r = -1;
		assert_int_equal(est_revoke_reason_parse(num, &r), 0);
		assert_int_equal(r, all[i]);
	}
	assert_string_equal(est_revoke_reason_name(EST_REASON_KEY_COMPROMISE), "keyCompromise");
	assert_string_equal(est_revoke_reason_name(EST_REASON_CA_COMPROMISE), "cACompromise");
	assert_string_equal(est_revoke_reason_name(EST_REASON_AA_COMPROMISE), "aACompromise");
	assert_null(est_revoke_reason_name(7));
	assert_null(est_revoke_reason_name(11));
	assert_null(est_revoke_reason_name(-1));
	assert_int_equal(est_revoke_reason_parse("KEYCOMPROMISE", &r), 0);
	assert_int_equal(r, EST_REASON_KEY_COMPROMISE);
	r = 42;
	assert_int_equal(est_revoke_reason_parse("7", &r), -1);
	assert_int_equal(est_revoke_reason_parse("11", &r), -1);
	assert_int_equal(est_revoke_reason_parse("1x", &r), -1);
	assert_int_equal(est_revoke_reason_parse("-1", &r), -1);
	assert_int_equal(est_revoke_reason_parse("", &r), -1);
	assert_int_equal(est_revoke_reason_parse("compromised", &r), -1);
	assert_int_equal(r, 42);
	assert_string_equal(est_cert_status_name(EST_CERT_VALID), "valid");
	assert_string_equal(est_cert_status_name(EST_CERT_REVOKED), "revoked");
}

/* ---- end entities and the one-transaction spend (schema step 2) ---- */

static void
test_ee_register_get_list_del(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *ee = make_ee("dev1", 1, 0), *got = NULL;

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	assert_true(ee->id > 0);
	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_ERR_EXISTS);
	assert_int_equal(est_store_get_ee(fx->st, "dev1", &got, &e), EST_OK);
	assert_string_equal(got->subject, "CN=x");
	assert_int_equal(got->subject_der_len, 2);
	assert_null(got->san_der);
	assert_string_equal(got->alias, "est");
	assert_string_equal(got->code_hash, "H1");
	assert_int_equal(got->uses_left, 1);
	assert_int_equal(got->last_used, 0);
	assert_true(got->created_at > 0);
	est_ee_free(got);
	assert_int_equal(est_store_get_ee(fx->st, "nobody", &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_reset_ee(fx->st, "nobody", "H", 1, 0, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_del_ee(fx->st, "dev1", &e), EST_OK);
	assert_int_equal(est_store_del_ee(fx->st, "dev1", &e), EST_ERR_NOTFOUND);
	est_ee_free(ee);
	est_ee_free(NULL);
}

/* Put a certificate for ee spending one use of code; returns the result. */
static enum est_err
consume(struct fixture *fx, const struct est_ee *ee, long serial, const char *code, int64_t now)
{
	struct est_error e = { 0 };
	struct est_cert_rec *rec = make_rec(fx->key, "CA", "dev", serial, NOT_BEFORE, NOT_AFTER);
	enum est_err rc;

	rec->ee_id = ee->id;
	rc = est_store_put_cert_consume(fx->st, rec, code, now, &e);
	est_cert_rec_free(rec);
	return rc;
}

static void
test_consume_once(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *once = make_ee("once", 1, 0), *many = make_ee("many", -1, 0);
	struct est_ee *late = make_ee("late", 5, 1000), *got = NULL;
	struct est_cert_rec *rec = NULL;

	assert_int_equal(est_store_put_ee(fx->st, once, &e), EST_OK);
	assert_int_equal(est_store_put_ee(fx->st, many, &e), EST_OK);
	assert_int_equal(est_store_put_ee(fx->st, late, &e), EST_OK);
	assert_int_equal(consume(fx, once, 1, "WRONG", 100), EST_ERR_AUTH);
	assert_int_equal(consume(fx, once, 2, "H1", 100), EST_OK);
	/* Spent: nothing recorded for the second attempt. */
	assert_int_equal(consume(fx, once, 3, "H1", 100), EST_ERR_AUTH);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "3", &rec, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "2", &rec, &e), EST_OK);
	assert_int_equal(rec->ee_id, once->id);
	est_cert_rec_free(rec);
	assert_int_equal(est_store_get_ee(fx->st, "once", &got, &e), EST_OK);
	assert_int_equal(got->uses_left, 0);
	assert_int_equal(got->last_used, 100);
	est_ee_free(got);
	/* A reset gives a new code and uses; the old code stays spent. */
	assert_int_equal(est_store_reset_ee(fx->st, "once", "H2", 1, 0, &e), EST_OK);
	assert_int_equal(consume(fx, once, 4, "H1", 100), EST_ERR_AUTH);
	assert_int_equal(consume(fx, once, 5, "H2", 100), EST_OK);
	/* Unlimited stays unlimited; valid_until is inclusive. */
	for (long i = 10; i < 14; i++)
		assert_int_equal(consume(fx, many, i, "H1", 100), EST_OK);
	assert_int_equal(consume(fx, late, 20, "H1", 1000), EST_OK);
	assert_int_equal(consume(fx, late, 21, "H1", 1001), EST_ERR_AUTH);
	/* Removing the end entity keeps its certificates, unlinked. */
	assert_int_equal(est_store_del_ee(fx->st, "once", &e), EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "5", &rec, &e), EST_OK);
	assert_int_equal(rec->ee_id, 0);
	est_cert_rec_free(rec);
	est_ee_free(once);
	est_ee_free(many);
	est_ee_free(late);
}

static int
count_ca(const struct est_ext_ca *ca, void *arg)
{
	assert_string_equal(ca->subject, "CN=Vendor");
	(*(int *)arg)++;
	return 0;
}

/*
 * Candidates for a name's owner come from an index of the registered names'
 * keys (lib/codec/namekeys.h), one look-up each, not a scan of every end
 * entity (73 ms per enrolment at 100,000). An entity is never registered
 * without its keys, and its keys go with it.
 */
static void
test_ee_found_by_name_keys(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *b = make_named_ee("dev-b", "CN=Dev-B.corp.example,O=Victim Inc",
	    "DNS:dev-b.corp.example., IP:10.0.0.5, email:Ops@Corp.Example");
	struct est_ee *bad = make_ee("bad", 1, 0), *got = NULL;

	assert_int_equal(est_store_put_ee(fx->st, b, &e), EST_OK);
	assert_int_equal(by_key(fx->st, "h:dev-b.corp.example"), 1);
	assert_int_equal(by_key(fx->st, "i:10.0.0.5"), 1);
	assert_int_equal(by_key(fx->st, "e:ops@corp.example"), 1);
	assert_int_equal(by_key(fx->st, "d:2.5.4.10=victim.inc/2.5.4.3=dev.b.corp.example"), 1);
	assert_int_equal(by_key(fx->st, "h:dev-c.corp.example"), 0);
	assert_int_equal(by_key(fx->st, "d:2.5.4.10=victim.inc"), 0);
	/* A subject that does not decode: refused, and nothing registered. */
	bad->subject_der[0] = 0x31;
	assert_int_equal(est_store_put_ee(fx->st, bad, &e), EST_ERR_BADREQ);
	assert_int_equal(est_store_get_ee(fx->st, "bad", &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_del_ee(fx->st, "dev-b", &e), EST_OK);
	assert_int_equal(by_key(fx->st, "h:dev-b.corp.example"), 0);
	assert_int_equal(by_key(fx->st, "d:2.5.4.10=victim.inc/2.5.4.3=dev.b.corp.example"), 0);
	est_ee_free(b);
	est_ee_free(bad);
}

/* An end entity is found by the id its certificates carry (a renewal's profile). */
static void
test_ee_by_id(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *ee = make_named_ee("dev-id", "CN=dev-id", NULL), *got = NULL;

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	assert_int_equal(est_store_get_ee_by_id(fx->st, ee->id, &got, &e), EST_OK);
	assert_string_equal(got->username, "dev-id");
	assert_int_equal(got->id, ee->id);
	est_ee_free(got);
	assert_int_equal(est_store_get_ee_by_id(fx->st, ee->id + 1, &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_del_ee(fx->st, "dev-id", &e), EST_OK);
	assert_int_equal(est_store_get_ee_by_id(fx->st, ee->id, &got, &e), EST_ERR_NOTFOUND);
	est_ee_free(ee);
}

/*
 * Every host of a domain shares its wildcard key: the policy, for which any
 * of them would refuse a wildcard, asks for two, and no more are read
 * however many are registered (both backends).
 */
static void
test_ee_by_key_at_most(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	char user[32], dn[64], san[64];

	for (int i = 0; i < 5; i++) {
		struct est_ee *ee;

		snprintf(user, sizeof(user), "dev-%d", i);
		snprintf(dn, sizeof(dn), "CN=dev-%d.corp.example", i);
		snprintf(san, sizeof(san), "DNS:dev-%d.corp.example", i);
		ee = make_named_ee(user, dn, san);
		assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
		est_ee_free(ee);
	}
	assert_int_equal(by_key(fx->st, "w:corp.example"), 5);
	assert_int_equal(by_key_max(fx->st, "w:corp.example", 2), 2);
	assert_int_equal(by_key_max(fx->st, "w:corp.example", 9), 5);
	assert_int_equal(by_key_max(fx->st, "h:dev-3.corp.example", 2), 1);
}

/*
 * Names whose keys are cut at 255 bytes are registered and found on both
 * backends: a key once ended in half a UTF-8 character, which PostgreSQL
 * refuses, so such an end entity could not be registered (nor an older one
 * indexed by the migration).
 */
static void
test_ee_long_names_indexed(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };

	for (int shift = 0; shift < 4; shift++) {
		char dn[1024], san[1024], user[16], *p;
		struct codec_name_keys k = { 0 };
		const unsigned char *der;
		X509_NAME *name;
		GENERAL_NAMES *names;
		struct est_ee *ee;

		p = dn + sprintf(dn, "O=%.*s", shift, "abc");
		for (int f = 0; f < 3; f++) {
			p += sprintf(p, "%s", f == 0 ? "" : f == 1 ? ",OU=" : ",L=");
			for (int i = 0; i < 60; i++)
				p += sprintf(p, "\xc3\xa4");
		}
		p = san + sprintf(san, "DNS:%.*s", shift, "abc");
		for (int i = 0; i < 150; i++)
			p += sprintf(p, "\xc3\xa4");
		snprintf(user, sizeof(user), "long-%d", shift);
		ee = make_named_ee(user, dn, san);
		assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
		der = ee->subject_der;
		name = d2i_X509_NAME(NULL, &der, (long)ee->subject_der_len);
		der = ee->san_der;
		names = d2i_GENERAL_NAMES(NULL, &der, (long)ee->san_der_len);
		codec_name_keys_add_names(&k, name, names);
		codec_name_keys_add_dn(&k, name);
		assert_true(k.n >= 2);
		for (size_t i = 0; i < k.n; i++)
			assert_int_equal(by_key(fx->st, k.v[i]), 1);
		codec_name_keys_free(&k);
		X509_NAME_free(name);
		GENERAL_NAMES_free(names);
		est_ee_free(ee);
	}
}

static void
test_ee_list_and_ext_ca(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *a = make_ee("a", 1, 0), *b = make_ee("b", 1, 0);
	unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct est_ext_ca ca = { .name = "Vendor", .subject = "CN=Vendor", .der = der,
	    .der_len = sizeof(der) };
	int n = 0;

	assert_int_equal(est_store_put_ee(fx->st, a, &e), EST_OK);
	assert_int_equal(est_store_put_ee(fx->st, b, &e), EST_OK);
	assert_int_equal(est_store_list_ee(fx->st, count_ee, &n, &e), EST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(est_store_put_ext_ca(fx->st, &ca, &e), EST_OK);
	assert_true(ca.imported_at > 0);
	assert_int_equal(est_store_put_ext_ca(fx->st, &ca, &e), EST_ERR_EXISTS);
	n = 0;
	assert_int_equal(est_store_list_ext_ca(fx->st, count_ca, &n, &e), EST_OK);
	assert_int_equal(n, 1);
	est_ee_free(a);
	est_ee_free(b);
}

/* A store is never created behind the operator's back (issue 10, point 4). */
static void
test_open_refuses_missing_or_empty(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	struct stat sb;
	char path[160];
	sqlite3 *db;
	int fd;

	path_in(fx, "other.db", path, sizeof(path));
	assert_int_equal(est_store_open(path, &other, &e), EST_ERR_STORE);
	assert_null(other);
	assert_non_null(strstr(e.msg, "no store there"));
	assert_int_equal(stat(path, &sb), -1); /* and none was made */

	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_int_equal(est_store_open(path, &other, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "empty"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);

	/* An SQLite file without estkit's schema is no store either. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(est_store_open(path, &other, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "without estkit's schema"));

	/* Creating over an existing store is refused; over nothing, it works. */
	assert_int_equal(est_store_create(fx->path, &other, &e), EST_ERR_EXISTS);
	remove_db(fx, "other.db");
	assert_int_equal(est_store_create(path, &other, &e), EST_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	est_store_close(other);
	assert_int_equal(est_store_open(path, &other, &e), EST_OK);
	est_store_close(other);
}

/* quick_check and integrity_check pass a sound store and name damage in a broken one. */
static void
test_check_finds_damage(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	unsigned char junk[4096];
	char path[160];
	sqlite3 *db;
	int fd;

	assert_int_equal(est_store_check(fx->st, false, &e), EST_OK);
	assert_int_equal(est_store_check(fx->st, true, &e), EST_OK);

	/* A table with pages beyond the first, whose second page is overwritten. */
	path_in(fx, "other.db", path, sizeof(path));
	assert_int_equal(est_store_create(path, &other, &e), EST_OK);
	est_store_close(other);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = DELETE; CREATE TABLE filler (x); "
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
	    "INSERT INTO filler SELECT randomblob(200) FROM n", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	memset(junk, 0xA5, sizeof(junk));
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096 * 3), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(est_store_open(path, &other, &e), EST_OK);
	assert_int_equal(est_store_check(other, false, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "quick_check"));
	assert_int_equal(est_store_check(other, true, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "integrity_check"));
	est_store_close(other);
}

/* A backup is a store of its own with the same records; it never overwrites. */
static void
test_backup_restores(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *rec = make_rec(fx->key, "CA", "dev", 21, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct stat sb;
	char path[160];

	put(fx->st, rec);
	path_in(fx, "backup.db", path, sizeof(path));
	assert_int_equal(est_store_backup(fx->st, path, &e), EST_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0);
	assert_int_equal(est_store_backup(fx->st, path, &e), EST_ERR_EXISTS);

	/* Restore: the copy in place of a lost store. */
	est_store_close(fx->st);
	fx->st = NULL;
	remove_db(fx, "est.db");
	assert_int_equal(rename(path, fx->path), 0);
	assert_int_equal(est_store_open(fx->path, &fx->st, &e), EST_OK);
	assert_int_equal(est_store_check(fx->st, true, &e), EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, NULL, rec->serial, &got, &e), EST_OK);
	assert_int_equal(got->der_len, rec->der_len);
	assert_memory_equal(got->der, rec->der, rec->der_len);
	est_cert_rec_free(got);
	est_cert_rec_free(rec);
}

static int
count_visit(const struct est_cert_rec *rec, void *arg)
{
	(void)rec;
	(*(int *)arg)++;
	return 0;
}

/*
 * Issue 15: every revocation of an issuer's certificate moves its revision
 * (by trigger, whichever statement revoked); a CRL replaces the stored one
 * only under the next number, so the number never repeats or goes back.
 */
static void
test_crl_state(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 0x51, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "b", 0x52, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *other = make_rec(fx->key, "Other", "c", 0x53, NOT_BEFORE, NOT_AFTER);
	struct est_crl_rec *got = NULL;
	unsigned char der[3] = { 1, 2, 3 };
	struct est_crl_rec crl = { .crl_number = 1, .revision = 0, .this_update = 10,
	    .next_update = 20, .der = der, .der_len = sizeof(der) };
	struct est_cert_filter f = { .issuer = a->issuer, .only_revoked = true };
	int64_t rev = -1;
	int n = 0;

	put(fx->st, a);
	put(fx->st, b);
	put(fx->st, other);
	assert_int_equal(est_store_revocation_revision(fx->st, a->issuer, &rev, &e), EST_OK);
	assert_int_equal(rev, 0);
	assert_int_equal(est_store_revoke_cert(fx->st, a->issuer, a->serial, 1, 100, &e), EST_OK);
	assert_int_equal(est_store_revocation_revision(fx->st, a->issuer, &rev, &e), EST_OK);
	assert_int_equal(rev, 1);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, b->serial, 4, 101, &e), EST_OK);
	assert_int_equal(est_store_revocation_revision(fx->st, a->issuer, &rev, &e), EST_OK);
	assert_int_equal(rev, 2);
	/* Another issuer's count is its own. */
	assert_int_equal(est_store_revocation_revision(fx->st, other->issuer, &rev, &e), EST_OK);
	assert_int_equal(rev, 0);
	assert_int_equal(est_store_list_certs(fx->st, &f, count_visit, &n, &e), EST_OK);
	assert_int_equal(n, 2);

	assert_int_equal(est_store_get_crl(fx->st, a->issuer, &got, &e), EST_ERR_NOTFOUND);
	assert_int_equal(est_store_put_crl(fx->st, a->issuer, &crl, &e), EST_OK);
	/* The same number again, a lower one or one skipped: refused. */
	assert_int_equal(est_store_put_crl(fx->st, a->issuer, &crl, &e), EST_ERR_EXISTS);
	crl.crl_number = 3;
	assert_int_equal(est_store_put_crl(fx->st, a->issuer, &crl, &e), EST_ERR_EXISTS);
	crl.crl_number = 2;
	crl.revision = 2;
	assert_int_equal(est_store_put_crl(fx->st, a->issuer, &crl, &e), EST_OK);
	assert_int_equal(est_store_get_crl(fx->st, a->issuer, &got, &e), EST_OK);
	assert_int_equal(got->crl_number, 2);
	assert_int_equal(got->revision, 2);
	assert_int_equal(got->der_len, sizeof(der));
	assert_memory_equal(got->der, der, sizeof(der));
	est_crl_rec_free(got);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(other);
}

/*
 * est_store_put_issued in one transaction: a renewal revokes what it
 * replaces (superseded), a limit of valid certificates counts the new one,
 * and nothing of a refused issue is written.
 */
static void
test_put_issued_rules(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *ee = make_ee("dev", -1, 0);
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev", 0x61, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "dev", 0x62, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "dev", 0x63, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *d = make_rec(fx->key, "CA", "dev", 0x64, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct est_issue_record how = { .code_hash = "H1", .max_active = 1, .now = 100 };

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	a->ee_id = b->ee_id = c->ee_id = d->ee_id = ee->id;
	assert_int_equal(est_store_put_issued(fx->st, a, &how, &e), EST_OK);
	/* A second valid certificate is over the limit: refused, nothing written. */
	assert_int_equal(est_store_put_issued(fx->st, b, &how, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "max-active-certificates"));
	assert_int_equal(est_store_get_cert(fx->st, NULL, "62", &got, &e), EST_ERR_NOTFOUND);
	/* Renewing it instead: the old one is revoked (superseded) in the same transaction. */
	how.replaces_issuer = a->issuer;
	how.replaces_serial = a->serial;
	assert_int_equal(est_store_put_issued(fx->st, c, &how, &e), EST_OK);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "61", &got, &e), EST_OK);
	assert_int_equal(got->status, EST_CERT_REVOKED);
	assert_int_equal(got->revocation_reason, EST_REASON_SUPERSEDED);
	assert_int_equal(got->revoked_at, 100);
	est_cert_rec_free(got);
	got = NULL;
	/*
	 * The attacker's side: a second renewal of the same certificate (two
	 * parallel /simplereenroll with it) is refused and writes nothing, so
	 * one certificate never forks into two valid ones.
	 */
	how.code_hash = NULL;
	how.max_active = 0;
	assert_int_equal(est_store_put_issued(fx->st, d, &how, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "revoked while it was being renewed"));
	assert_int_equal(est_store_get_cert(fx->st, NULL, "64", &got, &e), EST_ERR_NOTFOUND);
	est_ee_free(ee);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
	est_cert_rec_free(d);
}

/*
 * The attacker's side: one certificate renewed twice at once (two servers,
 * or two requests of one) with revoke-replaced. Both passed the check that
 * it is valid; the second to be recorded finds it revoked and is refused, so
 * one certificate yields one successor.
 */
static void
test_renewal_replaces_once(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev", 0x81, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "dev", 0x82, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "dev", 0x83, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct est_issue_record how = { .replaces_issuer = a->issuer, .replaces_serial = a->serial,
	    .now = 100 };

	assert_int_equal(est_store_put_cert(fx->st, a, &e), EST_OK);
	assert_int_equal(est_store_put_issued(fx->st, b, &how, &e), EST_OK);
	assert_int_equal(est_store_put_issued(fx->st, c, &how, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "was revoked while it was being"));
	assert_int_equal(est_store_get_cert(fx->st, NULL, "83", &got, &e), EST_ERR_NOTFOUND);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
}

/* issuer's revocation revision. */
static int64_t
revision_of(struct est_store *st, const char *issuer)
{
	struct est_error e = { 0 };
	int64_t rev = -1;

	assert_int_equal(est_store_revocation_revision(st, issuer, &rev, &e), EST_OK);
	return rev;
}

/* Serial's status, revocation time and reason, as est_store_get_cert reads them. */
static void
assert_state(struct est_store *st, const char *issuer, const char *serial,
    enum est_cert_status status, int64_t revoked_at, int reason)
{
	struct est_error e = { 0 };
	struct est_cert_rec *got = NULL;

	assert_int_equal(est_store_get_cert(st, issuer, serial, &got, &e), EST_OK);
	assert_int_equal(got->status, status);
	assert_int_equal(got->revoked_at, revoked_at);
	assert_int_equal(got->revocation_reason, reason);
	est_cert_rec_free(got);
}

/*
 * A release from hold (RFC 5280 section 5.3.1) makes the certificate valid
 * with no revocation left on it, and moves the revision so the next CRL is
 * made without it; it can be held or revoked again after. The attacker's
 * and the mistaken administrator's side: a keyCompromise (or any reason
 * but certificateHold), a valid, an expired or an unknown certificate is
 * refused, and a refusal writes nothing -- not even the revision.
 */
static void
test_release_hold(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 0xA1, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "b", 0xA2, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "c", 0xA3, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *d = make_rec(fx->key, "CA", "d", 0xA4, NOT_BEFORE, NOT_AFTER);
	struct est_cert_filter f = { .issuer = a->issuer, .only_revoked = true };
	const int64_t now = 1800000100;
	int n = 0;

	put(fx->st, a);
	put(fx->st, b);
	put(fx->st, c);
	put(fx->st, d);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "A1", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(revision_of(fx->st, a->issuer), 1);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A1", 0, now, &e), EST_OK);
	assert_state(fx->st, NULL, "A1", EST_CERT_VALID, 0, -1);
	assert_int_equal(revision_of(fx->st, a->issuer), 2);
	assert_int_equal(est_store_list_certs(fx->st, &f, count_visit, &n, &e), EST_OK);
	assert_int_equal(n, 0);
	/* Released, it is an ordinary valid certificate: released again is refused... */
	assert_int_equal(est_store_release_cert(fx->st, a->issuer, "A1", 0, now, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "A1 is not revoked"));
	assert_int_equal(revision_of(fx->st, a->issuer), 2);
	/* ...and it can be revoked for good. */
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "A1", EST_REASON_KEY_COMPROMISE,
	    now + 1, &e), EST_OK);
	assert_state(fx->st, NULL, "A1", EST_CERT_REVOKED, now + 1, EST_REASON_KEY_COMPROMISE);
	assert_int_equal(revision_of(fx->st, a->issuer), 3);

	/* A key compromise is never undone; neither is any other reason. */
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A1", 0, now, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "A1 is revoked (keyCompromise), not on hold"));
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "A2", EST_REASON_UNSPECIFIED,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A2", 0, now, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "(unspecified), not on hold"));
	assert_state(fx->st, NULL, "A1", EST_CERT_REVOKED, now + 1, EST_REASON_KEY_COMPROMISE);
	assert_state(fx->st, NULL, "A2", EST_CERT_REVOKED, 1800000000, EST_REASON_UNSPECIFIED);
	/* A valid and an unknown certificate. */
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A3", 0, now, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "A3 is not revoked"));
	assert_state(fx->st, NULL, "A3", EST_CERT_VALID, 0, -1);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "AF", 0, now, &e),
	    EST_ERR_NOTFOUND);
	assert_int_equal(est_store_release_cert(fx->st, "CN=Other,O=Example", "A4", 0, now, &e),
	    EST_ERR_NOTFOUND);
	/* Past notAfter the hold stays on record. */
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "A4", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A4", 0, NOT_AFTER, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "A4 has expired"));
	assert_state(fx->st, NULL, "A4", EST_CERT_REVOKED, 1800000000, EST_REASON_CERTIFICATE_HOLD);
	assert_int_equal(revision_of(fx->st, a->issuer), 5);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "A4", 0, NOT_AFTER - 1, &e), EST_OK);
	assert_int_equal(revision_of(fx->st, a->issuer), 6);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
	est_cert_rec_free(d);
}

/*
 * A hold is made final by revoking the certificate again with another
 * reason (RFC 5280 section 5.3.1: held, it "may be released from hold" or
 * revoked for good): the reason changes, the hold's time stays, the
 * revision moves (the CRL entry changes), and it can no longer be
 * released. Held again, or revoked again once final, is refused.
 */
static void
test_hold_made_final(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 0xC1, NOT_BEFORE, NOT_AFTER);

	put(fx->st, a);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "C1", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "C1", EST_REASON_CERTIFICATE_HOLD,
	    1800000001, &e), EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "C1 is already revoked"));
	assert_int_equal(revision_of(fx->st, a->issuer), 1);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "C1", EST_REASON_KEY_COMPROMISE,
	    1800000002, &e), EST_OK);
	assert_state(fx->st, NULL, "C1", EST_CERT_REVOKED, 1800000000, EST_REASON_KEY_COMPROMISE);
	assert_int_equal(revision_of(fx->st, a->issuer), 2);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "C1", 0, 1800000100, &e),
	    EST_ERR_FORBIDDEN);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "C1", EST_REASON_SUPERSEDED,
	    1800000003, &e), EST_ERR_FORBIDDEN);
	assert_state(fx->st, NULL, "C1", EST_CERT_REVOKED, 1800000000, EST_REASON_KEY_COMPROMISE);
	assert_int_equal(revision_of(fx->st, a->issuer), 2);
	est_cert_rec_free(a);
}

/*
 * A serial two CAs used (a root rollover): a release without the issuer is
 * refused as ambiguous, with it only that CA's certificate is released and
 * only that CA's revision moves, so only its CRL is made again.
 */
static void
test_release_names_the_issuer(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA1", "dev", 7, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA2", "dev", 7, NOT_BEFORE, NOT_AFTER);

	put(fx->st, a);
	put(fx->st, b);
	assert_int_equal(est_store_revoke_cert(fx->st, a->issuer, "7", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_revoke_cert(fx->st, b->issuer, "7", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "7", 0, 1800000100, &e),
	    EST_ERR_EXISTS);
	assert_int_equal(est_store_release_cert(fx->st, b->issuer, "7", 0, 1800000100, &e), EST_OK);
	assert_state(fx->st, a->issuer, "7", EST_CERT_REVOKED, 1800000000,
	    EST_REASON_CERTIFICATE_HOLD);
	assert_state(fx->st, b->issuer, "7", EST_CERT_VALID, 0, -1);
	assert_int_equal(revision_of(fx->st, a->issuer), 1);
	assert_int_equal(revision_of(fx->st, b->issuer), 2);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
}

/*
 * A held certificate cannot be renewed (the renewal that would replace it
 * is refused in its transaction); released, it renews once, as any other.
 * While it was held its end entity may have enrolled anew: a release that
 * would take the end entity past its limit of valid certificates is
 * refused, with nothing written, as that enrolment would have been.
 */
static void
test_release_and_renewal(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_ee *ee = make_ee("dev", -1, 0);
	struct est_cert_rec *a = make_rec(fx->key, "CA", "dev", 0xB1, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "dev", 0xB2, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "dev", 0xB3, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;
	struct est_issue_record how = { .replaces_issuer = a->issuer, .replaces_serial = a->serial,
	    .max_active = 1, .now = 1800000100 };

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	a->ee_id = b->ee_id = c->ee_id = ee->id;
	put(fx->st, a);
	assert_int_equal(est_store_revoke_cert(fx->st, NULL, "B1", EST_REASON_CERTIFICATE_HOLD,
	    1800000000, &e), EST_OK);
	assert_int_equal(est_store_put_issued(fx->st, b, &how, &e), EST_ERR_FORBIDDEN);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "B2", &got, &e), EST_ERR_NOTFOUND);
	/* Enrolled anew while held: one valid certificate, the alias's limit. */
	put(fx->st, c);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "B1", 1, 1800000100, &e),
	    EST_ERR_FORBIDDEN);
	assert_non_null(strstr(e.msg, "max-active-certificates"));
	assert_state(fx->st, NULL, "B1", EST_CERT_REVOKED, 1800000000, EST_REASON_CERTIFICATE_HOLD);
	assert_int_equal(revision_of(fx->st, a->issuer), 1);
	assert_int_equal(est_store_release_cert(fx->st, NULL, "B1", 2, 1800000100, &e), EST_OK);
	how.max_active = 2;
	assert_int_equal(est_store_put_issued(fx->st, b, &how, &e), EST_OK);
	assert_state(fx->st, NULL, "B1", EST_CERT_REVOKED, 1800000100, EST_REASON_SUPERSEDED);
	est_ee_free(ee);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
}

/* Cut this test's server connections, as a database restart would. */
static void
pg_cut(const struct fixture *fx)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE datname = '%s' AND application_name = 'estkit'", fx->pgdb);
	pg_admin("postgres", sql);
}

/* Let this test's database take connections again, or not, as a database down would not. */
static void
pg_allow(const struct fixture *fx, bool allow)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS %s", fx->pgdb,
	    allow ? "true" : "false");
	pg_admin("postgres", sql);
}

/*
 * A lost connection is re-established: a read outside a transaction, and
 * the BEGIN of a write, are retried at once (neither changed anything), so
 * a write after a restart is recorded, once. While the database cannot be
 * reached a write fails as unavailable (HTTP 503), records nothing, and the
 * next call reconnects.
 */
static void
test_pg_reconnects(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_cert_rec *a = make_rec(fx->key, "CA", "a", 0x71, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *b = make_rec(fx->key, "CA", "b", 0x72, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *c = make_rec(fx->key, "CA", "c", 0x73, NOT_BEFORE, NOT_AFTER);
	struct est_cert_rec *got = NULL;

	put(fx->st, a);
	pg_cut(fx);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "71", &got, &e), EST_OK);
	est_cert_rec_free(got);
	pg_allow(fx, false);
	pg_cut(fx);
	assert_int_equal(est_store_put_cert(fx->st, b, &e), EST_ERR_UNAVAILABLE);
	assert_null(strstr(e.msg, "postgres@"));
	pg_allow(fx, true);
	assert_int_equal(est_store_get_cert(fx->st, NULL, "72", &got, &e), EST_ERR_NOTFOUND);
	put(fx->st, b);
	pg_cut(fx);
	put(fx->st, c);
	assert_int_equal(est_store_put_cert(fx->st, c, &e), EST_ERR_EXISTS);
	est_cert_rec_free(a);
	est_cert_rec_free(b);
	est_cert_rec_free(c);
}

/* Opening refuses another schema version; est_store_migrate moves an older one on. */
static void
test_pg_schema_versions(void **state)
{
	struct fixture *fx = *state;
	struct est_error e = { 0 };
	struct est_store *other = NULL;
	struct est_ee *ee = make_named_ee("old", "CN=old.corp.example,O=Old", "IP:10.0.0.9");
	int from = -1, to = -1;

	assert_int_equal(est_store_put_ee(fx->st, ee, &e), EST_OK);
	assert_int_equal(est_store_create(fx->uri, &other, &e), EST_ERR_EXISTS);
	pg_admin(fx->pgdb, "UPDATE estkit_schema SET version = 9");
	assert_int_equal(est_store_open(fx->uri, &other, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "newer"));
	assert_int_equal(est_store_migrate(fx->uri, &from, &to, &e), EST_ERR_STORE);
	pg_admin(fx->pgdb, "ALTER TABLE certs DROP CONSTRAINT certs_serial_issuer_key; "
	    "ALTER TABLE certs ADD CONSTRAINT certs_issuer_serial_key UNIQUE (issuer, serial); "
	    "CREATE INDEX certs_serial ON certs (serial); "
	    "DROP INDEX certs_ee; CREATE INDEX certs_ee ON certs (ee_id); "
	    "CREATE INDEX certs_subject ON certs (subject); "
	    "CREATE INDEX certs_spki ON certs (spki_sha256); "
	    "DROP TABLE crls; DROP TRIGGER certs_revoked ON certs; "
	    "DROP TABLE revocation_counts; DROP FUNCTION estkit_count_revocation(); "
	    "DROP INDEX certs_revoked_by_issuer; DROP TABLE ee_names; "
	    "UPDATE estkit_schema SET version = 3");
	assert_int_equal(est_store_open(fx->uri, &other, &e), EST_ERR_STORE);
	assert_non_null(strstr(e.msg, "estadm db migrate"));
	assert_int_equal(est_store_migrate(fx->uri, &from, &to, &e), EST_OK);
	assert_int_equal(from, 3);
	assert_int_equal(to, 8);
	assert_int_equal(est_store_open(fx->uri, &other, &e), EST_OK);
	assert_int_equal(est_store_check(other, true, &e), EST_OK);
	assert_int_equal(by_key(other, "h:old.corp.example"), 1);
	assert_int_equal(by_key(other, "i:10.0.0.9"), 1);
	assert_int_equal(by_key(other, "w:corp.example"), 1);
	est_store_close(other);
	est_ee_free(ee);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_schema_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_every_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_is_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_during_read_on_other_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_list_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uri_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_missing_or_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_finds_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_restores, setup, teardown),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test_setup_teardown(test_ee_register_get_list_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consume_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_issued_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renewal_replaces_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ee_list_and_ext_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ee_found_by_name_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ee_long_names_indexed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ee_by_key_at_most, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ee_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_names_the_issuer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_made_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_and_renewal, setup, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_every_field, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_duplicate_is_exists, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_revoke, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ambiguous_serial, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_list, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_write_during_read_on_other_handle, setup_pg,
		    teardown_pg),
		cmocka_unit_test_setup_teardown(test_requests, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_register_get_list_del, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_consume_once, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_put_issued_rules, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_renewal_replaces_once, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_list_and_ext_ca, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_found_by_name_keys, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_long_names_indexed, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_by_key_at_most, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_ee_by_id, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_crl_state, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_release_hold, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_release_names_the_issuer, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_hold_made_final, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_release_and_renewal, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_pg_reconnects, setup_pg, teardown_pg),
		cmocka_unit_test_setup_teardown(test_pg_schema_versions, setup_pg, teardown_pg),
	};
	int rc;

	shared_key = EVP_EC_gen("P-256");
	if (shared_key == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && getenv("ESTKIT_TEST_PG_HOST") != NULL && getenv("ESTKIT_TEST_PG_PORT") != NULL)
		rc = cmocka_run_group_tests_name("store on PostgreSQL", pg_tests, NULL, NULL);
	EVP_PKEY_free(shared_key);
	return rc;
}
