/*
 * pac_eval_cli.c - the PAC evaluator alone, for
 * tests/integration/t_pac_pacparser.sh.
 *
 *   pac_eval_cli SCRIPT < lines of "URL HOST"
 *
 * Prints, per line, what FindProxyForURL(URL, HOST) returned, or
 * "ERROR" (pacparser has no finer distinction to compare with).  The
 * memory budget is the pac module's default; the time budget is 5 s,
 * not the module's 1 s: the comparison is about answers, and a script's
 * name lookups on a loaded test machine must not turn into "ERROR".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pac_eval.h"
#include "pac_fetch.h"

int main(int argc, char **argv)
{
	struct pac_limits limits = {
		.memory_bytes = 16384u * 1024, .time_ms = 5000, .now = 0,
	};
	struct pac_fetched script;
	char line[2048], why[300];

	if (argc != 2) {
		fprintf(stderr, "usage: pac_eval_cli SCRIPT\n");
		return 2;
	}
	if (pac_fetch_file(argv[1], &script, why, sizeof(why))) {
		fprintf(stderr, "pac_eval_cli: %s\n", why);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *url = strtok(line, " \n"), *host = strtok(NULL, " \n");
		char *answer = NULL;

		if (!url || !host)
			continue;
		if (pac_eval_run(script.body, script.len, url, host, &limits,
				 &answer, why, sizeof(why)) < 0)
			printf("ERROR\n");
		else
			printf("%s\n", answer);
		fflush(stdout);
		free(answer);
	}
	free(script.body);
	return 0;
}
