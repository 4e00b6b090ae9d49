/*
 * pac_which.c - one context kept alive across several `which` answers,
 * for tests/integration/t_pac.sh: a PAC script's cache and refresh live
 * in the context's snapshot, which one `proxystack` run never keeps.
 *
 *   pac_which DIR URL
 *
 * For each line read on stdin, prints ps_ctx_which(URL) (or
 * "error CODE: message"), then a line "--"; a line "reload" first
 * reloads the configuration (ps_ctx_reload: a new snapshot).  Logs go to stderr at the
 * info level (the refresh and keep-the-last-good messages).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proxystack.h>

int main(int argc, char **argv)
{
	ps_ctx_options o;
	ps_error err;
	char line[64];
	ps_ctx *ctx;

	if (argc != 3) {
		fprintf(stderr, "usage: pac_which DIR URL\n");
		return 2;
	}
	ps_ctx_options_init(&o);
	o.conf_dir = argv[1];
	o.log_level = PS_LOG_INFO;
	o.reload = PS_RELOAD_MANUAL;
	ctx = ps_ctx_new(&o, &err);
	if (!ctx) {
		printf("error %s: %s\n", ps_code_name(err.code), err.message);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *text;

		if (!strcmp(line, "reload\n") && ps_ctx_reload(ctx, &err))
			printf("reload error %s: %s\n",
			       ps_code_name(err.code), err.message);
		text = ps_ctx_which(ctx, argv[2], &err);

		if (text)
			printf("%s", text);
		else
			printf("error %s: %s\n", ps_code_name(err.code),
			       err.message);
		printf("--\n");
		fflush(stdout);
		ps_free(text);
	}
	ps_ctx_free(ctx);
	return 0;
}
