/*
 * modconfig.h - running a module's configure() over its section
 * (internal).  Implements the ps_config_* services of module.h.
 */
#ifndef HOST_MODCONFIG_H
#define HOST_MODCONFIG_H

#include "snapshot.h"

struct ps_config {
	struct snapshot *snap;
	struct instance *inst;
	struct ini_section *sec;
	ps_error *err;
	int failed;
};

/*
 * Configure 'inst' from 'sec': call the module's configure, then refuse
 * keys it never read.  PS_OK or PS_ERR_CONFIG (file:line in *err).
 */
int modconfig_run(struct snapshot *snap, struct instance *inst,
		  struct ini_section *sec, ps_error *err);

/*
 * Report unread keys of 'sec' (other than those in 'ignore', a
 * NULL-terminated list) as errors.  PS_OK or PS_ERR_CONFIG.
 */
int modconfig_check_unknown(struct ini_section *sec, const char *what,
			    ps_error *err);

/* Warn when 'path' (a file holding a secret) is readable by others. */
void modconfig_warn_loose_secret(const struct logger *lg, const char *path,
				 const char *what);

/*
 * The secret a password_file holds (its first line), as configure reads
 * it.  Free with ps_secret_free().  NULL with *err_no set: an errno
 * value, ENOMEM, EFBIG for an over-long first line, or EILSEQ for a
 * secret holding a control byte (the check configure makes).
 */
char *modconfig_read_secret_file(const char *path, int *err_no);

#endif
