/*
 * serve_acl.c - who may use proxystack serve: the allow list (loopback
 * only unless [serve] allow says otherwise) and, with users_file, client
 * credentials checked with crypt(3).
 *
 * users_file holds "user:hash" lines, '#' comments and blank lines.  The
 * hash is any form libcrypt verifies: bcrypt "$2y$"/"$2b$" (what
 * `htpasswd -B` writes), SHA-crypt "$5$"/"$6$" (`openssl passwd -6`,
 * `mkpasswd -m sha-512`) and yescrypt "$y$".  Apache's "$apr1$" (htpasswd
 * -m, its default) and "{SHA}" are refused at load with the line: they are
 * weak, and libcrypt cannot check apr1.  This keeps a shared host's other
 * users from borrowing the site's proxy credentials through the port.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <proxystack/module.h> /* ps_base64_decode */

#include "serve.h"

#define ACL_LINE_MAX 512

static const char *const acl_hash_prefixes[] = {
	"$2y$", "$2b$", "$2a$", "$5$", "$6$", "$y$",
};

static int acl_fail(ps_error *err, const char *path, int line,
		    const char *hint, const char *what)
{
	ps_error_clear(err);
	err->code = PS_ERR_CONFIG;
	snprintf(err->layer, sizeof(err->layer), "serve");
	if (line > 0)
		snprintf(err->message, sizeof(err->message), "%s:%d: %s",
			 path, line, what);
	else
		snprintf(err->message, sizeof(err->message), "%s: %s", path,
			 what);
	snprintf(err->hint, sizeof(err->hint), "%s", hint);
	return PS_ERR_CONFIG;
}

static int acl_hash_supported(const char *hash)
{
	for (size_t i = 0; i < sizeof(acl_hash_prefixes) /
				   sizeof(acl_hash_prefixes[0]); i++)
		if (!strncmp(hash, acl_hash_prefixes[i],
			     strlen(acl_hash_prefixes[i])))
			return 1;
	return 0;
}

static int acl_add_user(struct serve_acl *acl, const char *name,
			const char *hash)
{
	struct serve_user *grown = realloc(acl->users, (acl->nusers + 1) *
						       sizeof(*grown));

	if (!grown)
		return -1;
	acl->users = grown;
	grown[acl->nusers].name = strdup(name);
	grown[acl->nusers].hash = strdup(hash);
	if (!grown[acl->nusers].name || !grown[acl->nusers].hash) {
		free(grown[acl->nusers].name);
		free(grown[acl->nusers].hash);
		return -1;
	}
	acl->nusers++;
	return 0;
}

/* One line of users_file: 0, or an error for line 'n'. */
static int acl_read_line(struct serve_acl *acl, char *line, int n,
			 ps_error *err)
{
	char *colon, *end = line + strlen(line);

	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	if (line[0] == '\0' || line[0] == '#')
		return PS_OK;
	colon = strchr(line, ':');
	if (!colon || colon == line)
		return acl_fail(err, acl->users_file, n,
				"write user:hash lines", "not user:hash");
	*colon = '\0';
	if (!acl_hash_supported(colon + 1))
		return acl_fail(err, acl->users_file, n,
				"make the hash with htpasswd -B (bcrypt) or"
				" openssl passwd -6; $apr1$ and {SHA} are not"
				" supported", "unsupported password hash");
	if (acl_add_user(acl, line, colon + 1))
		return acl_fail(err, acl->users_file, n, "", "out of memory");
	return PS_OK;
}

static int acl_read_users(struct serve_acl *acl, ps_error *err)
{
	char line[ACL_LINE_MAX];
	struct stat st;
	int n = 0, rc = PS_OK;
	FILE *fp = fopen(acl->users_file, "re");

	if (!fp)
		return acl_fail(err, acl->users_file, 0,
				"check users_file in [serve]",
				strerror(errno));
	if (fstat(fileno(fp), &st) == 0)
		acl->users_mtime_ns = (long long)st.st_mtim.tv_sec *
					      1000000000LL +
				      st.st_mtim.tv_nsec;
	while (rc == PS_OK && fgets(line, sizeof(line), fp)) {
		n++;
		if (!strchr(line, '\n') && !feof(fp))
			rc = acl_fail(err, acl->users_file, n, "one user a"
				      " line, under 512 bytes",
				      "line too long");
		else
			rc = acl_read_line(acl, line, n, err);
	}
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	if (rc == PS_OK && acl->nusers == 0)
		rc = acl_fail(err, acl->users_file, 0, "add user:hash lines,"
			      " or remove users_file", "no users");
	return rc;
}

int acl_load(struct serve_acl *acl, const char *allow, const char *users_file,
	     ps_error *err)
{
	memset(acl, 0, sizeof(*acl));
	ps_error_clear(err);
	if ((allow && !(acl->allow = strdup(allow))) ||
	    (users_file && !(acl->users_file = strdup(users_file)))) {
		acl_free(acl);
		err->code = PS_ERR_NOMEM;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return PS_ERR_NOMEM;
	}
	if (users_file && acl_read_users(acl, err) != PS_OK) {
		acl_free(acl);
		return PS_ERR_CONFIG;
	}
	return PS_OK;
}

void acl_free(struct serve_acl *acl)
{
	for (size_t i = 0; i < acl->nusers; i++) {
		free(acl->users[i].name);
		explicit_bzero(acl->users[i].hash, strlen(acl->users[i].hash));
		free(acl->users[i].hash);
	}
	free(acl->users);
	free(acl->allow);
	free(acl->users_file);
	memset(acl, 0, sizeof(*acl));
}

int acl_client_allowed(const struct serve_acl *acl, const char *addr)
{
	return ps_addr_in_list(addr, acl->allow ? acl->allow : "loopback") ==
	       1;
}

/* Compare without an early exit on the first differing byte. */
static int acl_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int acl_check_password(const struct serve_acl *acl, const char *user,
		       const char *pass)
{
	struct crypt_data *cd;
	const char *out;
	int ok = 0;

	for (size_t i = 0; i < acl->nusers; i++) {
		if (strcmp(acl->users[i].name, user))
			continue;
		cd = calloc(1, sizeof(*cd));
		if (!cd)
			return 0;
		out = crypt_r(pass, acl->users[i].hash, cd);
		ok = out && out[0] != '*' && acl_same(out, acl->users[i].hash);
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		return ok;
	}
	return 0;
}

long acl_base64_decode(const char *in, size_t len, char *out, size_t outsz)
{
	long n = outsz ? ps_base64_decode(in, len, out, outsz - 1) : -1;

	if (n >= 0)
		out[n] = '\0';
	return n;
}

int acl_check_basic(const struct serve_acl *acl, const char *value,
		    size_t len, char *user)
{
	char decoded[512];
	char *colon;
	long n;
	int ok;

	user[0] = '\0';
	if (len < 6 || strncasecmp(value, "Basic ", 6))
		return 0;
	value += 6;
	len -= 6;
	while (len && *value == ' ')
		value++, len--;
	n = acl_base64_decode(value, len, decoded, sizeof(decoded));
	if (n < 0 || memchr(decoded, '\0', (size_t)n) ||
	    !(colon = strchr(decoded, ':')) || colon - decoded > 255) {
		explicit_bzero(decoded, sizeof(decoded));
		return 0;
	}
	*colon = '\0';
	memcpy(user, decoded, (size_t)(colon - decoded) + 1);
	ok = acl_check_password(acl, decoded, colon + 1);
	explicit_bzero(decoded, sizeof(decoded));
	return ok;
}
