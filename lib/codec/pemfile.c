/*
 * PEM files an operator or a user hands to the programs: private keys,
 * public keys and certificates. The one place they are read (est_csr_read_file
 * is in body.c), so the client needs nothing of lib/ca to read its files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "estkit/codec.h"

/* Refuse to prompt: a key file for a daemon must not be encrypted. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

/* Refuse a key file that group or others can reach. fstat on the open file,
 * so the mode checked is that of the file read. */
static enum est_err
check_key_mode(int fd, const char *path, struct est_error *e)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return est_fail(e, EST_ERR_IO, "cannot stat private key %s: %s", path,
		    strerror(errno));
	if ((st.st_mode & 077) != 0)
		return est_fail(e, EST_ERR_CONFIG, "private key %s is accessible by group "
		    "or others (mode %04o); run: chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
	return EST_OK;
}

enum est_err
est_key_read(const char *path, bool check_mode, EVP_PKEY **out, struct est_error *e)
{
	enum est_err rc;
	EVP_PKEY *key;
	FILE *fp;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return est_fail(e, EST_ERR_IO, "cannot open private key %s: %s", path,
		    strerror(errno));
	if (check_mode && (rc = check_key_mode(fd, path, e)) != EST_OK) {
		close(fd);
		return rc;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return est_fail(e, EST_ERR_IO, "cannot read private key %s: %s", path,
		    strerror(errno));
	}
	key = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_CONFIG, "%s holds no unencrypted PEM private key",
		    path);
	*out = key;
	return EST_OK;
}

/* The first PEM public key (SubjectPublicKeyInfo) in a file. */
enum est_err
est_pubkey_read(const char *path, EVP_PKEY **out, struct est_error *e)
{
	EVP_PKEY *key;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return est_fail(e, EST_ERR_IO, "cannot open public key %s: %s", path, strerror(errno));
	key = PEM_read_PUBKEY(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (key == NULL)
		return est_fail_ssl(e, EST_ERR_CONFIG, "%s holds no PEM public key "
		    "(-----BEGIN PUBLIC KEY-----)", path);
	*out = key;
	return EST_OK;
}

/* Read PEM certificates from fp into certs until the end of the file. */
static enum est_err
read_all(FILE *fp, const char *path, STACK_OF(X509) *certs, struct est_error *e)
{
	unsigned long err;
	X509 *cert;

	ERR_clear_error();
	while ((cert = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(certs, cert)) {
			X509_free(cert);
			return est_fail(e, EST_ERR_NOMEM, "out of memory reading %s", path);
		}
	}
	/* "no start line" is how PEM reading reports the end of the input. */
	err = ERR_peek_last_error();
	if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM &&
	    ERR_GET_REASON(err) == PEM_R_NO_START_LINE))
		return est_fail_ssl(e, EST_ERR_CONFIG, "%s: certificate %d is malformed",
		    path, sk_X509_num(certs) + 1);
	ERR_clear_error();
	if (sk_X509_num(certs) == 0)
		return est_fail(e, EST_ERR_CONFIG, "%s holds no PEM certificate", path);
	return EST_OK;
}

enum est_err
est_certs_read(const char *path, STACK_OF(X509) **out, struct est_error *e)
{
	STACK_OF(X509) *certs;
	enum est_err rc;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		return est_fail(e, EST_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	if ((certs = sk_X509_new_null()) == NULL) {
		fclose(fp);
		return est_fail(e, EST_ERR_NOMEM, "out of memory reading %s", path);
	}
	rc = read_all(fp, path, certs, e);
	fclose(fp);
	if (rc != EST_OK) {
		sk_X509_pop_free(certs, X509_free);
		return rc;
	}
	*out = certs;
	return EST_OK;
}
