/*
 * test_loader.c - why a module did not load, when libltdl will not say.
 *
 * libltdl reports most failures as "file not found", an allocation
 * failure inside it or the dynamic loader included.  This program
 * defines lt_dlopenadvise() and lt_dlerror() itself (the executable's
 * definitions win over libltdl's for host/loader.c, linked in), so a
 * load fails on demand with the message libltdl would give:
 *
 *   - "file not found" for a module file that loads (the failure went
 *     away: memory) is PS_ERR_NOMEM, "out of memory";
 *   - "not enough memory" (libltdl's own words) is PS_ERR_NOMEM;
 *   - "file not found" for a file that is no shared object is
 *     PS_ERR_MODULE with the dynamic loader's own reason.
 *
 * PS_TEST_MODULE_DIR is the build's modules (direct.so).
 */
#include <dlfcn.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "error.h"
#include "loader.h"

static const char *fake_error;	/* NULL: libltdl's own, for real */

/* libltdl calls these itself (lt_dlinit opens its preloaded symbols). */
lt_dlhandle lt_dlopenadvise(const char *filename, lt_dladvise advise)
{
	lt_dlhandle (*real)(const char *, lt_dladvise);

	if (fake_error)
		return NULL;
	*(void **)&real = dlsym(RTLD_NEXT, "lt_dlopenadvise");
	return real ? real(filename, advise) : NULL;
}

const char *lt_dlerror(void)
{
	const char *(*real)(void);
	const char *e = fake_error;

	if (e) {
		fake_error = NULL;	/* libltdl forgets it once read */
		return e;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "lt_dlerror");
	return real ? real() : NULL;
}

/* loader_open() of DIR/NAME.so failing in libltdl with LTDL_WHY. */
static int open_failing(const char *dir, const char *name,
			const char *ltdl_why, ps_error *err)
{
	struct loaded_module *m = NULL;
	int rc;

	ps_error_clear(err);
	fake_error = ltdl_why;
	rc = loader_open(dir, name, &m, err);
	CHECK(m == NULL);
	loader_close(m);
	return rc;
}

static void test_transient_failure_is_nomem(void)
{
	ps_error err;
	int rc = open_failing(PS_TEST_MODULE_DIR, "direct", "file not found",
			      &err);

	CHECK_MSG(rc == PS_ERR_NOMEM, "a module that loads on a second try:"
		  " nomem (got %s)", ps_code_name(rc));
	CHECK(err.code == PS_ERR_NOMEM);
	CHECK_MSG(strstr(err.message, "direct.so: cannot load: out of"
			 " memory") != NULL, "message: %s", err.message);
	CHECK(strstr(err.message, "file not found") == NULL);
	CHECK(err.hint[0] != '\0');
}

static void test_ltdl_out_of_memory_is_nomem(void)
{
	ps_error err;
	int rc = open_failing(PS_TEST_MODULE_DIR, "direct",
			      "not enough memory", &err);

	CHECK_MSG(rc == PS_ERR_NOMEM, "libltdl's 'not enough memory': nomem"
		  " (got %s)", ps_code_name(rc));
	CHECK_MSG(strstr(err.message, "out of memory (not enough memory)")
		  != NULL, "message: %s", err.message);
}

static void test_not_a_module_keeps_the_real_reason(void)
{
	char dir[] = "/tmp/ps-test-loader.XXXXXX";
	char path[sizeof(dir) + 16];
	ps_error err;
	FILE *f;
	int rc;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/junk.so", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("not an ELF file\n", f);
	fclose(f);
	chmod(path, 0644);
	rc = open_failing(dir, "junk", "file not found", &err);
	CHECK_MSG(rc == PS_ERR_MODULE, "not a shared object: module (got %s)",
		  ps_code_name(rc));
	CHECK_MSG(strstr(err.message, "junk.so: cannot load: ") != NULL &&
		  strstr(err.message, "file not found") == NULL &&
		  (strstr(err.message, "ELF") != NULL ||
		   strstr(err.message, "too short") != NULL),
		  "the dynamic loader's reason: %s", err.message);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	/* Unarmed: libltdl's first init opens its own preloaded symbols
	 * through lt_dlopenadvise; the loader's own init then only counts. */
	CHECK(lt_dlinit() == 0);
	test_transient_failure_is_nomem();
	test_ltdl_out_of_memory_is_nomem();
	test_not_a_module_keeps_the_real_reason();
	lt_dlexit();
	return check_done();
}
